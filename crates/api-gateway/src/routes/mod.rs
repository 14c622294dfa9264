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

/// Records `entry` in the activity log. What it records already happened, so a failure here is
/// logged rather than turned into an error for the caller.
pub(crate) async fn record_activity(
    state: &crate::state::AppState,
    entry: agentq_store::ActivityEntry,
) {
    let action = entry.action.clone();
    if let Err(err) = agentq_store::log_activity(&state.db, entry).await {
        tracing::warn!(error = %err, action, "could not log the activity");
    }
}
