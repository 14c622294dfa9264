//! Every Redis key of a queue. All of them share the hash tag `{<queue>}`, so one queue (or
//! one partition of a queue: [`crate::Partitions`]) lives in one Redis Cluster slot and its
//! scripts may touch any of them.

use agentq_domain::{AgentId, JobId, UserId};

#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(queue: &str) -> Self {
        Self {
            prefix: format!("aq:{{{queue}}}:"),
        }
    }

    /// `aq:{<queue>}:`: scripts build per-job keys from it.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Hash: one job's payload, priority, attempts, state, lease token, progress, timestamps,
    /// result and error.
    pub fn job(&self, id: &JobId) -> String {
        self.key(&format!("job:{id}"))
    }

    /// String: the job a caller's `Idempotency-Key` named first; expires after a day.
    pub fn idempotency(&self, user: UserId, key: &str) -> String {
        self.key(&format!("idem:{user}:{key}"))
    }

    /// List: the job's last output lines, capped.
    pub fn log(&self, id: &JobId) -> String {
        self.key(&format!("log:{id}"))
    }

    /// Sorted set: jobs ready to run; score = priority × 10^12 + the job's turn (`turn`).
    pub fn wait(&self) -> String {
        self.key("wait")
    }

    /// Sorted set: jobs waiting for a retry; score = due time (ms, Redis clock).
    pub fn delayed(&self) -> String {
        self.key("delayed")
    }

    /// Sorted set: jobs awaiting approval before their run; score = enqueue time (ms).
    pub fn held(&self) -> String {
        self.key("held")
    }

    /// Sorted set: jobs blocked on their dependencies; score = enqueue time (ms). Beside it,
    /// `dependents:<id>` (a set per job) lists the jobs blocked on that one.
    pub fn blocked(&self) -> String {
        self.key("blocked")
    }

    /// Sorted set: leased jobs; score = lease deadline (ms). Past it, the job has stalled.
    pub fn active(&self) -> String {
        self.key("active")
    }

    /// Sorted set: completed jobs; score = finish time. Trimmed by age and count.
    pub fn completed(&self) -> String {
        self.key("completed")
    }

    /// Sorted set: jobs failed for good; score = finish time. Trimmed by age and count.
    pub fn failed(&self) -> String {
        self.key("failed")
    }

    /// Sorted set: cancelled jobs; score = cancel time. Trimmed like failed jobs.
    pub fn cancelled(&self) -> String {
        self.key("cancelled")
    }

    /// Stream: every transition's event, written by the script that makes the transition.
    pub fn events(&self) -> String {
        self.key("events")
    }

    /// List of at most one element: idle workers block on it (`BLPOP`) until work arrives.
    pub fn marker(&self) -> String {
        self.key("marker")
    }

    /// String: the turn of the last job leased. Beside it, `turn:p<project>` holds the turn
    /// that project's next job gets (`turn:p` for jobs without a project). A job's turn is its
    /// project's next, or the last leased when that is behind: within a priority projects take
    /// turns (round-robin), and each project's jobs keep their order. A project of weight w
    /// puts w jobs at each turn (`T:u` when u of them already took turn T).
    pub fn turn(&self) -> String {
        self.key("turn:@now")
    }

    /// Hash: counters an operator watches (`stalled`, `events_capped`).
    pub fn stats(&self) -> String {
        self.key("stats")
    }

    /// String: the holder of a named lock (`recorder`, `reconciler`), with a time to live.
    pub fn lock(&self, name: &str) -> String {
        self.key(&format!("lock:{name}"))
    }

    /// Sorted set: live workers; score = last heartbeat (ms, Redis clock).
    pub fn workers(&self) -> String {
        self.key("workers")
    }

    /// Hash: one worker's heartbeat (host, pid, version, concurrency, running, started at);
    /// expires when the worker stops beating.
    pub fn worker(&self, id: &str) -> String {
        self.key(&format!("worker:{id}"))
    }

    /// Sorted set: the jobs holding one of an agent's run slots; score = slot expiry (ms).
    pub fn agent_slots(&self, agent: AgentId) -> String {
        self.key(&format!("agent:{agent}:slots"))
    }

    /// String: how many partitions the queue of this name has ([`crate::Partitions`]), written
    /// by the first binary to start; the key of the queue's own name whatever the count, so
    /// that binaries that disagree find each other.
    pub fn partition_count(&self) -> String {
        self.key("partitions")
    }

    /// Pub/sub channel: the id of an active job whose cancel was requested.
    pub fn control_channel(&self) -> String {
        self.key("control")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_carries_the_queues_hash_tag() {
        let keys = Keys::new("agent-execution");
        let id = JobId::new();
        for key in [
            keys.job(&id),
            keys.log(&id),
            keys.wait(),
            keys.delayed(),
            keys.active(),
            keys.completed(),
            keys.failed(),
            keys.cancelled(),
            keys.events(),
            keys.marker(),
            keys.turn(),
            keys.blocked(),
            keys.stats(),
            keys.control_channel(),
            keys.partition_count(),
            keys.lock("recorder"),
            keys.workers(),
            keys.worker("w1"),
            keys.agent_slots(AgentId::try_from(1).expect("id")),
        ] {
            assert!(key.starts_with("aq:{agent-execution}:"), "{key}");
        }
    }
}
