//! Adding jobs.

use agentq_domain::{JobId, Priority, ProjectId, TaskId};
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::{Queue, QueueError, Result};

/// The most jobs one coalesced enqueue call carries.
const MAX_BATCH: usize = 1_000;
/// Enqueue calls under way at once (coalesced or direct).
const CALLS_IN_FLIGHT: usize = 2;

/// One `enqueue` call waiting for its batch.
pub(crate) type EnqueueRequest = (NewJob, oneshot::Sender<Result<bool>>);

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
        let enqueuer = self
            .enqueuer
            .get_or_init(|| Enqueuer::spawn(self.without_enqueuer()));
        // a free slot means nothing is piling up: go straight to Redis, saving two task hops
        let direct = enqueuer.slots.clone().try_acquire_owned().ok();
        if direct.is_none() {
            let (reply, answer) = oneshot::channel();
            if enqueuer.requests.send((job.clone(), reply)).is_ok()
                && let Ok(result) = answer.await
            {
                return result;
            }
            // the coalescing task is gone (its runtime shut down): call directly
        }
        let added = self.enqueue_batch(std::slice::from_ref(job)).await?;
        added
            .first()
            .copied()
            .ok_or_else(|| QueueError::protocol("enqueue returned no status"))
    }

    /// Adds jobs in one script call; for each, whether it was new.
    pub async fn enqueue_batch(&self, jobs: &[NewJob]) -> Result<Vec<bool>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let keys = &self.keys;
        let mut invocation = self.scripts.enqueue.prepare_invoke();
        invocation
            .key(keys.wait())
            .key(keys.events())
            .key(keys.marker())
            .key(keys.order())
            .arg(keys.prefix())
            .arg(jobs.len());
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
                .arg(job.trace.as_deref().unwrap_or(""));
        }
        let added: Vec<i64> = self
            .redis
            .run(|mut conn| async move { Ok(invocation.invoke_async(&mut conn).await?) })
            .await?;
        Ok(added.into_iter().map(|flag| flag == 1).collect())
    }
}

/// The task behind [`Queue::enqueue`]: takes every request waiting, sends them as one batch,
/// answers each. At most two calls (batches or direct ones) are under way at once, so that
/// Redis works on one while the next is gathered. The task ends when the last handle of the
/// queue is dropped.
#[derive(Debug)]
pub(crate) struct Enqueuer {
    requests: mpsc::UnboundedSender<EnqueueRequest>,
    slots: Arc<Semaphore>,
}

impl Enqueuer {
    fn spawn(queue: Queue) -> Self {
        let (requests, mut rx) = mpsc::unbounded_channel::<EnqueueRequest>();
        let slots = Arc::new(Semaphore::new(CALLS_IN_FLIGHT));
        let task_slots = slots.clone();
        tokio::spawn(async move {
            loop {
                let Ok(slot) = task_slots.clone().acquire_owned().await else {
                    return;
                };
                let mut batch = Vec::new();
                if rx.recv_many(&mut batch, MAX_BATCH).await == 0 {
                    return;
                }
                let queue = queue.clone();
                tokio::spawn(async move {
                    send_batch(&queue, batch).await;
                    drop(slot);
                });
            }
        });
        Self { requests, slots }
    }
}

async fn send_batch(queue: &Queue, batch: Vec<EnqueueRequest>) {
    let (jobs, replies): (Vec<NewJob>, Vec<_>) = batch.into_iter().unzip();
    match queue.enqueue_batch(&jobs).await {
        Ok(added) => {
            for (reply, added) in replies.into_iter().zip(added) {
                let _ = reply.send(Ok(added));
            }
        }
        Err(err) => {
            let message = err.to_string();
            for reply in replies {
                let _ = reply.send(Err(QueueError::Batch(message.clone())));
            }
        }
    }
}
