//! Exponential backoff: how long a failed job waits before its next attempt, and how long a
//! client waits before reconnecting to Redis.

use std::time::Duration;

/// `delay(n) = base × 2^(n−1)`, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The seed's job backoff: exponential from 5 s. The seed has no cap; an hour keeps a
    /// many-attempt job from waiting for days.
    pub const JOB_DEFAULT: Backoff = Backoff {
        base: Duration::from_secs(5),
        max: Duration::from_secs(3600),
    };

    /// The seed's Redis `retryStrategy`: exponential, at most 30 s between tries.
    pub const RECONNECT: Backoff = Backoff {
        base: Duration::from_millis(100),
        max: Duration::from_secs(30),
    };

    pub fn new(base: Duration, max: Duration) -> Self {
        Self { base, max }
    }

    /// The wait after failed attempt number `attempt` (1 for the first failure).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(63);
        let factor = 1u64 << exponent;
        let base_ms = u64::try_from(self.base.as_millis()).unwrap_or(u64::MAX);
        let ms = base_ms.saturating_mul(factor);
        Duration::from_millis(ms).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_the_base() {
        let b = Backoff::JOB_DEFAULT;
        assert_eq!(b.delay(1), Duration::from_secs(5));
        assert_eq!(b.delay(2), Duration::from_secs(10));
        assert_eq!(b.delay(3), Duration::from_secs(20));
        assert_eq!(
            b.delay(0),
            Duration::from_secs(5),
            "attempt 0 is treated as the first"
        );
    }

    #[test]
    fn is_capped_and_never_overflows() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(30));
        assert_eq!(b.delay(9), Duration::from_millis(25_600));
        assert_eq!(b.delay(10), Duration::from_secs(30));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(30));
        let huge = Backoff::new(Duration::MAX, Duration::MAX);
        assert!(huge.delay(64) <= Duration::MAX);
    }
}
