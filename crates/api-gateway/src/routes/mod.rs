//! The routes, one module per resource; each exports `configure`.

pub mod accounts;
pub mod agents;
pub mod approvals;
pub mod health;
pub mod jobs;
pub mod projects;
pub mod stats;
pub mod workers;

pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.configure(health::configure)
        .configure(accounts::configure)
        .configure(projects::configure)
        .configure(agents::configure)
        .configure(jobs::configure)
        .configure(approvals::configure)
        .configure(workers::configure)
        .configure(stats::configure);
}

/// A path whose methods are listed in `allow` (`"GET, POST"`): any other method gets 405 with
/// `Allow`, in the API's error shape. Add the routes with `.route(...)`.
pub fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    actix_web::web::resource(path).default_service(actix_web::web::to(move || async move {
        actix_web::HttpResponse::MethodNotAllowed()
            .insert_header(("allow", allow))
            .json(agentq_api_types::ErrorBody::new("Method not allowed"))
    }))
}
