//! The API's OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` attributes
//! and the schemas below; served at `/api/openapi.json` and checked in at `proto/openapi.json`
//! (a test fails when they differ, and tests check real answers against these schemas).
//!
//! The handlers build their JSON with `json!`, in the seed's exact shapes; the types here only
//! describe those shapes.

use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::routes;

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "agentq api-gateway",
        description = "Runs AI-agent jobs: the Node system's agent-execution API, plus accounts, \
                       projects, tasks and agents. Every route but login and the probes takes \
                       `Authorization: Bearer <token>`."
    ),
    paths(
        routes::jobs::queue_job,
        routes::jobs::list_jobs,
        routes::jobs::job_status,
        routes::jobs::cancel_job,
        routes::jobs::retry_job,
        routes::jobs::job_logs,
        routes::workers::worker_status,
        routes::accounts::login,
        routes::accounts::create_user,
        routes::projects::create_project,
        routes::projects::list_projects,
        routes::projects::add_member,
        routes::projects::create_task,
        routes::projects::list_tasks,
        routes::agents::create_agent,
        routes::agents::list_agents,
        routes::health::healthz,
        routes::health::readyz,
        routes::health::prometheus,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "jobs", description = "The seed's agent-execution routes"),
        (name = "accounts", description = "Login and users"),
        (name = "projects", description = "Projects, members and tasks"),
        (name = "agents", description = "What runs a job"),
        (name = "operations", description = "Probes and metrics"),
    )
)]
pub struct ApiDoc;

/// The document as served and checked in: pretty JSON with a final newline.
pub fn document() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".to_owned());
    text.push('\n');
    text
}

#[derive(Debug)]
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
    }
}

/// `{"error": …}`, with `details` for validation failures (zod's format) and some 404s.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    /// Validation: `{"_errors": [...], "<field>": {"_errors": [...]}}`; otherwise a note.
    pub details: Option<Value>,
}

// ---- requests

/// The seed's zod schema, enforced exactly (integers are not strings, priority is one of four).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueJobRequest {
    #[schema(minimum = 1)]
    pub task_id: i64,
    #[schema(minimum = 1)]
    pub agent_id: i64,
    pub metadata: Option<JobMetadata>,
    pub context: Option<JobContext>,
    pub mcp_configs: Option<Vec<McpConfig>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobMetadata {
    pub priority: Option<Priority>,
    #[schema(exclusive_minimum = 0)]
    pub estimated_hours: Option<f64>,
    #[schema(minimum = 0)]
    pub retry_count: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Critical,
    High,
    Medium,
    Low,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobContext {
    pub dependencies: Option<Vec<i64>>,
    pub related_tasks: Option<Vec<i64>>,
    pub memory_ids: Option<Vec<i64>>,
}

/// An MCP server the agent may use; credentials are sealed at rest and reach only the agent.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpConfig {
    pub server_name: String,
    #[schema(format = "uri")]
    pub server_url: String,
    /// `bearer`, `basic` or `none`.
    pub auth_type: String,
    #[schema(value_type = Object)]
    pub auth_credentials: Option<Value>,
    pub enabled: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreateUserRequest {
    pub email: String,
    #[schema(min_length = 8)]
    pub password: String,
    /// `admin` or `member`.
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreateProjectRequest {
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddMemberRequest {
    pub user_id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreateTaskRequest {
    pub code: String,
    pub title: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateAgentRequest {
    pub name: String,
    /// `command` (give `command`) or `http` (give `endpointUrl`).
    pub kind: String,
    /// argv, run without a shell.
    pub command: Option<Vec<String>>,
    #[schema(format = "uri")]
    pub endpoint_url: Option<String>,
    /// Default 1800.
    pub timeout_secs: Option<u64>,
    /// Across all workers together.
    pub max_concurrency: Option<u32>,
    pub env: Option<std::collections::BTreeMap<String, String>>,
}

// ---- answers

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueuedJob {
    pub job_id: String,
    pub task_id: i64,
    pub task_code: String,
    pub agent_id: i64,
    pub agent_name: String,
    pub project_id: i64,
    /// Always `queued`.
    pub status: String,
    pub priority: Priority,
    #[schema(format = DateTime)]
    pub queued_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedJobAnswer {
    pub success: bool,
    pub data: QueuedJob,
    pub message: String,
}

/// A job: its SQL row merged with the queue's live state.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub job_id: String,
    pub task_id: i64,
    pub task_code: String,
    pub agent_id: i64,
    pub project_id: i64,
    pub queue_name: String,
    /// waiting, delayed, active, completed, failed or cancelled.
    pub status: String,
    #[schema(minimum = 0, maximum = 100)]
    pub progress: u8,
    pub priority: Priority,
    pub attempts_made: u32,
    pub max_attempts: u32,
    #[schema(format = DateTime)]
    pub queued_at: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub execution_time_ms: Option<i64>,
    /// Any JSON: the agent's result.
    pub result: Option<Value>,
    pub last_error: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobAnswer {
    pub success: bool,
    pub data: Job,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobPage {
    pub success: bool,
    pub data: Vec<Job>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobChange {
    pub job_id: String,
    pub status: String,
    pub cancelled_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobChangeAnswer {
    pub success: bool,
    pub data: JobChange,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobLogs {
    pub job_id: String,
    /// The agent's output lines, oldest first (the newest are kept when there are many).
    pub lines: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobLogsAnswer {
    pub success: bool,
    pub data: JobLogs,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkerConfig {
    pub concurrency: u32,
    pub lock_duration: u64,
    pub queue_name: String,
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueCounts {
    pub waiting: u64,
    pub active: u64,
    pub completed: u64,
    pub failed: u64,
    pub delayed: u64,
    pub cancelled: u64,
    pub avg_execution_time_ms: f64,
    pub success_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActiveJob {
    pub job_id: String,
    pub task_id: i64,
    pub task_code: String,
    pub agent_id: i64,
    pub state: String,
    pub progress: u8,
    pub started_at: Option<String>,
}

/// A worker process, from its heartbeat.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveWorker {
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub version: String,
    pub concurrency: u32,
    pub running: u32,
    pub started_at: Option<String>,
    pub last_heartbeat_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkerStatus {
    pub workers: WorkerConfig,
    pub queue: QueueCounts,
    pub active_jobs: Vec<ActiveJob>,
    pub live_workers: Vec<LiveWorker>,
    #[schema(format = DateTime)]
    pub timestamp: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerStatusAnswer {
    pub success: bool,
    pub data: WorkerStatus,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    pub token: String,
    /// `Bearer`.
    pub token_type: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenAnswer {
    pub success: bool,
    pub data: Token,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserAnswer {
    pub success: bool,
    pub data: UserView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Project {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectAnswer {
    pub success: bool,
    pub data: Project,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectList {
    pub success: bool,
    pub data: Vec<Project>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    pub project_id: i64,
    pub user_id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipAnswer {
    pub success: bool,
    pub data: Membership,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: i64,
    pub project_id: i64,
    pub code: String,
    pub title: String,
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskAnswer {
    pub success: bool,
    pub data: Task,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskList {
    pub success: bool,
    pub data: Vec<Task>,
}

/// An agent; `command` / `endpointUrl` and `env` are shown to admins only.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub timeout_secs: u64,
    pub max_concurrency: Option<u32>,
    pub command: Option<Vec<String>>,
    pub endpoint_url: Option<String>,
    pub env: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentAnswer {
    pub success: bool,
    pub data: Agent,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentList {
    pub success: bool,
    pub data: Vec<Agent>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessChecks {
    pub redis: bool,
    pub database: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    pub status: String,
    pub checks: ReadinessChecks,
}
