//! One queue spread over partitions (`AGENTQ_PARTITIONS`), so that its work spreads over a
//! Redis Cluster's masters instead of stopping at one core. Each partition is a [`Queue`] of
//! its own, with a hash tag of its own: its keys share one slot, so its scripts stay atomic.
//! This type says which partition a job belongs to, and spreads a worker's work over them.
//!
//! - A job's partition is chosen when it is queued, by its project (project id mod P): one
//!   project's jobs stay in one partition, so they keep their order (first in, first out within
//!   a priority), and a per-tenant limit can later be enforced in one place. Jobs without a
//!   project go to a partition at random. The partition is written into the job id's last byte
//!   ([`JobId::tagged`]): get, cancel, retry and logs find the job without a lookup. Changing P
//!   therefore needs an empty queue.
//! - Partition `i`'s hash tag is `<queue>#<i>` (with a suffix where needed), chosen so that its
//!   slot lies in the i-th P-th of the slot space: with the even slot ranges that
//!   `redis-cli --cluster create` makes, every master holds an even share of the partitions;
//!   [`Partitions::placement`] checks that against the live slot map.
//! - The first partition, "home", also holds what is global to the queue: the worker registry,
//!   the agents' run slots (per-agent limits stay global), idempotency keys, and the marker
//!   that idle workers block on.
//! - With one partition (the default) the partition is the queue itself, with its keys as they
//!   always were (`aq:{<queue>}:`), and every call goes straight to it.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use agentq_domain::{JobId, ProjectId};
use futures_util::future::join_all;
use tokio::sync::mpsc;

use crate::control::CancelRequests;
use crate::{
    Cycle, EventId, Finished, LeaseStatus, LeaseToken, NewJob, Position, Queue, QueueConfig,
    QueueError, Redis, Result, StateCounts,
};

/// Redis Cluster's slot count.
const SLOTS: usize = 16_384;
/// The most partitions a queue may have: a job id's tag is one byte.
pub const MAX_PARTITIONS: u16 = 256;
/// How many partitions a lease looks at before choosing (the one in turn and two more).
const SAMPLE: usize = 3;
/// A worker keeps leasing from the partition it chose while that partition fills whole
/// batches, for at most this long, then looks around again: one look (a script call per
/// partition looked at) serves the leases of this while, which report their outcomes to one
/// partition, not to many; a better priority elsewhere waits at most this long; and short
/// turns keep the masters' shares even.
const STICK_FOR: Duration = Duration::from_millis(20);
/// The least time between two wake-ups of idle workers from one process.
const WAKE_SPACING: Duration = Duration::from_millis(1);

#[derive(Debug, Clone)]
pub struct Partitions {
    /// The queue's name (`AGENTQ_QUEUE`); partitions have names of their own.
    name: Arc<str>,
    parts: Arc<[Queue]>,
    /// Which partition a lease looks at first; it moves on with every lease, so that every
    /// partition is looked at in turn and none starves.
    turn: Arc<AtomicUsize>,
    /// Asks the task that wakes idle workers (started by the first wake-up) for one more.
    waker: Arc<OnceLock<mpsc::Sender<()>>>,
    /// The partition leases stick to, and until when ([`STICK_FOR`]).
    stick: Arc<Mutex<Option<(usize, Instant)>>>,
}

/// What one partition holds for a worker choosing where to lease.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peek {
    /// The best waiting priority (1 first .. 4), 0 when none waits.
    pub best_priority: u8,
    /// A retry is due or a lease expired: a cycle there has work even with nothing waiting.
    pub due: bool,
    /// How soon a retry falls due or a lease expires.
    pub wake: Option<Duration>,
    /// How many jobs wait there.
    pub waiting: u64,
}

impl Peek {
    /// Lower is better; `None` when there is nothing to do there. Overdue work (a retry due,
    /// an expired lease) comes first: only a cycle in its own partition moves it on.
    fn rank(&self) -> Option<u8> {
        match (self.best_priority, self.due) {
            (_, true) => Some(0),
            (0, false) => None,
            (priority, false) => Some(priority),
        }
    }
}

impl Partitions {
    /// `count` partitions of the queue `config` names, `1..=256`.
    pub fn new(redis: Redis, config: QueueConfig, count: u16) -> Self {
        let count = count.clamp(1, MAX_PARTITIONS);
        let name = Arc::from(config.name.as_str());
        let parts: Vec<Queue> = if count == 1 {
            vec![Queue::new(redis, config)]
        } else {
            (0..count)
                .map(|index| {
                    let name = partition_name(&config.name, index, count);
                    Queue::new(
                        redis.clone(),
                        QueueConfig {
                            name,
                            ..config.clone()
                        },
                    )
                    .one_enqueue_at_a_time()
                })
                .collect()
        };
        Self {
            name,
            parts: parts.into(),
            // a random start, so that workers do not all look at the same partitions together
            turn: Arc::new(AtomicUsize::new(RandomState::new().hash_one(0u8) as usize)),
            waker: Arc::default(),
            stick: Arc::default(),
        }
    }

    /// The queue's name (`AGENTQ_QUEUE`).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn count(&self) -> usize {
        self.parts.len()
    }

    pub fn all(&self) -> &[Queue] {
        &self.parts
    }

    /// The first partition, which also holds what is global to the queue.
    pub fn home(&self) -> &Queue {
        &self.parts[0]
    }

    pub fn config(&self) -> &QueueConfig {
        self.home().config()
    }

    pub fn redis(&self) -> &Redis {
        self.home().redis()
    }

    /// The partition that holds job `id`.
    pub fn of_job(&self, id: &JobId) -> &Queue {
        &self.parts[self.index_of(id)]
    }

    fn index_of(&self, id: &JobId) -> usize {
        usize::from(id.tag()) % self.parts.len()
    }

    /// The positions of `ids`, grouped by the partition each job is in.
    fn by_partition(&self, ids: impl Iterator<Item = JobId>) -> HashMap<usize, Vec<usize>> {
        let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
        for (at, id) in ids.enumerate() {
            groups.entry(self.index_of(&id)).or_default().push(at);
        }
        groups
    }

    /// A new job id for a job of `project`, naming the partition the job goes to.
    pub fn new_job_id(&self, project: Option<ProjectId>) -> JobId {
        let count = self.parts.len();
        if count == 1 {
            return JobId::new();
        }
        let partition = match project {
            Some(project) => {
                usize::try_from(project.get().unsigned_abs() % count as u64).unwrap_or_default()
            }
            // the last byte of a fresh id is random
            None => usize::from(JobId::new().tag()) % count,
        };
        JobId::tagged(u8::try_from(partition).unwrap_or_default())
    }

    /// Queues `job` in the partition its id names. Returns false if a job with its id exists.
    pub async fn enqueue(&self, job: &NewJob) -> Result<bool> {
        let added = self.of_job(&job.id).enqueue(job).await?;
        self.wake_idle_worker();
        Ok(added)
    }

    /// Queues `jobs`, each in the partition its id names (a batch per partition, sent
    /// together). Per job, in order: false if a job with its id exists.
    pub async fn enqueue_batch(&self, jobs: &[NewJob]) -> Result<Vec<bool>> {
        if self.parts.len() == 1 {
            return self.home().enqueue_batch(jobs).await;
        }
        let groups = self.by_partition(jobs.iter().map(|job| job.id));
        let calls = groups.iter().map(|(&partition, members)| {
            let batch: Vec<NewJob> = members.iter().map(|&at| jobs[at].clone()).collect();
            async move { (members, self.parts[partition].enqueue_batch(&batch).await) }
        });
        let mut added = vec![false; jobs.len()];
        for (members, result) in join_all(calls).await {
            for (&at, was_added) in members.iter().zip(result?) {
                added[at] = was_added;
            }
        }
        self.wake_idle_worker();
        Ok(added)
    }

    /// Queues a failed job again (see [`Queue::retry`]).
    pub async fn retry(&self, id: &JobId) -> Result<crate::RetryOutcome> {
        let outcome = self.of_job(id).retry(id).await?;
        self.wake_idle_worker();
        Ok(outcome)
    }

    /// With many partitions, idle workers block on the home partition's marker only (one
    /// blocking command cannot wait on keys of several slots), so work that arrives elsewhere
    /// wakes them there. A task of its own does it, after the work is in: wake-ups asked for
    /// while one is under way become one more, not one each. Best effort: an idle worker
    /// looks again within its idle poll anyway.
    fn wake_idle_worker(&self) {
        if self.parts.len() == 1 {
            return;
        }
        let waker = self.waker.get_or_init(|| {
            let (wake, mut asked) = mpsc::channel::<()>(1);
            // without the enqueue task: the waker must not keep it alive
            let home = self.home().without_enqueuer();
            tokio::spawn(async move {
                while asked.recv().await.is_some() {
                    if let Err(err) = home.wake().await {
                        tracing::debug!(error = %err, "could not wake an idle worker");
                    }
                    // at most one wake-up a millisecond: under load nobody is idle anyway
                    tokio::time::sleep(WAKE_SPACING).await;
                }
            });
            wake
        });
        // full: a wake-up is due already
        let _ = waker.try_send(());
    }

    /// Every partition's counts, added up.
    pub async fn counts(&self) -> Result<StateCounts> {
        let mut total = StateCounts::default();
        for counts in join_all(self.parts.iter().map(Queue::counts)).await {
            let counts = counts?;
            total.waiting += counts.waiting;
            total.delayed += counts.delayed;
            total.active += counts.active;
            total.completed += counts.completed;
            total.failed += counts.failed;
            total.cancelled += counts.cancelled;
            total.awaiting_approval += counts.awaiting_approval;
            total.blocked += counts.blocked;
        }
        Ok(total)
    }

    /// A counter of [`Queue::stat`], added up over the partitions.
    pub async fn stat(&self, name: &str) -> Result<u64> {
        let mut total = 0;
        for value in join_all(self.parts.iter().map(|part| part.stat(name))).await {
            total += value?;
        }
        Ok(total)
    }

    /// Records `finished` in their partitions and leases up to `fetch` jobs from the best
    /// partition there is (see [`Partitions::choose`]); the calls to different partitions go
    /// out together. Outcomes whose partition could not be reached come back in
    /// [`Cycle::unreported`]; only when no call went through is this an error.
    pub async fn cycle(&self, worker: &str, finished: &[Finished], fetch: usize) -> Result<Cycle> {
        if self.parts.len() == 1 {
            return self.home().cycle(worker, finished, fetch).await;
        }
        let mut groups = self.by_partition(finished.iter().map(|done| done.id));
        let stuck = self.stuck_to();
        let (wants, idle_wake) = match (fetch, stuck) {
            (0, _) => (HashMap::new(), None),
            (_, Some(partition)) => (HashMap::from([(partition, fetch)]), None),
            (_, None) => self.allocate(fetch).await?,
        };
        for partition in wants.keys() {
            groups.entry(*partition).or_default();
        }
        let calls = groups.iter().map(|(&partition, members)| {
            let outcomes: Vec<Finished> = members.iter().map(|&at| finished[at].clone()).collect();
            let want = wants.get(&partition).copied().unwrap_or(0);
            async move {
                let result = self.parts[partition].cycle(worker, &outcomes, want).await;
                (partition, result)
            }
        });
        let results = join_all(calls).await;

        let mut merged = Cycle {
            leased: Vec::new(),
            recorded: vec![false; finished.len()],
            next_wake: idle_wake,
            dropped: Vec::new(),
            unreported: Vec::new(),
        };
        let mut last_error = None;
        let mut reached = 0;
        for (partition, result) in results {
            let members = &groups[&partition];
            let want = wants.get(&partition).copied().unwrap_or(0);
            match result {
                Ok(part) => {
                    reached += 1;
                    if want > 0 {
                        self.stick_after(partition, part.leased.len() == fetch, stuck.is_some());
                    }
                    merged.leased.extend(part.leased);
                    for (&at, recorded) in members.iter().zip(part.recorded) {
                        merged.recorded[at] = recorded;
                    }
                    merged.next_wake = earliest(merged.next_wake, part.next_wake);
                    merged.dropped.extend(part.dropped);
                }
                Err(err) => {
                    tracing::warn!(partition, error = %err, "a partition is unreachable");
                    merged.unreported.extend(members.iter().copied());
                    last_error = Some(err);
                }
            }
        }
        if reached == 0
            && let Some(err) = last_error
        {
            return Err(err);
        }
        merged.unreported.sort_unstable();
        // a full batch may leave more waiting: another idle worker may take it
        if fetch > 0 && merged.leased.len() == fetch {
            self.wake_idle_worker();
        }
        Ok(merged)
    }

    /// The partition leases stick to now, if any.
    fn stuck_to(&self) -> Option<usize> {
        let mut stick = self.stick.lock().ok()?;
        match *stick {
            Some((partition, until)) if Instant::now() < until => Some(partition),
            _ => {
                *stick = None;
                None
            }
        }
    }

    /// After leasing from `partition`: a whole batch from it alone means more may wait there,
    /// so leases stick to it (from now, when it was newly chosen); less means it is drained
    /// for now.
    fn stick_after(&self, partition: usize, filled: bool, was_stuck: bool) {
        let Ok(mut stick) = self.stick.lock() else {
            return;
        };
        match (filled, was_stuck) {
            (true, false) => *stick = Some((partition, Instant::now() + STICK_FOR)),
            (true, true) => {}
            (false, _) => {
                if stick.is_some_and(|(stuck, _)| stuck == partition) {
                    *stick = None;
                }
            }
        }
    }

    /// How many jobs to lease from which partitions: from the best of the partition in turn
    /// and two more, looked at in one round trip (a script per partition, sent together), or,
    /// when those hold fewer jobs than `fetch`, of all. Best means holding the highest
    /// waiting priority (overdue retries and expired leases first: only a cycle in their own
    /// partition moves them on); a tie goes to the partition in turn, then to the next ones,
    /// so no partition starves. When nothing waits anywhere, also how soon something will (a
    /// retry falling due, a lease expiring).
    async fn allocate(&self, fetch: usize) -> Result<(HashMap<usize, usize>, Option<Duration>)> {
        let count = self.parts.len();
        let first = self.turn.fetch_add(1, Ordering::Relaxed) % count;
        // the one in turn and two more spread around the ring, then the rest
        let stride = (count / SAMPLE).max(1);
        let mut sample: Vec<usize> = (0..SAMPLE.min(count))
            .map(|k| (first + k * stride) % count)
            .collect();
        sample.dedup();
        let mut peeked = self.peek_all(&sample).await?;
        let waiting: u64 = peeked.iter().map(|(_, peek)| peek.waiting).sum();
        if waiting < fetch as u64 {
            let rest: Vec<usize> = (0..count).filter(|p| !sample.contains(p)).collect();
            peeked.extend(self.peek_all(&rest).await?);
        }
        // stable: among equals, the order above decides
        peeked.sort_by_key(|(_, peek)| peek.rank().unwrap_or(u8::MAX));
        let mut wants = HashMap::new();
        let mut left = fetch as u64;
        let mut wake = None;
        for (partition, peek) in peeked {
            wake = earliest(wake, peek.wake);
            if peek.rank().is_none() {
                continue;
            }
            // an overdue partition gets a cycle even with no slot left for it
            let take = left.min(peek.waiting.max(u64::from(peek.due)));
            left -= take;
            wants.insert(partition, usize::try_from(take).unwrap_or(0));
        }
        let wake = if wants.is_empty() { wake } else { None };
        Ok((wants, wake))
    }

    /// What each of `partitions` holds, asked together; a partition that cannot be reached
    /// is left out, unless none can.
    async fn peek_all(&self, partitions: &[usize]) -> Result<Vec<(usize, Peek)>> {
        let peeks = join_all(partitions.iter().map(|&p| self.parts[p].peek())).await;
        let mut reached = Vec::with_capacity(partitions.len());
        let mut last_error = None;
        for (&partition, peek) in partitions.iter().zip(peeks) {
            match peek {
                Ok(peek) => reached.push((partition, peek)),
                Err(err) => last_error = Some(err),
            }
        }
        match last_error {
            Some(err) if reached.is_empty() => Err(err),
            _ => Ok(reached),
        }
    }

    /// Renews leases in their partitions (the calls go out together).
    pub async fn extend(&self, leases: &[(JobId, LeaseToken)]) -> Result<Vec<LeaseStatus>> {
        if self.parts.len() == 1 {
            return self.home().extend(leases).await;
        }
        let groups = self.by_partition(leases.iter().map(|(id, _)| *id));
        let calls = groups.iter().map(|(&partition, members)| {
            let part: Vec<(JobId, LeaseToken)> = members.iter().map(|&at| leases[at]).collect();
            async move { (members, self.parts[partition].extend(&part).await) }
        });
        let mut statuses = vec![LeaseStatus::Renewed; leases.len()];
        for (members, result) in join_all(calls).await {
            for (&at, status) in members.iter().zip(result?) {
                statuses[at] = status;
            }
        }
        Ok(statuses)
    }

    /// Where every partition's events stream ends now.
    pub async fn newest_position(&self) -> Result<Position> {
        let mut ids = Vec::with_capacity(self.parts.len());
        for newest in join_all(self.parts.iter().map(Queue::last_event_id)).await {
            ids.push(
                newest?
                    .and_then(|id| EventId::parse(&id))
                    .unwrap_or(EventId::ZERO),
            );
        }
        Ok(Position::new(ids))
    }

    /// Cancel requests of every partition, on one subscription.
    pub async fn cancel_requests(&self) -> Result<CancelRequests> {
        if self.parts.len() == 1 {
            return self.home().cancel_requests().await;
        }
        let mut pubsub = self.redis().pubsub().await?;
        for part in self.parts.iter() {
            pubsub.subscribe(part.keys().control_channel()).await?;
        }
        Ok(CancelRequests::new(pubsub))
    }

    /// On a cluster, how many partitions each master holds now (by address), masters without
    /// any included; `None` on one node.
    pub async fn placement(&self) -> Result<Option<Vec<(String, usize)>>> {
        if !self.redis().is_cluster() {
            return Ok(None);
        }
        let ranges = self.redis().slot_ranges().await?;
        let mut per_master: HashMap<String, usize> = ranges
            .iter()
            .map(|(_, _, master)| (master.clone(), 0))
            .collect();
        for part in self.parts.iter() {
            let slot = slot_of(&part.config().name);
            let master = ranges
                .iter()
                .find(|(from, to, _)| (*from..=*to).contains(&slot))
                .map(|(_, _, master)| master.clone())
                .ok_or_else(|| QueueError::protocol(format!("no master serves slot {slot}")))?;
            *per_master.entry(master).or_default() += 1;
        }
        let mut placement: Vec<(String, usize)> = per_master.into_iter().collect();
        placement.sort();
        Ok(Some(placement))
    }

    /// Records the partition count in Redis if none is (the first binary to start), and
    /// refuses a different one: binaries that disagree would look for jobs where they are not
    /// (an id names its partition by the count it was made with). Only a disagreement is an
    /// error; a Redis that does not answer yet is told in a warning (the binaries start
    /// without Redis and connect when it is there).
    pub async fn check_count(&self) -> Result<()> {
        let key = crate::Keys::new(&self.name).partition_count();
        let count = self.parts.len();
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(&key)
            .arg(count)
            .arg("NX")
            .ignore()
            .get(&key);
        let recorded: std::result::Result<(Option<String>,), QueueError> = self
            .redis()
            .run(|mut conn| async move { Ok(pipe.query_async(&mut conn).await?) })
            .await;
        match recorded {
            Ok((Some(recorded),)) if recorded != count.to_string() => {
                Err(QueueError::Settings(format!(
                    "AGENTQ_PARTITIONS is {count} but queue {:?} has {recorded} partitions in \
                     Redis: set it to {recorded} (changing it needs an empty queue)",
                    self.name
                )))
            }
            Ok(_) => Ok(()),
            Err(err) => {
                tracing::warn!(error = %err, "cannot check the queue's partition count yet");
                Ok(())
            }
        }
    }

    /// Logs where the partitions are, and warns when the masters' shares are uneven (more
    /// than 10 % off an even share), which caps the throughput at the busiest master's.
    pub async fn check_placement(&self) {
        match self.placement().await {
            Ok(Some(placement)) => {
                let even = self.parts.len() as f64 / placement.len().max(1) as f64;
                let uneven = placement
                    .iter()
                    .any(|(_, held)| (*held as f64 - even).abs() > even * 0.1);
                let shares: Vec<String> = placement
                    .iter()
                    .map(|(master, held)| format!("{master}={held}"))
                    .collect();
                if uneven {
                    tracing::warn!(partitions = self.parts.len(), shares = %shares.join(" "), "the queue's partitions are spread unevenly over the cluster's masters: set AGENTQ_PARTITIONS to a multiple of the master count, or even out the slot ranges");
                } else {
                    tracing::info!(partitions = self.parts.len(), shares = %shares.join(" "), "partitions per master");
                }
            }
            Ok(None) => {}
            Err(err) => tracing::warn!(error = %err, "cannot read the cluster's slot map"),
        }
    }
}

/// A queue of one partition: the queue itself.
impl From<Queue> for Partitions {
    fn from(queue: Queue) -> Self {
        Self {
            name: Arc::from(queue.config().name.as_str()),
            parts: vec![queue].into(),
            turn: Arc::default(),
            waker: Arc::default(),
            stick: Arc::default(),
        }
    }
}

fn earliest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The Redis Cluster slot of a hash tag.
pub(crate) fn slot_of(tag: &str) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(tag.as_bytes()) % SLOTS as u16
}

/// Partition `index`'s name (its hash tag): the first of `<queue>#<index>`,
/// `<queue>#<index>.1`, `<queue>#<index>.2`, … whose slot lies in the index-th count-th of the
/// slot space. The same on every process, whatever the cluster looks like.
fn partition_name(queue: &str, index: u16, count: u16) -> String {
    let wanted = usize::from(index);
    (0..100_000u32)
        .map(|salt| match salt {
            0 => format!("{queue}#{index}"),
            salt => format!("{queue}#{index}.{salt}"),
        })
        .find(|name| usize::from(slot_of(name)) * usize::from(count) / SLOTS == wanted)
        // a range is at least 64 slots wide: some salt lands in it long before this
        .unwrap_or_else(|| format!("{queue}#{index}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_spread_evenly_over_the_slot_space() {
        let count = 12;
        for index in 0..count {
            let name = partition_name("agent-execution", index, count);
            assert!(
                name.starts_with(&format!("agent-execution#{index}")),
                "{name}"
            );
            let slot = usize::from(slot_of(&name));
            assert_eq!(
                slot * usize::from(count) / SLOTS,
                usize::from(index),
                "{name}"
            );
        }
    }

    #[test]
    fn the_slot_of_a_tag_is_redis_clusters() {
        // from the Redis Cluster specification's examples
        assert_eq!(slot_of("123456789"), 0x31C3 % SLOTS as u16);
        assert_eq!(slot_of("foo"), 12182);
    }

    #[test]
    fn a_jobs_partition_follows_its_project_and_is_read_back_from_its_id() {
        let redis = Redis::open("redis://127.0.0.1:6379").expect("url");
        let partitions = Partitions::new(redis, QueueConfig::named("q"), 4);
        let project = ProjectId::try_from(6).expect("id");
        let id = partitions.new_job_id(Some(project));
        assert_eq!(partitions.index_of(&id), 2);
        assert!(
            partitions
                .of_job(&id)
                .keys()
                .prefix()
                .starts_with("aq:{q#2")
        );
        let others: std::collections::BTreeSet<usize> = (0..200)
            .map(|_| partitions.index_of(&partitions.new_job_id(None)))
            .collect();
        assert_eq!(others.len(), 4, "jobs without a project go anywhere");
    }

    #[test]
    fn one_partition_is_the_queue_itself() {
        let redis = Redis::open("redis://127.0.0.1:6379").expect("url");
        let partitions = Partitions::new(redis, QueueConfig::named("q"), 1);
        assert_eq!(partitions.home().keys().prefix(), "aq:{q}:");
        assert_eq!(partitions.of_job(&JobId::new()).keys().prefix(), "aq:{q}:");
    }
}
