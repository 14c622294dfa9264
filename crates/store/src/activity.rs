//! The activity log: who did what to which project, task or job.

use agentq_domain::{JobId, ProjectId, TaskId, UserId};
use chrono::NaiveDateTime;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

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

/// One entry of the log as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRecord {
    pub user: Option<UserId>,
    pub action: String,
    pub detail: Option<serde_json::Value>,
    pub at: NaiveDateTime,
}

/// The most an activity read returns: a job's timeline is short, unless it is retried
/// without end, and then its first entries tell the story.
pub const MAX_ACTIVITY: u64 = 200;

/// What happened to one job, oldest first: queued, attempts that failed, cancelled or retried
/// by whom.
pub async fn job_activity(db: &impl ConnectionTrait, job: &JobId) -> Result<Vec<ActivityRecord>> {
    let rows = activity_log::Entity::find()
        .filter(activity_log::Column::JobId.eq(job.to_string()))
        .order_by_asc(activity_log::Column::Id)
        .limit(MAX_ACTIVITY)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| ActivityRecord {
            user: row.user_id.and_then(|id| UserId::try_from(id).ok()),
            action: row.action,
            detail: row.detail,
            at: row.created_at,
        })
        .collect())
}
