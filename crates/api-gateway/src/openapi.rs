//! The API's OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` attributes
//! and the wire types they name; served at `/api/openapi.json` and checked in at `proto/openapi.json`
//! (a test fails when they differ, and tests check real answers against these schemas).
//!
//! Every schema is a type of `agentq_api_types` that the handlers return or accept, so the
//! document describes what is served.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

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
        routes::jobs::job_details,
        routes::approvals::approve_job,
        routes::approvals::reject_job,
        routes::stats::stats,
        routes::workers::worker_status,
        routes::accounts::login,
        routes::accounts::create_user,
        routes::accounts::list_users,
        routes::projects::create_project,
        routes::projects::list_projects,
        routes::projects::add_member,
        routes::projects::list_members,
        routes::projects::create_task,
        routes::projects::list_tasks,
        routes::projects::set_budget,
        routes::projects::set_weight,
        routes::projects::project_usage,
        routes::agents::create_agent,
        routes::agents::list_agents,
        routes::agents::update_agent,
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

/// Serves the document at `/api/openapi.json`: public, like the API's shape.
pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(
        routes::resource("/api/openapi.json", "GET").route(actix_web::web::get().to(served)),
    );
}

async fn served() -> actix_web::HttpResponse {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT.get_or_init(document).as_str())
}

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
