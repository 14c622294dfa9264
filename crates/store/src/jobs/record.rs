//! A job row as the store hands it out, and a job to record.

use agentq_domain::{AgentId, JobId, JobState, Priority, ProjectId, TaskId, Usage, UserId};
use chrono::NaiveDateTime;
use serde_json::Value;

use crate::entities::agent_jobs;
use crate::{Result, StoreError};

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
    /// What the agent spent; `None` until it reports any.
    pub usage: Option<Usage>,
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
            usage: usage_of(row.input_tokens, row.output_tokens, row.cost_micro_usd),
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

/// A row's usage columns as one value; `None` when the agent never reported any.
pub(crate) fn usage_of(
    input: Option<i64>,
    output: Option<i64>,
    cost: Option<i64>,
) -> Option<Usage> {
    let count = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
    (input.is_some() || output.is_some() || cost.is_some()).then(|| Usage {
        input_tokens: count(input),
        output_tokens: count(output),
        cost_micro_usd: count(cost),
    })
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
    /// Its agent requires approval: the row starts `awaiting_approval`, so that a job Redis
    /// lost before anyone decided is re-created held, never free to run.
    pub held: bool,
}
