//! Adding jobs.

use agentq_domain::{JobId, Priority, ProjectId, TaskId};

use crate::{Queue, QueueError, Result};

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
    pub async fn enqueue(&self, job: &NewJob) -> Result<bool> {
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
                .arg(&job.payload);
        }
        let added: Vec<i64> = self
            .redis
            .run(|mut conn| async move { Ok(invocation.invoke_async(&mut conn).await?) })
            .await?;
        Ok(added.into_iter().map(|flag| flag == 1).collect())
    }
}
