use std::time::Duration;

use agentq_domain::{JobEventKind, JobId};
use agentq_queue::{Finished, LeasedJob, NewJob, Outcome, Queue, QueueConfig, QueueEvent, Redis};

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A config with a queue name no other test uses.
pub fn config() -> QueueConfig {
    QueueConfig::named(format!("test-{}", JobId::new()))
}

pub fn queue_with(config: QueueConfig) -> Queue {
    queue_on(&redis_url(), config)
}

pub fn queue_on(url: &str, config: QueueConfig) -> Queue {
    Queue::new(Redis::open(url).expect("redis url"), config)
}

pub fn queue() -> Queue {
    queue_with(config())
}

pub async fn add(queue: &Queue, job: NewJob) -> JobId {
    let id = job.id;
    assert!(queue.enqueue(&job).await.expect("enqueue"));
    id
}

/// Leases up to `n` jobs for `worker`.
pub async fn lease(queue: &Queue, worker: &str, n: usize) -> Vec<LeasedJob> {
    queue.cycle(worker, &[], n).await.expect("cycle").leased
}

/// Reports one outcome; whether it was recorded.
pub async fn finish(queue: &Queue, job: &LeasedJob, outcome: Outcome) -> bool {
    let done = Finished {
        id: job.id,
        token: job.token,
        outcome,
    };
    let cycle = queue.cycle("reporter", &[done], 0).await.expect("cycle");
    cycle.recorded[0]
}

/// Every event of the queue, oldest first.
pub async fn all_events(queue: &Queue) -> Vec<QueueEvent> {
    let mut events = Vec::new();
    let mut after = "0".to_owned();
    loop {
        let page = queue
            .events_after(&after, 5_000)
            .await
            .expect("events")
            .events;
        let Some(last) = page.last() else {
            return events;
        };
        after = last.id.clone();
        events.extend(page);
    }
}

/// The kinds of one job's events, in order.
pub async fn kinds_of(queue: &Queue, id: &JobId) -> Vec<JobEventKind> {
    all_events(queue)
        .await
        .into_iter()
        .filter(|e| &e.job == id)
        .map(|e| e.kind())
        .collect()
}

/// Polls `check` until it holds or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub use agentq_test_support::OwnRedis;

/// Leases one job, trying until `within` passes (for jobs that become due later).
pub async fn lease_one_within(queue: &Queue, within: Duration) -> Option<LeasedJob> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(job) = lease(queue, "w", 1).await.pop() {
            return Some(job);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
