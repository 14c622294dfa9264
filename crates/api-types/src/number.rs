//! Integers as JSON Schema and JavaScript see them: `3.0` is the integer 3. serde's own integer
//! types refuse it, so fields documented as `integer` read through these.

use serde::{Deserialize, Deserializer};
use serde_json::Number;

/// A whole JSON number that fits `T`; use with `#[serde(deserialize_with = "whole")]`.
pub fn whole<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    in_range(&Number::deserialize(deserializer)?)
}

fn in_range<T: TryFrom<i64>, E: serde::de::Error>(number: &Number) -> Result<T, E> {
    agentq_domain::request::integer(number)
        .and_then(|v| T::try_from(v).ok())
        .ok_or_else(|| E::custom(format!("expected an integer in range, got {number}")))
}

/// [`whole`] for an optional field that, when present, must not be `null`; use with
/// `#[serde(default, deserialize_with = "present_whole")]`.
pub fn present_whole<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    whole(deserializer).map(Some)
}

/// [`whole`] for a field where `null` means something (no limit): absent is `None`, `null` is
/// `Some(None)`; use with `#[serde(default, deserialize_with = "nullable_whole")]`.
pub fn nullable_whole<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    match Option::<Number>::deserialize(deserializer)? {
        None => Ok(Some(None)),
        Some(number) => in_range(&number).map(|v| Some(Some(v))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Count {
        #[serde(deserialize_with = "whole")]
        n: u32,
    }

    #[test]
    fn a_whole_number_reads_with_or_without_its_fraction() {
        let read = |json: &str| serde_json::from_str::<Count>(json).map(|c| c.n).ok();
        assert_eq!(read(r#"{"n": 3}"#), Some(3));
        assert_eq!(read(r#"{"n": 3.0}"#), Some(3));
        assert_eq!(read(r#"{"n": 3.5}"#), None);
        assert_eq!(read(r#"{"n": -1}"#), None);
        assert_eq!(read(r#"{"n": "3"}"#), None);
    }

    #[derive(Debug, Deserialize)]
    struct Limit {
        #[serde(default, deserialize_with = "nullable_whole")]
        n: Option<Option<u32>>,
    }

    #[test]
    fn a_nullable_number_tells_absent_from_null() {
        let read = |json: &str| serde_json::from_str::<Limit>(json).map(|l| l.n).ok();
        assert_eq!(read(r#"{}"#), Some(None));
        assert_eq!(read(r#"{"n": null}"#), Some(Some(None)));
        assert_eq!(read(r#"{"n": 4.0}"#), Some(Some(Some(4))));
        assert_eq!(read(r#"{"n": -4}"#), None);
    }
}
