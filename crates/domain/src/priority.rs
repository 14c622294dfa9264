//! Job priority: the seed's four names and the queue's numbers 1 (runs first) to 4.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ParseError;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Critical,
    High,
    /// What the seed API uses when a request names none.
    #[default]
    Medium,
    Low,
}

impl Priority {
    pub const ALL: [Priority; 4] = [Self::Critical, Self::High, Self::Medium, Self::Low];

    /// The queue's number for this priority: the seed's `taskPriorityToJobPriority`.
    pub fn queue_value(self) -> u8 {
        match self {
            Self::Critical => 1,
            Self::High => 2,
            Self::Medium => 3,
            Self::Low => 4,
        }
    }

    pub fn from_queue_value(value: u8) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|p| p.queue_value() == value)
            .ok_or_else(|| ParseError::Priority(value.to_string()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| ParseError::Priority(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_like_the_seeds_task_priority_to_job_priority() {
        let pairs = [("critical", 1), ("high", 2), ("medium", 3), ("low", 4)];
        for (name, value) in pairs {
            let p: Priority = name.parse().expect("known name");
            assert_eq!(p.queue_value(), value);
            assert_eq!(Priority::from_queue_value(value), Ok(p));
            assert_eq!(p.to_string(), name);
        }
        assert!(Priority::from_queue_value(0).is_err());
        assert!(Priority::from_queue_value(5).is_err());
        assert!("urgent".parse::<Priority>().is_err());
        assert!(
            "High".parse::<Priority>().is_err(),
            "zod enums are case sensitive"
        );
    }

    #[test]
    fn orders_critical_first() {
        assert!(Priority::Critical < Priority::Low);
        assert_eq!(Priority::default(), Priority::Medium);
    }
}
