//! Recording new jobs: one row and its activity entry per job, alone or in batches.

use agentq_domain::JobState;
use chrono::NaiveDateTime;
use sea_orm::{ActiveModelTrait, EntityTrait, Set, TransactionSession, TransactionTrait};

use super::{JobRecord, NewJobRecord, size_check};
use crate::activity::{ActivityEntry, log_activities, log_activity};
use crate::entities::agent_jobs::{self};
use crate::shapes::power_of_two_chunks;
use crate::{Result, StoreError, now};

/// Inserts the job row (status `waiting`, or `awaiting_approval` when held) and its `job_queued` activity entry, in one
/// transaction: both or neither.
pub async fn insert_job(db: &impl TransactionTrait, new: NewJobRecord) -> Result<JobRecord> {
    size_check("job data", &new.job_data)?;
    let txn = db.begin().await?;
    let at = now();
    let row = new_row(&new, at)
        .insert(&txn)
        .await
        .map_err(|e| StoreError::from(e).naming("task, agent or project of the job"))?;
    log_activity(&txn, queued_entry(&new)).await?;
    txn.commit().await?;
    row.try_into()
}

/// Inserts many job rows (status `waiting`) with their `job_queued` activity entries in one
/// transaction, one statement per table and power-of-two chunk (see `shapes.rs`): what
/// concurrent submissions cost the database once rather than each. All or nothing; returns
/// the rows' `queued_at`. [`insert_jobs_each`] is the form that keeps one bad row from failing
/// the others.
pub async fn insert_jobs(
    db: &impl TransactionTrait,
    jobs: &[NewJobRecord],
) -> Result<NaiveDateTime> {
    let at = now();
    if jobs.is_empty() {
        return Ok(at);
    }
    for job in jobs {
        size_check("job data", &job.job_data)?;
    }
    let txn = db.begin().await?;
    for chunk in power_of_two_chunks(jobs.len()) {
        agent_jobs::Entity::insert_many(jobs[chunk].iter().map(|new| new_row(new, at)))
            .exec_without_returning(&txn)
            .await
            .map_err(|e| StoreError::from(e).naming("task, agent or project of the job"))?;
    }
    log_activities(&txn, jobs.iter().map(queued_entry), at).await?;
    txn.commit().await?;
    Ok(at)
}

/// The row of a job just queued at `at`.
fn new_row(new: &NewJobRecord, at: NaiveDateTime) -> agent_jobs::ActiveModel {
    agent_jobs::ActiveModel {
        job_id: Set(new.job_id.to_string()),
        queue_name: Set(new.queue_name.clone()),
        task_id: Set(new.task.get()),
        task_code: Set(new.task_code.clone()),
        agent_id: Set(new.agent.get()),
        project_id: Set(new.project.get()),
        status: Set(if new.held {
            JobState::AwaitingApproval
        } else {
            JobState::Waiting
        }
        .as_str()
        .to_owned()),
        progress: Set(0),
        job_data: Set(new.job_data.clone()),
        job_result: Set(None),
        priority: Set(i16::from(new.priority.queue_value())),
        queued_at: Set(at),
        attempts_made: Set(0),
        max_attempts: Set(i16::try_from(new.max_attempts).unwrap_or(i16::MAX)),
        last_event_ms: Set(0),
        last_event_seq: Set(0),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
}

/// The `job_queued` activity entry of a job.
fn queued_entry(new: &NewJobRecord) -> ActivityEntry {
    ActivityEntry {
        user: new.queued_by,
        action: "job_queued".into(),
        project: Some(new.project),
        task: Some(new.task),
        job: Some(new.job_id),
        detail: Some(serde_json::json!({"agentId": new.agent.get()})),
    }
}

/// [`insert_jobs`] for rows from unrelated callers: all together when that works, else each
/// on its own, so that a row refused (say, its task deleted meanwhile) fails alone. One
/// result per row, in order.
pub async fn insert_jobs_each(
    db: &impl TransactionTrait,
    jobs: &[NewJobRecord],
) -> Vec<Result<NaiveDateTime>> {
    match insert_jobs(db, jobs).await {
        Ok(at) => jobs.iter().map(|_| Ok(at)).collect(),
        Err(err) if jobs.len() == 1 => vec![Err(err)],
        Err(_) => {
            let mut results = Vec::with_capacity(jobs.len());
            for job in jobs {
                results.push(insert_jobs(db, std::slice::from_ref(job)).await);
            }
            results
        }
    }
}
