//! Projects, their members and tasks.

use actix_web::web;
use agentq_api_types::accounts::User;
use agentq_api_types::projects::{
    AddMemberRequest, CreateProjectRequest, CreateTaskRequest, Membership, Project, ProjectUsage,
    SetBudgetRequest, SetWeightRequest, Task,
};
use agentq_api_types::{Answer, ErrorBody};
use agentq_domain::usage::{micros_to_usd, usd_to_micros};
use agentq_domain::{ProjectId, UserId};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{Admin, Created, Reply, Valid, created, ok};
use crate::routes::resource;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/projects", "GET, POST")
            .route(web::post().to(create_project))
            .route(web::get().to(list_projects)),
    )
    .service(
        resource("/api/projects/{id}/members", "GET, POST")
            .route(web::post().to(add_member))
            .route(web::get().to(list_members)),
    )
    .service(
        resource("/api/projects/{id}/tasks", "GET, POST")
            .route(web::post().to(create_task))
            .route(web::get().to(list_tasks)),
    )
    .service(resource("/api/projects/{id}/budget", "PUT").route(web::put().to(set_budget)))
    .service(resource("/api/projects/{id}/weight", "PUT").route(web::put().to(set_weight)))
    .service(resource("/api/projects/{id}/usage", "GET").route(web::get().to(project_usage)));
}

fn project_view(project: agentq_store::Project) -> Project {
    Project {
        id: project.id.get(),
        name: project.name,
        cost_usd_per_day: project.budget_micro_usd_per_day.map(micros_to_usd),
        weight: (project.weight != 1).then_some(project.weight),
    }
}

#[utoipa::path(
    post, path = "/api/projects", tag = "projects",
    request_body = CreateProjectRequest,
    responses(
        (status = 201, description = "Created", body = Answer<Project>),
        (status = 400, description = "Validation failed", body = ErrorBody),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
        (status = 403, description = "Admin access required", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create_project(
    _: Admin,
    Valid(body): Valid<CreateProjectRequest>,
    state: web::Data<AppState>,
) -> Created<Project> {
    let project = agentq_store::create_project(&state.db, &body.name).await?;
    created(Answer::new(project_view(project)))
}

#[utoipa::path(
    get, path = "/api/projects", tag = "projects",
    responses(
        (status = 200, description = "The projects the caller may see", body = Answer<Vec<Project>>),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list_projects(
    state: web::Data<AppState>,
    caller: Caller,
) -> Reply<Vec<Project>> {
    let projects = agentq_store::projects(&state.db, &caller.scope).await?;
    let data = projects.into_iter().map(project_view).collect();
    ok(Answer::new(data))
}

#[utoipa::path(
    put, path = "/api/projects/{id}/budget", tag = "projects",
    params(("id" = i64, Path, description = "The project")),
    request_body = SetBudgetRequest,
    responses(
        (status = 200, description = "The project with its new budget", body = Answer<Project>),
        (status = 400, description = "Validation failed", body = ErrorBody),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
        (status = 403, description = "Admin access required", body = ErrorBody),
        (status = 404, description = "Project not found", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn set_budget(
    Admin(caller): Admin,
    path: web::Path<String>,
    Valid(body): Valid<SetBudgetRequest>,
    state: web::Data<AppState>,
) -> Reply<Project> {
    let id = visible_project(&state, &caller, &path).await?;
    // garde bounds the amount, so it converts
    let budget = body.cost_usd_per_day.and_then(usd_to_micros);
    let updated = agentq_store::set_project_budget(&state.db, id, budget).await?;
    changed_project(&state, &caller, id, updated).await
}

/// The answer to a change of what submissions read of a project (its budget, its weight):
/// the project as it is now. Its cached read is dropped, so this gateway sees the change at
/// once and others within a second.
async fn changed_project(
    state: &AppState,
    caller: &Caller,
    id: ProjectId,
    updated: bool,
) -> Reply<Project> {
    let not_found = || ApiError::not_found("Project not found");
    if !updated {
        return Err(not_found());
    }
    state.budgets.forget(id);
    let project = agentq_store::project_by_id(&state.db, &caller.scope, id)
        .await?
        .ok_or_else(not_found)?;
    ok(Answer::new(project_view(project)))
}

#[utoipa::path(
    put, path = "/api/projects/{id}/weight", tag = "projects",
    params(("id" = i64, Path, description = "The project")),
    request_body = SetWeightRequest,
    responses(
        (status = 200, description = "The project with its new weight (shown when not 1)", body = Answer<Project>),
        (status = 400, description = "Validation failed", body = ErrorBody),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
        (status = 403, description = "Admin access required", body = ErrorBody),
        (status = 404, description = "Project not found", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn set_weight(
    Admin(caller): Admin,
    path: web::Path<String>,
    Valid(body): Valid<SetWeightRequest>,
    state: web::Data<AppState>,
) -> Reply<Project> {
    let id = visible_project(&state, &caller, &path).await?;
    let updated = agentq_store::set_project_weight(&state.db, id, body.weight).await?;
    changed_project(&state, &caller, id, updated).await
}

#[utoipa::path(
    get, path = "/api/projects/{id}/usage", tag = "projects",
    params(("id" = i64, Path, description = "The project")),
    responses(
        (status = 200, description = "What the jobs the project queued today (UTC) spent, and its budget", body = Answer<ProjectUsage>),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
        (status = 404, description = "Project not found (or not one of the caller's)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn project_usage(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Reply<ProjectUsage> {
    let not_found = || ApiError::not_found("Project not found");
    let id: ProjectId = path.parse().map_err(|_| not_found())?;
    let project = agentq_store::project_by_id(&state.db, &caller.scope, id)
        .await?
        .ok_or_else(not_found)?;
    let since = crate::budgets::start_of_utc_day();
    let spent = agentq_store::project_usage_since(&state.db, id, since).await?;
    let budget = project.budget_micro_usd_per_day;
    ok(Answer::new(ProjectUsage {
        project_id: id.get(),
        since: crate::time::iso(since),
        usage: spent.into(),
        cost_usd_per_day: budget.map(micros_to_usd),
        remaining_usd: budget.map(|b| micros_to_usd(b.saturating_sub(spent.cost_micro_usd))),
    }))
}

/// A project the caller may see, from the path; others are "not found".
async fn visible_project(
    state: &AppState,
    caller: &Caller,
    raw: &str,
) -> Result<ProjectId, ApiError> {
    let id: ProjectId = raw
        .parse()
        .map_err(|_| ApiError::not_found("Project not found"))?;
    agentq_store::project_by_id(&state.db, &caller.scope, id)
        .await?
        .map(|p| p.id)
        .ok_or_else(|| ApiError::not_found("Project not found"))
}

#[utoipa::path(
    post, path = "/api/projects/{id}/members", tag = "projects",
    params(("id" = i64, Path, description = "The project")),
    request_body = AddMemberRequest,
    responses(
        (status = 201, description = "Added", body = Answer<Membership>),
        (status = 400, description = "Validation failed", body = ErrorBody),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
        (status = 403, description = "Admin access required", body = ErrorBody),
        (status = 404, description = "Project or user not found", body = ErrorBody),
        (status = 409, description = "Already a member", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn add_member(
    Admin(caller): Admin,
    path: web::Path<String>,
    Valid(body): Valid<AddMemberRequest>,
    state: web::Data<AppState>,
) -> Created<Membership> {
    let project = visible_project(&state, &caller, &path).await?;
    let user = UserId::try_from(body.user_id).map_err(|_| ApiError::not_found("User not found"))?;
    agentq_store::user_by_id(&state.db, user)
        .await?
        .ok_or_else(|| ApiError::not_found("User not found"))?;
    agentq_store::add_member(&state.db, project, user).await?;
    created(Answer::new(Membership {
        project_id: project.get(),
        user_id: user.get(),
    }))
}

#[utoipa::path(
    get, path = "/api/projects/{id}/members", tag = "projects",
    params(("id" = i64, Path, description = "The project")),
    responses(
        (status = 200, description = "The project's members, by id (at most 1,000)", body = Answer<Vec<User>>),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
        (status = 403, description = "Admin access required", body = ErrorBody),
        (status = 404, description = "Project not found", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list_members(
    Admin(caller): Admin,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Reply<Vec<User>> {
    let project = visible_project(&state, &caller, &path).await?;
    let members = agentq_store::project_members(&state.db, project).await?;
    ok(Answer::new(
        members
            .into_iter()
            .map(crate::routes::accounts::user_view)
            .collect(),
    ))
}

#[utoipa::path(
    post, path = "/api/projects/{id}/tasks", tag = "projects",
    params(("id" = i64, Path, description = "The project")),
    request_body = CreateTaskRequest,
    responses(
        (status = 201, description = "Created", body = Answer<Task>),
        (status = 400, description = "Validation failed", body = ErrorBody),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
        (status = 404, description = "Not found (or not the caller's project)", body = ErrorBody),
        (status = 409, description = "The code is taken in this project", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create_task(
    caller: Caller,
    path: web::Path<String>,
    Valid(body): Valid<CreateTaskRequest>,
    state: web::Data<AppState>,
) -> Created<Task> {
    let project = visible_project(&state, &caller, &path).await?;
    let task = agentq_store::create_task(&state.db, project, &body.code, &body.title).await?;
    created(Answer::new(task_view(task)))
}

#[utoipa::path(
    get, path = "/api/projects/{id}/tasks", tag = "projects",
    params(("id" = i64, Path, description = "The project")),
    responses(
        (status = 200, description = "The project's tasks", body = Answer<Vec<Task>>),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
        (status = 404, description = "Not found (or not the caller's project)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list_tasks(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Reply<Vec<Task>> {
    let project = visible_project(&state, &caller, &path).await?;
    let tasks = agentq_store::tasks_of_project(&state.db, &caller.scope, project).await?;
    ok(Answer::new(tasks.into_iter().map(task_view).collect()))
}

fn task_view(task: agentq_store::Task) -> Task {
    Task {
        id: task.id.get(),
        project_id: task.project.get(),
        code: task.code,
        title: task.title,
        status: task.status,
    }
}
