//! `GET /api/agent-execution/stats`: what the dashboard's overview draws.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::JobState;

/// How many of the caller's jobs are in a state, per queue.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StateCount {
    pub queue_name: String,
    pub state: JobState,
    pub count: u64,
}

/// Jobs that ended in one minute.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MinuteStat {
    /// The minute's start.
    #[schema(format = DateTime)]
    pub minute: String,
    pub completed: u64,
    pub failed: u64,
}

#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobStats {
    /// Every (queue, state) with at least one job the caller may see.
    pub counts: Vec<StateCount>,
    /// The last 60 minutes, oldest first, the current minute last; every minute is there.
    pub minutes: Vec<MinuteStat>,
}
