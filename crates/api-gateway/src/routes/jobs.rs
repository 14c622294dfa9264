//! The seed's agent-execution routes, plus retry, list and logs.

use actix_web::{HttpRequest, web};
use agentq_api_types::jobs::{
    Cancelled, DEFAULT_PAGE_SIZE, Job, JobActivity, JobCancelled, JobDetails, JobLogs, JobPage,
    JobPayloadView, JobRequeued, ListJobsQuery, MAX_PAGE_SIZE, McpServerView, Queued, QueuedJob,
    Waiting,
};
use agentq_api_types::{Answer, ErrorBody, QueueJobRequest};
use agentq_domain::hosts::HostPolicy;
use agentq_domain::payload::{JobPayload, McpServer, SealedCredentials};
use agentq_domain::{JobId, JobRequest, JobState};
use agentq_queue::{CancelOutcome, NewJob, RetryOutcome};
use agentq_store::{JobFilter, JobRecord, NewJobRecord, Scope};
use serde_json::Value;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{Created, QueueBody, Reply, created, ok};
use crate::routes::resource;
use crate::state::AppState;
use crate::time::{iso, iso_ms};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/agent-execution/queue", "POST").route(web::post().to(queue_job)))
        .service(resource("/api/agent-execution/jobs", "GET").route(web::get().to(list_jobs)))
        .service(resource("/api/agent-execution/jobs/{id}", "GET").route(web::get().to(job_status)))
        .service(
            resource("/api/agent-execution/jobs/{id}/cancel", "POST")
                .route(web::post().to(cancel_job)),
        )
        .service(
            resource("/api/agent-execution/jobs/{id}/retry", "POST")
                .route(web::post().to(retry_job)),
        )
        .service(
            resource("/api/agent-execution/jobs/{id}/logs", "GET").route(web::get().to(job_logs)),
        )
        .service(
            resource("/api/agent-execution/jobs/{id}/details", "GET")
                .route(web::get().to(job_details)),
        );
}

/// The job named by the path, if it exists and the caller may see it; otherwise `not_found()`
/// (a malformed id, a missing job and another project's job all look the same).
pub(super) async fn visible_job(
    state: &AppState,
    scope: &Scope,
    raw_id: &str,
    not_found: fn() -> ApiError,
) -> Result<JobRecord, ApiError> {
    let id: JobId = raw_id.parse().map_err(|_| not_found())?;
    state.batched.job(scope, id).await?.ok_or_else(not_found)
}

pub(super) fn job_not_found() -> ApiError {
    ApiError::not_found("Job not found")
}

#[utoipa::path(
    post, path = "/api/agent-execution/queue", tag = "jobs",
    request_body = QueueJobRequest,
    params(
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "Names this submission (1 to 255 visible ASCII characters): the same key from the same caller within 24 h answers the first submission's job instead of queueing another, so a client may retry safely after a timeout."),
    ),
    responses(
        (status = 201, description = "Queued (or, for a repeated Idempotency-Key, the first submission's job)", body = Answer<QueuedJob>),
        (status = 400, description = "Validation failed (zod format in details), or a dependency that cannot be waited for: context.dependencies names the job's own task or a task with no job yet", body = ErrorBody),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
        (status = 403, description = "An MCP server's host is not one agents may reach (AGENTQ_AGENT_HOSTS)", body = ErrorBody),
        (status = 404, description = "Task not found (or not in the caller's projects; also for a task in context.dependencies that is not in the job's project) / Agent not found", body = ErrorBody),
        (status = 409, description = "A request with this Idempotency-Key is still being processed", body = ErrorBody),
        (status = 429, description = "Daily budget spent: the task's project spent its costUsdPerDay today (UTC); details say how much", body = ErrorBody),
        (status = 503, description = "Agent execution service not initialized (the queue is unreachable)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn queue_job(
    req: HttpRequest,
    caller: Caller,
    QueueBody(request): QueueBody,
    state: web::Data<AppState>,
) -> Created<QueuedJob> {
    let idempotency_key = idempotency_key(&req)?;
    check_mcp_hosts(&state.settings.agent_hosts, &request)?;
    let (task, agent) = state
        .batched
        .task_and_agent(&caller.scope, request.task_id, request.agent_id)
        .await?;
    let task = task.ok_or_else(|| ApiError::not_found("Task not found"))?;
    let agent = agent.ok_or_else(|| ApiError::not_found("Agent not found"))?;
    let dependencies = crate::dependencies::resolve(&state, &request, &task, &agent).await?;
    let priority = request.priority();
    // the id names the partition the job goes to (its project's)
    let job_id = state.queue.new_job_id(Some(task.project));
    if let Some(key) = &idempotency_key {
        let claimed = state
            .queue
            .home()
            .claim_idempotency_key(caller.user.id, key, job_id, IDEMPOTENCY_TTL)
            .await?;
        if let Some(first) = claimed {
            return repeated_answer(&state, &caller, first).await;
        }
    }
    let weight = match state.budgets.admit(task.project).await {
        Ok(weight) => weight,
        Err(refused) => {
            release_key(&state, &caller, idempotency_key.as_deref()).await;
            return Err(refused);
        }
    };
    let job_data = job_data(&state, &request, &task, caller.user.id)?;
    let inserted = state
        .batched
        .insert_job(NewJobRecord {
            job_id,
            queue_name: state.settings.core.queue.clone(),
            task: task.id,
            task_code: task.code.clone(),
            agent: agent.id,
            project: task.project,
            priority,
            max_attempts: state.settings.core.attempts,
            job_data: job_data.clone(),
            queued_by: Some(caller.user.id),
            held: agent.requires_approval,
        })
        .await;
    let queued_at = match inserted {
        Ok(at) => at,
        Err(err) => {
            release_key(&state, &caller, idempotency_key.as_deref()).await;
            return Err(err);
        }
    };
    let job = NewJob {
        id: job_id,
        priority,
        project: Some(task.project),
        task: Some(task.id),
        payload: job_data.to_string(),
        max_attempts: Some(state.settings.core.attempts),
        // the request's trace goes on with the job, to its events and its worker
        trace: agentq_telemetry::traceparent(&tracing::Span::current()),
        held: agent.requires_approval,
        dependencies: dependencies.jobs,
        run_if_a_dependency_fails: dependencies.run_if_one_fails,
        weight,
    };
    if let Err(err) = state.queue.enqueue(&job).await
        && !enqueued_after_all(&state, &job_id, &err).await
    {
        return Err(err.into());
    }
    queued(QueuedJob {
        job_id: job_id.to_string(),
        task_id: task.id.get(),
        task_code: task.code,
        agent_id: agent.id.get(),
        agent_name: agent.name,
        project_id: task.project.get(),
        status: if agent.requires_approval {
            Queued::AwaitingApproval
        } else {
            Queued::Queued
        },
        priority,
        queued_at: iso(queued_at),
    })
}

/// Each MCP server's URL against `AGENTQ_AGENT_HOSTS`: the agent will call it, so a member
/// must not point it at the services beside the workers. A 403 with zod-format details.
fn check_mcp_hosts(policy: &HostPolicy, request: &JobRequest) -> Result<(), ApiError> {
    use agentq_domain::validation::{Issue, PathSegment};
    let issues: Vec<Issue> = request
        .mcp_configs
        .iter()
        .enumerate()
        .filter_map(|(index, config)| {
            let refused = policy.check_host(&config.server_url).err()?;
            Some(Issue {
                path: vec![
                    PathSegment::Key("mcpConfigs".into()),
                    PathSegment::Index(index),
                    PathSegment::Key("serverUrl".into()),
                ],
                message: refused.to_string(),
            })
        })
        .collect();
    if issues.is_empty() {
        Ok(())
    } else {
        Err(ApiError::HostNotAllowed(
            agentq_domain::ValidationErrors::new(issues),
        ))
    }
}

/// Gives back the submission's `Idempotency-Key` when no job was made: the caller may try
/// again with the same key.
async fn release_key(state: &AppState, caller: &Caller, key: Option<&str>) {
    if let Some(key) = key {
        let _ = state
            .queue
            .home()
            .release_idempotency_key(caller.user.id, key)
            .await;
    }
}

/// How long an `Idempotency-Key` names its first submission.
const IDEMPOTENCY_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The request's `Idempotency-Key`: 1 to 255 visible ASCII characters, or a 400.
fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .filter(|key| (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()))
        .map(|key| Some(key.to_owned()))
        .ok_or_else(|| {
            ApiError::BadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters".into())
        })
}

/// The answer to a submission whose `Idempotency-Key` named `first` already: the first
/// submission's answer, built again from its row; 409 while that submission is still under
/// way (its row not yet written).
async fn repeated_answer(state: &AppState, caller: &Caller, first: JobId) -> Created<QueuedJob> {
    let Some(row) = state.batched.job(&caller.scope, first).await? else {
        return Err(ApiError::Conflict(
            "A request with this Idempotency-Key is still being processed".into(),
        ));
    };
    let agent = agentq_store::agent_by_id(&state.db, row.agent).await?;
    queued(QueuedJob {
        job_id: row.job_id.to_string(),
        task_id: row.task.get(),
        task_code: row.task_code,
        agent_id: row.agent.get(),
        agent_name: agent.map(|a| a.name).unwrap_or_default(),
        project_id: row.project.get(),
        status: Queued::Queued,
        priority: row.priority,
        queued_at: iso(row.queued_at),
    })
}

/// What `POST /queue` answers (the seed's body), also for a repeated `Idempotency-Key`.
fn queued(job: QueuedJob) -> Created<QueuedJob> {
    created(Answer::with_message(job, "Job queued successfully"))
}

/// After a failed enqueue: whether the job is queued after all. A refusal means it is not, and
/// its row is marked so; a lost reply (a timeout) means it may be, so Redis is asked; and when
/// Redis cannot say, the row is left waiting: the reconciler enqueues it once it is provably
/// missing, and never runs it twice.
async fn enqueued_after_all(
    state: &AppState,
    job_id: &JobId,
    err: &agentq_queue::QueueError,
) -> bool {
    if !err.may_have_run() {
        abandon(state, job_id).await;
        return false;
    }
    match state.queue.of_job(job_id).job(job_id).await {
        Ok(Some(_)) => true,
        Ok(None) => {
            abandon(state, job_id).await;
            false
        }
        Err(check) => {
            tracing::warn!(%job_id, error = %check, "enqueue outcome unknown; the reconciler settles it");
            false
        }
    }
}

/// What the worker gets: the request, with MCP credentials sealed.
fn job_data(
    state: &AppState,
    request: &JobRequest,
    task: &agentq_store::Task,
    user: agentq_domain::UserId,
) -> Result<Value, ApiError> {
    let failed =
        |e: &dyn std::fmt::Display| ApiError::internal("Failed to queue job", e.to_string());
    let mut mcp_configs = Vec::with_capacity(request.mcp_configs.len());
    for config in &request.mcp_configs {
        let sealed = match &config.auth_credentials {
            None => None,
            Some(credentials) => {
                let plain = serde_json::to_vec(credentials).map_err(|e| failed(&e))?;
                let sealed = state
                    .secrets
                    .seal(&plain)
                    .ok_or_else(|| failed(&"encryption failed"))?;
                Some(SealedCredentials(sealed))
            }
        };
        mcp_configs.push(McpServer {
            server_name: config.server_name.clone(),
            server_url: config.server_url.clone(),
            auth_type: config.auth_type,
            enabled: config.enabled,
            auth_credentials_sealed: sealed,
        });
    }
    let payload = JobPayload {
        task_id: request.task_id,
        task_code: task.code.clone(),
        agent_id: request.agent_id,
        project_id: task.project,
        user_id: Some(user),
        priority: Some(request.priority()),
        metadata: serde_json::to_value(&request.metadata).map_err(|e| failed(&e))?,
        context: serde_json::to_value(&request.context).map_err(|e| failed(&e))?,
        mcp_configs,
    };
    serde_json::to_value(&payload).map_err(|e| failed(&e))
}

/// A row whose enqueue failed ends cancelled, so it is neither shown as waiting forever nor
/// re-enqueued by the reconciler. Position (0, 1) is before any real queue event.
async fn abandon(state: &AppState, job_id: &JobId) {
    let change = agentq_store::JobTransition {
        status: Some(JobState::Cancelled),
        last_error: Some("the queue was unavailable when the job was submitted".into()),
        ..Default::default()
    };
    let position = agentq_store::EventPosition { ms: 0, seq: 1 };
    if let Err(err) = agentq_store::apply_transition(&state.db, job_id, position, change).await {
        tracing::error!(%job_id, error = %err, "could not mark an unqueued job");
    }
}

/// The job as clients see it: the SQL row, with the queue's live state where it has one.
fn job_view(record: JobRecord, live: Option<&agentq_queue::JobSnapshot>) -> Job {
    let started_at = live
        .and_then(|l| l.started_at)
        .and_then(iso_ms)
        .or(record.started_at.map(iso));
    let completed_at = live
        .and_then(|l| l.finished_at)
        .and_then(iso_ms)
        .or(record.completed_at.map(iso));
    let result = record.result.or_else(|| {
        live.and_then(|l| l.result.as_deref())
            .map(agentq_domain::event::result_value)
    });
    // until the recorder has written it, the queue's own timestamps tell the same
    let execution_time_ms = record.execution_time_ms.or_else(|| {
        let live = live?;
        let run = live.finished_at?.checked_sub(live.started_at?)?;
        i64::try_from(run).ok()
    });
    Job {
        job_id: record.job_id.to_string(),
        task_id: record.task.get(),
        task_code: record.task_code,
        agent_id: record.agent.get(),
        project_id: record.project.get(),
        queue_name: record.queue_name,
        status: live.map_or(record.status, |l| l.state),
        progress: live.map_or(record.progress, |l| l.progress.max(record.progress)),
        priority: record.priority,
        attempts_made: live.map_or(record.attempts_made, |l| {
            l.attempts_made.max(record.attempts_made)
        }),
        max_attempts: record.max_attempts,
        queued_at: iso(record.queued_at),
        started_at,
        completed_at,
        execution_time_ms,
        result,
        last_error: record
            .last_error
            .or_else(|| live.and_then(|l| l.error.clone())),
        // the queue's totals are ahead of the recorder's
        usage: live.and_then(|l| l.usage).or(record.usage).map(Into::into),
        created_at: iso(record.created_at),
        updated_at: iso(record.updated_at),
    }
}

#[utoipa::path(
    get, path = "/api/agent-execution/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job id (a UUID)")),
    responses(
        (status = 200, description = "The job", body = Answer<Job>),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
        (status = 404, description = "Job not found", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn job_status(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Reply<Job> {
    let record = visible_job(&state, &caller.scope, &path, job_not_found).await?;
    let live = state
        .queue
        .of_job(&record.job_id)
        .job(&record.job_id)
        .await?;
    ok(Answer::new(job_view(record, live.as_ref())))
}

/// Records who did what to a job. The action already happened in the queue, so a failure here
/// is logged rather than turned into an error for the caller.
async fn log_job_activity(state: &AppState, caller: &Caller, record: &JobRecord, action: &str) {
    log_job_activity_with(state, caller, record, action, None).await;
}

/// The job's activity entry for what `caller` did, with `detail` when there is more to say.
pub(super) async fn log_job_activity_with(
    state: &AppState,
    caller: &Caller,
    record: &JobRecord,
    action: &str,
    detail: Option<Value>,
) {
    let entry = agentq_store::ActivityEntry {
        user: Some(caller.user.id),
        action: action.into(),
        project: Some(record.project),
        task: Some(record.task),
        job: Some(record.job_id),
        detail,
    };
    super::record_activity(state, entry).await;
}

fn cannot_cancel() -> ApiError {
    ApiError::NotFound {
        message: "Job not found or cannot be cancelled",
        details: Some("Job may already be completed or does not exist"),
    }
}

#[utoipa::path(
    post, path = "/api/agent-execution/jobs/{id}/cancel", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "Cancelled; a running agent is stopped", body = Answer<JobCancelled>),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
        (status = 404, description = "Job not found or cannot be cancelled", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn cancel_job(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Reply<JobCancelled> {
    let record = visible_job(&state, &caller.scope, &path, cannot_cancel).await?;
    let id = record.job_id;
    match state.queue.of_job(&id).cancel(&id).await? {
        CancelOutcome::Cancelled | CancelOutcome::Requested => {}
        CancelOutcome::Finished | CancelOutcome::NotFound => return Err(cannot_cancel()),
    }
    log_job_activity(&state, &caller, &record, "job_cancelled").await;
    let cancelled = JobCancelled {
        job_id: id.to_string(),
        status: Cancelled::Cancelled,
        cancelled_at: iso(agentq_store::now()),
    };
    ok(Answer::with_message(
        cancelled,
        "Job cancelled successfully",
    ))
}

#[utoipa::path(
    post, path = "/api/agent-execution/jobs/{id}/retry", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "A failed job, queued again", body = Answer<JobRequeued>),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
        (status = 404, description = "Job not found", body = ErrorBody),
        (status = 409, description = "Only failed jobs can be retried", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn retry_job(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Reply<JobRequeued> {
    let record = visible_job(&state, &caller.scope, &path, job_not_found).await?;
    let id = record.job_id;
    match state.queue.retry(&id).await? {
        RetryOutcome::Queued => {}
        RetryOutcome::NotFailed => {
            return Err(ApiError::Conflict("Only failed jobs can be retried".into()));
        }
        RetryOutcome::NotFound => return Err(job_not_found()),
    }
    log_job_activity(&state, &caller, &record, "job_retried").await;
    let requeued = JobRequeued {
        job_id: id.to_string(),
        status: Waiting::Waiting,
    };
    ok(Answer::with_message(requeued, "Job queued for retry"))
}

#[utoipa::path(
    get, path = "/api/agent-execution/jobs", tag = "jobs",
    params(ListJobsQuery),
    responses(
        (status = 200, description = "Newest first, in the caller's projects", body = JobPage),
        (status = 400, description = "A filter that does not parse", body = ErrorBody),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list_jobs(
    caller: Caller,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<web::Json<JobPage>, ApiError> {
    let query = web::Query::<ListJobsQuery>::from_query(req.query_string())
        .map_err(|e| ApiError::BadRequest(e.to_string()))?
        .into_inner();
    let states = match &query.state {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|s| {
                s.parse::<JobState>()
                    .map_err(|_| ApiError::BadRequest(format!("invalid state: {s:?}")))
            })
            .collect::<Result<_, _>>()?,
    };
    let filter = JobFilter {
        states,
        agent: positive("agentId", query.agent_id)?,
        task: positive("taskId", query.task_id)?,
        project: positive("projectId", query.project_id)?,
    };
    let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1 to {MAX_PAGE_SIZE}"
        )));
    }
    let cursor = query
        .cursor
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ApiError::BadRequest(format!("invalid cursor: {c:?}")))
        })
        .transpose()?;
    let page = agentq_store::list_jobs(&state.db, &caller.scope, &filter, u64::from(limit), cursor)
        .await?;
    Ok(web::Json(JobPage {
        success: true,
        data: page.jobs.into_iter().map(|j| job_view(j, None)).collect(),
        next_cursor: page.next_cursor.map(|c| c.to_string()),
    }))
}

#[utoipa::path(
    get, path = "/api/agent-execution/jobs/{id}/logs", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "The agent's output", body = Answer<JobLogs>),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
        (status = 404, description = "Job not found", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn job_logs(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Reply<JobLogs> {
    let id = visible_job(&state, &caller.scope, &path, job_not_found)
        .await?
        .job_id;
    let lines = state.queue.of_job(&id).logs(&id).await?;
    ok(Answer::new(JobLogs {
        job_id: id.to_string(),
        lines,
    }))
}

#[utoipa::path(
    get, path = "/api/agent-execution/jobs/{id}/details", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "What the job was queued with (credentials never) and its timeline", body = Answer<JobDetails>),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
        (status = 404, description = "Job not found", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn job_details(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Reply<JobDetails> {
    let record = visible_job(&state, &caller.scope, &path, job_not_found).await?;
    let payload: JobPayload = serde_json::from_value(record.job_data)
        .map_err(|e| ApiError::internal("Failed to read the job", e.to_string()))?;
    let activity = agentq_store::job_activity(&state.db, &record.job_id).await?;
    ok(Answer::new(JobDetails {
        job_id: record.job_id.to_string(),
        payload: JobPayloadView {
            metadata: payload.metadata,
            context: payload.context,
            mcp_configs: payload
                .mcp_configs
                .into_iter()
                .map(|server| McpServerView {
                    server_name: server.server_name,
                    server_url: server.server_url,
                    auth_type: server.auth_type,
                    enabled: server.enabled,
                    has_credentials: server.auth_credentials_sealed.is_some(),
                })
                .collect(),
        },
        activity: activity
            .into_iter()
            .map(|entry| JobActivity {
                at: iso(entry.at),
                action: entry.action,
                user_id: entry.user.map(|u| u.get()),
                detail: entry.detail,
            })
            .collect(),
    }))
}

/// An id filter of `GET /jobs`: a positive integer, or a 400 naming the parameter.
fn positive<T: TryFrom<i64>>(name: &str, value: Option<i64>) -> Result<Option<T>, ApiError> {
    value
        .map(|v| T::try_from(v).map_err(|_| ApiError::BadRequest(format!("invalid {name}: {v}"))))
        .transpose()
}
