//! Liveness, readiness and Prometheus metrics.

use actix_web::{HttpResponse, web};
use agentq_api_types::operations::{Health, Readiness, ReadinessChecks, Up};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    use crate::routes::resource;
    cfg.service(resource("/healthz", "GET").route(web::get().to(healthz)))
        .service(resource("/readyz", "GET").route(web::get().to(readyz)))
        .service(resource("/metrics", "GET").route(web::get().to(prometheus)));
}

/// The process is up.
#[utoipa::path(
    get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is up", body = Health))
)]
pub(crate) async fn healthz() -> web::Json<Health> {
    web::Json(Health { status: Up::Ok })
}

/// Redis and the database both answer.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Redis and the database answer", body = Readiness),
        (status = 503, description = "One of them does not", body = Readiness),
    )
)]
pub(crate) async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let redis = state.queue.counts().await.is_ok();
    let database = agentq_store::ping(&state.db).await.is_ok();
    let body = Readiness::of(ReadinessChecks { redis, database });
    if redis && database {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String))
)]
pub(crate) async fn prometheus(
    state: web::Data<AppState>,
    handle: web::Data<PrometheusHandle>,
) -> HttpResponse {
    // queue depth is read at scrape time: always current, and free when nobody scrapes
    if let Ok(counts) = state.queue.counts().await {
        let queue = state.settings.core.queue.clone();
        for (name, value) in counts.by_state() {
            metrics::gauge!("agentq_queue_jobs", "queue" => queue.clone(), "state" => name)
                .set(value as f64);
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}
