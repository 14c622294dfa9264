//! The routes, one module per resource; each exports `configure`.

pub mod accounts;
pub mod agents;
pub mod health;
pub mod jobs;
pub mod projects;
pub mod workers;

pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.configure(health::configure)
        .configure(accounts::configure)
        .configure(projects::configure)
        .configure(agents::configure)
        .configure(jobs::configure)
        .configure(workers::configure);
}
