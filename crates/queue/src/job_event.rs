//! What a stream entry says happened to a job, decoded once, field by field, from what the Lua
//! scripts wrote (`lua/README.md` lists every event's fields). The recorder, the reconciler and
//! the broadcasters read these variants; nobody reads a stream field by name.

use std::collections::HashMap;

use agentq_domain::{JobEventKind, JobState, Usage};

/// One event's own fields, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEvent {
    /// In the wait set: `new` (enqueued), `manual` (retried by hand), `stalled` (its lease
    /// expired), `released` (its worker gave it back) or `retry` (a retry whose backoff ended).
    Queued {
        reason: String,
    },
    /// Leased; `attempt` counts from 1.
    Started {
        attempt: Option<u32>,
        worker: String,
    },
    /// 0 to 100.
    Progress {
        progress: Option<u8>,
    },
    /// `result` as the agent gave it (JSON text by convention); `duration_ms` since started.
    Completed {
        result: String,
        duration_ms: Option<u64>,
        attempt: Option<u32>,
    },
    /// Failed for good.
    Failed {
        error: String,
        attempts_made: Option<u32>,
    },
    Cancelled,
    /// An attempt failed; the next one starts after `delay_ms`.
    Retrying {
        error: String,
        attempts_made: Option<u32>,
        delay_ms: Option<u64>,
    },
    /// A batch of output lines, joined with `\n`.
    Log {
        lines: String,
    },
    /// What the agent spent so far: the job's totals, not the last report.
    Usage(Usage),
    /// Waits for a member's decision: before its run (`question` is `None`), or during it,
    /// when its agent asked `question` and waits `timeout_secs` for the answer.
    AwaitingApproval {
        question: Option<String>,
        timeout_secs: Option<u64>,
    },
    /// A member's decision, with their comment; `during_run` when it answers the agent.
    Approved {
        comment: String,
        during_run: bool,
    },
    Rejected {
        comment: String,
        during_run: bool,
    },
    /// Waits for `pending` dependencies to complete.
    Blocked {
        pending: Option<u32>,
    },
}

impl JobEvent {
    pub fn kind(&self) -> JobEventKind {
        match self {
            Self::Queued { .. } => JobEventKind::Queued,
            Self::Started { .. } => JobEventKind::Started,
            Self::Progress { .. } => JobEventKind::Progress,
            Self::Completed { .. } => JobEventKind::Completed,
            Self::Failed { .. } => JobEventKind::Failed,
            Self::Cancelled => JobEventKind::Cancelled,
            Self::Retrying { .. } => JobEventKind::Retrying,
            Self::Log { .. } => JobEventKind::Log,
            Self::Usage(_) => JobEventKind::Usage,
            Self::AwaitingApproval { .. } => JobEventKind::AwaitingApproval,
            Self::Approved { .. } => JobEventKind::Approved,
            Self::Rejected { .. } => JobEventKind::Rejected,
            Self::Blocked { .. } => JobEventKind::Blocked,
        }
    }

    /// The state the job is in once this happened; `None` for output lines and usage. A
    /// question asked during a run, and its answer, leave the job `active`.
    pub fn resulting_state(&self) -> Option<JobState> {
        match self {
            Self::AwaitingApproval {
                question: Some(_), ..
            }
            | Self::Approved {
                during_run: true, ..
            }
            | Self::Rejected {
                during_run: true, ..
            } => Some(JobState::Active),
            _ => self.kind().resulting_state(),
        }
    }

    /// The variant of `kind` from an entry's remaining fields. A missing text is empty and a
    /// missing or malformed count is `None`: what an event does say is never lost for what it
    /// does not (an entry written by hand, or by an older script).
    pub(crate) fn decode(kind: JobEventKind, fields: &mut HashMap<String, String>) -> Self {
        match kind {
            JobEventKind::Queued => Self::Queued {
                reason: fields.remove("reason").unwrap_or_default(),
            },
            JobEventKind::Started => Self::Started {
                attempt: number(fields, "attempt"),
                worker: fields.remove("worker").unwrap_or_default(),
            },
            JobEventKind::Progress => Self::Progress {
                progress: number(fields, "progress"),
            },
            JobEventKind::Completed => Self::Completed {
                result: fields.remove("result").unwrap_or_default(),
                duration_ms: number(fields, "duration_ms"),
                attempt: number(fields, "attempt"),
            },
            JobEventKind::Failed => Self::Failed {
                error: fields.remove("error").unwrap_or_default(),
                attempts_made: number(fields, "attempts_made"),
            },
            JobEventKind::Cancelled => Self::Cancelled,
            JobEventKind::Retrying => Self::Retrying {
                error: fields.remove("error").unwrap_or_default(),
                attempts_made: number(fields, "attempts_made"),
                delay_ms: number(fields, "delay_ms"),
            },
            JobEventKind::Log => Self::Log {
                lines: fields.remove("lines").unwrap_or_default(),
            },
            JobEventKind::AwaitingApproval => Self::AwaitingApproval {
                question: fields.remove("question").filter(|_| during_run(fields)),
                timeout_secs: number(fields, "timeout_secs"),
            },
            JobEventKind::Approved => Self::Approved {
                comment: fields.remove("comment").unwrap_or_default(),
                during_run: during_run(fields),
            },
            JobEventKind::Rejected => Self::Rejected {
                comment: fields.remove("comment").unwrap_or_default(),
                during_run: during_run(fields),
            },
            JobEventKind::Blocked => Self::Blocked {
                pending: number(fields, "pending"),
            },
            JobEventKind::Usage => Self::Usage(Usage {
                input_tokens: number(fields, "input_tokens").unwrap_or(0),
                output_tokens: number(fields, "output_tokens").unwrap_or(0),
                cost_micro_usd: number(fields, "cost_micro_usd").unwrap_or(0),
            }),
        }
    }
}

fn during_run(fields: &HashMap<String, String>) -> bool {
    fields.get("during_run").is_some_and(|v| v == "1")
}

fn number<T: std::str::FromStr>(fields: &HashMap<String, String>, name: &str) -> Option<T> {
    fields.get(name).and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn each_kind_decodes_its_own_fields() {
        let mut f = fields(&[("result", "{}"), ("duration_ms", "12"), ("attempt", "2")]);
        assert_eq!(
            JobEvent::decode(JobEventKind::Completed, &mut f),
            JobEvent::Completed {
                result: "{}".into(),
                duration_ms: Some(12),
                attempt: Some(2)
            }
        );
        let mut f = fields(&[
            ("error", "boom"),
            ("attempts_made", "1"),
            ("delay_ms", "50"),
        ]);
        let retrying = JobEvent::decode(JobEventKind::Retrying, &mut f);
        assert_eq!(retrying.resulting_state(), Some(JobState::Delayed));
        assert_eq!(
            retrying,
            JobEvent::Retrying {
                error: "boom".into(),
                attempts_made: Some(1),
                delay_ms: Some(50)
            }
        );
    }

    #[test]
    fn a_missing_or_malformed_count_is_none_and_the_rest_is_kept() {
        assert_eq!(
            JobEvent::decode(JobEventKind::Progress, &mut fields(&[("progress", "300")])),
            JobEvent::Progress { progress: None }
        );
        assert_eq!(
            JobEvent::decode(JobEventKind::Failed, &mut fields(&[("error", "x")])),
            JobEvent::Failed {
                error: "x".into(),
                attempts_made: None
            }
        );
    }

    #[test]
    fn every_kind_has_its_variant() {
        for kind in JobEventKind::ALL {
            assert_eq!(JobEvent::decode(kind, &mut HashMap::new()).kind(), kind);
        }
    }
}
