//! The job life cycle. Every state change the queue makes is one of the transitions allowed
//! here; the SQL recorder uses the same table to refuse impossible updates.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ParseError;

/// Where a job is. The names are the seed's `agent_jobs.status` enum values.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Ready to run, in priority order.
    Waiting,
    /// Waiting for its retry time (exponential backoff).
    Delayed,
    /// Leased by a worker, which is running the agent.
    Active,
    Completed,
    /// Failed for good: attempts or stall limit used up, or not retryable.
    Failed,
    Cancelled,
    /// Its agent requires approval: it waits for a project member's decision before it may
    /// run (then `waiting`) or is rejected (then `cancelled`).
    #[serde(rename = "awaiting_approval")]
    AwaitingApproval,
    /// Waits for the jobs of the tasks it depends on (`context.dependencies`) to complete:
    /// then `waiting`; `failed` when one of them fails or is cancelled.
    Blocked,
}

impl JobState {
    pub const ALL: [JobState; 8] = [
        Self::Waiting,
        Self::Delayed,
        Self::Active,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
        Self::AwaitingApproval,
        Self::Blocked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Delayed => "delayed",
            Self::Active => "active",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::AwaitingApproval => "awaiting_approval",
            Self::Blocked => "blocked",
        }
    }

    /// A finished job never runs again on its own (a failed one may be retried by hand).
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// Whether the queue may move a job from `self` to `next`.
    pub fn can_transition_to(self, next: JobState) -> bool {
        use JobState::*;
        matches!(
            (self, next),
            (Waiting, Active | Cancelled)
                // a due retry is promoted
                | (Delayed, Waiting | Cancelled)
                // finish, retry later, lease expired or given back, cancelled while running
                | (Active, Completed | Failed | Delayed | Waiting | Cancelled)
                // the seed's retryJob: a failed job is queued again by hand
                | (Failed, Waiting)
                // approved or rejected before its run
                | (AwaitingApproval, Waiting | Cancelled)
                // its dependencies completed, one of them did not, or cancelled by hand
                | (Blocked, Waiting | Failed | Cancelled)
        )
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| ParseError::JobState(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::JobState::{self, *};

    /// Every (from, to) pair, written out so that a change to the rules shows up here.
    #[test]
    fn allows_exactly_the_life_cycle_transitions() {
        let allowed = [
            (Waiting, Active),
            (Waiting, Cancelled),
            (Delayed, Waiting),
            (Delayed, Cancelled),
            (Active, Completed),
            (Active, Failed),
            (Active, Delayed),
            (Active, Waiting),
            (Active, Cancelled),
            (Failed, Waiting),
            (AwaitingApproval, Waiting),
            (AwaitingApproval, Cancelled),
            (Blocked, Waiting),
            (Blocked, Failed),
            (Blocked, Cancelled),
        ];
        for from in JobState::ALL {
            for to in JobState::ALL {
                assert_eq!(
                    from.can_transition_to(to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for state in JobState::ALL {
            assert_eq!(state.as_str().parse::<JobState>(), Ok(state));
            assert_eq!(
                serde_json::to_string(&state).ok(),
                Some(format!("\"{state}\""))
            );
        }
        assert!("running".parse::<JobState>().is_err());
    }

    #[test]
    fn final_states() {
        let finals: Vec<_> = JobState::ALL.into_iter().filter(|s| s.is_final()).collect();
        assert_eq!(finals, [Completed, Failed, Cancelled]);
    }
}
