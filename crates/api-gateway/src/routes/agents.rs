//! Agents: admins define them; everyone signed in may list them (to pick one), but only
//! admins see how they run (argv, endpoint, environment), which may hold secrets.

use std::collections::BTreeMap;

use actix_web::web;
use agentq_api_types::agents::{Agent, AgentKind, CreateAgentRequest, DEFAULT_TIMEOUT_SECS};
use agentq_api_types::{Answer, ErrorBody};
use agentq_store::NewAgent;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{Admin, Created, Reply, Valid, created, ok};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::routes::resource("/api/agents", "GET, POST")
            .route(web::post().to(create_agent))
            .route(web::get().to(list_agents)),
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
            env: limits.env.unwrap_or_default(),
        },
    )
    .await?;
    created(Answer::new(agent_view(agent, true)))
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
        .map(|a| agent_view(a, caller.is_admin()))
        .collect();
    ok(Answer::new(data))
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

fn agent_view(agent: agentq_store::Agent, with_details: bool) -> Agent {
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
        env: with_details.then_some(agent.env),
    }
}
