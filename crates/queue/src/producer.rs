//! Adding jobs.

use agentq_coalesce::Coalescer;
use agentq_domain::{JobId, JobState, Priority, ProjectId, TaskId};

use crate::{Queue, QueueError, Result};

/// The most jobs one coalesced enqueue call carries.
const MAX_BATCH: usize = 1_000;
/// Enqueue calls under way at once (coalesced or direct), unless the queue says otherwise.
pub(crate) const CALLS_IN_FLIGHT: usize = 2;

/// Concurrent [`Queue::enqueue`] calls, sent as one script call while another is under way.
pub(crate) type Enqueuer = Coalescer<NewJob, Result<bool>>;

/// A job to add. `payload` is opaque to the queue (the gateway puts the job request's JSON).
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: JobId,
    pub priority: Priority,
    /// Routing for events (the `project:{id}` room); not interpreted by the queue.
    pub project: Option<ProjectId>,
    pub task: Option<TaskId>,
    pub payload: String,
    /// `None`: the queue's default.
    pub max_attempts: Option<u32>,
    /// The W3C `traceparent` of the request that queued it: kept with the job and written on
    /// each of its lifecycle events, so that they join the request's trace.
    pub trace: Option<String>,
    /// Its agent requires approval: it is held (`awaiting_approval`) until a member decides.
    pub held: bool,
    /// The jobs it waits for, each with its status in SQL (used when Redis no longer has
    /// that job): it is `blocked` until they all completed.
    pub dependencies: Vec<(JobId, JobState)>,
    /// Runs even when a dependency fails or is cancelled (else it fails too).
    pub run_if_a_dependency_fails: bool,
    /// Its project's fair-share weight (at least 1): within a priority, a project of weight w
    /// runs w jobs a round where one of weight 1 runs one.
    pub weight: u32,
}

impl NewJob {
    pub fn new(payload: impl Into<String>) -> Self {
        Self {
            id: JobId::new(),
            priority: Priority::default(),
            project: None,
            task: None,
            payload: payload.into(),
            max_attempts: None,
            trace: None,
            held: false,
            dependencies: Vec::new(),
            run_if_a_dependency_fails: false,
            weight: 1,
        }
    }

    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }
}

/// Written as "" when absent.
pub(crate) fn optional<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

impl Queue {
    /// Adds one job. Returns false when a job with this id is already there (nothing changes).
    ///
    /// Calls made while an earlier one is on its way to Redis are coalesced into one script
    /// call, so many concurrent producers cost Redis about what one batch does.
    pub async fn enqueue(&self, job: &NewJob) -> Result<bool> {
        let enqueuer = self.enqueuer.get_or_init(|| {
            // the task must not hold a handle that keeps itself alive
            let queue = self.without_enqueuer();
            Coalescer::spawn(MAX_BATCH, self.enqueue_calls, move |jobs: Vec<NewJob>| {
                let queue = queue.clone();
                async move { enqueue_each(&queue, &jobs).await }
            })
        });
        enqueuer
            .call(job.clone())
            .await
            .unwrap_or_else(|lost| Err(QueueError::Batch(lost.to_string())))
    }

    /// Adds jobs in one script call; for each, whether it was new.
    pub async fn enqueue_batch(&self, jobs: &[NewJob]) -> Result<Vec<bool>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let keys = &self.keys;
        let mut invocation = self.scripts.enqueue.with_keys(&[
            ("wait", keys.wait()),
            ("events", keys.events()),
            ("marker", keys.marker()),
            ("held", keys.held()),
            ("turn", keys.turn()),
            ("blocked", keys.blocked()),
            ("failed", keys.failed()),
        ]);
        invocation.arg(keys.prefix()).arg(jobs.len());
        let backoff_ms = self.config.backoff.base.as_millis() as u64;
        for job in jobs {
            invocation
                .arg(job.id.to_string())
                .arg(job.priority.queue_value())
                .arg(job.max_attempts.unwrap_or(self.config.max_attempts).max(1))
                .arg(backoff_ms)
                .arg(optional(job.project))
                .arg(optional(job.task))
                .arg(&job.payload)
                .arg(job.trace.as_deref().unwrap_or(""))
                .arg(if job.held { "1" } else { "" })
                .arg(dependencies_arg(&job.dependencies))
                .arg(if job.run_if_a_dependency_fails {
                    "run"
                } else {
                    ""
                })
                .arg(job.weight.max(1));
        }
        let added: Vec<i64> = self
            .redis
            .run(|mut conn| async move { Ok(invocation.invoke_async(&mut conn).await?) })
            .await?;
        // Not waited onto a replica (as leases are): the gateway writes the SQL row first, and
        // the reconciler re-creates a job that a failover (or a single node's crash) lost.
        Ok(added.into_iter().map(|flag| flag == 1).collect())
    }
}

/// `id:status,...`, as enqueue.lua reads it.
fn dependencies_arg(dependencies: &[(JobId, JobState)]) -> String {
    dependencies
        .iter()
        .map(|(id, state)| format!("{id}:{state}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// One result per job of a coalesced batch: its own status, or the batch's error.
async fn enqueue_each(queue: &Queue, jobs: &[NewJob]) -> Vec<Result<bool>> {
    match queue.enqueue_batch(jobs).await {
        Ok(added) if added.len() == jobs.len() => added.into_iter().map(Ok).collect(),
        Ok(_) => failed_batch(
            jobs.len(),
            "enqueue returned a status per job but not for all",
        ),
        Err(err) if jobs.len() == 1 => vec![Err(err)],
        Err(err) => failed_batch(jobs.len(), &err.to_string()),
    }
}

fn failed_batch(n: usize, message: &str) -> Vec<Result<bool>> {
    (0..n)
        .map(|_| Err(QueueError::Batch(message.to_owned())))
        .collect()
}
