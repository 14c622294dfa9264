//! The names of job events: the seed's five Socket.IO events plus the ones agentq adds.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{JobState, ParseError};

/// A job's result as the queue holds it (JSON text by convention) as a JSON value: the JSON
/// itself, or the text as a string when an agent's result is not JSON.
pub fn result_value(raw: &str) -> serde_json::Value {
    serde_json::from_str(raw).unwrap_or_else(|_| serde_json::Value::String(raw.to_owned()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum JobEventKind {
    /// Added to the queue, or back in it (a due retry, a stalled or given-back lease).
    Queued,
    /// A worker leased it and starts the agent.
    Started,
    Progress,
    Completed,
    /// Failed for good.
    Failed,
    Cancelled,
    /// An attempt failed and another is scheduled after a backoff.
    Retrying,
    /// A batch of the agent's output lines.
    Log,
    /// What the agent spent so far (the job's totals).
    Usage,
    /// Waits for a project member's decision: before its run (its agent requires approval)
    /// or during it (its agent asked a question).
    AwaitingApproval,
    Approved,
    Rejected,
    /// Waits for the jobs it depends on.
    Blocked,
}

impl JobEventKind {
    pub const ALL: [JobEventKind; 13] = [
        Self::Queued,
        Self::Started,
        Self::Progress,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
        Self::Retrying,
        Self::Log,
        Self::Usage,
        Self::AwaitingApproval,
        Self::Approved,
        Self::Rejected,
        Self::Blocked,
    ];

    /// The state a job is in once this event happened; `None` for output lines and usage,
    /// which say nothing of it. For the approval events this is what they mean before a run;
    /// during one the job stays `active` (`JobEvent::resulting_state` knows which). The one mapping the recorder and the broadcasters share.
    pub fn resulting_state(self) -> Option<JobState> {
        match self {
            Self::Queued => Some(JobState::Waiting),
            Self::Started | Self::Progress => Some(JobState::Active),
            Self::Completed => Some(JobState::Completed),
            Self::Failed => Some(JobState::Failed),
            Self::Cancelled => Some(JobState::Cancelled),
            Self::Retrying => Some(JobState::Delayed),
            Self::Log | Self::Usage => None,
            Self::AwaitingApproval => Some(JobState::AwaitingApproval),
            Self::Approved => Some(JobState::Waiting),
            Self::Rejected => Some(JobState::Cancelled),
            Self::Blocked => Some(JobState::Blocked),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "agent_job_queued",
            Self::Started => "agent_job_started",
            Self::Progress => "agent_job_progress",
            Self::Completed => "agent_job_completed",
            Self::Failed => "agent_job_failed",
            Self::Cancelled => "agent_job_cancelled",
            Self::Retrying => "agent_job_retrying",
            Self::Log => "agent_job_log",
            Self::Usage => "agent_job_usage",
            Self::AwaitingApproval => "agent_job_awaiting_approval",
            Self::Approved => "agent_job_approved",
            Self::Rejected => "agent_job_rejected",
            Self::Blocked => "agent_job_blocked",
        }
    }
}

impl fmt::Display for JobEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<JobEventKind> for &'static str {
    fn from(kind: JobEventKind) -> Self {
        kind.as_str()
    }
}

impl FromStr for JobEventKind {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| ParseError::EventKind(s.to_owned()))
    }
}

impl TryFrom<String> for JobEventKind {
    type Error = ParseError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_seeds_names() {
        let names: Vec<_> = JobEventKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "agent_job_queued",
                "agent_job_started",
                "agent_job_progress",
                "agent_job_completed",
                "agent_job_failed",
                "agent_job_cancelled",
                "agent_job_retrying",
                "agent_job_log",
                "agent_job_usage",
                "agent_job_awaiting_approval",
                "agent_job_approved",
                "agent_job_rejected",
                "agent_job_blocked"
            ]
        );
        for kind in JobEventKind::ALL {
            assert_eq!(kind.as_str().parse::<JobEventKind>(), Ok(kind));
            let json = serde_json::to_string(&kind).unwrap_or_default();
            assert_eq!(serde_json::from_str::<JobEventKind>(&json).ok(), Some(kind));
        }
        assert!("agent_job_exploded".parse::<JobEventKind>().is_err());
    }
}

#[cfg(test)]
mod state_tests {
    use super::*;

    #[test]
    fn every_event_but_output_says_what_state_the_job_is_in() {
        let states: Vec<_> = JobEventKind::ALL
            .iter()
            .map(|kind| kind.resulting_state().map(JobState::as_str))
            .collect();
        assert_eq!(
            states,
            [
                Some("waiting"),
                Some("active"),
                Some("active"),
                Some("completed"),
                Some("failed"),
                Some("cancelled"),
                Some("delayed"),
                None,
                None,
                Some("awaiting_approval"),
                Some("waiting"),
                Some("cancelled"),
                Some("blocked")
            ]
        );
    }

    #[test]
    fn a_result_is_its_json_or_else_its_text() {
        assert_eq!(result_value(r#"{"ok":1}"#), serde_json::json!({"ok": 1}));
        assert_eq!(
            result_value("plain words"),
            serde_json::json!("plain words")
        );
    }
}
