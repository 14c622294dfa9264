//! Identifiers. A job id is a UUIDv7 (time-ordered, so SQL indexes stay append-mostly); the SQL
//! entities use positive integer ids, each its own type so a task id cannot be passed as an agent
//! id by mistake.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ParseError;

/// The id of one job: the queue's key and the `agent_jobs.job_id` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(Uuid);

impl JobId {
    /// A new, time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// A new, time-ordered id whose last byte is `tag`. The queue keeps a job's partition
    /// there, so that the id alone says where the job lives. The byte is one of the id's
    /// random ones: the id stays a valid UUIDv7, as ordered and nearly as unique.
    pub fn tagged(tag: u8) -> Self {
        let mut bytes = *Uuid::now_v7().as_bytes();
        bytes[15] = tag;
        Self(Uuid::from_bytes(bytes))
    }

    /// The id's last byte: its tag, for an id made by [`JobId::tagged`].
    pub fn tag(&self) -> u8 {
        self.0.as_bytes()[15]
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for JobId {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Only the canonical hyphenated form: the id is also a Redis key part and a URL segment,
        // so one job must have exactly one spelling.
        if s.len() != 36 {
            return Err(ParseError::JobId(s.to_owned()));
        }
        Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| ParseError::JobId(s.to_owned()))
    }
}

macro_rules! integer_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "i64", into = "i64")]
        pub struct $name(i64);

        impl $name {
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl TryFrom<i64> for $name {
            type Error = ParseError;

            fn try_from(value: i64) -> Result<Self, Self::Error> {
                if value > 0 {
                    Ok(Self(value))
                } else {
                    Err(ParseError::Id(value.to_string()))
                }
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl FromStr for $name {
            type Err = ParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse::<i64>()
                    .ok()
                    .and_then(|v| Self::try_from(v).ok())
                    .ok_or_else(|| ParseError::Id(s.to_owned()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

integer_id!(
    /// A row of `tasks`.
    TaskId
);
integer_id!(
    /// A row of `agents`.
    AgentId
);
integer_id!(
    /// A row of `projects`; the unit of authorization.
    ProjectId
);
integer_id!(
    /// A row of `users`.
    UserId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_round_trip_and_sort_by_creation() {
        let a = JobId::new();
        let b = JobId::new();
        assert!(a < b, "v7 ids are time ordered");
        assert_eq!(a.to_string().parse::<JobId>(), Ok(a));
    }

    #[test]
    fn a_tagged_job_id_keeps_its_tag_and_stays_a_time_ordered_v7() {
        let a = JobId::tagged(7);
        let b = JobId::tagged(200);
        assert_eq!((a.tag(), b.tag()), (7, 200));
        assert!(a < b, "v7 ids are time ordered");
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert_eq!(a.to_string().parse::<JobId>(), Ok(a));
    }

    #[test]
    fn job_id_refuses_other_spellings() {
        let id = JobId::new().to_string();
        assert!(id.to_uppercase().parse::<JobId>().is_ok());
        assert!(id.replace('-', "").parse::<JobId>().is_err());
        assert!("not-a-uuid".parse::<JobId>().is_err());
        assert!("".parse::<JobId>().is_err());
    }

    #[test]
    fn integer_ids_must_be_positive() {
        assert_eq!(TaskId::try_from(7).map(TaskId::get), Ok(7));
        assert!(TaskId::try_from(0).is_err());
        assert!(AgentId::try_from(-3).is_err());
        assert!("12x".parse::<ProjectId>().is_err());
        assert_eq!("12".parse::<ProjectId>().map(i64::from), Ok(12));
    }

    #[test]
    fn integer_ids_deserialize_only_when_valid() {
        assert!(serde_json::from_str::<UserId>("5").is_ok());
        assert!(serde_json::from_str::<UserId>("0").is_err());
        assert!(serde_json::from_str::<UserId>("\"5\"").is_err());
    }
}
