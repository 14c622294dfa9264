//! A worker: leases jobs up to its concurrency, runs each with the handler, reports outcomes
//! in batches, renews leases while jobs run, stops jobs whose cancel is requested, and on
//! shutdown gives back what it could not finish. The handler is the one step; this loop only
//! adds waiting, batching and shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use agentq_domain::{Backoff, JobId};
use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinSet};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::{
    Cycle, Finished, LeaseDeadline, LeaseStatus, LeaseToken, LeasedJob, Outcome, Partitions,
};

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Shown in leases and events; unique per worker process.
    pub worker_id: String,
    /// Jobs run at once.
    pub concurrency: usize,
    /// After shutdown is requested, how long running jobs may still finish before their
    /// leases are given back.
    pub shutdown_grace: Duration,
    /// The longest an idle worker waits before looking again (for due retries and expired
    /// leases); new jobs wake it at once.
    pub idle_poll: Duration,
}

impl WorkerOptions {
    pub fn new(worker_id: impl Into<String>, concurrency: usize) -> Self {
        Self {
            worker_id: worker_id.into(),
            concurrency: concurrency.max(1),
            shutdown_grace: Duration::from_secs(30),
            idle_poll: Duration::from_secs(5),
        }
    }
}

/// What a worker did, counted by recorded outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerReport {
    pub completed: u64,
    /// Attempts that failed (retried or failed for good).
    pub failed: u64,
    pub cancelled: u64,
    pub released: u64,
    /// Leases that expired under this worker (another attempt owns the job).
    pub lost: u64,
}

/// Why a running job was told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopReason {
    Cancel,
    Shutdown,
    Lost,
}

struct Running {
    token: LeaseToken,
    lease: LeaseDeadline,
    stop: CancellationToken,
    why: Option<StopReason>,
}

/// `cycle` calls a worker keeps under way at once: while one is out, outcomes of jobs that
/// finish meanwhile go out in the next, so a small worker does not idle a whole round trip
/// between batches.
const CYCLES_IN_FLIGHT: usize = 2;

/// After the grace period, how long handlers get to react to their stop token before their
/// tasks are aborted.
const ABORT_AFTER_STOP: Duration = Duration::from_secs(5);

/// Where a worker is in its life. Shutdown moves it from `Running` to `Draining` (no new
/// leases; running jobs get the grace period), then to `Stopping` (running jobs are told to
/// stop, and [`ABORT_AFTER_STOP`] later their tasks are aborted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    Draining { grace_end: Instant },
    Stopping { abort_at: Option<Instant> },
}

impl Phase {
    fn grace_end(self) -> Option<Instant> {
        match self {
            Self::Draining { grace_end } => Some(grace_end),
            _ => None,
        }
    }

    fn abort_at(self) -> Option<Instant> {
        match self {
            Self::Stopping { abort_at } => abort_at,
            _ => None,
        }
    }
}

/// When the worker next asks Redis for jobs.
#[derive(Debug)]
struct Asking {
    /// Ask as soon as slots are free: a full batch came back (more may wait), or a call failed.
    want_cycle: bool,
    /// The waiter holds the free slots, blocked until new jobs (or `idle_wait`) arrive.
    armed: bool,
    /// How long the waiter may block: until the next delayed job or lease deadline, at most
    /// the idle poll.
    idle_wait: Duration,
    /// After a failed call, no other before this.
    retry_at: Option<Instant>,
    failures: u32,
}

impl Asking {
    fn new(idle_poll: Duration) -> Self {
        Self {
            want_cycle: true,
            armed: false,
            idle_wait: idle_poll,
            retry_at: None,
            failures: 0,
        }
    }

    /// A `cycle` call came back.
    fn cycle_done(
        &mut self,
        result: crate::Result<(usize, usize, Option<Duration>)>,
        idle_poll: Duration,
    ) {
        match result {
            Ok((fetched, leased, next_wake)) => {
                self.failures = 0;
                // a full batch means more may be waiting: ask again when slots free up
                self.want_cycle |= fetched > 0 && leased == fetched;
                self.idle_wait = next_wake.map_or(idle_poll, |wake| wake.min(idle_poll));
            }
            Err(err) => {
                self.failures += 1;
                let delay = Backoff::RECONNECT.delay(self.failures);
                tracing::warn!(error = %err, retry_in_ms = delay.as_millis() as u64, "queue unavailable");
                self.retry_at = Some(Instant::now() + delay);
                self.want_cycle = true;
            }
        }
    }

    /// The waiter came back with what it leased.
    fn woke(&mut self, result: crate::Result<(usize, usize, Option<Duration>)>) {
        self.armed = false;
        match result {
            Ok((fetched, leased, _)) => self.want_cycle = fetched > 0 && leased == fetched,
            Err(err) => {
                tracing::warn!(error = %err, "queue unavailable");
                self.want_cycle = true;
            }
        }
    }
}

/// Runs until `shutdown` is cancelled and every job has been finished or given back. The
/// handler gets each job and a token that is cancelled when it must stop (cancel requested,
/// shutdown grace over, lease lost); what it returns then is overridden accordingly.
pub async fn run_worker<H, Fut>(
    queue: impl Into<Partitions>,
    options: WorkerOptions,
    handler: H,
    shutdown: CancellationToken,
) -> WorkerReport
where
    H: Fn(LeasedJob, CancellationToken) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let queue = queue.into();
    let (arm, mut woke) = spawn_waiter(
        queue.clone(),
        options.worker_id.clone(),
        options.idle_poll,
        shutdown.clone(),
    );
    let (listener, mut cancels) = spawn_cancel_listener(queue.clone());
    let idle_poll = options.idle_poll;
    let mut worker = Worker {
        queue,
        options,
        handler: Arc::new(handler),
        tasks: JoinSet::new(),
        task_jobs: HashMap::new(),
        running: HashMap::new(),
        pending: Vec::new(),
        cycles: JoinSet::new(),
        reserved: 0,
        report: WorkerReport::default(),
    };
    let started_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut extend_tick = tokio::time::interval(worker.queue.config().lease / 3);
    extend_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut phase = Phase::Running;
    let mut asking = Asking::new(idle_poll);

    loop {
        while let Some(joined) = worker.tasks.try_join_next_with_id() {
            worker.collect(joined);
        }
        if phase != Phase::Running && !asking.armed && worker.is_idle() {
            break;
        }
        let free = match phase {
            Phase::Running => worker.free_slots(),
            _ => 0,
        };
        let work = !worker.pending.is_empty() || (asking.want_cycle && free > 0);
        if work && asking.retry_at.is_none() && worker.cycles.len() < CYCLES_IN_FLIGHT {
            worker.launch_cycle(free);
            asking.want_cycle = false;
            continue;
        }
        if free > 0 && !asking.armed && !asking.want_cycle && worker.cycles.is_empty() {
            asking.armed = arm.try_send((asking.idle_wait, free)).is_ok();
            if asking.armed {
                worker.reserved += free;
            }
        }
        tokio::select! {
            Some(done) = worker.cycles.join_next(), if !worker.cycles.is_empty() => {
                asking.cycle_done(worker.cycle_done(done), idle_poll);
            }
            joined = worker.tasks.join_next_with_id(), if !worker.tasks.is_empty() => {
                if let Some(joined) = joined {
                    worker.collect(joined);
                }
            }
            Some(waited) = woke.recv() => asking.woke(worker.cycle_done(Ok(waited))),
            Some(id) = cancels.recv() => worker.stop(&id, StopReason::Cancel),
            _ = extend_tick.tick() => {
                worker.renew().await;
                worker.beat(started_at).await;
            }
            () = shutdown.cancelled(), if phase == Phase::Running => {
                phase = Phase::Draining {
                    grace_end: Instant::now() + worker.options.shutdown_grace,
                };
            }
            () = sleep_until(asking.retry_at), if asking.retry_at.is_some() => {
                asking.retry_at = None;
            }
            () = sleep_until(phase.grace_end()), if phase.grace_end().is_some() => {
                phase = Phase::Stopping {
                    abort_at: Some(Instant::now() + ABORT_AFTER_STOP),
                };
                worker.stop_all(StopReason::Shutdown);
            }
            () = sleep_until(phase.abort_at()), if phase.abort_at().is_some() => {
                phase = Phase::Stopping { abort_at: None };
                worker.tasks.abort_all();
            }
        }
    }
    listener.abort();
    if let Err(err) = worker
        .queue
        .home()
        .deregister(&worker.options.worker_id)
        .await
    {
        tracing::warn!(error = %err, "could not leave the worker registry");
    }
    worker.report
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

struct Worker<H> {
    queue: Partitions,
    options: WorkerOptions,
    handler: Arc<H>,
    tasks: JoinSet<Outcome>,
    task_jobs: HashMap<tokio::task::Id, JobId>,
    running: HashMap<JobId, Running>,
    pending: Vec<Finished>,
    /// `cycle` calls under way: each carries its outcomes (to report again if it fails) and
    /// how many jobs it asked for.
    cycles: JoinSet<(Vec<Finished>, usize, crate::Result<Cycle>)>,
    /// Slots promised to the jobs that cycles under way may bring.
    reserved: usize,
    report: WorkerReport,
}

impl<H, Fut> Worker<H>
where
    H: Fn(LeasedJob, CancellationToken) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    /// Slots neither running a job nor promised to one that a call under way may bring.
    fn free_slots(&self) -> usize {
        self.options
            .concurrency
            .saturating_sub(self.running.len() + self.reserved)
    }

    /// Nothing runs, nothing waits to be reported, no call is under way.
    fn is_idle(&self) -> bool {
        self.running.is_empty() && self.pending.is_empty() && self.cycles.is_empty()
    }

    /// Tells every running job to stop, for `why`.
    fn stop_all(&mut self, why: StopReason) {
        let ids: Vec<JobId> = self.running.keys().copied().collect();
        for id in ids {
            self.stop(&id, why);
        }
    }

    /// Starts a `cycle` call with the pending outcomes, asking for up to `free` jobs.
    fn launch_cycle(&mut self, free: usize) {
        let outcomes = std::mem::take(&mut self.pending);
        let queue = self.queue.clone();
        let worker_id = self.options.worker_id.clone();
        self.reserved += free;
        self.cycles.spawn(async move {
            let cycle = queue.cycle(&worker_id, &outcomes, free).await;
            (outcomes, free, cycle)
        });
    }

    /// A `cycle` call came back: count what it recorded and start the jobs it leased.
    /// Returns (jobs asked for, jobs leased, next wake hint); on failure the outcomes are
    /// pending again.
    fn cycle_done(
        &mut self,
        done: Result<(Vec<Finished>, usize, crate::Result<Cycle>), JoinError>,
    ) -> crate::Result<(usize, usize, Option<Duration>)> {
        let (outcomes, fetched, cycle) =
            done.map_err(|err| crate::QueueError::Pool(format!("cycle task: {err}")))?;
        self.reserved = self.reserved.saturating_sub(fetched);
        let cycle = match cycle {
            Ok(cycle) => cycle,
            Err(err) => {
                self.pending.extend(outcomes);
                return Err(err);
            }
        };
        let mut unreported = cycle.unreported.iter().copied().peekable();
        for (at, (finished, recorded)) in outcomes.into_iter().zip(cycle.recorded).enumerate() {
            if unreported.next_if_eq(&at).is_some() {
                self.pending.push(finished);
                continue;
            }
            if !recorded {
                tracing::warn!(job = %finished.id, "outcome refused: the lease was no longer this worker's");
                self.report.lost += 1;
                continue;
            }
            match finished.outcome {
                Outcome::Completed(_) => self.report.completed += 1,
                Outcome::Failed(_) | Outcome::FailedForGood(_) => self.report.failed += 1,
                Outcome::Cancelled => self.report.cancelled += 1,
                Outcome::Released => self.report.released += 1,
            }
        }
        if !cycle.dropped.is_empty() {
            metrics::counter!("agentq_queue_lost_jobs_total").increment(cycle.dropped.len() as u64);
            tracing::warn!(jobs = ?cycle.dropped, "dropped job ids whose Redis hash is gone; the reconciler re-creates them from SQL");
        }
        let leased = cycle.leased.len();
        for job in cycle.leased {
            self.start(job);
        }
        Ok((fetched, leased, cycle.next_wake))
    }

    fn start(&mut self, job: LeasedJob) {
        let stop = CancellationToken::new();
        let id = job.id;
        let token = job.token;
        let lease = job.lease.clone();
        let run = (self.handler)(job, stop.clone());
        let handle = self.tasks.spawn(run);
        self.task_jobs.insert(handle.id(), id);
        self.running.insert(
            id,
            Running {
                token,
                lease,
                stop,
                why: None,
            },
        );
    }

    /// A job's task ended: turn what it returned into the outcome to report.
    fn collect(&mut self, joined: Result<(tokio::task::Id, Outcome), JoinError>) {
        let (task, outcome) = match joined {
            Ok(done) => done,
            Err(err) => {
                let why = if err.is_panic() {
                    "the job's handler panicked"
                } else {
                    "the job's handler was aborted"
                };
                (err.id(), Outcome::Failed(why.into()))
            }
        };
        let Some(id) = self.task_jobs.remove(&task) else {
            return;
        };
        let Some(run) = self.running.remove(&id) else {
            return;
        };
        let completed = matches!(outcome, Outcome::Completed(_));
        let outcome = match run.why {
            Some(StopReason::Lost) => {
                self.report.lost += 1;
                return;
            }
            Some(StopReason::Cancel) if !completed => Outcome::Cancelled,
            Some(StopReason::Shutdown) if !completed => Outcome::Released,
            _ => outcome,
        };
        self.pending.push(Finished {
            id,
            token: run.token,
            outcome,
        });
    }

    fn stop(&mut self, id: &JobId, why: StopReason) {
        if let Some(run) = self.running.get_mut(id)
            && run.why.is_none()
        {
            run.why = Some(why);
            run.stop.cancel();
        }
    }

    /// Tells the registry this worker is alive and how busy it is. The heartbeat lives for a
    /// whole lease, three ticks: a missed beat or two does not make a worker look dead.
    async fn beat(&self, started_at: u64) {
        let info = crate::WorkerInfo {
            id: self.options.worker_id.clone(),
            host: std::fs::read_to_string("/etc/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_default(),
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            concurrency: u32::try_from(self.options.concurrency).unwrap_or(u32::MAX),
            running: u32::try_from(self.running.len()).unwrap_or(u32::MAX),
            started_at,
            last_beat: 0,
        };
        if let Err(err) = self
            .queue
            .home()
            .heartbeat(&info, self.queue.config().lease)
            .await
        {
            tracing::warn!(error = %err, "heartbeat failed");
        }
    }

    /// Renews every lease still held; stops jobs that were lost or asked to cancel, and jobs
    /// whose lease lapsed while renewals failed (another worker may lease them now).
    async fn renew(&mut self) {
        let leases: Vec<(JobId, LeaseToken)> = self
            .running
            .iter()
            .filter(|(_, run)| run.why != Some(StopReason::Lost))
            .map(|(id, run)| (*id, run.token))
            .collect();
        if leases.is_empty() {
            return;
        }
        let asked_at = Instant::now();
        match self.queue.extend(&leases).await {
            Ok(statuses) => {
                let until = asked_at + self.queue.config().lease;
                for ((id, _), status) in leases.iter().zip(statuses) {
                    match status {
                        LeaseStatus::Renewed => self.renewed(id, until),
                        LeaseStatus::CancelRequested => {
                            self.renewed(id, until);
                            self.stop(id, StopReason::Cancel);
                        }
                        LeaseStatus::Lost => {
                            tracing::warn!(job = %id, "lease lost: the job is stopped here");
                            self.stop(id, StopReason::Lost);
                        }
                    }
                }
            }
            // the next tick tries again; a lease is several ticks long
            Err(err) => {
                tracing::warn!(error = %err, "could not renew leases");
                let lapsed: Vec<JobId> = leases
                    .iter()
                    .filter(|(id, _)| self.running.get(id).is_some_and(|run| run.lease.lapsed()))
                    .map(|(id, _)| *id)
                    .collect();
                for id in lapsed {
                    tracing::warn!(job = %id, "lease lapsed while Redis was unreachable: job stopped");
                    self.stop(&id, StopReason::Lost);
                }
            }
        }
    }

    fn renewed(&self, id: &JobId, until: Instant) {
        if let Some(run) = self.running.get(id) {
            run.lease.renewed(until);
        }
    }
}

/// What the waiter brings back: no outcomes, the slots it was armed with, and its lease call.
type Waited = (Vec<Finished>, usize, crate::Result<Cycle>);

/// A task that, whenever it is armed with (timeout, free slots), blocks on the queue's marker
/// and then leases jobs itself, saving the round trip through the worker loop between the
/// wake-up and the lease. It owns its blocking connection, so no wake-up is lost to a dropped
/// future.
fn spawn_waiter(
    queue: Partitions,
    worker_id: String,
    idle_poll: Duration,
    shutdown: CancellationToken,
) -> (mpsc::Sender<(Duration, usize)>, mpsc::Receiver<Waited>) {
    let (arm_tx, mut arm_rx) = mpsc::channel::<(Duration, usize)>(1);
    let (woke_tx, woke_rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let mut conn = None;
        let mut failures = 0u32;
        while let Some((timeout, free)) = arm_rx.recv().await {
            if conn.is_none() {
                match queue.redis().blocking_connection(idle_poll).await {
                    Ok(fresh) => conn = Some(fresh),
                    Err(err) => tracing::warn!(error = %err, "no blocking connection"),
                }
            }
            let waited = match conn.as_mut() {
                Some(c) => tokio::select! {
                    waited = queue.home().wait_for_work(c, timeout) => waited,
                    // a shutting-down worker leases nothing more
                    () = shutdown.cancelled() => Ok(false),
                },
                None => Err(crate::QueueError::Pool("no blocking connection".into())),
            };
            if shutdown.is_cancelled() {
                let nothing = Cycle {
                    leased: Vec::new(),
                    recorded: Vec::new(),
                    next_wake: None,
                    dropped: Vec::new(),
                    unreported: Vec::new(),
                };
                if woke_tx.send((Vec::new(), free, Ok(nothing))).await.is_err() {
                    return;
                }
                continue;
            }
            if let Err(err) = waited {
                conn = None;
                failures += 1;
                tracing::warn!(error = %err, "waiting for work failed");
                tokio::time::sleep(Backoff::RECONNECT.delay(failures)).await;
            } else {
                failures = 0;
            }
            // woken or timed out, look now: a retry may be due or a lease expired
            let cycle = queue.cycle(&worker_id, &[], free).await;
            if woke_tx.send((Vec::new(), free, cycle)).await.is_err() {
                return;
            }
        }
    });
    (arm_tx, woke_rx)
}

/// A task that forwards cancel requests, subscribing again after a lost connection.
fn spawn_cancel_listener(
    queue: Partitions,
) -> (tokio::task::JoinHandle<()>, mpsc::Receiver<JobId>) {
    let (tx, rx) = mpsc::channel(64);
    let handle = tokio::spawn(async move {
        let mut failures = 0u32;
        loop {
            match queue.cancel_requests().await {
                Ok(mut requests) => {
                    failures = 0;
                    while let Some(id) = requests.next().await {
                        if tx.send(id).await.is_err() {
                            return;
                        }
                    }
                }
                Err(err) => tracing::warn!(error = %err, "cannot subscribe to cancel requests"),
            }
            failures += 1;
            tokio::time::sleep(Backoff::RECONNECT.delay(failures)).await;
        }
    });
    (handle, rx)
}
