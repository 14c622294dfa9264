//! Stream ids (`<ms>-<seq>`) as ordered values: ids compare as numbers, not as strings.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId {
    pub ms: u64,
    pub seq: u64,
}

impl EventId {
    /// Before every event.
    pub const ZERO: Self = Self { ms: 0, seq: 0 };

    /// `1764220000000-3`, or a bare `1764220000000` (sequence 0); anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let (ms, seq) = text.split_once('-').unwrap_or((text, "0"));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(seq) {
            return None;
        }
        Some(Self {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::EventId;

    #[test]
    fn ids_parse_and_order_as_numbers() {
        let a = EventId::parse("999-10").expect("id");
        let b = EventId::parse("1000-2").expect("id");
        assert!(a < b, "string order would say otherwise");
        assert_eq!(EventId::parse("1000"), Some(EventId { ms: 1000, seq: 0 }));
        assert_eq!(b.to_string(), "1000-2");
        for bad in [
            "",
            "-",
            "1-",
            "-1",
            "a-1",
            "1-1-1",
            "+",
            "$",
            "1 -2",
            "99999999999999999999-0",
        ] {
            assert_eq!(EventId::parse(bad), None, "{bad:?}");
        }
    }
}
