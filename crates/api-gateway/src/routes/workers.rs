//! `GET /api/agent-execution/workers`: the seed's worker and queue overview.

use actix_web::{HttpResponse, web};
use agentq_domain::JobState;
use agentq_store::JobFilter;
use serde_json::json;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::jobs::iso;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/agent-execution/workers", web::get().to(worker_status));
}

/// Metrics cover the last day, like the seed's retention of completed jobs.
const METRICS_WINDOW_HOURS: i64 = 24;

#[utoipa::path(
    get, path = "/api/agent-execution/workers", tag = "jobs",
    responses(
        (status = 200, description = "Worker configuration, queue counts, metrics, active jobs and live workers", body = crate::openapi::WorkerStatusAnswer),
        (status = 401, description = "No, a bad or an expired token", body = crate::openapi::ErrorBody),
        (status = 503, description = "Agent execution service not initialized", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn worker_status(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let counts = state.queue.counts().await?;
    let live: Vec<_> = state
        .queue
        .live_workers()
        .await?
        .into_iter()
        .map(|w| {
            json!({
                "id": w.id,
                "host": w.host,
                "pid": w.pid,
                "version": w.version,
                "concurrency": w.concurrency,
                "running": w.running,
                "startedAt": i64::try_from(w.started_at).ok().map(|ms| iso(agentq_store::from_millis(ms))),
                "lastHeartbeatAt": i64::try_from(w.last_beat).ok().map(|ms| iso(agentq_store::from_millis(ms))),
            })
        })
        .collect();
    let since = agentq_store::now() - chrono::Duration::hours(METRICS_WINDOW_HOURS);
    let metrics = agentq_store::metrics(&state.db, &caller.scope, since).await?;
    let filter = JobFilter {
        states: vec![JobState::Active],
        ..JobFilter::default()
    };
    let active = agentq_store::list_jobs(&state.db, &caller.scope, &filter, 10, None).await?;
    let active_jobs: Vec<_> = active
        .jobs
        .iter()
        .map(|job| {
            json!({
                "jobId": job.job_id.to_string(),
                "taskId": job.task.get(),
                "taskCode": job.task_code,
                "agentId": job.agent.get(),
                "state": job.status,
                "progress": job.progress,
                "startedAt": job.started_at.map(iso),
            })
        })
        .collect();
    let settings = &state.settings;
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "data": {
            "workers": {
                "concurrency": settings.concurrency,
                "lockDuration": settings.lock_duration_ms,
                "queueName": settings.queue,
                "status": "active",
            },
            "queue": {
                "waiting": counts.waiting,
                "active": counts.active,
                "completed": counts.completed,
                "failed": counts.failed,
                "delayed": counts.delayed,
                "cancelled": counts.cancelled,
                "avgExecutionTimeMs": metrics.avg_execution_time_ms.unwrap_or(0.0),
                "successRate": metrics.success_rate.unwrap_or(0.0),
            },
            "activeJobs": active_jobs,
            "liveWorkers": live,
            "timestamp": iso(agentq_store::now()),
        }
    })))
}
