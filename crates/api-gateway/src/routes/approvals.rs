//! A project member's decision on a job that awaits one: held before its run (its agent
//! requires approval), or running with a question its agent asked. Approving a held job lets it
//! run, rejecting it cancels it; a running agent gets the answer (and the comment) on stdin.

use actix_web::web;
use agentq_api_types::jobs::{DecisionRequest, JobDecision};
use agentq_api_types::{Answer, ErrorBody};
use agentq_domain::JobState;
use agentq_queue::{DecideOutcome, Decision};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{Reply, Valid, ok};
use crate::routes::jobs::{job_not_found, log_job_activity_with, visible_job};
use crate::routes::resource;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/agent-execution/jobs/{id}/approve", "POST")
            .route(web::post().to(approve_job)),
    )
    .service(
        resource("/api/agent-execution/jobs/{id}/reject", "POST").route(web::post().to(reject_job)),
    );
}

#[utoipa::path(
    post, path = "/api/agent-execution/jobs/{id}/approve", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    request_body = DecisionRequest,
    responses(
        (status = 200, description = "Approved: a held job now waits to run; a running agent gets the answer", body = Answer<JobDecision>),
        (status = 400, description = "Validation failed", body = ErrorBody),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
        (status = 404, description = "Job not found (or not in the caller's projects)", body = ErrorBody),
        (status = 409, description = "The job awaits no approval", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn approve_job(
    caller: Caller,
    path: web::Path<String>,
    Valid(body): Valid<DecisionRequest>,
    state: web::Data<AppState>,
) -> Reply<JobDecision> {
    decide(&state, &caller, &path, Decision::Approved, body).await
}

#[utoipa::path(
    post, path = "/api/agent-execution/jobs/{id}/reject", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    request_body = DecisionRequest,
    responses(
        (status = 200, description = "Rejected: a held job is cancelled; a running agent gets the answer", body = Answer<JobDecision>),
        (status = 400, description = "Validation failed", body = ErrorBody),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
        (status = 404, description = "Job not found (or not in the caller's projects)", body = ErrorBody),
        (status = 409, description = "The job awaits no approval", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn reject_job(
    caller: Caller,
    path: web::Path<String>,
    Valid(body): Valid<DecisionRequest>,
    state: web::Data<AppState>,
) -> Reply<JobDecision> {
    decide(&state, &caller, &path, Decision::Rejected, body).await
}

async fn decide(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
    decision: Decision,
    body: DecisionRequest,
) -> Reply<JobDecision> {
    let record = visible_job(state, &caller.scope, raw_id, job_not_found).await?;
    let id = record.job_id;
    let comment = body.comment.unwrap_or_default();
    let status = match state
        .queue
        .of_job(&id)
        .decide(&id, decision, &comment)
        .await?
    {
        DecideOutcome::Decided if decision == Decision::Approved => JobState::Waiting,
        DecideOutcome::Decided => JobState::Cancelled,
        DecideOutcome::Answered => JobState::Active,
        DecideOutcome::NotAwaiting | DecideOutcome::NotFound => {
            return Err(ApiError::Conflict("Job is not awaiting approval".into()));
        }
    };
    let (action, word) = match decision {
        Decision::Approved => ("job_approved", "approved"),
        Decision::Rejected => ("job_rejected", "rejected"),
    };
    let detail = serde_json::json!({
        "comment": comment,
        "duringRun": status == JobState::Active,
    });
    log_job_activity_with(state, caller, &record, action, Some(detail)).await;
    ok(Answer::new(JobDecision {
        job_id: id.to_string(),
        decision: word.into(),
        status,
    }))
}
