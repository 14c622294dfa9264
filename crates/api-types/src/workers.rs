//! `GET /api/agent-execution/workers`: the seed's worker and queue overview, plus the live
//! workers' heartbeats.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::JobState;

/// `workers.status`: always `active` (the seed's field).
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WorkersActive {
    Active,
}

#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkerConfig {
    pub concurrency: u32,
    /// Milliseconds.
    pub lock_duration: u64,
    pub queue_name: String,
    pub status: WorkersActive,
}

#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueCounts {
    pub waiting: u64,
    pub active: u64,
    pub completed: u64,
    pub failed: u64,
    pub delayed: u64,
    pub cancelled: u64,
    pub avg_execution_time_ms: f64,
    pub success_rate: f64,
}

#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActiveJob {
    pub job_id: String,
    pub task_id: i64,
    pub task_code: String,
    pub agent_id: i64,
    pub state: JobState,
    pub progress: u8,
    #[schema(format = DateTime)]
    pub started_at: Option<String>,
}

/// A worker process, from its heartbeat.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveWorker {
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub version: String,
    pub concurrency: u32,
    pub running: u32,
    #[schema(format = DateTime)]
    pub started_at: Option<String>,
    #[schema(format = DateTime)]
    pub last_heartbeat_at: Option<String>,
}

#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkerStatus {
    pub workers: WorkerConfig,
    pub queue: QueueCounts,
    pub active_jobs: Vec<ActiveJob>,
    pub live_workers: Vec<LiveWorker>,
    #[schema(format = DateTime)]
    pub timestamp: String,
}
