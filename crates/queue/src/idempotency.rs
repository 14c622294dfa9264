//! `Idempotency-Key`: a caller names a submission, and the same name within a day answers the
//! job the first submission made instead of making another.

use std::time::Duration;

use agentq_domain::{JobId, UserId};

use crate::consumer::millis;
use crate::{Queue, QueueError, Result};

impl Queue {
    /// Claims `key` of `user` for `job`, for `ttl`. `None` when the key is now `job`'s; else
    /// the job it named first (one round trip: `SET NX GET`).
    pub async fn claim_idempotency_key(
        &self,
        user: UserId,
        key: &str,
        job: JobId,
        ttl: Duration,
    ) -> Result<Option<JobId>> {
        let name = self.keys.idempotency(user, key);
        let first: Option<String> = self
            .redis
            .run(|mut conn| async move {
                Ok(redis::cmd("SET")
                    .arg(name)
                    .arg(job.to_string())
                    .arg("NX")
                    .arg("GET")
                    .arg("PX")
                    .arg(millis(ttl).max(1))
                    .query_async(&mut conn)
                    .await?)
            })
            .await?;
        first
            .map(|id| {
                id.parse()
                    .map_err(|_| QueueError::protocol(format!("idempotency key holds {id:?}")))
            })
            .transpose()
    }

    /// Forgets `key` of `user` (its submission failed before it made a job), so that the
    /// caller may try again with it.
    pub async fn release_idempotency_key(&self, user: UserId, key: &str) -> Result<()> {
        let name = self.keys.idempotency(user, key);
        self.redis
            .run(|mut conn| async move {
                let _: i64 = redis::cmd("DEL").arg(name).query_async(&mut conn).await?;
                Ok(())
            })
            .await
    }
}
