//! Reading jobs: by id, and the seed's list queries (project-scoped, keyset pages).

use agentq_domain::{AgentId, JobId, JobState, ProjectId, TaskId};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{JobRecord, MAX_PAGE};
use crate::entities::agent_jobs::{self, Column};
use crate::shapes::padded_to_power_of_two;
use crate::{Result, Scope};

/// The jobs with these ids that exist and whose project is in `scope`, in the order asked
/// (`None` for the others), read with one query.
pub async fn jobs_by_job_ids(
    db: &impl ConnectionTrait,
    scope: &Scope,
    job_ids: &[JobId],
) -> Result<Vec<Option<JobRecord>>> {
    if job_ids.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: Vec<String> = job_ids.iter().map(JobId::to_string).collect();
    let mut found = std::collections::HashMap::with_capacity(wanted.len());
    for row in agent_jobs::Entity::find()
        .filter(Column::JobId.is_in(padded_to_power_of_two(wanted.clone())))
        .filter(scope.condition(Column::ProjectId))
        .all(db)
        .await?
    {
        found.insert(row.job_id.clone(), row);
    }
    wanted
        .iter()
        .map(|id| found.get(id).cloned().map(JobRecord::try_from).transpose())
        .collect()
}

/// The job, if it exists and its project is in `scope`.
pub async fn job_by_job_id(
    db: &impl ConnectionTrait,
    scope: &Scope,
    job_id: &JobId,
) -> Result<Option<JobRecord>> {
    agent_jobs::Entity::find()
        .filter(Column::JobId.eq(job_id.to_string()))
        .filter(scope.condition(Column::ProjectId))
        .one(db)
        .await?
        .map(JobRecord::try_from)
        .transpose()
}

/// Which jobs a list wants; every field narrows it.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub states: Vec<JobState>,
    pub agent: Option<AgentId>,
    pub task: Option<TaskId>,
    pub project: Option<ProjectId>,
}

/// One page of a job list, newest first.
#[derive(Debug, Clone)]
pub struct JobPage {
    pub jobs: Vec<JobRecord>,
    /// Pass as `before` for the next page; `None` on the last page.
    pub next_cursor: Option<i64>,
}

/// Jobs matching `filter` in `scope`, newest first, `limit` (at most [`MAX_PAGE`]) at a time,
/// starting below row id `before`.
pub async fn list_jobs(
    db: &impl ConnectionTrait,
    scope: &Scope,
    filter: &JobFilter,
    limit: u64,
    before: Option<i64>,
) -> Result<JobPage> {
    let limit = limit.clamp(1, MAX_PAGE);
    let mut query = agent_jobs::Entity::find().filter(scope.condition(Column::ProjectId));
    if !filter.states.is_empty() {
        query = query.filter(Column::Status.is_in(filter.states.iter().map(|s| s.as_str())));
    }
    if let Some(agent) = filter.agent {
        query = query.filter(Column::AgentId.eq(agent.get()));
    }
    if let Some(task) = filter.task {
        query = query.filter(Column::TaskId.eq(task.get()));
    }
    if let Some(project) = filter.project {
        query = query.filter(Column::ProjectId.eq(project.get()));
    }
    if let Some(before) = before {
        query = query.filter(Column::Id.lt(before));
    }
    // one more than asked tells whether there is a next page
    let mut rows = query
        .order_by_desc(Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let jobs = rows
        .into_iter()
        .map(JobRecord::try_from)
        .collect::<Result<Vec<_>>>()?;
    let next_cursor = if more {
        jobs.last().map(|j| j.row_id)
    } else {
        None
    };
    Ok(JobPage { jobs, next_cursor })
}

async fn first_page(
    db: &impl ConnectionTrait,
    scope: &Scope,
    filter: JobFilter,
    limit: u64,
) -> Result<Vec<JobRecord>> {
    Ok(list_jobs(db, scope, &filter, limit, None).await?.jobs)
}

/// The seed's `getActiveJobs`: waiting, active and delayed jobs.
pub async fn active_jobs(
    db: &impl ConnectionTrait,
    scope: &Scope,
    limit: u64,
) -> Result<Vec<JobRecord>> {
    let filter = JobFilter {
        states: vec![JobState::Waiting, JobState::Active, JobState::Delayed],
        ..JobFilter::default()
    };
    first_page(db, scope, filter, limit).await
}

/// The seed's `getFailedJobs`: failed jobs with their error details.
pub async fn failed_jobs(
    db: &impl ConnectionTrait,
    scope: &Scope,
    limit: u64,
) -> Result<Vec<JobRecord>> {
    let filter = JobFilter {
        states: vec![JobState::Failed],
        ..JobFilter::default()
    };
    first_page(db, scope, filter, limit).await
}

/// The seed's `getJobsByAgent`, with its optional status filter.
pub async fn jobs_by_agent(
    db: &impl ConnectionTrait,
    scope: &Scope,
    agent: AgentId,
    status: Option<JobState>,
    limit: u64,
) -> Result<Vec<JobRecord>> {
    let filter = JobFilter {
        states: status.into_iter().collect(),
        agent: Some(agent),
        ..JobFilter::default()
    };
    first_page(db, scope, filter, limit).await
}

/// The seed's `getJobsByTask`: every job of the task, retries included, newest first.
pub async fn jobs_by_task(
    db: &impl ConnectionTrait,
    scope: &Scope,
    task: TaskId,
) -> Result<Vec<JobRecord>> {
    let filter = JobFilter {
        task: Some(task),
        ..JobFilter::default()
    };
    first_page(db, scope, filter, MAX_PAGE).await
}

/// The seed's `getJobsByProject`.
pub async fn jobs_by_project(
    db: &impl ConnectionTrait,
    scope: &Scope,
    project: ProjectId,
    limit: u64,
) -> Result<Vec<JobRecord>> {
    let filter = JobFilter {
        project: Some(project),
        ..JobFilter::default()
    };
    first_page(db, scope, filter, limit).await
}
