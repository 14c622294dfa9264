//! Liveness, readiness and Prometheus metrics.

use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;

use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(prometheus));
}

/// The process is up.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Redis and the database both answer.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let redis = state.queue.counts().await.is_ok();
    let database = agentq_store::ping(&state.db).await.is_ok();
    let body = json!({
        "status": if redis && database { "ready" } else { "unavailable" },
        "checks": {"redis": redis, "database": database},
    });
    if redis && database {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn prometheus(
    state: web::Data<AppState>,
    handle: web::Data<PrometheusHandle>,
) -> HttpResponse {
    // queue depth is read at scrape time: always current, and free when nobody scrapes
    if let Ok(counts) = state.queue.counts().await {
        let queue = state.settings.queue.clone();
        for (name, value) in [
            ("waiting", counts.waiting),
            ("delayed", counts.delayed),
            ("active", counts.active),
            ("completed", counts.completed),
            ("failed", counts.failed),
            ("cancelled", counts.cancelled),
        ] {
            metrics::gauge!("agentq_queue_jobs", "queue" => queue.clone(), "state" => name)
                .set(value as f64);
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}
