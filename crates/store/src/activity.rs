//! The activity log: who did what to which project, task or job.

use agentq_domain::{JobId, ProjectId, TaskId, UserId};
use chrono::NaiveDateTime;
use sea_orm::{ConnectionTrait, EntityTrait, Set};

use crate::entities::activity_log;
use crate::shapes::power_of_two_chunks;
use crate::{Result, now};

#[derive(Debug, Clone, Default)]
pub struct ActivityEntry {
    pub user: Option<UserId>,
    /// e.g. `job_queued`, `job_cancelled`, `job_retried`.
    pub action: String,
    pub project: Option<ProjectId>,
    pub task: Option<TaskId>,
    pub job: Option<JobId>,
    pub detail: Option<serde_json::Value>,
}

pub async fn log_activity(db: &impl ConnectionTrait, entry: ActivityEntry) -> Result<()> {
    log_activities(db, [entry], now()).await
}

/// Many entries, all stamped `at`: one statement per power-of-two chunk (see `shapes.rs`).
pub(crate) async fn log_activities(
    db: &impl ConnectionTrait,
    entries: impl IntoIterator<Item = ActivityEntry>,
    at: NaiveDateTime,
) -> Result<()> {
    let rows: Vec<activity_log::ActiveModel> = entries
        .into_iter()
        .map(|entry| activity_log::ActiveModel {
            user_id: Set(entry.user.map(UserId::get)),
            action: Set(entry.action),
            project_id: Set(entry.project.map(ProjectId::get)),
            task_id: Set(entry.task.map(TaskId::get)),
            job_id: Set(entry.job.map(|j| j.to_string())),
            detail: Set(entry.detail),
            created_at: Set(at),
            ..Default::default()
        })
        .collect();
    for chunk in power_of_two_chunks(rows.len()) {
        activity_log::Entity::insert_many(rows[chunk].iter().cloned())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}
