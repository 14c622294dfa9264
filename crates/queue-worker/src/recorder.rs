//! The recorder: applies every transition of the queue's events stream to `agent_jobs`, through
//! the stream's consumer group, acknowledging an event only after its SQL write. A database
//! outage delays records and loses none: unacknowledged events are read again.
//!
//! One recorder writes at a time per partition (under a Redis lock of the partition's): the
//! store applies an event only if it is later than the last one applied, so two recorders
//! racing would drop the earlier event's fields (a job's `started_at`, say). A job's events
//! are all in its partition's stream, so recorders of different partitions never race.
//!
//! No event can stop recording: a write that fails for a passing reason (the database is down,
//! busy, a deadlock) is retried with backoff, while one that can never go through (a value too
//! large or invalid for its column) is written in a degraded form without the agent's text
//! (the job still ends `completed` or `failed`, `last_error` says why), or, if even that is
//! refused, skipped. Either way it is counted, logged once and acknowledged.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use agentq_domain::bounded;
use agentq_domain::{Backoff, JobId};
use agentq_queue::{JobEvent, Partitions, Queue, QueueEvent, RecorderGroup};
use agentq_store::{Db, EventPosition, JobTransition, StoreError, TransitionOutcome};
use tokio_util::sync::CancellationToken;

/// How many events one read takes.
const BATCH: usize = 200;
/// How long one blocking read waits for new events.
const BLOCK: Duration = Duration::from_secs(2);
/// How long the recorder lock lasts; it is renewed every third of it.
const LOCK_TTL: Duration = Duration::from_secs(15);
const LOCK_NAME: &str = "recorder";

/// What an event changes in the job's row; `None` for events that change nothing there.
pub fn transition_for(event: &QueueEvent) -> Option<JobTransition> {
    let at = i64::try_from(event.time_ms())
        .ok()
        .map(agentq_store::from_millis);
    // usage changes the job's totals and says nothing of its state
    if let JobEvent::Usage(usage) = &event.what {
        return Some(JobTransition {
            usage: Some(*usage),
            ..JobTransition::default()
        });
    }
    // the state comes from the one mapping the broadcasters use too; each kind adds its fields
    let state = JobTransition {
        status: Some(event.what.resulting_state()?),
        ..JobTransition::default()
    };
    let change = match &event.what {
        JobEvent::Queued { .. } => state,
        // output lines change no row, usage was handled above (neither has a state)
        JobEvent::Log { .. } | JobEvent::Usage(_) => return None,
        JobEvent::Started { .. } => JobTransition {
            started_at: at,
            ..state
        },
        JobEvent::Progress { progress } => JobTransition {
            progress: *progress,
            ..state
        },
        JobEvent::Completed {
            result,
            duration_ms,
            attempt,
        } => JobTransition {
            completed_at: at,
            progress: Some(100),
            attempts_made: *attempt,
            result: Some(stored_result(result)),
            execution_time_ms: duration_ms.and_then(|d| i64::try_from(d).ok()),
            ..state
        },
        JobEvent::Retrying {
            error,
            attempts_made,
            ..
        } => JobTransition {
            attempts_made: *attempts_made,
            last_error: Some(bounded::error_text(error)),
            ..state
        },
        JobEvent::Failed {
            error,
            attempts_made,
        } => {
            let error = bounded::error_text(error);
            JobTransition {
                completed_at: at,
                attempts_made: *attempts_made,
                last_error: Some(error.lines().next().unwrap_or_default().to_owned()),
                error_stack: error.contains('\n').then_some(error),
                ..state
            }
        }
        JobEvent::Cancelled
        | JobEvent::Rejected {
            during_run: false, ..
        } => JobTransition {
            completed_at: at,
            ..state
        },
        // held, approved, or a question and its answer during a run (the job stays active)
        JobEvent::AwaitingApproval { .. }
        | JobEvent::Approved { .. }
        | JobEvent::Rejected { .. }
        | JobEvent::Blocked { .. } => state,
    };
    Some(change)
}

/// A result as the queue holds it (JSON text by convention), as the store keeps it: parsed
/// JSON, or the text itself when it is not JSON; a stand-in when it is over the store's limit.
pub fn stored_result(raw: &str) -> serde_json::Value {
    let raw = bounded::result_json(raw.to_owned(), agentq_store::MAX_JOB_DATA_BYTES / 2);
    agentq_domain::event::result_value(&raw)
}

/// What became of one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Applied, or found stale or without a row (nothing to do).
    AsIs(TransitionOutcome),
    /// Refused for good; its degraded form was written instead.
    Degraded,
    /// Refused for good, and so was its degraded form: nothing was written.
    Skipped,
}

/// Writes `change`; when the store refuses it for good, writes its degraded form instead, and
/// when that is refused too, writes nothing. Errors only for passing failures, which the
/// caller retries.
pub async fn write_change(
    db: &Db,
    job: &JobId,
    position: EventPosition,
    change: JobTransition,
) -> Result<Written, StoreError> {
    let refused = match agentq_store::apply_transition(db, job, position, change.clone()).await {
        Ok(outcome) => return Ok(Written::AsIs(outcome)),
        Err(err) if err.is_transient() => return Err(err),
        Err(err) => err,
    };
    metrics::counter!("agentq_recorder_refused_total").increment(1);
    tracing::warn!(%job, error = %refused, "a change cannot be recorded as it is; recording it without the agent's text");
    match agentq_store::apply_transition(db, job, position, degraded(change, &refused)).await {
        Ok(_) => Ok(Written::Degraded),
        Err(err) if err.is_transient() => Err(err),
        Err(err) => {
            metrics::counter!("agentq_recorder_skipped_total").increment(1);
            tracing::error!(%job, error = %err, "a change cannot be recorded even without the agent's text; skipped");
            Ok(Written::Skipped)
        }
    }
}

/// `change` without anything an agent wrote (its result and error), which is what the store
/// may refuse: the state, times and counts stay, and `last_error` says what was dropped.
fn degraded(change: JobTransition, refused: &StoreError) -> JobTransition {
    // the store's message may quote the refused value: keep it short and plain
    let reason: String = bounded::cut(refused.to_string(), 300)
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    let note = format!("agentq could not record this job's output as it was ({reason})");
    JobTransition {
        result: change
            .result
            .as_ref()
            .map(|_| serde_json::json!({"truncated": true, "unrecorded": true, "reason": reason})),
        last_error: Some(note),
        error_stack: None,
        ..change
    }
}

/// Writes one event's change; retries passing failures with backoff (until shutdown, when it
/// answers false). A change the store refuses for good never holds later events back.
async fn record(db: &Db, event: &QueueEvent, shutdown: &CancellationToken) -> bool {
    let Some(change) = transition_for(event) else {
        return true;
    };
    let Some(position) = EventPosition::parse(&event.id) else {
        return true;
    };
    let mut failures = 0;
    loop {
        match write_change(db, &event.job, position, change.clone()).await {
            Ok(_) => return true,
            Err(err) => {
                failures += 1;
                let delay = Backoff::RECONNECT.delay(failures);
                tracing::warn!(job = %event.job, error = %err, "recording failed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = shutdown.cancelled() => return false,
                }
            }
        }
    }
}

/// Writes a batch of events in one transaction (one commit instead of one per event: the
/// recorder is the pipeline's single writer); if that fails, event by event, each retried until
/// it is written. Answers the ids written, in order.
async fn record_batch(db: &Db, events: &[QueueEvent], shutdown: &CancellationToken) -> Vec<String> {
    let changes = events
        .iter()
        .filter_map(|event| {
            let change = transition_for(event)?;
            Some((event.job, EventPosition::parse(&event.id)?, change))
        })
        .collect();
    match agentq_store::apply_transitions(db, changes).await {
        Ok(()) => events.iter().map(|e| e.id.clone()).collect(),
        Err(err) => {
            tracing::warn!(error = %err, events = events.len(), "batch not recorded; one by one");
            let mut recorded = Vec::with_capacity(events.len());
            for event in events {
                if !record(db, event, shutdown).await {
                    break;
                }
                recorded.push(event.id.clone());
            }
            recorded
        }
    }
}

/// The recorders of a queue's partitions that one worker leads: with several partitions and
/// several workers, a worker takes the lead of no more than its share (partitions ÷ live
/// workers, rounded up), so that the recording spreads over the workers as they come and go.
/// A leader never gives a lead back while it lives: a hand-over stops a partition's recording
/// for a few seconds (the next leader looks every 5 s), which dashboards would show as stale
/// states.
#[derive(Debug, Clone)]
pub struct RecorderShare {
    leading: Arc<AtomicUsize>,
    partitions: usize,
    /// Where the worker registry is (the home partition).
    registry: Option<Queue>,
}

impl RecorderShare {
    /// One recorder alone: it always may lead.
    pub fn alone() -> Self {
        Self {
            leading: Arc::default(),
            partitions: 1,
            registry: None,
        }
    }

    /// The share of one worker among `queue`'s partitions.
    pub fn of(queue: &Partitions) -> Self {
        Self {
            leading: Arc::default(),
            partitions: queue.count(),
            registry: Some(queue.home().clone()),
        }
    }

    /// How many recorders this worker should lead at most now.
    async fn fair(&self) -> usize {
        let Some(registry) = self.registry.as_ref().filter(|_| self.partitions > 1) else {
            return usize::MAX;
        };
        let live = registry.live_workers().await.map_or(1, |w| w.len()).max(1);
        self.partitions.div_ceil(live)
    }

    async fn may_take_another(&self) -> bool {
        self.leading.load(Ordering::Relaxed) < self.fair().await
    }
}

/// Counts a lead while it lives.
struct Leading<'a>(&'a AtomicUsize);

impl<'a> Leading<'a> {
    fn start(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count)
    }
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs the recorder until `shutdown`: waits for the lock, then records and acknowledges.
pub async fn run_recorder(queue: Queue, db: Db, consumer: String, shutdown: CancellationToken) {
    run_partition_recorder(queue, RecorderShare::alone(), db, consumer, shutdown).await;
}

/// Runs the recorder of one partition until `shutdown`, leading it only within `share`.
pub async fn run_partition_recorder(
    queue: Queue,
    share: RecorderShare,
    db: Db,
    consumer: String,
    shutdown: CancellationToken,
) {
    let mut failures = 0;
    while !shutdown.is_cancelled() {
        match record_while_leader(&queue, &share, &db, &consumer, &shutdown).await {
            Ok(()) => failures = 0,
            Err(err) => {
                failures += 1;
                tracing::warn!(error = %err, "recorder interrupted");
            }
        }
        let pause = if failures == 0 {
            LOCK_TTL / 3
        } else {
            Backoff::RECONNECT.delay(failures)
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = shutdown.cancelled() => {}
        }
    }
    let _ = queue.unlock(LOCK_NAME, &consumer).await;
}

async fn record_while_leader(
    queue: &Queue,
    share: &RecorderShare,
    db: &Db,
    consumer: &str,
    shutdown: &CancellationToken,
) -> agentq_queue::Result<()> {
    if !share.may_take_another().await || !queue.lock(LOCK_NAME, consumer, LOCK_TTL).await? {
        return Ok(());
    }
    let _leading = Leading::start(&share.leading);
    let group = queue.recorder_group(RecorderGroup::DEFAULT_NAME).await?;
    let mut conn = queue.redis().blocking_connection(BLOCK).await?;
    // What an earlier leader (this one, or one killed mid-batch) read but did not acknowledge
    // comes first; recording is idempotent, so taking it over is safe even if that leader lives.
    let taken = group.take_over(consumer).await?;
    if taken > 0 {
        tracing::info!(events = taken, "recorder took over unacknowledged events");
    }
    let mut catching_up = true;
    let mut renewed = tokio::time::Instant::now();
    loop {
        if shutdown.is_cancelled() {
            return Ok(());
        }
        if renewed.elapsed() > LOCK_TTL / 3 {
            if !queue.lock(LOCK_NAME, consumer, LOCK_TTL).await? {
                return Ok(());
            }
            renewed = tokio::time::Instant::now();
            queue.trim_events(RecorderGroup::DEFAULT_NAME).await?;
        }
        let events = if catching_up {
            let pending = group.unacknowledged(&mut conn, consumer, BATCH).await?;
            catching_up = !pending.is_empty();
            pending
        } else {
            group.read(&mut conn, consumer, BATCH, BLOCK).await?
        };
        let recorded = record_batch(db, &events, shutdown).await;
        group.ack(&recorded).await?;
    }
}
