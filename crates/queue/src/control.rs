//! Cancelling and retrying jobs by hand, and the channel that carries cancel requests to the
//! worker holding an active job.

use agentq_domain::JobId;
use futures_util::StreamExt;
use redis::aio::PubSubStream;

use crate::{Queue, QueueError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// It was waiting, delayed, awaiting approval or blocked and is cancelled now.
    Cancelled,
    /// It is running; its worker was asked to stop it and will finish it as cancelled.
    Requested,
    /// It already finished (completed, failed or cancelled): nothing to cancel.
    Finished,
    NotFound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOutcome {
    Queued,
    /// Only a failed job can be retried.
    NotFailed,
    NotFound,
}

impl Queue {
    pub async fn cancel(&self, id: &JobId) -> Result<CancelOutcome> {
        let keys = &self.keys;
        let mut invocation = self.scripts.cancel.with_keys(&[
            ("wait", keys.wait()),
            ("delayed", keys.delayed()),
            ("cancelled", keys.cancelled()),
            ("events", keys.events()),
            ("held", keys.held()),
            ("blocked", keys.blocked()),
            ("failed", keys.failed()),
            ("marker", keys.marker()),
        ]);
        invocation
            .arg(keys.prefix())
            .arg(id.to_string())
            .arg(keys.control_channel());
        let answer: String = self
            .redis
            .run(|mut conn| async move { Ok(invocation.invoke_async(&mut conn).await?) })
            .await?;
        match answer.as_str() {
            "cancelled" => Ok(CancelOutcome::Cancelled),
            "requested" => Ok(CancelOutcome::Requested),
            "finished" => Ok(CancelOutcome::Finished),
            "missing" => Ok(CancelOutcome::NotFound),
            other => Err(QueueError::protocol(format!("cancel answered {other:?}"))),
        }
    }

    /// Queues a failed job again with a fresh set of attempts (the seed's `retryJob`).
    pub async fn retry(&self, id: &JobId) -> Result<RetryOutcome> {
        let keys = &self.keys;
        let mut invocation = self.scripts.retry.with_keys(&[
            ("wait", keys.wait()),
            ("failed", keys.failed()),
            ("events", keys.events()),
            ("marker", keys.marker()),
        ]);
        invocation.arg(keys.prefix()).arg(id.to_string());
        let answer: String = self
            .redis
            .run(|mut conn| async move { Ok(invocation.invoke_async(&mut conn).await?) })
            .await?;
        match answer.as_str() {
            "queued" => Ok(RetryOutcome::Queued),
            "not_failed" => Ok(RetryOutcome::NotFailed),
            "missing" => Ok(RetryOutcome::NotFound),
            other => Err(QueueError::protocol(format!("retry answered {other:?}"))),
        }
    }

    /// Subscribes to cancel requests for active jobs. Messages sent while no subscription is
    /// open are not replayed: lease renewal reports pending cancels as well
    /// ([`crate::LeaseStatus::CancelRequested`]).
    pub async fn cancel_requests(&self) -> Result<CancelRequests> {
        let mut pubsub = self.redis.pubsub().await?;
        pubsub.subscribe(self.keys.control_channel()).await?;
        Ok(CancelRequests::new(pubsub))
    }
}

/// The ids of active jobs whose cancel was requested, as they are requested.
pub struct CancelRequests {
    stream: PubSubStream,
}

impl std::fmt::Debug for CancelRequests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CancelRequests")
    }
}

impl CancelRequests {
    pub(crate) fn new(subscribed: redis::aio::PubSub) -> Self {
        Self {
            stream: subscribed.into_on_message(),
        }
    }

    /// The next request; `None` when the connection is gone (subscribe again).
    pub async fn next(&mut self) -> Option<JobId> {
        loop {
            let message = self.stream.next().await?;
            let payload: String = match message.get_payload() {
                Ok(payload) => payload,
                Err(_) => continue,
            };
            if let Ok(id) = payload.parse() {
                return Some(id);
            }
        }
    }
}
