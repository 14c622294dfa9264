//! agentq's job queue, built by hand on Redis (DESIGN.md §3).
//!
//! Every state change is one Lua script (`lua/*.lua`) that also writes the change's event to
//! the queue's `events` stream, so a transition and its event happen together or not at all.
//! Time always comes from Redis `TIME`. Workers lease jobs in batches and report outcomes in
//! batches ([`Queue::cycle`]), which keeps Redis' own CPU per job low.

mod approval;
mod config;
mod connection;
mod consumer;
mod control;
mod error;
mod event_id;
mod events;
mod idempotency;
mod inspect;
mod job_event;
mod keys;
mod lock;
mod partitions;
mod position;
mod producer;
mod report;
mod runner;
mod scripts;
mod slots;
mod workers;

use std::sync::{Arc, OnceLock};

pub use approval::{Answer, DecideOutcome, Decision};
pub use config::{QueueConfig, Retention};
pub use connection::{Connection, Redis};
pub use consumer::{Cycle, Finished, LeaseDeadline, LeaseStatus, LeaseToken, LeasedJob, Outcome};
pub use control::{CancelOutcome, CancelRequests, RetryOutcome};
pub use error::QueueError;
pub use event_id::EventId;
pub use events::{EventPage, EventTrim, QueueEvent, RecorderGroup};
pub use inspect::{JobSnapshot, StateCounts};
pub use job_event::JobEvent;
pub use keys::Keys;
pub use partitions::{MAX_PARTITIONS, Partitions};
pub use position::Position;
pub use producer::NewJob;
pub use runner::{WorkerOptions, WorkerReport, run_worker};
pub use workers::WorkerInfo;

use scripts::Scripts;

pub type Result<T, E = QueueError> = std::result::Result<T, E>;

/// One named queue, or one partition of a queue ([`Partitions`]), on one Redis node or a
/// cluster. Cheap to clone: clones share the connection.
#[derive(Debug, Clone)]
pub struct Queue {
    redis: Redis,
    keys: Arc<Keys>,
    config: Arc<QueueConfig>,
    scripts: Arc<Scripts>,
    /// Coalesces concurrent `enqueue` calls; started by the first call.
    enqueuer: Arc<OnceLock<producer::Enqueuer>>,
    /// How many coalesced enqueue calls may be under way at once ([`Queue::one_enqueue_at_a_time`]).
    enqueue_calls: usize,
}

impl Queue {
    pub fn new(redis: Redis, config: QueueConfig) -> Self {
        Self {
            keys: Arc::new(Keys::new(&config.name)),
            config: Arc::new(config),
            scripts: Arc::new(Scripts::default()),
            enqueuer: Arc::default(),
            enqueue_calls: producer::CALLS_IN_FLIGHT,
            redis,
        }
    }

    /// One coalesced enqueue call under way at a time, not two: for a partition of a queue,
    /// whose callers are spread over many partitions, so that each call carries a batch
    /// (a script call costs Redis about as much for one job as for five).
    pub(crate) fn one_enqueue_at_a_time(self) -> Self {
        Self {
            enqueue_calls: 1,
            ..self
        }
    }

    /// A handle that shares everything but the enqueue task (which must not keep itself alive).
    pub(crate) fn without_enqueuer(&self) -> Self {
        Self {
            enqueuer: Arc::default(),
            ..self.clone()
        }
    }

    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn redis(&self) -> &Redis {
        &self.redis
    }
}
