//! Times: UTC, stored without a zone, at whole milliseconds or coarser.

use chrono::{DateTime, NaiveDateTime, Utc};

pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// A Redis `TIME`-based millisecond timestamp (from the queue) as a stored time.
pub fn from_millis(ms: i64) -> NaiveDateTime {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .naive_utc()
}
