//! The reconciler: SQL is the durable record, Redis schedules. Now and then (one worker at a
//! time, under a Redis lock) it walks the rows that are not finished and
//! - finishes those whose job Redis already finished (their events were lost), and
//! - re-enqueues those whose job is provably lost (the gateway died between its insert and its
//!   enqueue, Redis lost its data, a job's hash was evicted or deleted).
//!
//! "Provably": Redis has no trace of the job, *and* the recorder has applied every event up to
//! the newest one, and the row still says unfinished. A finished job's hash is trimmed after a
//! while, so a missing hash alone may just mean the recorder is behind (a long database outage,
//! say); re-enqueuing then would run a finished job again.
//!
//! Rows younger than the grace period are left alone: their enqueue may be on its way. Every
//! decision uses Redis's clock, never this worker's.

use std::collections::HashMap;
use std::time::Duration;

use agentq_domain::{JobId, JobState, ProjectId};
use agentq_queue::{EventId, NewJob, Partitions, Queue, QueueError, RecorderGroup};
use agentq_store::{Db, EventPosition, JobFilter, JobRecord, JobTransition, Scope};

use crate::recorder::{stored_result, write_change};
use tokio_util::sync::CancellationToken;

const LOCK_NAME: &str = "reconciler";
const PAGE: u64 = 200;

#[derive(Debug, Clone, Copy)]
pub struct ReconcileOptions {
    /// How often a pass runs.
    pub every: Duration,
    /// Rows updated more recently than this are skipped.
    pub grace: Duration,
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    pub requeued: u64,
    pub finished: u64,
}

pub async fn run_reconciler(
    queue: Partitions,
    db: Db,
    holder: String,
    options: ReconcileOptions,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(options.every) => {}
            () = shutdown.cancelled() => break,
        }
        match queue
            .home()
            .lock(LOCK_NAME, &holder, options.every * 2)
            .await
        {
            Ok(true) => match reconcile_once(&queue, &db, options.grace).await {
                Ok(done) if done != Reconciled::default() => {
                    tracing::warn!(
                        requeued = done.requeued,
                        finished = done.finished,
                        "reconciled SQL and Redis"
                    );
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "reconcile pass failed"),
            },
            Ok(false) => {}
            Err(err) => tracing::warn!(error = %err, "reconciler lock unavailable"),
        }
    }
    let _ = queue.home().unlock(LOCK_NAME, &holder).await;
}

/// One pass over every unfinished row. One pass serves every partition: each row is checked
/// in the partition its job id names (one scan of SQL, not one per partition).
pub async fn reconcile_once(
    queue: &Partitions,
    db: &Db,
    grace: Duration,
) -> anyhow::Result<Reconciled> {
    let filter = JobFilter {
        states: vec![
            JobState::Waiting,
            JobState::Delayed,
            JobState::Active,
            JobState::AwaitingApproval,
            JobState::Blocked,
        ],
        ..JobFilter::default()
    };
    let now_ms = queue.home().redis_time_ms().await?;
    let settled_before = millis_to_time(now_ms) - chrono_duration(grace);
    let mut done = Reconciled::default();
    let mut missing: Vec<JobId> = Vec::new();
    let mut cursor = None;
    loop {
        let page = agentq_store::list_jobs(db, &Scope::All, &filter, PAGE, cursor).await?;
        for row in page.jobs.iter().filter(|r| r.updated_at < settled_before) {
            match queue.of_job(&row.job_id).job(&row.job_id).await {
                Ok(None) => missing.push(row.job_id),
                // a hash with no readable state is no job either
                Err(QueueError::Protocol(_)) => missing.push(row.job_id),
                Ok(Some(live)) if live.state.is_final() => {
                    finish_row(db, row, &live, now_ms).await?;
                    done.finished += 1;
                }
                Ok(Some(_)) => {}
                Err(err) => return Err(err.into()),
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    done.requeued = requeue_lost(queue, db, &missing).await?;
    Ok(done)
}

/// Re-enqueues the jobs among `missing` (unfinished in SQL, unknown to Redis) that are still
/// unfinished once their partition's recorder has applied every event written there until
/// now. While it has not, nothing of that partition is re-enqueued: a later pass looks again.
async fn requeue_lost(queue: &Partitions, db: &Db, missing: &[JobId]) -> anyhow::Result<u64> {
    let mut requeued = 0;
    let mut caught_up: HashMap<String, bool> = HashMap::new();
    let mut weights: HashMap<ProjectId, u32> = HashMap::new();
    for id in missing {
        let partition = queue.of_job(id);
        let name = &partition.config().name;
        let ready = match caught_up.get(name) {
            Some(ready) => *ready,
            None => {
                let ready = recorder_caught_up(partition).await?;
                if !ready {
                    tracing::info!(partition = %name, "jobs unknown to Redis wait until the recorder has caught up");
                }
                caught_up.insert(name.clone(), ready);
                ready
            }
        };
        if !ready {
            continue;
        }
        let Some(row) = agentq_store::job_by_job_id(db, &Scope::All, id).await? else {
            continue;
        };
        if row.status.is_final() || partition.job(id).await.is_ok_and(|live| live.is_some()) {
            continue;
        }
        let mut job = with_dependencies(db, new_job(&row), &row).await?;
        job.weight = weight_of(db, &mut weights, row.project).await?;
        if queue.enqueue(&job).await? {
            tracing::warn!(job = %id, "re-enqueued a job Redis had lost");
            requeued += 1;
        }
    }
    Ok(requeued)
}

/// `project`'s fair-share weight (1 if it is gone), read once a pass.
async fn weight_of(
    db: &Db,
    known: &mut HashMap<ProjectId, u32>,
    project: ProjectId,
) -> anyhow::Result<u32> {
    if let Some(weight) = known.get(&project) {
        return Ok(*weight);
    }
    let weight = agentq_store::project_by_id(db, &Scope::All, project)
        .await?
        .map_or(1, |p| p.weight);
    known.insert(project, weight);
    Ok(weight)
}

/// Whether the recorder of `partition` has applied every event written there until now.
async fn recorder_caught_up(partition: &Queue) -> agentq_queue::Result<bool> {
    let newest = partition
        .last_event_id()
        .await?
        .and_then(|id| EventId::parse(&id))
        .unwrap_or(EventId::ZERO);
    partition
        .recorder_group(RecorderGroup::DEFAULT_NAME)
        .await?
        .caught_up_to(newest)
        .await
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero())
}

fn millis_to_time(ms: u64) -> chrono::NaiveDateTime {
    agentq_store::from_millis(i64::try_from(ms).unwrap_or(i64::MAX))
}

/// `job` with what it waits for (`context.dependencies`, resolved again from SQL: the latest
/// job of each task). When they cannot be resolved any more (a task deleted since, or a job
/// queued before dependencies were enforced, which named its own task), the job is re-created
/// without them: it passed the gateway's check once, and losing it would be worse.
async fn with_dependencies(db: &Db, mut job: NewJob, row: &JobRecord) -> anyhow::Result<NewJob> {
    let context = &row.job_data["context"];
    let named: Vec<i64> = context["dependencies"]
        .as_array()
        .map(|list| list.iter().filter_map(serde_json::Value::as_i64).collect())
        .unwrap_or_default();
    if named.is_empty() {
        return Ok(job);
    }
    match agentq_store::dependency_jobs(db, row.project, row.task, &named).await? {
        Ok(jobs) => {
            job.dependencies = jobs;
            job.run_if_a_dependency_fails = context["onDependencyFailure"] == "run";
        }
        Err(refusal) => {
            tracing::warn!(job = %row.job_id, %refusal, "a lost job's dependencies cannot be resolved; re-created without them");
        }
    }
    Ok(job)
}

fn new_job(row: &JobRecord) -> NewJob {
    let mut job = NewJob::new(row.job_data.to_string()).priority(row.priority);
    job.id = row.job_id;
    job.project = Some(row.project);
    job.task = Some(row.task);
    job.max_attempts = Some(row.max_attempts);
    // nobody decided yet: it is held again, never free to run
    job.held = row.status == JobState::AwaitingApproval;
    job
}

/// Writes what Redis knows of a finished job, as of `now_ms` (Redis time, later than any
/// event of it).
async fn finish_row(
    db: &Db,
    row: &JobRecord,
    live: &agentq_queue::JobSnapshot,
    now_ms: u64,
) -> anyhow::Result<()> {
    let at = |ms: Option<u64>| ms.map(millis_to_time);
    let change = JobTransition {
        status: Some(live.state),
        completed_at: at(live.finished_at),
        started_at: at(live.started_at),
        attempts_made: Some(live.attempts_made),
        result: live.result.as_deref().map(stored_result),
        last_error: live
            .error
            .as_deref()
            .map(agentq_domain::bounded::error_text),
        ..JobTransition::default()
    };
    let position = EventPosition {
        ms: i64::try_from(now_ms).unwrap_or(i64::MAX),
        seq: 0,
    };
    write_change(db, &row.job_id, position, change).await?;
    Ok(())
}
