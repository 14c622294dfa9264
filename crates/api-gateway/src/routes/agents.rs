//! Agents: admins define them; everyone signed in may list them (to pick one), but only
//! admins see how they run (argv, endpoint, environment), which may hold secrets.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use agentq_store::{Agent, AgentKind, NewAgent};
use garde::Validate;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::body::{check, json_body};
use crate::error::ApiError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/agents", web::post().to(create_agent))
        .route("/api/agents", web::get().to(list_agents));
}

/// 30 minutes, as DESIGN.md §7.
const DEFAULT_TIMEOUT_SECS: u64 = 1800;

#[derive(Debug, Deserialize, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateAgent {
    #[garde(length(min = 1, max = 100))]
    name: String,
    #[garde(custom(crate::routes::accounts::one_of(&["command", "http"])))]
    kind: String,
    #[garde(inner(length(min = 1), inner(length(min = 1, max = 4096))))]
    command: Option<Vec<String>>,
    #[garde(inner(url, length(max = 2048)))]
    endpoint_url: Option<String>,
    #[garde(inner(range(min = 1, max = 7 * 24 * 3600)))]
    timeout_secs: Option<u64>,
    #[garde(inner(range(min = 1, max = 100_000)))]
    max_concurrency: Option<u32>,
    #[garde(skip)]
    env: Option<BTreeMap<String, String>>,
}

#[utoipa::path(
    post, path = "/api/agents", tag = "agents",
    request_body = crate::openapi::CreateAgentRequest,
    responses(
        (status = 201, description = "Created", body = crate::openapi::AgentAnswer),
        (status = 400, description = "Validation failed", body = crate::openapi::ErrorBody),
        (status = 401, description = "No, a bad or an expired token", body = crate::openapi::ErrorBody),
        (status = 403, description = "Admin access required", body = crate::openapi::ErrorBody),
        (status = 409, description = "The name is taken", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create_agent(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let body: CreateAgent = json_body(&req, payload, &state).await?;
    check(&body)?;
    let kind = match (body.kind.as_str(), body.command, body.endpoint_url) {
        ("command", Some(argv), None) => AgentKind::Command(argv),
        ("http", None, Some(url)) => {
            if let Err(refused) = state.settings.agent_hosts.check_url(&url) {
                return Err(ApiError::BadRequest(format!("endpointUrl: {refused}")));
            }
            AgentKind::Http(url)
        }
        _ => {
            return Err(ApiError::BadRequest(
                "a command agent needs `command` (argv) and no `endpointUrl`; an http agent the reverse".into(),
            ));
        }
    };
    let agent = agentq_store::create_agent(
        &state.db,
        NewAgent {
            name: body.name,
            kind,
            timeout_secs: body.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS),
            max_concurrency: body.max_concurrency,
            env: body.env.unwrap_or_default(),
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(json!({"success": true, "data": agent_json(&agent, true)})))
}

#[utoipa::path(
    get, path = "/api/agents", tag = "agents",
    responses(
        (status = 200, description = "Every agent (details for admins)", body = crate::openapi::AgentList),
        (status = 401, description = "No, a bad or an expired token", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list_agents(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let agents = agentq_store::list_agents(&state.db).await?;
    let data: Vec<_> = agents
        .iter()
        .map(|a| agent_json(a, caller.is_admin()))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"success": true, "data": data})))
}

fn agent_json(agent: &Agent, with_details: bool) -> Value {
    let kind = match agent.kind {
        AgentKind::Command(_) => "command",
        AgentKind::Http(_) => "http",
    };
    let mut value = json!({
        "id": agent.id.get(),
        "name": agent.name,
        "kind": kind,
        "timeoutSecs": agent.timeout_secs,
        "maxConcurrency": agent.max_concurrency,
    });
    if with_details {
        match &agent.kind {
            AgentKind::Command(argv) => value["command"] = json!(argv),
            AgentKind::Http(url) => value["endpointUrl"] = json!(url),
        }
        value["env"] = json!(agent.env);
    }
    value
}
