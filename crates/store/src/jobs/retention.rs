//! Deleting finished jobs past their retention.

use agentq_domain::JobState;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::entities::agent_jobs::{self, Column};
use crate::{Result, now};

/// The seed's `cleanupOldJobs`: deletes finished jobs created more than `older_than_days`
/// ago, `batch` rows per statement so that no statement holds locks for long. Returns how
/// many were deleted.
pub async fn cleanup_old_jobs(
    db: &impl ConnectionTrait,
    older_than_days: u32,
    batch: u64,
) -> Result<u64> {
    let cutoff = now() - chrono::Duration::days(i64::from(older_than_days));
    let finished = [JobState::Completed, JobState::Failed, JobState::Cancelled];
    let mut deleted = 0;
    loop {
        let ids: Vec<i64> = agent_jobs::Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(Column::CreatedAt.lt(cutoff))
            .filter(Column::Status.is_in(finished.iter().map(|s| s.as_str())))
            .order_by_asc(Column::Id)
            .limit(batch.max(1))
            .into_tuple()
            .all(db)
            .await?;
        if ids.is_empty() {
            return Ok(deleted);
        }
        let result = agent_jobs::Entity::delete_many()
            .filter(Column::Id.is_in(ids.iter().copied()))
            .exec(db)
            .await?;
        deleted += result.rows_affected;
        if (ids.len() as u64) < batch.max(1) {
            return Ok(deleted);
        }
    }
}
