//! Timestamps as the seed's clients read them.

use chrono::{NaiveDateTime, SecondsFormat};

/// ISO 8601 with milliseconds and `Z`, as JavaScript's `toISOString()`.
pub fn iso(at: NaiveDateTime) -> String {
    at.and_utc().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// [`iso`] of milliseconds since the epoch (the queue's clock); `None` when out of range.
pub fn iso_ms(ms: u64) -> Option<String> {
    i64::try_from(ms)
        .ok()
        .map(|ms| iso(agentq_store::from_millis(ms)))
}
