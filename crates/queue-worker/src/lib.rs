//! agentq's worker: leases jobs, runs their agents, and records every outcome in SQL.

pub mod command;
pub mod guard;
pub mod http;
pub mod job;
pub mod observe;
pub mod output;
pub mod reconciler;
pub mod recorder;
pub mod retention;
pub mod settings;
pub mod workdir;

use std::sync::Arc;

use agentq_queue::{Partitions, QueueConfig, Redis, WorkerOptions, WorkerReport, run_worker};
use agentq_secrets::SecretBox;
use tokio_util::sync::CancellationToken;

use crate::job::{JobContext, process_one};
use crate::settings::Settings;

/// Runs the worker pool and the recorder until `shutdown`, with `/healthz` and `/metrics` on
/// `metrics` when given; returns what the pool did.
pub async fn run(
    settings: Settings,
    metrics: Option<tokio::net::TcpListener>,
    shutdown: CancellationToken,
) -> anyhow::Result<WorkerReport> {
    // installed before anything records a metric: earlier ones would be lost
    let prometheus = agentq_telemetry::prometheus();
    let core = &settings.core;
    let db = agentq_store::connect_and_migrate(core.database_url.expose()).await?;
    let mut config = QueueConfig::named(core.queue.clone());
    config.lease = core.lease;
    config.max_attempts = core.attempts;
    config.backoff.base = core.backoff_base;
    let redis = Redis::open(core.redis_url.expose())?;
    let queue = Partitions::new(redis, config, core.partitions);
    queue.check_count().await?;
    observe::check_redis(&queue).await;
    queue.check_placement().await;
    if let Some(listener) = metrics {
        tokio::spawn(agentq_telemetry::serve_health_and_metrics(
            listener,
            prometheus,
            shutdown.clone(),
        ));
    }
    let root = &settings.agents.work_root;
    let (work_dir, swept) = workdir::sweep_and_claim(root, &settings.worker_id).map_err(|err| {
        anyhow::anyhow!("AGENTQ_WORK_DIR: cannot prepare {}: {err}", root.display())
    })?;
    if swept > 0 {
        tracing::info!(swept, "removed job directories that dead workers left");
    }
    let sampler = tokio::spawn(observe::sample_queue(queue.clone(), shutdown.clone()));
    let ctx = Arc::new(JobContext {
        queue: queue.clone(),
        db: db.clone(),
        secrets: SecretBox::new(settings.secret_key.expose()),
        http: http::HttpAgents::new(&settings.agents),
        work_dir: work_dir.clone(),
        agents: settings.agents.clone(),
        skip_agents: settings.skip_agents,
    });
    if settings.skip_agents {
        tracing::warn!("AGENTQ_BENCH_SKIP_AGENTS=1: jobs complete WITHOUT running their agents");
    }
    // a recorder per partition, each under a lock of its own: any worker may lead any of them,
    // each worker about its share
    let share = recorder::RecorderShare::of(&queue);
    let recorders: Vec<_> = queue
        .all()
        .iter()
        .map(|partition| {
            tokio::spawn(recorder::run_partition_recorder(
                partition.clone(),
                share.clone(),
                db.clone(),
                settings.worker_id.clone(),
                shutdown.clone(),
            ))
        })
        .collect();
    let reconciler = tokio::spawn(reconciler::run_reconciler(
        queue.clone(),
        ctx.db.clone(),
        settings.worker_id.clone(),
        settings.reconcile,
        shutdown.clone(),
    ));
    let retention = tokio::spawn(retention::run_retention(
        queue.clone(),
        ctx.db.clone(),
        settings.worker_id.clone(),
        settings.retention,
        shutdown.clone(),
    ));
    let concurrency = usize::try_from(settings.core.concurrency).unwrap_or(1);
    let mut options = WorkerOptions::new(settings.worker_id.clone(), concurrency);
    options.shutdown_grace = settings.shutdown_grace;
    tracing::info!(worker = %settings.worker_id, concurrency, "queue-worker running");
    let report = run_worker(
        queue,
        options,
        move |job, stop| {
            let ctx = ctx.clone();
            async move {
                use tracing::Instrument;
                let started = std::time::Instant::now();
                // a child of the request that queued the job, when it was traced
                let span =
                    tracing::info_span!("run job", job = %job.id, attempt = job.attempts_made + 1);
                if let Some(parent) = &job.trace {
                    agentq_telemetry::continue_trace(&span, parent);
                }
                let attempts_left = job.attempts_made + 1 < job.max_attempts;
                let outcome = process_one(&ctx, job, stop).instrument(span).await;
                observe::record_outcome(&outcome, attempts_left, started.elapsed());
                outcome
            }
        },
        shutdown,
    )
    .await;
    for recorder in recorders {
        let _ = recorder.await;
    }
    let _ = reconciler.await;
    let _ = retention.await;
    let _ = sampler.await;
    // every job's directory is gone with its run; the worker's own goes at a clean stop
    if let Err(err) = std::fs::remove_dir_all(&work_dir) {
        tracing::warn!(dir = %work_dir.display(), error = %err, "cannot remove the worker's directory");
    }
    Ok(report)
}
