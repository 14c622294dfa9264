//! The registry of live workers: each beats every few seconds with what it runs; one that
//! stops beating (it died) drops out after the time to live. It feeds the gateway's workers
//! route and the operators' view.

use std::collections::HashMap;
use std::time::Duration;

use crate::consumer::millis;
use crate::{Queue, Result};

/// A worker as its last heartbeat described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerInfo {
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub version: String,
    pub concurrency: u32,
    pub running: u32,
    /// Milliseconds since the epoch, Redis clock.
    pub started_at: u64,
    pub last_beat: u64,
}

impl Queue {
    /// Records `worker` as alive for `ttl`.
    pub async fn heartbeat(&self, worker: &WorkerInfo, ttl: Duration) -> Result<()> {
        let mut invocation = self.scripts.heartbeat.with_keys(&[
            ("workers", self.keys.workers()),
            ("worker", self.keys.worker(&worker.id)),
        ]);
        invocation
            .arg(&worker.id)
            .arg(millis(ttl).max(1))
            .arg("host")
            .arg(&worker.host)
            .arg("pid")
            .arg(worker.pid)
            .arg("version")
            .arg(&worker.version)
            .arg("concurrency")
            .arg(worker.concurrency)
            .arg("running")
            .arg(worker.running)
            .arg("started_at")
            .arg(worker.started_at);
        let _: u64 = self
            .redis
            .run(|mut conn| async move { Ok(invocation.invoke_async(&mut conn).await?) })
            .await?;
        Ok(())
    }

    /// Takes a stopping worker out of the registry at once.
    pub async fn deregister(&self, worker_id: &str) -> Result<()> {
        let mut pipe = redis::pipe();
        pipe.zrem(self.keys.workers(), worker_id)
            .del(self.keys.worker(worker_id));
        self.redis
            .run(|mut conn| async move {
                let _: () = pipe.query_async(&mut conn).await?;
                Ok(())
            })
            .await
    }

    /// The workers whose heartbeat is still current (their hash has not expired).
    pub async fn live_workers(&self) -> Result<Vec<WorkerInfo>> {
        let key = self.keys.workers();
        let ids: Vec<String> = self
            .redis
            .run(|mut conn| async move {
                Ok(redis::cmd("ZRANGE")
                    .arg(key)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut conn)
                    .await?)
            })
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hgetall(self.keys.worker(id));
        }
        let hashes: Vec<HashMap<String, String>> = self
            .redis
            .run(|mut conn| async move { Ok(pipe.query_async(&mut conn).await?) })
            .await?;
        Ok(ids
            .into_iter()
            .zip(hashes)
            .filter(|(_, fields)| !fields.is_empty())
            .map(|(id, fields)| {
                let text = |name: &str| fields.get(name).cloned().unwrap_or_default();
                let number =
                    |name: &str| fields.get(name).and_then(|v| v.parse().ok()).unwrap_or(0);
                WorkerInfo {
                    host: text("host"),
                    version: text("version"),
                    pid: number("pid") as u32,
                    concurrency: number("concurrency") as u32,
                    running: number("running") as u32,
                    started_at: number("started_at"),
                    last_beat: number("last_beat"),
                    id,
                }
            })
            .collect())
    }
}
