//! The seed's `getQueueMetrics` from SQL: counts by status, average execution time and success
//! rate over a time window.

use chrono::NaiveDateTime;
use sea_orm::sea_query::{Alias, Expr, Func};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect};

use agentq_domain::JobState;

use crate::entities::agent_jobs::{self, Column};
use crate::{Result, Scope};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobMetrics {
    pub waiting: u64,
    pub active: u64,
    pub delayed: u64,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
    /// Over completed jobs that recorded one; `None` when there are none.
    pub avg_execution_time_ms: Option<f64>,
    /// Completed / (completed + failed), as a percentage; `None` when neither happened.
    pub success_rate: Option<f64>,
}

/// Metrics over the jobs in `scope` created since `since`.
pub async fn metrics(
    db: &impl ConnectionTrait,
    scope: &Scope,
    since: NaiveDateTime,
) -> Result<JobMetrics> {
    let counts: Vec<(String, i64)> = agent_jobs::Entity::find()
        .select_only()
        .column(Column::Status)
        .column_as(Column::Id.count(), "n")
        .filter(scope.condition(Column::ProjectId))
        .filter(Column::CreatedAt.gte(since))
        .group_by(Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let mut out = JobMetrics::default();
    for (status, n) in counts {
        let n = u64::try_from(n).unwrap_or(0);
        match status.parse() {
            Ok(JobState::Waiting) => out.waiting = n,
            Ok(JobState::Active) => out.active = n,
            Ok(JobState::Delayed) => out.delayed = n,
            Ok(JobState::Completed) => out.completed = n,
            Ok(JobState::Failed) => out.failed = n,
            Ok(JobState::Cancelled) => out.cancelled = n,
            // not one of the seed's counts: jobs no worker may take yet
            Ok(JobState::AwaitingApproval | JobState::Blocked) => {}
            Err(_) => tracing::warn!(%status, "agent_jobs row with an unknown status"),
        }
    }
    // SUM of a BIGINT is NUMERIC on PostgreSQL and DECIMAL on MariaDB: cast it back to a
    // 64-bit integer (each backend names that type differently) and divide here, so that
    // every backend gives the same figure
    let integer = match db.get_database_backend() {
        DbBackend::MySql => "SIGNED",
        DbBackend::Postgres => "BIGINT",
        _ => "INTEGER",
    };
    let sum = Func::cast_as(
        Func::sum(Expr::col(Column::ExecutionTimeMs)),
        Alias::new(integer),
    );
    let timed: Option<(i64, Option<i64>)> = agent_jobs::Entity::find()
        .select_only()
        .column_as(Column::ExecutionTimeMs.count(), "n")
        .expr_as(sum, "total")
        .filter(scope.condition(Column::ProjectId))
        .filter(Column::CreatedAt.gte(since))
        .filter(Column::Status.eq(JobState::Completed.as_str()))
        .filter(Column::ExecutionTimeMs.is_not_null())
        .into_tuple()
        .one(db)
        .await?;
    if let Some((n, Some(total))) = timed
        && n > 0
    {
        out.avg_execution_time_ms = Some(total as f64 / n as f64);
    }
    let finished = out.completed + out.failed;
    if finished > 0 {
        out.success_rate = Some(out.completed as f64 * 100.0 / finished as f64);
    }
    Ok(out)
}
