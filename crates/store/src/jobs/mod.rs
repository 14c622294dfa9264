//! `agent_jobs`: the durable record of every job, and the seed's queries over it.

mod insert;
mod read;
mod record;
mod retention;
mod transition;

pub use insert::{insert_job, insert_jobs, insert_jobs_each};
pub use read::{
    JobFilter, JobPage, active_jobs, failed_jobs, job_by_job_id, jobs_by_agent, jobs_by_job_ids,
    jobs_by_project, jobs_by_task, list_jobs,
};
pub use record::{JobRecord, NewJobRecord};
pub use retention::cleanup_old_jobs;
pub use transition::{
    EventPosition, JobTransition, TransitionOutcome, apply_transition, apply_transitions,
};

use serde_json::Value;

use crate::{Result, StoreError};

/// The most rows one list query returns, whatever the caller asks for.
pub const MAX_PAGE: u64 = 500;
/// The largest job payload (`job_data`) or result the store accepts, serialized.
pub const MAX_JOB_DATA_BYTES: usize = 1024 * 1024;

/// Refuses a payload or result larger than [`MAX_JOB_DATA_BYTES`], before any statement.
pub(crate) fn size_check(what: &'static str, value: &Value) -> Result<()> {
    let size = serde_json::to_vec(value)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_JOB_DATA_BYTES {
        return Err(StoreError::TooLarge {
            what,
            size,
            limit: MAX_JOB_DATA_BYTES,
        });
    }
    Ok(())
}
