//! SQL retention: finished jobs older than `AGENTQ_RETENTION_DAYS` leave `agent_jobs` (the
//! seed's `cleanupOldJobs`), now and then, one worker at a time under a Redis lock. Redis has
//! its own retention (finished jobs by age and count, in the `cycle` script); this is the
//! durable record's.

use std::time::Duration;

use agentq_queue::Partitions;
use agentq_store::Db;
use tokio_util::sync::CancellationToken;

const LOCK_NAME: &str = "retention";
/// Rows deleted per statement: short transactions, never a long lock on the table.
const BATCH: u64 = 500;

#[derive(Debug, Clone, Copy)]
pub struct RetentionOptions {
    /// Finished jobs older than this many days are deleted; `None` keeps them all.
    pub days: Option<u32>,
    /// How often a pass runs.
    pub every: Duration,
}

pub async fn run_retention(
    queue: Partitions,
    db: Db,
    holder: String,
    options: RetentionOptions,
    shutdown: CancellationToken,
) {
    let Some(days) = options.days else {
        return;
    };
    loop {
        tokio::select! {
            () = tokio::time::sleep(options.every) => {}
            () = shutdown.cancelled() => break,
        }
        match queue
            .home()
            .lock(LOCK_NAME, &holder, options.every * 2)
            .await
        {
            Ok(true) => match agentq_store::cleanup_old_jobs(&db, days, BATCH).await {
                Ok(0) => {}
                Ok(deleted) => {
                    metrics::counter!("agentq_retention_deleted_total").increment(deleted);
                    tracing::info!(deleted, days, "deleted finished jobs past retention");
                }
                Err(err) => tracing::warn!(error = %err, "retention pass failed"),
            },
            Ok(false) => {}
            Err(err) => tracing::warn!(error = %err, "retention lock unavailable"),
        }
    }
    let _ = queue.home().unlock(LOCK_NAME, &holder).await;
}
