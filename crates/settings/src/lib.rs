//! The settings every agentq binary shares, read one way (DESIGN.md §8): [`Env`] reads a
//! variable with its default and its rule, [`Core`] is what all three binaries need (Redis,
//! the database, the queue, attempts, backoff, leases), and [`SettingsError`] names the
//! variable that is wrong. Each binary adds its own settings on top, through the same [`Env`].

mod env;
mod secrets;

pub use env::{Env, SettingsError};
pub use secrets::{DevSecrets, Secret, jwt_secret, secret_key};

use std::time::Duration;

/// The shortest JWT secret accepted outside development: a shorter HS256 secret can be
/// guessed offline from any token.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// What the gateway, the workers and the broadcaster all read.
#[derive(Debug, Clone)]
pub struct Core {
    /// `AGENTQ_ENV=development`: development secrets under `./data/`, 500 details shown.
    pub development: bool,
    /// `REDIS_URL` (redis://127.0.0.1:6379).
    pub redis_url: Secret<String>,
    /// `DATABASE_URL` (sqlite://./data/agentq.db?mode=rwc).
    pub database_url: Secret<String>,
    /// `AGENTQ_QUEUE` (agent-execution).
    pub queue: String,
    /// `AGENTQ_PARTITIONS` (1, from 1 to 256): the queue's partitions, each in a Redis
    /// Cluster slot of its own. Every binary of a deployment must say the same, and changing
    /// it needs an empty queue (a job id names its partition).
    pub partitions: u16,
    /// `AGENTQ_ATTEMPTS` (3, from 1 to 1000): attempts a job gets.
    pub attempts: u32,
    /// `AGENTQ_BACKOFF_BASE_MS` (5000): the first retry's delay; each next one doubles.
    pub backoff_base: Duration,
    /// `AGENTQ_LOCK_DURATION_MS` (30000, at least 100): how long a worker's lease lasts
    /// between renewals.
    pub lease: Duration,
    /// `AGENTQ_CONCURRENCY` (5, at least 1): jobs one worker runs at once.
    pub concurrency: u32,
}

impl Core {
    pub fn read(env: &Env<'_>) -> Result<Self, SettingsError> {
        Ok(Self {
            development: env.development(),
            redis_url: Secret::new(env.text("REDIS_URL", "redis://127.0.0.1:6379")),
            database_url: Secret::new(
                env.text("DATABASE_URL", "sqlite://./data/agentq.db?mode=rwc"),
            ),
            queue: env.text("AGENTQ_QUEUE", "agent-execution"),
            partitions: env.number_in("AGENTQ_PARTITIONS", 1, 1..=256)?,
            attempts: env.number_in("AGENTQ_ATTEMPTS", 3, 1..=1000)?,
            backoff_base: env.millis("AGENTQ_BACKOFF_BASE_MS", 5_000, 0)?,
            lease: env.millis("AGENTQ_LOCK_DURATION_MS", 30_000, 100)?,
            concurrency: env.number_in("AGENTQ_CONCURRENCY", 5, 1..=100_000)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_rules_are_the_same_for_every_binary() {
        let core = Core::read(&Env::from_pairs(&[])).expect("defaults");
        assert_eq!(core.queue, "agent-execution");
        assert_eq!(
            (core.attempts, core.concurrency, core.partitions),
            (3, 5, 1)
        );
        assert_eq!(core.lease, Duration::from_secs(30));
        assert!(!core.development);
        for (name, value) in [
            ("AGENTQ_ATTEMPTS", "0"),
            ("AGENTQ_ATTEMPTS", "1001"),
            ("AGENTQ_PARTITIONS", "0"),
            ("AGENTQ_PARTITIONS", "257"),
            ("AGENTQ_CONCURRENCY", "0"),
            ("AGENTQ_LOCK_DURATION_MS", "50"),
            ("AGENTQ_BACKOFF_BASE_MS", "soon"),
        ] {
            let err = Core::read(&Env::from_pairs(&[(name, value)])).expect_err(value);
            assert_eq!(err.name, name, "{err}");
        }
        let redis = "redis://:hunter2@cache:6379";
        let core = Core::read(&Env::from_pairs(&[("REDIS_URL", redis)])).expect("valid");
        assert_eq!(core.redis_url.expose(), redis);
        assert!(!format!("{core:?}").contains("hunter2"));
    }
}
