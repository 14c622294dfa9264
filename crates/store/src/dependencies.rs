//! What a job with `context.dependencies` waits for: the latest job of each task it names.
//! The gateway resolves them at submission (and refuses what cannot be waited for); the
//! reconciler resolves them again when it re-creates a job Redis lost.

use std::collections::HashMap;

use agentq_domain::{JobId, JobState, ProjectId, TaskId};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::entities::agent_jobs::{self, Column};
use crate::{Result, tasks_by_ids};

/// The most dependencies one job may name.
pub const MAX_DEPENDENCIES: usize = 100;

/// Why a dependency cannot be waited for, with its index in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DependencyRefusal {
    OwnTask(usize),
    /// No such task in the job's project.
    NoSuchTask(usize, i64),
    /// The task has no job to wait for.
    NoJob(usize, i64),
    TooMany,
}

impl std::fmt::Display for DependencyRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OwnTask(_) => f.write_str("a job cannot depend on its own task"),
            Self::NoSuchTask(_, task) => write!(f, "task {task} is not a task of this project"),
            Self::NoJob(_, task) => write!(f, "task {task} has no job to wait for"),
            Self::TooMany => write!(f, "at most {MAX_DEPENDENCIES} dependencies"),
        }
    }
}

/// The latest job of each task in `dependencies` (each at most once), with its status; a
/// refusal when one cannot be waited for. Dependencies live in the job's own project: its
/// jobs share the job's queue partition, where the queue releases them.
pub async fn dependency_jobs(
    db: &impl ConnectionTrait,
    project: ProjectId,
    own_task: TaskId,
    dependencies: &[i64],
) -> Result<std::result::Result<Vec<(JobId, JobState)>, DependencyRefusal>> {
    if dependencies.len() > MAX_DEPENDENCIES {
        return Ok(Err(DependencyRefusal::TooMany));
    }
    let mut ids = Vec::new();
    for (index, raw) in dependencies.iter().enumerate() {
        if *raw == own_task.get() {
            return Ok(Err(DependencyRefusal::OwnTask(index)));
        }
        match TaskId::try_from(*raw) {
            Ok(id) => ids.push(id),
            Err(_) => return Ok(Err(DependencyRefusal::NoSuchTask(index, *raw))),
        }
    }
    let tasks = tasks_by_ids(db, &ids).await?;
    let latest = latest_jobs(db, &ids).await?;
    let mut jobs: Vec<(JobId, JobState)> = Vec::new();
    for (index, id) in ids.iter().enumerate() {
        if tasks.get(id).is_none_or(|task| task.project != project) {
            return Ok(Err(DependencyRefusal::NoSuchTask(index, id.get())));
        }
        let Some(job) = latest.get(id) else {
            return Ok(Err(DependencyRefusal::NoJob(index, id.get())));
        };
        if !jobs.contains(job) {
            jobs.push(*job);
        }
    }
    Ok(Ok(jobs))
}

/// The newest job of each of these tasks, with its status.
async fn latest_jobs(
    db: &impl ConnectionTrait,
    tasks: &[TaskId],
) -> Result<HashMap<TaskId, (JobId, JobState)>> {
    if tasks.is_empty() {
        return Ok(HashMap::new());
    }
    let task_ids: Vec<i64> = tasks.iter().map(|t| t.get()).collect();
    let newest: Vec<i64> = agent_jobs::Entity::find()
        .select_only()
        .column_as(Column::Id.max(), "newest")
        .filter(Column::TaskId.is_in(task_ids))
        .group_by(Column::TaskId)
        .into_tuple()
        .all(db)
        .await?;
    if newest.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, String, String)> = agent_jobs::Entity::find()
        .select_only()
        .column(Column::TaskId)
        .column(Column::JobId)
        .column(Column::Status)
        .filter(Column::Id.is_in(newest))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(task, job, status)| {
            Some((
                TaskId::try_from(task).ok()?,
                (job.parse().ok()?, status.parse().ok()?),
            ))
        })
        .collect())
}
