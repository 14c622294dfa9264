//! What an operator sees of a worker: job outcomes and run times, the queue's depth per state
//! and its lease expiries (as Prometheus metrics), and a warning when Redis may evict jobs.

use std::time::Duration;

use agentq_queue::{Outcome, Partitions};
use tokio_util::sync::CancellationToken;

/// How often the queue's depth is sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// Counts one attempt's outcome and its run time. A failed attempt with attempts left is
/// `retried` (the queue schedules it after a backoff); the last one is `failed`.
pub fn record_outcome(outcome: &Outcome, attempts_left: bool, took: Duration) {
    let name = match outcome {
        Outcome::Completed(_) => "completed",
        Outcome::Failed(_) if attempts_left => "retried",
        Outcome::Failed(_) | Outcome::FailedForGood(_) => "failed",
        Outcome::Cancelled => "cancelled",
        Outcome::Released => "released",
    };
    metrics::counter!("agentq_worker_jobs_total", "outcome" => name).increment(1);
    metrics::histogram!("agentq_worker_job_duration_seconds", "outcome" => name)
        .record(took.as_secs_f64());
}

/// Warns when Redis may evict keys: an evicted key is a lost job.
pub async fn check_redis(queue: &Partitions) {
    match queue.home().maxmemory_policy().await {
        Ok(Some(policy)) if policy != "noeviction" => tracing::warn!(
            policy = %policy,
            "Redis maxmemory-policy is not noeviction: under memory pressure Redis may drop \
             queued jobs; set `maxmemory-policy noeviction`"
        ),
        Ok(_) => {}
        Err(err) => tracing::warn!(error = %err, "cannot read Redis maxmemory-policy"),
    }
}

/// Samples the queue's depth per state and its lease expiries until `shutdown`.
pub async fn sample_queue(queue: Partitions, shutdown: CancellationToken) {
    let name = queue.name().to_owned();
    loop {
        match queue.counts().await {
            Err(err) => tracing::warn!(error = %err, "cannot sample the queue"),
            Ok(counts) => {
                for (state, value) in counts.by_state() {
                    #[allow(clippy::cast_precision_loss)]
                    metrics::gauge!("agentq_queue_jobs", "queue" => name.clone(), "state" => state)
                        .set(value as f64);
                }
            }
        }
        if let Ok(stalled) = queue.stat("stalled").await {
            metrics::counter!("agentq_queue_lease_expiries_total", "queue" => name.clone())
                .absolute(stalled);
        }
        tokio::select! {
            () = tokio::time::sleep(SAMPLE_EVERY) => {}
            () = shutdown.cancelled() => return,
        }
    }
}
