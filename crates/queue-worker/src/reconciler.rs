//! The reconciler: SQL is the durable record, Redis schedules. Now and then (one worker at a
//! time, under a Redis lock) it walks the rows that are not finished and
//! - re-enqueues those whose job Redis does not have (the gateway died between its insert and
//!   its enqueue, or Redis lost its data), and
//! - finishes those whose job Redis already finished (their events were lost).
//!
//! Rows younger than the grace period are left alone: their enqueue may be on its way.

use std::time::Duration;

use agentq_domain::JobState;
use agentq_queue::{NewJob, Queue};
use agentq_store::{Db, EventPosition, JobFilter, JobRecord, JobTransition, Scope};
use tokio_util::sync::CancellationToken;

const LOCK_NAME: &str = "reconciler";
const PAGE: u64 = 200;

#[derive(Debug, Clone, Copy)]
pub struct ReconcileOptions {
    /// How often a pass runs.
    pub every: Duration,
    /// Rows updated more recently than this are skipped.
    pub grace: Duration,
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    pub requeued: u64,
    pub finished: u64,
}

pub async fn run_reconciler(
    queue: Queue,
    db: Db,
    holder: String,
    options: ReconcileOptions,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(options.every) => {}
            () = shutdown.cancelled() => break,
        }
        match queue.lock(LOCK_NAME, &holder, options.every * 2).await {
            Ok(true) => match reconcile_once(&queue, &db, options.grace).await {
                Ok(done) if done != Reconciled::default() => {
                    tracing::warn!(
                        requeued = done.requeued,
                        finished = done.finished,
                        "reconciled SQL and Redis"
                    );
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "reconcile pass failed"),
            },
            Ok(false) => {}
            Err(err) => tracing::warn!(error = %err, "reconciler lock unavailable"),
        }
    }
    let _ = queue.unlock(LOCK_NAME, &holder).await;
}

/// One pass over every unfinished row.
pub async fn reconcile_once(queue: &Queue, db: &Db, grace: Duration) -> anyhow::Result<Reconciled> {
    let filter = JobFilter {
        states: vec![JobState::Waiting, JobState::Delayed, JobState::Active],
        ..JobFilter::default()
    };
    let settled_before = agentq_store::now() - chrono_duration(grace);
    let mut done = Reconciled::default();
    let mut cursor = None;
    loop {
        let page = agentq_store::list_jobs(db, &Scope::All, &filter, PAGE, cursor).await?;
        for row in page.jobs.iter().filter(|r| r.updated_at < settled_before) {
            match queue.job(&row.job_id).await? {
                None => {
                    queue.enqueue(&new_job(row)).await?;
                    done.requeued += 1;
                }
                Some(live) if live.state.is_final() => {
                    finish_row(db, row, &live).await?;
                    done.finished += 1;
                }
                Some(_) => {}
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(done),
        }
    }
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero())
}

fn new_job(row: &JobRecord) -> NewJob {
    let mut job = NewJob::new(row.job_data.to_string()).priority(row.priority);
    job.id = row.job_id;
    job.project = Some(row.project);
    job.task = Some(row.task);
    job.max_attempts = Some(row.max_attempts);
    job
}

/// Writes what Redis knows of a finished job, as of now (later than any event of it).
async fn finish_row(
    db: &Db,
    row: &JobRecord,
    live: &agentq_queue::JobSnapshot,
) -> anyhow::Result<()> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let at = |ms: Option<u64>| {
        ms.and_then(|ms| i64::try_from(ms).ok())
            .map(agentq_store::from_millis)
    };
    let change = JobTransition {
        status: Some(live.state),
        completed_at: at(live.finished_at),
        started_at: at(live.started_at),
        attempts_made: Some(live.attempts_made),
        result: live
            .result
            .as_deref()
            .map(|r| serde_json::from_str(r).unwrap_or_else(|_| serde_json::json!(r))),
        last_error: live.error.clone(),
        ..JobTransition::default()
    };
    agentq_store::apply_transition(
        db,
        &row.job_id,
        EventPosition { ms: now_ms, seq: 0 },
        change,
    )
    .await?;
    Ok(())
}
