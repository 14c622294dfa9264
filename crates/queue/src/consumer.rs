//! Leasing jobs and reporting what became of them. A worker calls [`Queue::cycle`] with the
//! outcomes it has collected and the number of free slots it has: one round trip records
//! them all and hands back the next jobs.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use agentq_domain::{JobId, Priority, ProjectId, TaskId};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::connection::Connection;
use crate::{Queue, QueueError, Result};

/// The fencing token of one lease: each lease of a job gets a higher one, and only the
/// current one may renew, complete or fail the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeaseToken(pub u64);

impl fmt::Display for LeaseToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A job this worker now holds.
#[derive(Debug, Clone)]
pub struct LeasedJob {
    pub id: JobId,
    pub token: LeaseToken,
    pub payload: String,
    /// Failed attempts before this one; this attempt is number `attempts_made + 1`.
    pub attempts_made: u32,
    pub max_attempts: u32,
    pub priority: Priority,
    pub project: Option<ProjectId>,
    pub task: Option<TaskId>,
    /// The W3C `traceparent` the job was queued with, if any.
    pub trace: Option<String>,
    /// Until when this worker surely holds the lease.
    pub lease: LeaseDeadline,
}

/// Until when (this process's clock) a lease is surely held: from the moment the lease or its
/// renewal was asked for, plus the lease length, since Redis set its deadline later than
/// that. Moved on by every renewal, so that what runs the job can stop it before another
/// worker may lease it. Clones share the deadline.
#[derive(Debug, Clone)]
pub struct LeaseDeadline(Arc<watch::Sender<Instant>>);

impl LeaseDeadline {
    pub fn new(until: Instant) -> Self {
        Self(Arc::new(watch::Sender::new(until)))
    }

    pub fn until(&self) -> Instant {
        *self.0.borrow()
    }

    /// A renewal went through: the lease is held until `until`.
    pub fn renewed(&self, until: Instant) {
        self.0.send_replace(until);
    }

    /// Changes whenever the lease is renewed.
    pub fn watch(&self) -> watch::Receiver<Instant> {
        self.0.subscribe()
    }

    pub fn lapsed(&self) -> bool {
        self.until() <= Instant::now()
    }
}

/// How a leased job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The result is stored as given (JSON by convention).
    Completed(String),
    /// Retried after a backoff while attempts remain, else failed for good.
    Failed(String),
    /// Failed for good whatever attempts remain (the agent cannot succeed on a retry).
    FailedForGood(String),
    Cancelled,
    /// Given back unfinished (worker shutting down): waiting again at once, no attempt used.
    Released,
}

impl Outcome {
    fn wire(&self) -> (&'static str, &str) {
        match self {
            Self::Completed(result) => ("c", result),
            Self::Failed(error) => ("f", error),
            Self::FailedForGood(error) => ("F", error),
            Self::Cancelled => ("x", ""),
            Self::Released => ("r", ""),
        }
    }
}

/// An outcome to report for one lease.
#[derive(Debug, Clone)]
pub struct Finished {
    pub id: JobId,
    pub token: LeaseToken,
    pub outcome: Outcome,
}

/// What one [`Queue::cycle`] did.
#[derive(Debug)]
pub struct Cycle {
    pub leased: Vec<LeasedJob>,
    /// Per reported outcome, in order: whether it was recorded (false: the lease was no longer
    /// current, so another attempt owns the job now).
    pub recorded: Vec<bool>,
    /// When the queue had nothing to lease: how soon a retry falls due or a lease expires.
    pub next_wake: Option<Duration>,
    /// Job ids the queue dropped because their job hash was gone (evicted, deleted by hand):
    /// the reconciler re-creates those jobs from SQL.
    pub dropped: Vec<String>,
    /// Positions (in the outcomes reported) of outcomes that did not reach their partition:
    /// report them again. Only a queue of several partitions leaves any.
    pub unreported: Vec<usize>,
}

/// What renewing one lease found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseStatus {
    Renewed,
    /// Renewed, and somebody asked to cancel the job: stop the agent.
    CancelRequested,
    /// The lease expired and the job moved on: stop working on it and report nothing.
    Lost,
}

/// How often leases are checked after a cycle that may not have reached a replica, with
/// backoff between (a failover takes the cluster's node timeout and an election).
const CONFIRM_ATTEMPTS: u32 = 7;

type LeasedRow = (
    String,
    u64,
    String,
    u32,
    u32,
    u8,
    String,
    String,
    Option<String>,
);

impl Queue {
    /// Records `finished`, then leases up to `fetch` jobs for `worker`, best first.
    pub async fn cycle(&self, worker: &str, finished: &[Finished], fetch: usize) -> Result<Cycle> {
        let keys = &self.keys;
        let config = &self.config;
        let mut invocation = self.scripts.cycle.with_keys(&[
            ("wait", keys.wait()),
            ("delayed", keys.delayed()),
            ("active", keys.active()),
            ("completed", keys.completed()),
            ("failed", keys.failed()),
            ("cancelled", keys.cancelled()),
            ("events", keys.events()),
            ("marker", keys.marker()),
            ("stats", keys.stats()),
            ("turn", keys.turn()),
            ("blocked", keys.blocked()),
        ]);
        invocation
            .arg(keys.prefix())
            .arg(worker)
            .arg(millis(config.lease))
            .arg(fetch)
            .arg(config.max_stalls)
            .arg(millis(config.backoff.max))
            .arg(millis(config.keep_completed.age))
            .arg(config.keep_completed.count)
            .arg(millis(config.keep_failed.age))
            .arg(config.keep_failed.count)
            .arg(finished.len());
        for done in finished {
            let (kind, value) = done.outcome.wire();
            invocation
                .arg(done.id.to_string())
                .arg(done.token.0)
                .arg(kind)
                .arg(value);
        }
        let asked_at = Instant::now();
        let (rows, recorded, next_wake, dropped): (Vec<LeasedRow>, Vec<i64>, i64, Vec<String>) =
            self.redis
                .run(|mut conn| async move { Ok(invocation.invoke_async(&mut conn).await?) })
                .await?;
        let leased = rows
            .into_iter()
            .map(|row| leased_job(row, LeaseDeadline::new(asked_at + config.lease)))
            .collect::<Result<Vec<_>>>()?;
        // a lease or outcome a failover could undo must not be acted on: on a cluster, both
        // reach a replica first
        if let Err(err) = self.redis.replicated(&keys.wait()).await {
            return Ok(self.unconfirmed(leased, finished.len(), err).await);
        }
        Ok(Cycle {
            leased,
            recorded: recorded.into_iter().map(|flag| flag == 1).collect(),
            next_wake: u64::try_from(next_wake).ok().map(Duration::from_millis),
            dropped,
            unreported: Vec::new(),
        })
    }

    /// The master answered a cycle, then could not say whether a replica holds it (it went
    /// away, most likely: a failover). What a promoted replica kept is unknown, so the leases
    /// it confirms (a renewal, once the cluster answers again) are kept and the others are
    /// left to expire; every outcome is reported again (a second report of one already
    /// applied is refused, harmlessly).
    async fn unconfirmed(&self, leased: Vec<LeasedJob>, outcomes: usize, err: QueueError) -> Cycle {
        tracing::warn!(error = %err, jobs = leased.len(), "a cycle may not have reached a replica: checking its leases");
        let leases: Vec<(JobId, LeaseToken)> =
            leased.iter().map(|job| (job.id, job.token)).collect();
        let mut statuses = Vec::new();
        for attempt in 1..=CONFIRM_ATTEMPTS {
            match self.extend(&leases).await {
                Ok(confirmed) => {
                    statuses = confirmed;
                    break;
                }
                Err(_) => {
                    tokio::time::sleep(agentq_domain::Backoff::RECONNECT.delay(attempt)).await
                }
            }
        }
        Cycle {
            leased: leased
                .into_iter()
                .zip(statuses)
                .filter(|(_, status)| *status != LeaseStatus::Lost)
                .map(|(job, _)| job)
                .collect(),
            recorded: vec![false; outcomes],
            next_wake: None,
            dropped: Vec::new(),
            unreported: (0..outcomes).collect(),
        }
    }

    /// Renews leases this worker still holds.
    pub async fn extend(&self, leases: &[(JobId, LeaseToken)]) -> Result<Vec<LeaseStatus>> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = self
            .scripts
            .extend
            .with_keys(&[("active", self.keys.active())]);
        invocation
            .arg(self.keys.prefix())
            .arg(millis(self.config.lease))
            .arg(leases.len());
        for (id, token) in leases {
            invocation.arg(id.to_string()).arg(token.0);
        }
        let statuses: Vec<i64> = self
            .redis
            .run(|mut conn| async move { Ok(invocation.invoke_async(&mut conn).await?) })
            .await?;
        Ok(statuses
            .into_iter()
            .map(|status| match status {
                1 => LeaseStatus::Renewed,
                2 => LeaseStatus::CancelRequested,
                _ => LeaseStatus::Lost,
            })
            .collect())
    }

    /// Blocks on `conn` (a blocking connection) until work may be there or `timeout` passes.
    /// Returns whether it was woken by new work.
    pub async fn wait_for_work(&self, conn: &mut Connection, timeout: Duration) -> Result<bool> {
        // BLPOP's timeout 0 means forever; never ask for that
        let seconds = timeout.as_secs_f64().max(0.01);
        let woke: Option<(String, String)> = redis::cmd("BLPOP")
            .arg(self.keys.marker())
            .arg(seconds)
            .query_async(conn)
            .await?;
        Ok(woke.is_some())
    }

    /// Wakes an idle worker blocked in [`Queue::wait_for_work`] (the marker holds at most one
    /// element: one wake-up is as good as many).
    pub async fn wake(&self) -> Result<()> {
        let marker = self.keys.marker();
        let mut pipe = redis::pipe();
        pipe.lpush(&marker, 1)
            .ignore()
            .ltrim(&marker, 0, 0)
            .ignore();
        self.redis
            .run(|mut conn| async move { Ok(pipe.query_async(&mut conn).await?) })
            .await
    }

    /// What this queue holds for a worker choosing a partition to lease from.
    pub(crate) async fn peek(&self) -> Result<crate::partitions::Peek> {
        let keys = &self.keys;
        let invocation = self.scripts.peek.with_keys(&[
            ("wait", keys.wait()),
            ("delayed", keys.delayed()),
            ("active", keys.active()),
        ]);
        let (best_priority, due, wake, waiting): (u8, u8, i64, u64) = self
            .redis
            .run(|mut conn| async move { Ok(invocation.invoke_async(&mut conn).await?) })
            .await?;
        Ok(crate::partitions::Peek {
            best_priority,
            due: due == 1,
            wake: u64::try_from(wake).ok().map(Duration::from_millis),
            waiting,
        })
    }
}

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn leased_job(row: LeasedRow, lease: LeaseDeadline) -> Result<LeasedJob> {
    let (id, token, payload, attempts_made, max_attempts, priority, project, task, trace) = row;
    Ok(LeasedJob {
        id: id
            .parse()
            .map_err(|_| QueueError::protocol(format!("job id {id:?}")))?,
        token: LeaseToken(token),
        payload,
        attempts_made,
        max_attempts,
        priority: Priority::from_queue_value(priority)
            .map_err(|_| QueueError::protocol(format!("priority {priority}")))?,
        project: project.parse().ok(),
        task: task.parse().ok(),
        trace: trace.filter(|t| !t.is_empty()),
        lease,
    })
}
