//! Named locks with a time to live: one holder at a time across all workers (the recorder,
//! the reconciler). A holder that dies loses the lock when its time runs out.

use std::time::Duration;

use crate::consumer::millis;
use crate::{Queue, Result};

impl Queue {
    /// Takes the lock, or renews it if `holder` has it. False when another holder has it.
    pub async fn lock(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool> {
        let mut invocation = self
            .scripts
            .lock
            .with_keys(&[("lock", self.keys.lock(name))]);
        invocation.arg(holder).arg(millis(ttl).max(1));
        let held: i64 = self
            .redis
            .run(|mut conn| async move { Ok(invocation.invoke_async(&mut conn).await?) })
            .await?;
        Ok(held == 1)
    }

    /// Releases the lock if `holder` has it.
    pub async fn unlock(&self, name: &str, holder: &str) -> Result<bool> {
        let mut invocation = self
            .scripts
            .unlock
            .with_keys(&[("lock", self.keys.lock(name))]);
        invocation.arg(holder);
        let released: i64 = self
            .redis
            .run(|mut conn| async move { Ok(invocation.invoke_async(&mut conn).await?) })
            .await?;
        Ok(released == 1)
    }
}
