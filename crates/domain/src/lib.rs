//! agentq's domain: the pure types and rules every service shares. No I/O lives here, so
//! everything in this crate is tested with plain unit tests.

pub mod backoff;
pub mod bounded;
pub mod event;
pub mod hosts;
pub mod ids;
pub mod job_state;
pub mod payload;
pub mod priority;
pub mod request;
pub mod usage;
pub mod validation;

pub use backoff::Backoff;
pub use event::JobEventKind;
pub use ids::{AgentId, JobId, ProjectId, TaskId, UserId};
pub use job_state::JobState;
pub use payload::JobPayload;
pub use priority::Priority;
pub use request::{JobRequest, QueueJobRequest};
pub use usage::Usage;
pub use validation::ValidationErrors;

/// A value from outside did not parse into a domain type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("invalid job id {0:?}: expected a UUID")]
    JobId(String),
    #[error("invalid id {0:?}: expected a positive integer")]
    Id(String),
    #[error("invalid priority {0:?}: expected critical, high, medium or low (or 1..4)")]
    Priority(String),
    #[error("invalid job state {0:?}")]
    JobState(String),
    #[error("unknown event {0:?}")]
    EventKind(String),
}
