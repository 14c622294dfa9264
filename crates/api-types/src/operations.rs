//! Probes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `/healthz`'s `status`: always `ok`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Up {
    Ok,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: Up,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReadyState {
    Ready,
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReadinessChecks {
    pub redis: bool,
    pub database: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    pub status: ReadyState,
    pub checks: ReadinessChecks,
}

impl Readiness {
    pub fn of(checks: ReadinessChecks) -> Self {
        let status = if checks.redis && checks.database {
            ReadyState::Ready
        } else {
            ReadyState::Unavailable
        };
        Self { status, checks }
    }
}
