//! Concurrent calls coalesced into batches. Many callers each want one item written or read;
//! a round trip to a database costs about the same for one item as for a hundred. A
//! [`Coalescer`] runs a batch function with at most `in_flight` batches under way: a caller
//! that finds a free slot goes straight through with a batch of one (no task hop, no added
//! latency), and callers that arrive while every slot is busy wait together and go as one
//! batch as soon as a slot frees up. Under load the batches grow by themselves; when idle,
//! every call is direct.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

type BatchFuture<R> = Pin<Box<dyn Future<Output = Vec<R>> + Send>>;
type BatchFn<T, R> = dyn Fn(Vec<T>) -> BatchFuture<R> + Send + Sync;

/// See the crate documentation. Cloning shares the batches.
pub struct Coalescer<T, R> {
    run: Arc<BatchFn<T, R>>,
    requests: mpsc::UnboundedSender<(T, oneshot::Sender<R>)>,
    slots: Arc<Semaphore>,
}

impl<T, R> Clone for Coalescer<T, R> {
    fn clone(&self) -> Self {
        Self {
            run: self.run.clone(),
            requests: self.requests.clone(),
            slots: self.slots.clone(),
        }
    }
}

impl<T, R> fmt::Debug for Coalescer<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coalescer")
            .field("free_slots", &self.slots.available_permits())
            .finish_non_exhaustive()
    }
}

impl<T, R> Coalescer<T, R>
where
    T: Send + 'static,
    R: Send + 'static,
{
    /// Starts the task that gathers waiting calls; it needs a Tokio runtime and ends when
    /// the last clone is dropped. `run` must answer with one result per item, in order.
    pub fn spawn<F, Fut>(max_batch: usize, in_flight: usize, run: F) -> Self
    where
        F: Fn(Vec<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<R>> + Send + 'static,
    {
        let run: Arc<BatchFn<T, R>> = Arc::new(move |items| Box::pin(run(items)));
        let (requests, mut waiting) = mpsc::unbounded_channel::<(T, oneshot::Sender<R>)>();
        let slots = Arc::new(Semaphore::new(in_flight.max(1)));
        let max_batch = max_batch.max(1);
        let (task_run, task_slots) = (run.clone(), slots.clone());
        tokio::spawn(async move {
            loop {
                let Ok(slot) = task_slots.clone().acquire_owned().await else {
                    return;
                };
                let mut batch = Vec::new();
                if waiting.recv_many(&mut batch, max_batch).await == 0 {
                    return;
                }
                let run = task_run.clone();
                tokio::spawn(async move {
                    let (items, replies): (Vec<T>, Vec<_>) = batch.into_iter().unzip();
                    let results = run(items).await;
                    drop(slot);
                    // a reply left without a result makes its caller run it alone
                    for (reply, result) in replies.into_iter().zip(results) {
                        let _ = reply.send(result);
                    }
                });
            }
        });
        Self {
            run,
            requests,
            slots,
        }
    }

    /// Runs `item` alone when a slot is free, else in the next batch.
    pub async fn call(&self, item: T) -> Result<R, Unanswered> {
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            return self.call_batched(item).await;
        };
        let result = self.run_alone(item).await;
        drop(slot);
        result
    }

    async fn call_batched(&self, item: T) -> Result<R, Unanswered> {
        let (reply, answer) = oneshot::channel();
        if let Err(mpsc::error::SendError((item, _))) = self.requests.send((item, reply)) {
            // the gathering task is gone (its runtime shut down)
            return self.run_alone(item).await;
        }
        answer.await.map_err(|_| Unanswered)
    }

    async fn run_alone(&self, item: T) -> Result<R, Unanswered> {
        (self.run)(vec![item]).await.pop().ok_or(Unanswered)
    }
}

/// The batch function ended without a result for this call: it panicked or returned fewer
/// results than it was given items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unanswered;

impl fmt::Display for Unanswered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the batch this call was part of ended without answering it")
    }
}

impl std::error::Error for Unanswered {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_that_arrive_while_the_slot_is_busy_go_together() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let doubler = Coalescer::spawn(100, 1, move |items: Vec<u32>| {
            seen.lock().expect("sizes").push(items.len());
            async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                items.into_iter().map(|i| i * 2).collect()
            }
        });
        let calls: Vec<_> = (0..20)
            .map(|i| {
                let doubler = doubler.clone();
                tokio::spawn(async move { doubler.call(i).await })
            })
            .collect();
        for (i, call) in calls.into_iter().enumerate() {
            assert_eq!(call.await.expect("task"), Ok(i as u32 * 2));
        }
        let sizes = sizes.lock().expect("sizes").clone();
        assert_eq!(sizes.iter().sum::<usize>(), 20, "each item once: {sizes:?}");
        assert!(sizes.len() < 20, "some calls were batched: {sizes:?}");
    }

    #[tokio::test]
    async fn a_lone_call_goes_straight_through() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let echo = Coalescer::spawn(100, 2, move |items: Vec<&'static str>| {
            seen.lock().expect("sizes").push(items.len());
            async move { items }
        });
        assert_eq!(echo.call("a").await, Ok("a"));
        assert_eq!(echo.call("b").await, Ok("b"));
        assert_eq!(*sizes.lock().expect("sizes"), vec![1, 1]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_that_answers_too_few_fails_only_the_unanswered_calls() {
        let first_only = Coalescer::spawn(100, 1, |items: Vec<u32>| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            items.into_iter().take(1).collect::<Vec<_>>()
        });
        let calls: Vec<_> = (0..5)
            .map(|i| {
                let c = first_only.clone();
                tokio::spawn(async move { c.call(i).await })
            })
            .collect();
        let mut answered = 0;
        for call in calls {
            if call.await.expect("task").is_ok() {
                answered += 1;
            }
        }
        // the direct call and the first of the gathered batch are answered
        assert!((1..5).contains(&answered), "answered {answered}");
    }
}
