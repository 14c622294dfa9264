//! The activity log: who did what to which project, task or job.

use agentq_domain::{JobId, ProjectId, TaskId, UserId};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

use crate::entities::activity_log;
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
    activity_log::ActiveModel {
        user_id: Set(entry.user.map(UserId::get)),
        action: Set(entry.action),
        project_id: Set(entry.project.map(ProjectId::get)),
        task_id: Set(entry.task.map(TaskId::get)),
        job_id: Set(entry.job.map(|j| j.to_string())),
        detail: Set(entry.detail),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}
