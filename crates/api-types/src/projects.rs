//! Projects, their members and tasks.

use garde::Validate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/projects` (admins only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectRequest {
    #[garde(length(chars, min = 1, max = 255))]
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
}

#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: i64,
    pub name: String,
    /// What the project's jobs may spend per UTC day, when it has a budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub cost_usd_per_day: Option<f64>,
    /// Its fair-share weight, when it is not 1: within a priority, the project runs this many
    /// jobs a round where a project of weight 1 runs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 2, maximum = 100)]
    pub weight: Option<u32>,
}

/// `PUT /api/projects/{id}/weight` (admins only): the project's fair-share weight, 1 to 100.
/// Within a priority, projects with queued jobs take turns; a project of weight w runs w jobs
/// a round where one of weight 1 runs one. It applies to jobs queued from then on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetWeightRequest {
    #[serde(deserialize_with = "crate::number::whole")]
    #[garde(range(min = 1, max = 100))]
    #[schema(minimum = 1, maximum = 100)]
    pub weight: u32,
}

/// `PUT /api/projects/{id}/budget` (admins only): what the project's jobs may spend per UTC
/// day, summed over the jobs it queued that day. Once spent, new submissions are refused
/// (429) and running jobs finish. `null` removes the budget; `0` stops all submissions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetBudgetRequest {
    #[garde(inner(range(min = 0.0, max = 1e9)))]
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub cost_usd_per_day: Option<f64>,
}

/// `GET /api/projects/{id}/usage`: what the jobs the project queued since the start of the
/// UTC day spent, and its budget.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectUsage {
    pub project_id: i64,
    /// The start of the UTC day summed over (ISO 8601).
    pub since: String,
    pub usage: agentq_domain::usage::UsageView,
    pub cost_usd_per_day: Option<f64>,
    /// What is left of the budget today (0 once spent); `null` without a budget.
    pub remaining_usd: Option<f64>,
}

/// `POST /api/projects/{id}/members` (admins only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddMemberRequest {
    #[serde(deserialize_with = "crate::number::whole")]
    #[garde(range(min = 1))]
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    pub user_id: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    pub project_id: i64,
    pub user_id: i64,
}

/// `POST /api/projects/{id}/tasks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskRequest {
    /// Unique within the project.
    #[garde(length(chars, min = 1, max = 50))]
    #[schema(min_length = 1, max_length = 50)]
    pub code: String,
    #[garde(length(chars, min = 1, max = 255))]
    #[schema(min_length = 1, max_length = 255)]
    pub title: String,
}

#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: i64,
    pub project_id: i64,
    pub code: String,
    pub title: String,
    pub status: String,
}
