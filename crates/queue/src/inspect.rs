//! Reading a queue's state: counts per state, one job, its output.

use std::collections::HashMap;

use agentq_domain::{JobId, JobState, Usage};

use crate::{Queue, QueueError, Result};

/// How many jobs are in each state right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateCounts {
    pub waiting: u64,
    pub delayed: u64,
    pub active: u64,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub awaiting_approval: u64,
    pub blocked: u64,
}

impl StateCounts {
    /// Each state's name (as `JobState` spells it) with its count.
    pub fn by_state(&self) -> [(&'static str, u64); 8] {
        [
            ("waiting", self.waiting),
            ("delayed", self.delayed),
            ("active", self.active),
            ("completed", self.completed),
            ("failed", self.failed),
            ("cancelled", self.cancelled),
            ("awaiting_approval", self.awaiting_approval),
            ("blocked", self.blocked),
        ]
    }
}

/// One job as the queue holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSnapshot {
    pub id: JobId,
    pub state: JobState,
    pub payload: String,
    pub priority: u8,
    pub attempts_made: u32,
    pub max_attempts: u32,
    pub stalls: u32,
    pub lease_token: u64,
    pub progress: u8,
    pub worker: Option<String>,
    /// Milliseconds since the epoch, Redis clock.
    pub queued_at: Option<u64>,
    pub started_at: Option<u64>,
    pub finished_at: Option<u64>,
    pub result: Option<String>,
    pub error: Option<String>,
    pub cancel_requested: bool,
    /// What the agent spent so far; `None` until it reports any.
    pub usage: Option<Usage>,
}

impl Queue {
    pub async fn counts(&self) -> Result<StateCounts> {
        let keys = &self.keys;
        let mut pipe = redis::pipe();
        for key in [
            keys.wait(),
            keys.delayed(),
            keys.active(),
            keys.completed(),
            keys.failed(),
            keys.cancelled(),
            keys.held(),
            keys.blocked(),
        ] {
            pipe.zcard(key);
        }
        let (waiting, delayed, active, completed, failed, cancelled, awaiting_approval, blocked) =
            self.redis
                .run(|mut conn| async move { Ok(pipe.query_async(&mut conn).await?) })
                .await?;
        Ok(StateCounts {
            waiting,
            delayed,
            active,
            completed,
            failed,
            cancelled,
            awaiting_approval,
            blocked,
        })
    }

    /// The job, or `None` when the queue does not have it (never had, or trimmed).
    pub async fn job(&self, id: &JobId) -> Result<Option<JobSnapshot>> {
        let key = self.keys.job(id);
        let fields: HashMap<String, String> = self
            .redis
            .run(|mut conn| async move {
                Ok(redis::cmd("HGETALL")
                    .arg(key)
                    .query_async(&mut conn)
                    .await?)
            })
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let text = |name: &str| fields.get(name).filter(|v| !v.is_empty()).cloned();
        let number = |name: &str| text(name).and_then(|v| v.parse::<u64>().ok());
        let small = |name: &str| {
            number(name)
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(0)
        };
        let state = text("state")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| QueueError::protocol(format!("job {id} has no valid state")))?;
        Ok(Some(JobSnapshot {
            id: *id,
            state,
            payload: text("data").unwrap_or_default(),
            priority: number("prio")
                .and_then(|v| u8::try_from(v).ok())
                .unwrap_or(0),
            attempts_made: small("made"),
            max_attempts: small("max"),
            stalls: small("stalls"),
            lease_token: number("token").unwrap_or(0),
            progress: number("progress")
                .and_then(|v| u8::try_from(v).ok())
                .unwrap_or(0),
            worker: text("worker"),
            queued_at: number("queued_at"),
            started_at: number("started_at"),
            finished_at: number("finished_at"),
            result: text("result"),
            error: text("error"),
            cancel_requested: text("cancel").as_deref() == Some("1"),
            usage: text("cost_micro_usd").map(|_| Usage {
                input_tokens: number("input_tokens").unwrap_or(0),
                output_tokens: number("output_tokens").unwrap_or(0),
                cost_micro_usd: number("cost_micro_usd").unwrap_or(0),
            }),
        }))
    }

    /// The job's kept output lines, oldest first.
    pub async fn logs(&self, id: &JobId) -> Result<Vec<String>> {
        let key = self.keys.log(id);
        self.redis
            .run(|mut conn| async move {
                Ok(redis::cmd("LRANGE")
                    .arg(key)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut conn)
                    .await?)
            })
            .await
    }

    /// A counter from the stats hash (`stalled`, `events_capped`); 0 when never counted.
    pub async fn stat(&self, name: &str) -> Result<u64> {
        let key = self.keys.stats();
        let name = name.to_owned();
        let value: Option<u64> = self
            .redis
            .run(|mut conn| async move {
                Ok(redis::cmd("HGET")
                    .arg(key)
                    .arg(name)
                    .query_async(&mut conn)
                    .await?)
            })
            .await?;
        Ok(value.unwrap_or(0))
    }

    /// Redis's `maxmemory-policy`; `None` where `CONFIG` is not allowed (managed Redis). Any
    /// policy but `noeviction` lets Redis drop a job's keys to make room.
    pub async fn maxmemory_policy(&self) -> Result<Option<String>> {
        let reply: Result<Vec<String>> = self
            .redis
            .run(|mut conn| async move {
                Ok(redis::cmd("CONFIG")
                    .arg("GET")
                    .arg("maxmemory-policy")
                    .query_async(&mut conn)
                    .await?)
            })
            .await;
        match reply {
            Ok(pair) => Ok(pair.into_iter().nth(1)),
            Err(QueueError::Redis(err)) if !err.is_connection_dropped() && !err.is_io_error() => {
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }
}
