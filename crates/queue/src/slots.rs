//! Per-agent run slots: at most `max` jobs of one agent run at once across all workers. A
//! slot is held for a time to live and renewed while the job runs, so a worker that dies
//! frees its slots when they expire.

use std::time::Duration;

use agentq_domain::{AgentId, JobId};

use crate::consumer::millis;
use crate::{Queue, Result};

impl Queue {
    /// Takes a slot of `agent` for `job`, or renews the one it holds. False when all `max`
    /// slots are taken by other jobs.
    pub async fn acquire_slot(
        &self,
        agent: AgentId,
        job: &JobId,
        max: u32,
        ttl: Duration,
    ) -> Result<bool> {
        let mut invocation = self
            .scripts
            .slot
            .with_keys(&[("slots", self.keys.agent_slots(agent))]);
        invocation
            .arg(job.to_string())
            .arg(max)
            .arg(millis(ttl).max(1));
        let held: i64 = self
            .redis
            .run(|mut conn| async move { Ok(invocation.invoke_async(&mut conn).await?) })
            .await?;
        Ok(held == 1)
    }

    /// Gives the slot back.
    pub async fn release_slot(&self, agent: AgentId, job: &JobId) -> Result<()> {
        let key = self.keys.agent_slots(agent);
        let member = job.to_string();
        self.redis
            .run(|mut conn| async move {
                let _: i64 = redis::cmd("ZREM")
                    .arg(key)
                    .arg(member)
                    .query_async(&mut conn)
                    .await?;
                Ok(())
            })
            .await
    }
}
