//! `agent_jobs`: the durable record of every job, and the seed's queries over it.

use agentq_domain::{AgentId, JobId, JobState, Priority, ProjectId, TaskId, UserId};
use chrono::NaiveDateTime;
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionSession, TransactionTrait,
};
use serde_json::Value;

use crate::activity::{ActivityEntry, log_activities, log_activity};
use crate::entities::agent_jobs::{self, Column};
use crate::shapes::{padded_to_power_of_two, power_of_two_chunks};
use crate::{Result, Scope, StoreError, now};

/// The most rows one list query returns, whatever the caller asks for.
pub const MAX_PAGE: u64 = 500;
/// The largest job payload (`job_data`) or result the store accepts, serialized.
pub const MAX_JOB_DATA_BYTES: usize = 1024 * 1024;

/// One job row, read.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    /// The row id: the keyset pagination cursor.
    pub row_id: i64,
    pub job_id: JobId,
    pub queue_name: String,
    pub task: TaskId,
    pub task_code: String,
    pub agent: AgentId,
    pub project: ProjectId,
    pub status: JobState,
    pub progress: u8,
    pub job_data: Value,
    pub result: Option<Value>,
    pub priority: Priority,
    pub queued_at: NaiveDateTime,
    pub started_at: Option<NaiveDateTime>,
    pub completed_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub error_stack: Option<String>,
    pub execution_time_ms: Option<i64>,
    pub attempts_made: u32,
    pub max_attempts: u32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl TryFrom<agent_jobs::Model> for JobRecord {
    type Error = StoreError;

    fn try_from(row: agent_jobs::Model) -> Result<Self> {
        let bad = |what: &str| StoreError::InvalidData(format!("agent_jobs {}: {what}", row.id));
        Ok(Self {
            row_id: row.id,
            job_id: row.job_id.parse().map_err(|_| bad("job_id"))?,
            task: TaskId::try_from(row.task_id).map_err(|_| bad("task_id"))?,
            agent: AgentId::try_from(row.agent_id).map_err(|_| bad("agent_id"))?,
            project: ProjectId::try_from(row.project_id).map_err(|_| bad("project_id"))?,
            status: row.status.parse().map_err(|_| bad("status"))?,
            progress: u8::try_from(row.progress.clamp(0, 100)).unwrap_or(0),
            priority: u8::try_from(row.priority)
                .ok()
                .and_then(|p| Priority::from_queue_value(p).ok())
                .ok_or_else(|| bad("priority"))?,
            attempts_made: u32::try_from(row.attempts_made).unwrap_or(0),
            max_attempts: u32::try_from(row.max_attempts).unwrap_or(0),
            queue_name: row.queue_name,
            task_code: row.task_code,
            job_data: row.job_data,
            result: row.job_result,
            queued_at: row.queued_at,
            started_at: row.started_at,
            completed_at: row.completed_at,
            last_error: row.last_error,
            error_stack: row.error_stack,
            execution_time_ms: row.execution_time_ms,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A job to record, before it is queued.
#[derive(Debug, Clone)]
pub struct NewJobRecord {
    pub job_id: JobId,
    pub queue_name: String,
    pub task: TaskId,
    pub task_code: String,
    pub agent: AgentId,
    pub project: ProjectId,
    pub priority: Priority,
    pub max_attempts: u32,
    pub job_data: Value,
    /// Who queued it, for the activity log.
    pub queued_by: Option<UserId>,
}

fn size_check(what: &'static str, value: &Value) -> Result<()> {
    let size = serde_json::to_vec(value)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_JOB_DATA_BYTES {
        return Err(StoreError::TooLarge {
            what,
            size,
            limit: MAX_JOB_DATA_BYTES,
        });
    }
    Ok(())
}

/// Inserts the job row (status `waiting`) and its `job_queued` activity entry, in one
/// transaction: both or neither.
pub async fn insert_job(db: &impl TransactionTrait, new: NewJobRecord) -> Result<JobRecord> {
    size_check("job data", &new.job_data)?;
    let txn = db.begin().await?;
    let at = now();
    let row = new_row(&new, at)
        .insert(&txn)
        .await
        .map_err(|e| StoreError::from(e).naming("task, agent or project of the job"))?;
    log_activity(&txn, queued_entry(&new)).await?;
    txn.commit().await?;
    row.try_into()
}

/// Inserts many job rows (status `waiting`) with their `job_queued` activity entries in one
/// transaction, one statement per table and power-of-two chunk (see `shapes.rs`): what
/// concurrent submissions cost the database once rather than each. All or nothing; returns
/// the rows' `queued_at`. [`insert_jobs_each`] is the form that keeps one bad row from failing
/// the others.
pub async fn insert_jobs(
    db: &impl TransactionTrait,
    jobs: &[NewJobRecord],
) -> Result<NaiveDateTime> {
    let at = now();
    if jobs.is_empty() {
        return Ok(at);
    }
    for job in jobs {
        size_check("job data", &job.job_data)?;
    }
    let txn = db.begin().await?;
    for chunk in power_of_two_chunks(jobs.len()) {
        agent_jobs::Entity::insert_many(jobs[chunk].iter().map(|new| new_row(new, at)))
            .exec_without_returning(&txn)
            .await
            .map_err(|e| StoreError::from(e).naming("task, agent or project of the job"))?;
    }
    log_activities(&txn, jobs.iter().map(queued_entry), at).await?;
    txn.commit().await?;
    Ok(at)
}

/// The row of a job just queued at `at`.
fn new_row(new: &NewJobRecord, at: NaiveDateTime) -> agent_jobs::ActiveModel {
    agent_jobs::ActiveModel {
        job_id: Set(new.job_id.to_string()),
        queue_name: Set(new.queue_name.clone()),
        task_id: Set(new.task.get()),
        task_code: Set(new.task_code.clone()),
        agent_id: Set(new.agent.get()),
        project_id: Set(new.project.get()),
        status: Set(JobState::Waiting.as_str().to_owned()),
        progress: Set(0),
        job_data: Set(new.job_data.clone()),
        job_result: Set(None),
        priority: Set(i16::from(new.priority.queue_value())),
        queued_at: Set(at),
        attempts_made: Set(0),
        max_attempts: Set(i16::try_from(new.max_attempts).unwrap_or(i16::MAX)),
        last_event_ms: Set(0),
        last_event_seq: Set(0),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
}

/// The `job_queued` activity entry of a job.
fn queued_entry(new: &NewJobRecord) -> ActivityEntry {
    ActivityEntry {
        user: new.queued_by,
        action: "job_queued".into(),
        project: Some(new.project),
        task: Some(new.task),
        job: Some(new.job_id),
        detail: Some(serde_json::json!({"agentId": new.agent.get()})),
    }
}

/// [`insert_jobs`] for rows from unrelated callers: all together when that works, else each
/// on its own, so that a row refused (say, its task deleted meanwhile) fails alone. One
/// result per row, in order.
pub async fn insert_jobs_each(
    db: &impl TransactionTrait,
    jobs: &[NewJobRecord],
) -> Vec<Result<NaiveDateTime>> {
    match insert_jobs(db, jobs).await {
        Ok(at) => jobs.iter().map(|_| Ok(at)).collect(),
        Err(err) if jobs.len() == 1 => vec![Err(err)],
        Err(_) => {
            let mut results = Vec::with_capacity(jobs.len());
            for job in jobs {
                results.push(insert_jobs(db, std::slice::from_ref(job)).await);
            }
            results
        }
    }
}

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

/// The position of a queue event in the events stream (`<ms>-<seq>`). Later events have
/// larger positions; the store applies an event only if it is later than the last applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventPosition {
    pub ms: i64,
    pub seq: i64,
}

impl EventPosition {
    /// From a stream id such as `1764220000000-3`.
    pub fn parse(stream_id: &str) -> Option<Self> {
        let (ms, seq) = stream_id.split_once('-')?;
        Some(Self {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

/// What one queue event changes in a job row; `None` leaves a column as it is.
#[derive(Debug, Clone, Default)]
pub struct JobTransition {
    pub status: Option<JobState>,
    pub progress: Option<u8>,
    pub started_at: Option<NaiveDateTime>,
    pub completed_at: Option<NaiveDateTime>,
    pub attempts_made: Option<u32>,
    pub result: Option<Value>,
    pub last_error: Option<String>,
    pub error_stack: Option<String>,
    pub execution_time_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionOutcome {
    Applied,
    /// This event or a later one was applied already: nothing changed.
    Stale,
    /// No such job row (yet).
    NotFound,
}

/// Applies many transitions in one transaction, in order: one commit for a batch of events.
/// All or nothing: on an error, none is applied.
pub async fn apply_transitions(
    db: &impl TransactionTrait,
    transitions: Vec<(JobId, EventPosition, JobTransition)>,
) -> Result<()> {
    let txn = db.begin().await?;
    for (job_id, position, change) in transitions {
        apply_transition(&txn, &job_id, position, change).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Applies `change` to the job if `position` is later than the last event applied to it.
/// Duplicate and out-of-order events change nothing, so replaying the stream is safe.
pub async fn apply_transition(
    db: &impl ConnectionTrait,
    job_id: &JobId,
    position: EventPosition,
    change: JobTransition,
) -> Result<TransitionOutcome> {
    if let Some(result) = &change.result {
        size_check("job result", result)?;
    }
    let mut update = agent_jobs::Entity::update_many()
        .col_expr(Column::LastEventMs, Expr::value(position.ms))
        .col_expr(Column::LastEventSeq, Expr::value(position.seq))
        .col_expr(Column::UpdatedAt, Expr::value(now()));
    if let Some(status) = change.status {
        update = update.col_expr(Column::Status, Expr::value(status.as_str()));
    }
    if let Some(progress) = change.progress {
        update = update.col_expr(Column::Progress, Expr::value(i16::from(progress.min(100))));
    }
    if let Some(at) = change.started_at {
        update = update.col_expr(Column::StartedAt, Expr::value(at));
    }
    if let Some(at) = change.completed_at {
        update = update.col_expr(Column::CompletedAt, Expr::value(at));
    }
    if let Some(made) = change.attempts_made {
        let made = i16::try_from(made).unwrap_or(i16::MAX);
        update = update.col_expr(Column::AttemptsMade, Expr::value(made));
    }
    if let Some(result) = change.result {
        update = update.col_expr(Column::JobResult, Expr::value(result));
    }
    if let Some(error) = change.last_error {
        update = update.col_expr(Column::LastError, Expr::value(error));
    }
    if let Some(stack) = change.error_stack {
        update = update.col_expr(Column::ErrorStack, Expr::value(stack));
    }
    if let Some(ms) = change.execution_time_ms {
        update = update.col_expr(Column::ExecutionTimeMs, Expr::value(ms));
    }
    let later = Condition::any()
        .add(Column::LastEventMs.lt(position.ms))
        .add(
            Condition::all()
                .add(Column::LastEventMs.eq(position.ms))
                .add(Column::LastEventSeq.lt(position.seq)),
        );
    let updated = update
        .filter(Column::JobId.eq(job_id.to_string()))
        .filter(later)
        .exec(db)
        .await?;
    if updated.rows_affected > 0 {
        return Ok(TransitionOutcome::Applied);
    }
    let exists = agent_jobs::Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::JobId.eq(job_id.to_string()))
        .into_tuple::<i64>()
        .one(db)
        .await?
        .is_some();
    Ok(if exists {
        TransitionOutcome::Stale
    } else {
        TransitionOutcome::NotFound
    })
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

/// The seed's `cleanupOldJobs`: deletes finished jobs created more than `older_than_days`
/// ago, `batch` rows per statement so that no statement holds locks for long. Returns how
/// many were deleted.
pub async fn cleanup_old_jobs(
    db: &impl ConnectionTrait,
    older_than_days: u32,
    batch: u64,
) -> Result<u64> {
    let cutoff = now() - chrono::Duration::days(i64::from(older_than_days));
    let finished = [JobState::Completed, JobState::Failed, JobState::Cancelled];
    let mut deleted = 0;
    loop {
        let ids: Vec<i64> = agent_jobs::Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(Column::CreatedAt.lt(cutoff))
            .filter(Column::Status.is_in(finished.iter().map(|s| s.as_str())))
            .order_by_asc(Column::Id)
            .limit(batch.max(1))
            .into_tuple()
            .all(db)
            .await?;
        if ids.is_empty() {
            return Ok(deleted);
        }
        let result = agent_jobs::Entity::delete_many()
            .filter(Column::Id.is_in(ids.iter().copied()))
            .exec(db)
            .await?;
        deleted += result.rows_affected;
        if (ids.len() as u64) < batch.max(1) {
            return Ok(deleted);
        }
    }
}
