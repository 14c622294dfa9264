//! The seed's agent-execution routes: queue, status, cancel, plus agentq's list, retry and logs.

use garde::Validate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::{AuthType, JobState, Priority};

/// The most jobs one page of `GET /jobs` holds.
pub const MAX_PAGE_SIZE: u32 = 500;
/// A page's size when the request names none.
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// `POST /queue`'s `status`: `queued`, or `awaiting_approval` when the agent requires
/// approval (the job runs once a project member approves it).
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Queued {
    Queued,
    #[serde(rename = "awaiting_approval")]
    AwaitingApproval,
}

/// What `POST /queue` answers (the seed's body).
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueuedJob {
    pub job_id: String,
    pub task_id: i64,
    pub task_code: String,
    pub agent_id: i64,
    pub agent_name: String,
    pub project_id: i64,
    pub status: Queued,
    pub priority: Priority,
    #[schema(format = DateTime)]
    pub queued_at: String,
}

/// A job: its SQL row merged with the queue's live state.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub job_id: String,
    pub task_id: i64,
    pub task_code: String,
    pub agent_id: i64,
    pub project_id: i64,
    pub queue_name: String,
    pub status: JobState,
    #[schema(minimum = 0, maximum = 100)]
    pub progress: u8,
    pub priority: Priority,
    pub attempts_made: u32,
    pub max_attempts: u32,
    #[schema(format = DateTime)]
    pub queued_at: String,
    #[schema(format = DateTime)]
    pub started_at: Option<String>,
    #[schema(format = DateTime)]
    pub completed_at: Option<String>,
    pub execution_time_ms: Option<i64>,
    /// Any JSON: the agent's result (its text when it was not JSON).
    #[schema(value_type = Option<Value>)]
    pub result: Option<Value>,
    pub last_error: Option<String>,
    /// What the agent spent, summed over its usage reports and attempts; absent until it
    /// reports any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub usage: Option<agentq_domain::usage::UsageView>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// `GET /jobs`: one page, newest first.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobPage {
    /// Always `true`.
    pub success: bool,
    pub data: Vec<Job>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// `GET /jobs`' filters. Unknown parameters are refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListJobsQuery {
    /// One state or several, comma-separated: waiting, delayed, active, completed, failed,
    /// cancelled.
    #[param(
        pattern = "^(waiting|delayed|active|completed|failed|cancelled)(,(waiting|delayed|active|completed|failed|cancelled))*$"
    )]
    pub state: Option<String>,
    /// Only this agent's jobs.
    #[param(minimum = 1)]
    pub agent_id: Option<i64>,
    /// Only this task's jobs (retries included).
    #[param(minimum = 1)]
    pub task_id: Option<i64>,
    /// Only this project's jobs.
    #[param(minimum = 1)]
    pub project_id: Option<i64>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page.
    #[param(pattern = "^[0-9]+$")]
    pub cursor: Option<String>,
}

/// `POST /jobs/{id}/cancel`'s `status`: always `cancelled`.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Cancelled {
    Cancelled,
}

/// A cancelled job; a running agent is being stopped.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobCancelled {
    pub job_id: String,
    pub status: Cancelled,
    #[schema(format = DateTime)]
    pub cancelled_at: String,
}

/// `POST /jobs/{id}/approve` and `/reject`: an optional comment, kept in the job's activity
/// (and, for a running agent's question, handed to the agent with the answer).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecisionRequest {
    #[serde(default)]
    #[garde(inner(length(chars, max = 2000)))]
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

/// What a decision did.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobDecision {
    pub job_id: String,
    /// `approved` or `rejected`.
    pub decision: String,
    /// Before a run: `waiting` (approved) or `cancelled` (rejected); during one: `active`
    /// (the agent has the answer and goes on).
    pub status: JobState,
}

/// `POST /jobs/{id}/retry`'s `status`: always `waiting`.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Waiting {
    Waiting,
}

/// A failed job, queued again.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobRequeued {
    pub job_id: String,
    pub status: Waiting,
}

/// The agent's output.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobLogs {
    pub job_id: String,
    /// The agent's output lines, oldest first (the newest are kept when there are many).
    pub lines: Vec<String>,
}

/// An MCP server a job may use, as the API shows it: its credentials never, only whether it
/// has some.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpServerView {
    pub server_name: String,
    pub server_url: String,
    pub auth_type: AuthType,
    pub enabled: bool,
    pub has_credentials: bool,
}

/// What the job was queued with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobPayloadView {
    /// The request's `metadata`; null when it had none.
    #[schema(value_type = Option<Object>)]
    pub metadata: Value,
    /// The request's `context`; null when it had none.
    #[schema(value_type = Option<Object>)]
    pub context: Value,
    pub mcp_configs: Vec<McpServerView>,
}

/// One line of a job's timeline: `job_queued`, `attempt_failed` (detail: attempt, error,
/// final), `job_cancelled`, `job_retried`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobActivity {
    #[schema(format = DateTime)]
    pub at: String,
    pub action: String,
    /// Who did it; null for the system (a worker, the recorder).
    pub user_id: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub detail: Option<Value>,
}

/// `GET /jobs/{id}/details`: the payload and the timeline, for a job's page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobDetails {
    pub job_id: String,
    pub payload: JobPayloadView,
    /// Oldest first, at most 200.
    pub activity: Vec<JobActivity>,
}
