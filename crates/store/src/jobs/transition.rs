//! Applying the queue's events to job rows: in order, once, whatever the replay.

use agentq_domain::{JobId, JobState, ProjectId, TaskId, Usage};
use chrono::NaiveDateTime;
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, TransactionSession,
    TransactionTrait,
};
use serde_json::{Value, json};

use super::size_check;
use crate::activity::{ActivityEntry, log_activity};
use crate::entities::agent_jobs::{self, Column};
use crate::{Result, now};

/// The position of a queue event in the events stream (`<ms>-<seq>`). Later events have
/// larger positions; the store applies an event only if it is later than the last applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventPosition {
    pub ms: i64,
    pub seq: i64,
}

impl EventPosition {
    /// From a stream id such as `1764220000000-3`.
    pub fn parse(stream_id: &str) -> Option<Self> {
        let (ms, seq) = stream_id.split_once('-')?;
        Some(Self {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

/// What one queue event changes in a job row; `None` leaves a column as it is.
#[derive(Debug, Clone, Default)]
pub struct JobTransition {
    pub status: Option<JobState>,
    pub progress: Option<u8>,
    pub started_at: Option<NaiveDateTime>,
    pub completed_at: Option<NaiveDateTime>,
    pub attempts_made: Option<u32>,
    pub result: Option<Value>,
    pub last_error: Option<String>,
    pub error_stack: Option<String>,
    pub execution_time_ms: Option<i64>,
    /// The job's usage totals so far (not a delta: applying it twice changes nothing).
    pub usage: Option<Usage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionOutcome {
    Applied,
    /// This event or a later one was applied already: nothing changed.
    Stale,
    /// No such job row (yet).
    NotFound,
}

/// Applies many transitions in one transaction, in order: one commit for a batch of events.
/// All or nothing: on an error, none is applied.
pub async fn apply_transitions(
    db: &impl TransactionTrait,
    transitions: Vec<(JobId, EventPosition, JobTransition)>,
) -> Result<()> {
    let txn = db.begin().await?;
    for (job_id, position, change) in transitions {
        apply_transition(&txn, &job_id, position, change).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Applies `change` to the job if `position` is later than the last event applied to it.
/// Duplicate and out-of-order events change nothing, so replaying the stream is safe.
pub async fn apply_transition(
    db: &impl ConnectionTrait,
    job_id: &JobId,
    position: EventPosition,
    change: JobTransition,
) -> Result<TransitionOutcome> {
    if let Some(result) = &change.result {
        size_check("job result", result)?;
    }
    let mut update = agent_jobs::Entity::update_many()
        .col_expr(Column::LastEventMs, Expr::value(position.ms))
        .col_expr(Column::LastEventSeq, Expr::value(position.seq))
        .col_expr(Column::UpdatedAt, Expr::value(now()));
    if let Some(status) = change.status {
        update = update.col_expr(Column::Status, Expr::value(status.as_str()));
    }
    if let Some(progress) = change.progress {
        update = update.col_expr(Column::Progress, Expr::value(i16::from(progress.min(100))));
    }
    if let Some(at) = change.started_at {
        update = update.col_expr(Column::StartedAt, Expr::value(at));
    }
    if let Some(at) = change.completed_at {
        update = update.col_expr(Column::CompletedAt, Expr::value(at));
    }
    if let Some(made) = change.attempts_made {
        let made = i16::try_from(made).unwrap_or(i16::MAX);
        update = update.col_expr(Column::AttemptsMade, Expr::value(made));
    }
    if let Some(result) = change.result {
        update = update.col_expr(Column::JobResult, Expr::value(result));
    }
    // a failed attempt leaves a line in the job's activity (its timeline): only failures, so
    // the common path (started, completed) writes nothing more
    let failed_attempt = change.last_error.as_ref().map(|error| {
        json!({
            "attempt": change.attempts_made,
            "error": error,
            "final": change.status == Some(JobState::Failed),
        })
    });
    if let Some(error) = change.last_error {
        update = update.col_expr(Column::LastError, Expr::value(error));
    }
    if let Some(stack) = change.error_stack {
        update = update.col_expr(Column::ErrorStack, Expr::value(stack));
    }
    if let Some(ms) = change.execution_time_ms {
        update = update.col_expr(Column::ExecutionTimeMs, Expr::value(ms));
    }
    if let Some(usage) = change.usage {
        let column = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        update = update
            .col_expr(Column::InputTokens, Expr::value(column(usage.input_tokens)))
            .col_expr(
                Column::OutputTokens,
                Expr::value(column(usage.output_tokens)),
            )
            .col_expr(
                Column::CostMicroUsd,
                Expr::value(column(usage.cost_micro_usd)),
            );
    }
    let later = Condition::any()
        .add(Column::LastEventMs.lt(position.ms))
        .add(
            Condition::all()
                .add(Column::LastEventMs.eq(position.ms))
                .add(Column::LastEventSeq.lt(position.seq)),
        );
    let updated = update
        .filter(Column::JobId.eq(job_id.to_string()))
        .filter(later)
        .exec(db)
        .await?;
    if updated.rows_affected > 0 {
        if let Some(detail) = failed_attempt {
            log_failed_attempt(db, job_id, detail).await?;
        }
        return Ok(TransitionOutcome::Applied);
    }
    let exists = agent_jobs::Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::JobId.eq(job_id.to_string()))
        .into_tuple::<i64>()
        .one(db)
        .await?
        .is_some();
    Ok(if exists {
        TransitionOutcome::Stale
    } else {
        TransitionOutcome::NotFound
    })
}

/// The activity line of a failed attempt, under the job's project and task like the other
/// lines of its timeline (one more read, on failures only).
async fn log_failed_attempt(
    db: &impl ConnectionTrait,
    job_id: &JobId,
    detail: Value,
) -> Result<()> {
    let owner: Option<(i64, i64)> = agent_jobs::Entity::find()
        .select_only()
        .column(Column::ProjectId)
        .column(Column::TaskId)
        .filter(Column::JobId.eq(job_id.to_string()))
        .into_tuple()
        .one(db)
        .await?;
    let entry = ActivityEntry {
        action: "attempt_failed".into(),
        project: owner.and_then(|(project, _)| ProjectId::try_from(project).ok()),
        task: owner.and_then(|(_, task)| TaskId::try_from(task).ok()),
        job: Some(*job_id),
        detail: Some(detail),
        ..ActivityEntry::default()
    };
    log_activity(db, entry).await
}
