//! Agents: admins define them; everyone signed in may list them (to pick one), but only
//! admins see how they run (argv, endpoint, the names of its environment variables). The
//! variables' values, where secrets go, are never returned, not even to admins.

use std::collections::BTreeMap;

use actix_web::web;
use agentq_api_types::agents::{
    Agent, AgentKind, CreateAgentRequest, DEFAULT_TIMEOUT_SECS, UpdateAgentRequest,
};
use agentq_api_types::{Answer, ErrorBody};
use agentq_domain::AgentId;
use agentq_secrets::SecretBox;
use agentq_store::{AgentChanges, AgentEnv, NewAgent};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{Admin, Created, Reply, Valid, created, ok};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::routes::resource("/api/agents", "GET, POST")
            .route(web::post().to(create_agent))
            .route(web::get().to(list_agents)),
    )
    .service(
        crate::routes::resource("/api/agents/{id}", "PATCH").route(web::patch().to(update_agent)),
    );
}

#[utoipa::path(
    post, path = "/api/agents", tag = "agents",
    request_body = CreateAgentRequest,
    responses(
        (status = 201, description = "Created", body = Answer<Agent>),
        (status = 400, description = "Validation failed", body = ErrorBody),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
        (status = 403, description = "Admin access required, or an endpointUrl whose host agents may not reach (AGENTQ_AGENT_HOSTS)", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create_agent(
    _: Admin,
    Valid(body): Valid<CreateAgentRequest>,
    state: web::Data<AppState>,
) -> Created<Agent> {
    let (name, kind, limits) = match body {
        CreateAgentRequest::Command(agent) => (
            agent.name,
            agentq_store::AgentKind::Command(agent.command),
            Limits {
                timeout_secs: agent.timeout_secs,
                max_concurrency: agent.max_concurrency,
                idle_timeout_secs: agent.idle_timeout_secs,
                requires_approval: agent.requires_approval,
                asks_approval: agent.asks_approval,
                env: agent.env,
            },
        ),
        CreateAgentRequest::Http(agent) => {
            if let Err(refused) = state.settings.agent_hosts.check_url(&agent.endpoint_url) {
                let issue = agentq_domain::validation::Issue {
                    path: vec![agentq_domain::validation::PathSegment::Key(
                        "endpointUrl".into(),
                    )],
                    message: refused.to_string(),
                };
                return Err(ApiError::HostNotAllowed(
                    agentq_domain::ValidationErrors::new(vec![issue]),
                ));
            }
            (
                agent.name,
                agentq_store::AgentKind::Http(agent.endpoint_url),
                Limits {
                    timeout_secs: agent.timeout_secs,
                    max_concurrency: agent.max_concurrency,
                    // one request: there are no lines to be idle between, nor to ask with
                    idle_timeout_secs: None,
                    requires_approval: agent.requires_approval,
                    asks_approval: false,
                    env: agent.env,
                },
            )
        }
    };
    let env = seal_env(&state.secrets, limits.env.unwrap_or_default())?;
    let agent = agentq_store::create_agent(
        &state.db,
        NewAgent {
            name,
            kind,
            timeout_secs: limits.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS),
            max_concurrency: limits.max_concurrency,
            idle_timeout_secs: limits.idle_timeout_secs,
            requires_approval: limits.requires_approval,
            asks_approval: limits.asks_approval,
            env,
        },
    )
    .await?;
    created(Answer::new(agent_view(&state.secrets, agent, true)))
}

#[utoipa::path(
    get, path = "/api/agents", tag = "agents",
    responses(
        (status = 200, description = "Every agent (details for admins)", body = Answer<Vec<Agent>>),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list_agents(state: web::Data<AppState>, caller: Caller) -> Reply<Vec<Agent>> {
    let agents = agentq_store::list_agents(&state.db).await?;
    let data = agents
        .into_iter()
        .map(|a| agent_view(&state.secrets, a, caller.is_admin()))
        .collect();
    ok(Answer::new(data))
}

#[utoipa::path(
    patch, path = "/api/agents/{id}", tag = "agents",
    params(("id" = i64, Path, description = "The agent")),
    request_body = UpdateAgentRequest,
    responses(
        (status = 200, description = "The agent as it is now; its jobs' next attempts run with it", body = Answer<Agent>),
        (status = 400, description = "Validation failed (or a field that cannot change)", body = ErrorBody),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
        (status = 403, description = "Admin access required", body = ErrorBody),
        (status = 404, description = "Agent not found", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn update_agent(
    Admin(caller): Admin,
    path: web::Path<String>,
    Valid(body): Valid<UpdateAgentRequest>,
    state: web::Data<AppState>,
) -> Reply<Agent> {
    let not_found = || ApiError::not_found("Agent not found");
    let id: AgentId = path.parse().map_err(|_| not_found())?;
    // what changed, by name, for the activity log (values may be secrets)
    let changed: Vec<&str> = [
        ("timeoutSecs", body.timeout_secs.is_some()),
        ("maxConcurrency", body.max_concurrency.is_some()),
        ("requiresApproval", body.requires_approval.is_some()),
        ("env", body.env.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, present)| present.then_some(name))
    .collect();
    let changes = AgentChanges {
        timeout_secs: body.timeout_secs,
        max_concurrency: body.max_concurrency,
        requires_approval: body.requires_approval,
        env: body
            .env
            .map(|env| seal_env(&state.secrets, env))
            .transpose()?,
    };
    let agent = agentq_store::update_agent(&state.db, id, changes)
        .await?
        .ok_or_else(not_found)?;
    let entry = agentq_store::ActivityEntry {
        user: Some(caller.user.id),
        action: "agent_updated".into(),
        project: None,
        task: None,
        job: None,
        detail: Some(serde_json::json!({"agentId": id.get(), "changed": changed})),
    };
    super::record_activity(&state, entry).await;
    ok(Answer::new(agent_view(&state.secrets, agent, true)))
}

/// What both kinds of agent share, as the request gave it.
struct Limits {
    timeout_secs: Option<u64>,
    max_concurrency: Option<u32>,
    idle_timeout_secs: Option<u64>,
    requires_approval: bool,
    asks_approval: bool,
    env: Option<BTreeMap<String, String>>,
}

/// The variables as stored: sealed, so that the database (and its backups) never holds an
/// agent's secrets in the clear. None at all needs no seal.
fn seal_env(secrets: &SecretBox, env: BTreeMap<String, String>) -> Result<AgentEnv, ApiError> {
    if env.is_empty() {
        return Ok(AgentEnv::default());
    }
    let failed = |cause: &str| ApiError::internal("Failed to store the agent's env", cause);
    let json = serde_json::to_vec(&env).map_err(|e| failed(&e.to_string()))?;
    secrets
        .seal(&json)
        .map(AgentEnv::Sealed)
        .ok_or_else(|| failed("encryption failed"))
}

/// The names of an agent's variables. A seal that does not open (the key has changed since)
/// names none; the worker refuses to run that agent and says why.
fn env_names(secrets: &SecretBox, env: AgentEnv) -> Vec<String> {
    let plain = match env {
        AgentEnv::Plain(plain) => plain,
        AgentEnv::Sealed(sealed) => secrets
            .open(&sealed)
            .and_then(|json| serde_json::from_slice(&json).ok())
            .unwrap_or_default(),
    };
    plain.into_keys().collect()
}

fn agent_view(secrets: &SecretBox, agent: agentq_store::Agent, with_details: bool) -> Agent {
    let (kind, command, endpoint_url) = match agent.kind {
        agentq_store::AgentKind::Command(argv) => (AgentKind::Command, Some(argv), None),
        agentq_store::AgentKind::Http(url) => (AgentKind::Http, None, Some(url)),
    };
    Agent {
        id: agent.id.get(),
        name: agent.name,
        kind,
        timeout_secs: agent.timeout_secs,
        max_concurrency: agent.max_concurrency,
        idle_timeout_secs: agent.idle_timeout_secs,
        requires_approval: agent.requires_approval,
        asks_approval: agent.asks_approval,
        command: command.filter(|_| with_details),
        endpoint_url: endpoint_url.filter(|_| with_details),
        env_names: with_details.then(|| env_names(secrets, agent.env)),
    }
}
