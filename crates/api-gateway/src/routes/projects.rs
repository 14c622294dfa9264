//! Projects, their members and tasks.

use actix_web::{HttpRequest, HttpResponse, web};
use agentq_domain::{ProjectId, UserId};
use garde::Validate;
use serde::Deserialize;
use serde_json::json;

use crate::auth::Caller;
use crate::body::{check, json_body};
use crate::error::ApiError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/projects", web::post().to(create_project))
        .route("/api/projects", web::get().to(list_projects))
        .route("/api/projects/{id}/members", web::post().to(add_member))
        .route("/api/projects/{id}/tasks", web::post().to(create_task))
        .route("/api/projects/{id}/tasks", web::get().to(list_tasks));
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
struct CreateProject {
    #[garde(length(min = 1, max = 255))]
    name: String,
}

#[utoipa::path(
    post, path = "/api/projects", tag = "projects",
    request_body = crate::openapi::CreateProjectRequest,
    responses(
        (status = 201, description = "Created", body = crate::openapi::ProjectAnswer),
        (status = 400, description = "Validation failed", body = crate::openapi::ErrorBody),
        (status = 401, description = "No, a bad or an expired token", body = crate::openapi::ErrorBody),
        (status = 403, description = "Admin access required", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create_project(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let body: CreateProject = json_body(&req, payload, &state).await?;
    check(&body)?;
    let project = agentq_store::create_project(&state.db, &body.name).await?;
    Ok(HttpResponse::Created().json(json!({
        "success": true,
        "data": {"id": project.id.get(), "name": project.name}
    })))
}

#[utoipa::path(
    get, path = "/api/projects", tag = "projects",
    responses(
        (status = 200, description = "The projects the caller may see", body = crate::openapi::ProjectList),
        (status = 401, description = "No, a bad or an expired token", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list_projects(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let projects = agentq_store::projects(&state.db, &caller.scope).await?;
    let data: Vec<_> = projects
        .iter()
        .map(|p| json!({"id": p.id.get(), "name": p.name}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"success": true, "data": data})))
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

#[derive(Debug, Deserialize, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AddMember {
    #[garde(range(min = 1))]
    user_id: i64,
}

#[utoipa::path(
    post, path = "/api/projects/{id}/members", tag = "projects",
    params(("id" = i64, Path, description = "The project")),
    request_body = crate::openapi::AddMemberRequest,
    responses(
        (status = 201, description = "Added", body = crate::openapi::MembershipAnswer),
        (status = 400, description = "Validation failed", body = crate::openapi::ErrorBody),
        (status = 401, description = "No, a bad or an expired token", body = crate::openapi::ErrorBody),
        (status = 403, description = "Admin access required", body = crate::openapi::ErrorBody),
        (status = 404, description = "Project or user not found", body = crate::openapi::ErrorBody),
        (status = 409, description = "Already a member", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn add_member(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let project = visible_project(&state, &caller, &path).await?;
    let body: AddMember = json_body(&req, payload, &state).await?;
    check(&body)?;
    let user = UserId::try_from(body.user_id).map_err(|_| ApiError::not_found("User not found"))?;
    agentq_store::user_by_id(&state.db, user)
        .await?
        .ok_or_else(|| ApiError::not_found("User not found"))?;
    agentq_store::add_member(&state.db, project, user).await?;
    Ok(HttpResponse::Created().json(json!({
        "success": true,
        "data": {"projectId": project.get(), "userId": user.get()}
    })))
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
struct CreateTask {
    #[garde(length(min = 1, max = 50))]
    code: String,
    #[garde(length(min = 1, max = 255))]
    title: String,
}

#[utoipa::path(
    post, path = "/api/projects/{id}/tasks", tag = "projects",
    params(("id" = i64, Path, description = "The project")),
    request_body = crate::openapi::CreateTaskRequest,
    responses(
        (status = 201, description = "Created", body = crate::openapi::TaskAnswer),
        (status = 400, description = "Validation failed", body = crate::openapi::ErrorBody),
        (status = 401, description = "No, a bad or an expired token", body = crate::openapi::ErrorBody),
        (status = 404, description = "Not found (or not the caller's project)", body = crate::openapi::ErrorBody),
        (status = 409, description = "The code is taken in this project", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create_task(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let project = visible_project(&state, &caller, &path).await?;
    let body: CreateTask = json_body(&req, payload, &state).await?;
    check(&body)?;
    let task = agentq_store::create_task(&state.db, project, &body.code, &body.title).await?;
    Ok(HttpResponse::Created().json(json!({"success": true, "data": task_json(&task)})))
}

#[utoipa::path(
    get, path = "/api/projects/{id}/tasks", tag = "projects",
    params(("id" = i64, Path, description = "The project")),
    responses(
        (status = 200, description = "The project's tasks", body = crate::openapi::TaskList),
        (status = 401, description = "No, a bad or an expired token", body = crate::openapi::ErrorBody),
        (status = 404, description = "Not found (or not the caller's project)", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list_tasks(
    path: web::Path<String>,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let project = visible_project(&state, &caller, &path).await?;
    let tasks = agentq_store::tasks_of_project(&state.db, &caller.scope, project).await?;
    let data: Vec<_> = tasks.iter().map(task_json).collect();
    Ok(HttpResponse::Ok().json(json!({"success": true, "data": data})))
}

fn task_json(task: &agentq_store::Task) -> serde_json::Value {
    json!({
        "id": task.id.get(),
        "projectId": task.project.get(),
        "code": task.code,
        "title": task.title,
        "status": task.status,
    })
}
