//! How a queue behaves. The defaults are the seed's BullMQ options.

use std::time::Duration;

use agentq_domain::Backoff;

/// How long finished jobs are kept: whichever limit is reached first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub age: Duration,
    pub count: u64,
}

#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// The queue's name; every key carries it as a hash tag.
    pub name: String,
    /// How long a lease lasts before the job counts as stalled; workers renew it while running.
    pub lease: Duration,
    /// Attempts a new job gets.
    pub max_attempts: u32,
    /// Wait before attempt n+1 after n failures.
    pub backoff: Backoff,
    /// Expired leases a job survives; one more and it fails.
    pub max_stalls: u32,
    pub keep_completed: Retention,
    /// For failed and cancelled jobs.
    pub keep_failed: Retention,
    /// Events stay at least this long for dashboards that resume, once the recorder has them.
    pub events_replay: Duration,
    /// Past this many entries the oldest events are dropped even if unrecorded (and counted).
    pub events_cap: u64,
    /// Output lines kept per job for the logs route.
    pub log_lines_kept: u32,
}

impl QueueConfig {
    pub const DEFAULT_NAME: &'static str = "agent-execution";

    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            name: Self::DEFAULT_NAME.into(),
            lease: Duration::from_secs(30),
            max_attempts: 3,
            backoff: Backoff::JOB_DEFAULT,
            max_stalls: 1,
            keep_completed: Retention {
                age: Duration::from_secs(24 * 3600),
                count: 1_000,
            },
            keep_failed: Retention {
                age: Duration::from_secs(7 * 24 * 3600),
                count: 5_000,
            },
            events_replay: Duration::from_secs(600),
            events_cap: 1_000_000,
            log_lines_kept: 1_000,
        }
    }
}
