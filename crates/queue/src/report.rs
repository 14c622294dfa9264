//! What a running job reports before it finishes: progress, usage and output lines.

use agentq_domain::{JobId, Usage};

use crate::{LeaseToken, Queue, Result};

impl Queue {
    /// Records progress (clamped to 0..=100). False when the lease is no longer current.
    pub async fn progress(&self, id: &JobId, token: LeaseToken, progress: u8) -> Result<bool> {
        let mut invocation = self
            .scripts
            .progress
            .with_keys(&[("events", self.keys.events())]);
        invocation
            .arg(self.keys.prefix())
            .arg(id.to_string())
            .arg(token.0)
            .arg(progress.min(100));
        let recorded: i64 = self
            .redis
            .run(|mut conn| async move { Ok(invocation.invoke_async(&mut conn).await?) })
            .await?;
        Ok(recorded == 1)
    }

    /// Adds what the agent spent to the job's totals (a delta) and announces the totals.
    /// False when the lease is no longer current.
    pub async fn usage(&self, id: &JobId, token: LeaseToken, spent: Usage) -> Result<bool> {
        let mut invocation = self
            .scripts
            .usage
            .with_keys(&[("events", self.keys.events())]);
        // HINCRBY takes signed 64-bit integers: a report beyond that is capped, not an error
        let capped = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        invocation
            .arg(self.keys.prefix())
            .arg(id.to_string())
            .arg(token.0)
            .arg(capped(spent.input_tokens))
            .arg(capped(spent.output_tokens))
            .arg(capped(spent.cost_micro_usd));
        let recorded: i64 = self
            .redis
            .run(|mut conn| async move { Ok(invocation.invoke_async(&mut conn).await?) })
            .await?;
        Ok(recorded == 1)
    }

    /// Appends output lines to the job's capped log and announces them in one event.
    /// False when the lease is no longer current.
    pub async fn log(&self, id: &JobId, token: LeaseToken, lines: &[String]) -> Result<bool> {
        if lines.is_empty() {
            return Ok(true);
        }
        let mut invocation = self
            .scripts
            .log
            .with_keys(&[("events", self.keys.events())]);
        invocation
            .arg(self.keys.prefix())
            .arg(id.to_string())
            .arg(token.0)
            .arg(self.config.log_lines_kept.max(1))
            .arg(lines);
        let recorded: i64 = self
            .redis
            .run(|mut conn| async move { Ok(invocation.invoke_async(&mut conn).await?) })
            .await?;
        Ok(recorded == 1)
    }
}
