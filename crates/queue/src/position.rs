//! A place in a queue's events: one stream id per partition. Clients resume from it (the
//! `id`/`eventId` of the last event they saw). With one partition it is that partition's
//! stream id as it always was (`1764220000000-3`); with several, the ids joined by `.` in
//! partition order (`1764220000000-3.1764220000012-0.…`), so that resuming misses nothing in
//! any partition and repeats nothing.

use std::fmt;

use crate::EventId;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Position(Vec<EventId>);

impl Position {
    /// Where each partition's events stand, in partition order.
    pub fn new(ids: Vec<EventId>) -> Self {
        Self(ids)
    }

    /// A position written by [`Position`]'s `Display` for a queue of `partitions`; `None` for
    /// anything else.
    pub fn parse(text: &str, partitions: usize) -> Option<Self> {
        let ids = text
            .split('.')
            .map(EventId::parse)
            .collect::<Option<Vec<_>>>()?;
        (ids.len() == partitions).then_some(Self(ids))
    }

    pub fn partitions(&self) -> usize {
        self.0.len()
    }

    /// Partition `index`'s stream id (the start of the stream past the last partition).
    pub fn get(&self, index: usize) -> EventId {
        self.0.get(index).copied().unwrap_or(EventId::ZERO)
    }

    pub fn set(&mut self, index: usize, id: EventId) {
        if let Some(slot) = self.0.get_mut(index) {
            *slot = id;
        }
    }

    /// This position with partition `index` at `id`.
    pub fn with(&self, index: usize, id: EventId) -> Self {
        let mut moved = self.clone();
        moved.set(index, id);
        moved
    }

    /// Whether some partition of `self` is behind the same partition of `other`.
    pub fn is_behind(&self, other: &Self) -> bool {
        self.0
            .iter()
            .zip(&other.0)
            .any(|(mine, theirs)| mine < theirs)
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, id) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(".")?;
            }
            id.fmt(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64, seq: u64) -> EventId {
        EventId { ms, seq }
    }

    #[test]
    fn one_partition_is_a_plain_stream_id() {
        let position = Position::parse("1764220000000-3", 1).expect("position");
        assert_eq!(position.get(0), id(1_764_220_000_000, 3));
        assert_eq!(position.to_string(), "1764220000000-3");
    }

    #[test]
    fn several_partitions_round_trip_and_compare_per_partition() {
        let text = "5-0.7-1.9-2";
        let position = Position::parse(text, 3).expect("position");
        assert_eq!(position.to_string(), text);
        assert_eq!(Position::parse(text, 2), None, "wrong partition count");
        assert_eq!(Position::parse("5-0..9-2", 3), None);
        let later = position.with(1, id(8, 0));
        assert!(position.is_behind(&later));
        assert!(!later.is_behind(&position));
        assert!(!position.is_behind(&position));
    }
}
