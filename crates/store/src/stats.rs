//! What the dashboard's overview draws: jobs per queue and state, and jobs finished per
//! minute over a recent window.

use chrono::NaiveDateTime;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect};

use agentq_domain::JobState;

use crate::entities::agent_jobs::{self, Column};
use crate::{Result, Scope};

/// How many jobs of a queue are in a state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateCount {
    pub queue_name: String,
    pub state: JobState,
    pub count: u64,
}

/// Jobs that ended in `state` (completed or failed) during the minute starting at `minute`
/// (minutes since the Unix epoch, UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinuteCount {
    pub minute: i64,
    pub state: JobState,
    pub count: u64,
}

/// Jobs in `scope` per queue and state, all of them.
pub async fn state_counts(db: &impl ConnectionTrait, scope: &Scope) -> Result<Vec<StateCount>> {
    let rows: Vec<(String, String, i64)> = agent_jobs::Entity::find()
        .select_only()
        .column(Column::QueueName)
        .column(Column::Status)
        .column_as(Column::Id.count(), "n")
        .filter(scope.condition(Column::ProjectId))
        .group_by(Column::QueueName)
        .group_by(Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(queue_name, status, n)| {
            Some(StateCount {
                queue_name,
                state: status.parse().ok()?,
                count: u64::try_from(n).unwrap_or(0),
            })
        })
        .collect())
}

/// Completed and failed jobs in `scope` per minute of their end, since `since`; minutes
/// without any are left out.
pub async fn finished_per_minute(
    db: &impl ConnectionTrait,
    scope: &Scope,
    since: NaiveDateTime,
) -> Result<Vec<MinuteCount>> {
    // each backend spells "minutes since the epoch" of a UTC DATETIME its own way; none of
    // these depends on the session's time zone
    let minute = match db.get_database_backend() {
        DbBackend::MySql => "TIMESTAMPDIFF(MINUTE, '1970-01-01 00:00:00', completed_at)",
        DbBackend::Postgres => "CAST(FLOOR(EXTRACT(EPOCH FROM completed_at) / 60) AS BIGINT)",
        _ => "CAST(strftime('%s', completed_at) AS INTEGER) / 60",
    };
    let rows: Vec<(i64, String, i64)> = agent_jobs::Entity::find()
        .select_only()
        .expr_as(Expr::cust(minute), "minute")
        .column(Column::Status)
        .column_as(Column::Id.count(), "n")
        .filter(scope.condition(Column::ProjectId))
        .filter(Column::CompletedAt.gte(since))
        .filter(Column::Status.is_in([JobState::Completed.as_str(), JobState::Failed.as_str()]))
        .group_by(Expr::cust(minute))
        .group_by(Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(minute, status, n)| {
            Some(MinuteCount {
                minute,
                state: status.parse().ok()?,
                count: u64::try_from(n).unwrap_or(0),
            })
        })
        .collect())
}
