//! Human approval: a member's decision on a job held before its run (its agent requires
//! approval), and a question a running agent asks and waits to have answered.

use agentq_domain::JobId;

use crate::{LeaseToken, Queue, QueueError, Result};

/// A member's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approved,
    Rejected,
}

impl Decision {
    fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }
}

/// What a decision did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecideOutcome {
    /// Held before its run: now waiting to run (approved) or cancelled (rejected).
    Decided,
    /// Running, its agent waiting on a question: the answer is on its way to the agent.
    Answered,
    /// Neither held nor asking.
    NotAwaiting,
    NotFound,
}

/// The answer to a running agent's question, as a member gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub decision: Decision,
    pub comment: String,
}

impl Queue {
    /// Records a member's decision on a held job, or their answer to a running agent.
    pub async fn decide(
        &self,
        id: &JobId,
        decision: Decision,
        comment: &str,
    ) -> Result<DecideOutcome> {
        let keys = &self.keys;
        let mut invocation = self.scripts.decide.with_keys(&[
            ("wait", keys.wait()),
            ("held", keys.held()),
            ("cancelled", keys.cancelled()),
            ("events", keys.events()),
            ("marker", keys.marker()),
            ("blocked", keys.blocked()),
            ("failed", keys.failed()),
        ]);
        invocation
            .arg(keys.prefix())
            .arg(id.to_string())
            .arg(decision.as_str())
            .arg(comment);
        let answer: String = self
            .redis
            .run(|mut conn| async move { Ok(invocation.invoke_async(&mut conn).await?) })
            .await?;
        match answer.as_str() {
            "approved" | "rejected" => Ok(DecideOutcome::Decided),
            "answered" => Ok(DecideOutcome::Answered),
            "not_awaiting" => Ok(DecideOutcome::NotAwaiting),
            "missing" => Ok(DecideOutcome::NotFound),
            other => Err(QueueError::protocol(format!("decide answered {other:?}"))),
        }
    }

    /// A running agent's question, announced to the job's rooms; members answer with
    /// [`Queue::decide`]. False when the lease is no longer current.
    pub async fn ask(
        &self,
        id: &JobId,
        token: LeaseToken,
        question: &str,
        timeout_secs: u64,
    ) -> Result<bool> {
        let mut invocation = self
            .scripts
            .ask
            .with_keys(&[("events", self.keys.events())]);
        invocation
            .arg(self.keys.prefix())
            .arg(id.to_string())
            .arg(token.0)
            .arg(question)
            .arg(timeout_secs);
        let asked: i64 = self
            .redis
            .run(|mut conn| async move { Ok(invocation.invoke_async(&mut conn).await?) })
            .await?;
        Ok(asked == 1)
    }

    /// The answer to the job's open question, once a member gave one.
    pub async fn answer(&self, id: &JobId) -> Result<Option<Answer>> {
        let key = self.keys.job(id);
        let (decision, comment): (Option<String>, Option<String>) = self
            .redis
            .run(|mut conn| async move {
                Ok(redis::cmd("HMGET")
                    .arg(key)
                    .arg("answer")
                    .arg("answer_comment")
                    .query_async(&mut conn)
                    .await?)
            })
            .await?;
        let decision = match decision.as_deref() {
            Some("approved") => Decision::Approved,
            Some("rejected") => Decision::Rejected,
            _ => return Ok(None),
        };
        Ok(Some(Answer {
            decision,
            comment: comment.unwrap_or_default(),
        }))
    }
}
