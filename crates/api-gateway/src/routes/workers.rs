//! `GET /api/agent-execution/workers`: the seed's worker and queue overview.

use actix_web::web;
use agentq_api_types::workers::{
    ActiveJob, LiveWorker, QueueCounts, WorkerConfig, WorkerStatus, WorkersActive,
};
use agentq_api_types::{Answer, ErrorBody};
use agentq_domain::JobState;
use agentq_store::JobFilter;

use crate::auth::Caller;
use crate::extract::{Reply, ok};
use crate::state::AppState;
use crate::time::{iso, iso_ms};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::routes::resource("/api/agent-execution/workers", "GET")
            .route(web::get().to(worker_status)),
    );
}

/// Metrics cover the last day, like the seed's retention of completed jobs.
const METRICS_WINDOW_HOURS: i64 = 24;

#[utoipa::path(
    get, path = "/api/agent-execution/workers", tag = "jobs",
    responses(
        (status = 200, description = "Worker configuration, queue counts, metrics, active jobs and live workers", body = Answer<WorkerStatus>),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
        (status = 503, description = "Agent execution service not initialized", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn worker_status(
    state: web::Data<AppState>,
    caller: Caller,
) -> Reply<WorkerStatus> {
    let counts = state.queue.counts().await?;
    let live_workers = state
        .queue
        .home()
        .live_workers()
        .await?
        .into_iter()
        .map(|w| LiveWorker {
            id: w.id,
            host: w.host,
            pid: w.pid,
            version: w.version,
            concurrency: w.concurrency,
            running: w.running,
            started_at: iso_ms(w.started_at),
            last_heartbeat_at: iso_ms(w.last_beat),
        })
        .collect();
    let since = agentq_store::now() - chrono::Duration::hours(METRICS_WINDOW_HOURS);
    let metrics = agentq_store::metrics(&state.db, &caller.scope, since).await?;
    let filter = JobFilter {
        states: vec![JobState::Active],
        ..JobFilter::default()
    };
    let active = agentq_store::list_jobs(&state.db, &caller.scope, &filter, 10, None).await?;
    let active_jobs = active
        .jobs
        .into_iter()
        .map(|job| ActiveJob {
            job_id: job.job_id.to_string(),
            task_id: job.task.get(),
            task_code: job.task_code,
            agent_id: job.agent.get(),
            state: job.status,
            progress: job.progress,
            started_at: job.started_at.map(iso),
        })
        .collect();
    let settings = &state.settings;
    ok(Answer::new(WorkerStatus {
        workers: WorkerConfig {
            concurrency: settings.core.concurrency,
            lock_duration: u64::try_from(settings.core.lease.as_millis()).unwrap_or(u64::MAX),
            queue_name: settings.core.queue.clone(),
            status: WorkersActive::Active,
        },
        queue: QueueCounts {
            waiting: counts.waiting,
            active: counts.active,
            completed: counts.completed,
            failed: counts.failed,
            delayed: counts.delayed,
            cancelled: counts.cancelled,
            avg_execution_time_ms: metrics.avg_execution_time_ms.unwrap_or(0.0),
            success_rate: metrics.success_rate.unwrap_or(0.0),
        },
        active_jobs,
        live_workers,
        timestamp: iso(agentq_store::now()),
    }))
}
