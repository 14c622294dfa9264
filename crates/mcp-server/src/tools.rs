//! The tools. Each is one typed call of the api-gateway with the caller's token; what the API
//! answers is the tool's structured result, and what it refuses is a tool error carrying the
//! API's status and message (`isError`), never a protocol error.

use std::future::Future;
use std::sync::Arc;

use agentq_api_types::jobs::{
    DecisionRequest, Job, JobCancelled, JobDecision, JobLogs, JobPage, JobRequeued, ListJobsQuery,
    QueuedJob,
};
use agentq_api_types::projects::ProjectUsage;
use agentq_api_types::workers::WorkerStatus;
use agentq_domain::request::{AuthType, JobContext, JobMetadata, McpConfig};
use agentq_domain::{AgentId, JobRequest, Priority, TaskId};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::api::{Api, ApiFailure, Verdict, is_unauthorized};
use crate::settings::Credentials;

/// Whose token a call carries.
#[derive(Debug, Clone)]
pub enum Auth {
    /// stdio: the credentials from the settings, for the whole session.
    Session(Arc<Session>),
    /// streamable HTTP: each caller's own `Authorization: Bearer`, passed on as it is.
    PerCaller,
}

/// A stdio session's credentials and the token they gave.
#[derive(Debug)]
pub struct Session {
    credentials: Credentials,
    token: Mutex<Option<String>>,
}

impl Session {
    pub fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            token: Mutex::new(None),
        }
    }

    /// The token, logging in first (or again, when `renew`) for email and password.
    async fn token(&self, api: &Api, renew: bool) -> Result<String, ApiFailure> {
        let mut token = self.token.lock().await;
        match &self.credentials {
            Credentials::Token(secret) => Ok(secret.expose().clone()),
            Credentials::Login { email, password } => {
                if renew || token.is_none() {
                    *token = Some(api.login(email, password.expose()).await?.token);
                }
                Ok(token.clone().unwrap_or_default())
            }
        }
    }

    fn can_renew(&self) -> bool {
        matches!(self.credentials, Credentials::Login { .. })
    }
}

#[derive(Debug, Clone)]
pub struct AgentqTools {
    api: Api,
    ws_url: url::Url,
    auth: Auth,
    tool_router: ToolRouter<Self>,
}

/// The seed's priorities.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PriorityArg {
    Critical,
    High,
    Medium,
    Low,
}

impl From<PriorityArg> for Priority {
    fn from(p: PriorityArg) -> Self {
        match p {
            PriorityArg::Critical => Priority::Critical,
            PriorityArg::High => Priority::High,
            PriorityArg::Medium => Priority::Medium,
            PriorityArg::Low => Priority::Low,
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct MetadataArg {
    /// critical, high, medium or low (the `priority` argument wins when both are given).
    pub priority: Option<PriorityArg>,
    /// Hours the work is expected to take; more than 0.
    pub estimated_hours: Option<f64>,
    /// 0 or more.
    pub retry_count: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ContextArg {
    /// Task ids this work depends on.
    pub dependencies: Option<Vec<i64>>,
    pub related_tasks: Option<Vec<i64>>,
    pub memory_ids: Option<Vec<i64>>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthTypeArg {
    Bearer,
    Basic,
    None,
}

/// An MCP server the agent may use while it runs.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct McpConfigArg {
    pub server_name: String,
    /// http(s) URL of the server.
    pub server_url: String,
    pub auth_type: AuthTypeArg,
    /// Secret: sealed by the API at rest, handed to the agent only, never shown back.
    pub auth_credentials: Option<serde_json::Map<String, Value>>,
    /// Default true.
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct QueueJobArgs {
    /// The task to work on (`list_tasks` shows a project's tasks).
    pub task_id: i64,
    /// The agent that does the work (`list_agents`).
    pub agent_id: i64,
    /// critical, high, medium (default) or low: higher runs first.
    pub priority: Option<PriorityArg>,
    pub metadata: Option<MetadataArg>,
    pub context: Option<ContextArg>,
    /// MCP servers the agent may use.
    pub mcp_configs: Option<Vec<McpConfigArg>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct JobIdArgs {
    /// The job's id (a UUID, as `queue_agent_job` answered it).
    pub job_id: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct DecisionArgs {
    /// The job's id (a UUID, as `queue_agent_job` answered it).
    pub job_id: String,
    /// Why, up to 2,000 characters: kept in the job's activity, and handed with the answer
    /// to a running agent that asked.
    pub comment: Option<String>,
}

/// A job's state.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StateArg {
    Waiting,
    Delayed,
    Active,
    Completed,
    Failed,
    Cancelled,
    #[serde(rename = "awaiting_approval")]
    AwaitingApproval,
    Blocked,
}

impl From<StateArg> for agentq_domain::JobState {
    fn from(state: StateArg) -> Self {
        match state {
            StateArg::Waiting => Self::Waiting,
            StateArg::Delayed => Self::Delayed,
            StateArg::Active => Self::Active,
            StateArg::Completed => Self::Completed,
            StateArg::Failed => Self::Failed,
            StateArg::Cancelled => Self::Cancelled,
            StateArg::AwaitingApproval => Self::AwaitingApproval,
            StateArg::Blocked => Self::Blocked,
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ListJobsArgs {
    /// Only jobs in these states.
    pub state: Option<Vec<StateArg>>,
    pub agent_id: Option<i64>,
    pub task_id: Option<i64>,
    pub project_id: Option<i64>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct WaitArgs {
    /// The job's id.
    pub job_id: String,
    /// How long to wait, 1 to 600 seconds (default 60). On timeout the job's current state
    /// is returned; call again to keep waiting.
    pub timeout_secs: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ProjectArgs {
    /// The project's id (`list_projects`).
    pub project_id: i64,
}

/// A tool's result: the API's answer as structured content (its schema is the tool's output
/// schema), or its refusal as a tool error.
fn answer<T>(result: Result<T, ApiFailure>) -> Result<Json<T>, CallToolResult> {
    result.map(Json).map_err(|failure| failed(&failure))
}

/// `list_agents`' result (structured content is an object, so the list is a field of one).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Agents {
    pub agents: Vec<agentq_api_types::agents::Agent>,
}

/// `list_projects`' result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Projects {
    pub projects: Vec<agentq_api_types::projects::Project>,
}

/// `list_tasks`' result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Tasks {
    pub tasks: Vec<agentq_api_types::projects::Task>,
}

/// A refusal as a tool error an assistant can act on: the status, the API's message and its
/// details (validation errors name the field).
pub fn failed(failure: &ApiFailure) -> CallToolResult {
    let value = match failure {
        ApiFailure::Refused { status, body } => json!({
            "status": status,
            "error": body.error,
            "details": body.details,
        }),
        other => json!({"status": 503, "error": other.to_string()}),
    };
    CallToolResult::structured_error(value)
}

fn invalid(message: impl Into<String>) -> CallToolResult {
    CallToolResult::structured_error(json!({"status": 400, "error": message.into()}))
}

impl QueueJobArgs {
    /// The API's request body, or what is wrong with the arguments.
    fn request(self) -> Result<JobRequest, String> {
        let task_id = TaskId::try_from(self.task_id)
            .map_err(|_| "task_id must be a positive integer".to_owned())?;
        let agent_id = AgentId::try_from(self.agent_id)
            .map_err(|_| "agent_id must be a positive integer".to_owned())?;
        let given = self.metadata.as_ref().and_then(|m| m.priority);
        let priority = self.priority.or(given).map(Priority::from);
        let metadata = match (self.metadata, priority) {
            (None, None) => None,
            (metadata, priority) => Some(JobMetadata {
                priority,
                estimated_hours: metadata.as_ref().and_then(|m| m.estimated_hours),
                retry_count: metadata.as_ref().and_then(|m| m.retry_count),
            }),
        };
        let context = self.context.map(|c| JobContext {
            dependencies: c.dependencies,
            related_tasks: c.related_tasks,
            memory_ids: c.memory_ids,
            on_dependency_failure: None,
        });
        let mcp_configs = self
            .mcp_configs
            .unwrap_or_default()
            .into_iter()
            .map(|c| McpConfig {
                server_name: c.server_name,
                server_url: c.server_url,
                auth_type: match c.auth_type {
                    AuthTypeArg::Bearer => AuthType::Bearer,
                    AuthTypeArg::Basic => AuthType::Basic,
                    AuthTypeArg::None => AuthType::None,
                },
                auth_credentials: c.auth_credentials,
                enabled: c.enabled.unwrap_or(true),
            })
            .collect();
        Ok(JobRequest {
            task_id,
            agent_id,
            metadata,
            context,
            mcp_configs,
        })
    }
}

impl AgentqTools {
    pub fn new(api: Api, ws_url: url::Url, auth: Auth) -> Self {
        Self {
            api,
            ws_url,
            auth,
            tool_router: Self::tool_router(),
        }
    }

    /// The caller's token: the session's, or the HTTP caller's bearer token.
    async fn token(
        &self,
        ctx: &RequestContext<RoleServer>,
        renew: bool,
    ) -> Result<Option<String>, ApiFailure> {
        match &self.auth {
            Auth::Session(session) => session.token(&self.api, renew).await.map(Some),
            Auth::PerCaller => Ok(ctx
                .extensions
                .get::<http::request::Parts>()
                .and_then(|parts| parts.headers.get(http::header::AUTHORIZATION))
                .and_then(|value| value.to_str().ok())
                .and_then(|value| {
                    let (scheme, token) = value.split_once(' ')?;
                    scheme
                        .eq_ignore_ascii_case("bearer")
                        .then(|| token.trim().to_owned())
                })),
        }
    }

    /// Runs `call` with the caller's token; a session logged in with a password logs in again
    /// once when its token has expired.
    async fn authed<T, F, Fut>(
        &self,
        ctx: &RequestContext<RoleServer>,
        call: F,
    ) -> Result<T, ApiFailure>
    where
        F: Fn(Api, Option<String>) -> Fut,
        Fut: Future<Output = Result<T, ApiFailure>>,
    {
        let token = self.token(ctx, false).await?;
        match call(self.api.clone(), token).await {
            Err(failure)
                if is_unauthorized(&failure)
                    && matches!(&self.auth, Auth::Session(s) if s.can_renew()) =>
            {
                let token = self.token(ctx, true).await?;
                call(self.api.clone(), token).await
            }
            other => other,
        }
    }

    /// `approve_agent_job` and `reject_agent_job`: the gateway checks the comment's length.
    async fn decide(
        &self,
        ctx: &RequestContext<RoleServer>,
        args: DecisionArgs,
        verdict: Verdict,
    ) -> Result<JobDecision, ApiFailure> {
        let request = DecisionRequest {
            comment: args.comment,
        };
        self.authed(ctx, |api, token| {
            let (id, request) = (args.job_id.clone(), request.clone());
            async move {
                api.decide_job(token.as_deref(), &id, verdict, &request)
                    .await
            }
        })
        .await
    }
}

#[tool_router]
impl AgentqTools {
    #[tool(
        description = "Queue an AI-agent job: run agent `agent_id` on task `task_id`. Answers the job's id (for get_agent_job_status, wait_for_agent_job, cancel_agent_job), its project and its priority. Fails with 404 when the task or agent does not exist or is not in your projects, 400 naming the bad field.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn queue_agent_job(
        &self,
        Parameters(args): Parameters<QueueJobArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<QueuedJob>, CallToolResult> {
        let request = match args.request() {
            Ok(request) => request,
            Err(why) => return Err(invalid(why)),
        };
        let result = self
            .authed(&ctx, |api, token| {
                let request = request.clone();
                async move { api.queue_job(token.as_deref(), &request).await }
            })
            .await;
        answer(result)
    }

    #[tool(
        description = "A job's status: state (waiting, delayed, active, completed, failed, cancelled, awaiting_approval, blocked), progress 0-100, attempts, timestamps, execution time, result and last error.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_agent_job_status(
        &self,
        Parameters(args): Parameters<JobIdArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Job>, CallToolResult> {
        let id = args.job_id;
        let result = self
            .authed(&ctx, |api, token| {
                let id = id.clone();
                async move { api.job(token.as_deref(), &id).await }
            })
            .await;
        answer(result)
    }

    #[tool(
        description = "Cancel a waiting or running job; a running agent is stopped. Fails with 404 when the job is already finished or not found.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn cancel_agent_job(
        &self,
        Parameters(args): Parameters<JobIdArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<JobCancelled>, CallToolResult> {
        let id = args.job_id;
        let result = self
            .authed(&ctx, |api, token| {
                let id = id.clone();
                async move { api.cancel_job(token.as_deref(), &id).await }
            })
            .await;
        answer(result)
    }

    #[tool(
        description = "Approve a job that awaits a decision (state awaiting_approval, or a running job whose agent asked): a job held before its run now waits to run; a running agent gets `approved` and the comment on its stdin and goes on. Fails with 409 when the job awaits no decision, 404 when it is not found.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn approve_agent_job(
        &self,
        Parameters(args): Parameters<DecisionArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<JobDecision>, CallToolResult> {
        answer(self.decide(&ctx, args, Verdict::Approve).await)
    }

    #[tool(
        description = "Reject a job that awaits a decision: a job held before its run is cancelled; a running agent that asked gets `rejected` and the comment on its stdin. Fails with 409 when the job awaits no decision, 404 when it is not found.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn reject_agent_job(
        &self,
        Parameters(args): Parameters<DecisionArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<JobDecision>, CallToolResult> {
        answer(self.decide(&ctx, args, Verdict::Reject).await)
    }

    #[tool(
        description = "The workers and the queue: worker configuration, job counts by state, average execution time and success rate over the last day, the active jobs and the live workers with their heartbeats.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_agent_worker_status(
        &self,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<WorkerStatus>, CallToolResult> {
        let result = self
            .authed(&ctx, |api, token| async move {
                api.workers(token.as_deref()).await
            })
            .await;
        answer(result)
    }

    #[tool(
        description = "List jobs in your projects, newest first, filtered by state, agent, task or project; pass nextCursor as `cursor` for the next page.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_agent_jobs(
        &self,
        Parameters(args): Parameters<ListJobsArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<JobPage>, CallToolResult> {
        let query = ListJobsQuery {
            state: args.state.map(|states| {
                states
                    .iter()
                    .map(|s| agentq_domain::JobState::from(*s).as_str())
                    .collect::<Vec<&str>>()
                    .join(",")
            }),
            agent_id: args.agent_id,
            task_id: args.task_id,
            project_id: args.project_id,
            limit: args.limit,
            cursor: args.cursor,
        };
        let result = self
            .authed(&ctx, |api, token| {
                let query = query.clone();
                async move { api.list_jobs(token.as_deref(), &query).await }
            })
            .await;
        answer(result)
    }

    #[tool(
        description = "Queue a failed job again with a fresh set of attempts. Fails with 409 when the job has not failed.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn retry_agent_job(
        &self,
        Parameters(args): Parameters<JobIdArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<JobRequeued>, CallToolResult> {
        let id = args.job_id;
        let result = self
            .authed(&ctx, |api, token| {
                let id = id.clone();
                async move { api.retry_job(token.as_deref(), &id).await }
            })
            .await;
        answer(result)
    }

    #[tool(
        description = "The agent's output lines of a job, oldest first (the newest are kept when there are many).",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_agent_job_logs(
        &self,
        Parameters(args): Parameters<JobIdArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<JobLogs>, CallToolResult> {
        let id = args.job_id;
        let result = self
            .authed(&ctx, |api, token| {
                let id = id.clone();
                async move { api.job_logs(token.as_deref(), &id).await }
            })
            .await;
        answer(result)
    }

    #[tool(
        description = "Wait until a job finishes (completed, failed or cancelled), up to `timeout_secs` (default 60), sending progress notifications as the job reports progress. Answers the job (state, result, error) and whether it finished or the wait timed out.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn wait_for_agent_job(
        &self,
        Parameters(args): Parameters<WaitArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<crate::wait::Waited>, CallToolResult> {
        let timeout = std::time::Duration::from_secs(args.timeout_secs.unwrap_or(60).clamp(1, 600));
        let token = match self.token(&ctx, false).await {
            Ok(token) => token,
            Err(failure) => return Err(failed(&failure)),
        };
        let waited = crate::wait::wait_for_job(
            &self.api,
            &self.ws_url,
            token.as_deref(),
            &args.job_id,
            timeout,
            &ctx,
        )
        .await;
        answer(waited)
    }

    #[tool(
        description = "The agents you can queue jobs on: id, name, kind (command or http), timeout and concurrency limit.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_agents(
        &self,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Agents>, CallToolResult> {
        let result = self
            .authed(&ctx, |api, token| async move {
                api.agents(token.as_deref()).await
            })
            .await;
        answer(result.map(|agents| Agents { agents }))
    }

    #[tool(
        description = "The projects you may see (administrators see all).",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_projects(
        &self,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Projects>, CallToolResult> {
        let result = self
            .authed(&ctx, |api, token| async move {
                api.projects(token.as_deref()).await
            })
            .await;
        answer(result.map(|projects| Projects { projects }))
    }

    #[tool(
        description = "A project's tasks: id, code, title and status; a task id is what queue_agent_job takes.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_tasks(
        &self,
        Parameters(args): Parameters<ProjectArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Tasks>, CallToolResult> {
        let project = args.project_id;
        let result = self
            .authed(&ctx, |api, token| async move {
                api.tasks(token.as_deref(), project).await
            })
            .await;
        answer(result.map(|tasks| Tasks { tasks }))
    }

    #[tool(
        description = "What a project's jobs queued today (UTC) spent: input and output tokens and cost in USD, with the project's daily budget and what is left of it (null without a budget). Once it is spent, queue_agent_job fails with 429 until the next UTC day.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_project_usage(
        &self,
        Parameters(args): Parameters<ProjectArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ProjectUsage>, CallToolResult> {
        let project = args.project_id;
        let result = self
            .authed(&ctx, |api, token| async move {
                api.usage(token.as_deref(), project).await
            })
            .await;
        answer(result)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for AgentqTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::from_build_env())
            .with_instructions(
                "Runs AI-agent jobs on agentq: find a task (list_projects, list_tasks) and an \
                 agent (list_agents), queue_agent_job, then wait_for_agent_job or \
                 get_agent_job_status; cancel_agent_job and retry_agent_job change a job, \
                 approve_agent_job and reject_agent_job decide one that awaits a decision \
                 (state awaiting_approval, or an agent's question), get_agent_job_logs shows \
                 its output, get_project_usage what a project spent today against its budget.",
            )
    }
}
