//! Projects, their members and their tasks.

use agentq_domain::{ProjectId, TaskId, UserId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::accounts::{Role, User};
use crate::entities::{project_members, projects as project_rows, tasks, users};
use crate::shapes::padded_to_power_of_two;
use crate::{MAX_PAGE, Result, Scope, StoreError, now};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: ProjectId,
    pub name: String,
    /// What its jobs may spend per UTC day, in micro-dollars; `None`: no limit.
    pub budget_micro_usd_per_day: Option<u64>,
    /// Its fair-share weight (1 unless set): within a priority, it runs this many jobs a round
    /// where a project of weight 1 runs one.
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: TaskId,
    pub project: ProjectId,
    pub code: String,
    pub title: String,
    pub status: String,
}

fn id_of<T: TryFrom<i64>>(value: i64, what: &str) -> Result<T> {
    T::try_from(value).map_err(|_| StoreError::InvalidData(format!("{what} id {value}")))
}

impl TryFrom<project_rows::Model> for Project {
    type Error = StoreError;

    fn try_from(row: project_rows::Model) -> Result<Self> {
        Ok(Self {
            id: id_of(row.id, "project")?,
            name: row.name,
            budget_micro_usd_per_day: row
                .budget_micro_usd_per_day
                .and_then(|b| u64::try_from(b).ok()),
            weight: row
                .fair_share_weight
                .and_then(|w| u32::try_from(w).ok())
                .unwrap_or(1)
                .max(1),
        })
    }
}

impl TryFrom<tasks::Model> for Task {
    type Error = StoreError;

    fn try_from(row: tasks::Model) -> Result<Self> {
        Ok(Self {
            id: id_of(row.id, "task")?,
            project: id_of(row.project_id, "project")?,
            code: row.code,
            title: row.title,
            status: row.status,
        })
    }
}

pub async fn create_project(db: &impl ConnectionTrait, name: &str) -> Result<Project> {
    project_rows::ActiveModel {
        name: Set(name.to_owned()),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(db)
    .await?
    .try_into()
}

/// The projects in `scope`, by id, at most [`MAX_PAGE`].
pub async fn projects(db: &impl ConnectionTrait, scope: &Scope) -> Result<Vec<Project>> {
    project_rows::Entity::find()
        .filter(scope.condition(project_rows::Column::Id))
        .order_by_asc(project_rows::Column::Id)
        .limit(MAX_PAGE)
        .all(db)
        .await?
        .into_iter()
        .map(Project::try_from)
        .collect()
}

/// The project, if it exists and is in `scope` (out of scope looks like missing).
pub async fn project_by_id(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: ProjectId,
) -> Result<Option<Project>> {
    if !scope.allows(id) {
        return Ok(None);
    }
    project_rows::Entity::find_by_id(id.get())
        .one(db)
        .await?
        .map(Project::try_from)
        .transpose()
}

/// Makes `user` a member of `project`; already being one is fine.
/// Sets `project`'s fair-share weight; false if there is no such project.
pub async fn set_project_weight(
    db: &impl ConnectionTrait,
    project: ProjectId,
    weight: u32,
) -> Result<bool> {
    let weight = i32::try_from(weight).unwrap_or(i32::MAX);
    let updated = project_rows::Entity::update_many()
        .col_expr(
            project_rows::Column::FairShareWeight,
            sea_orm::sea_query::Expr::value(weight),
        )
        .filter(project_rows::Column::Id.eq(project.get()))
        .exec(db)
        .await?;
    Ok(updated.rows_affected > 0)
}

pub async fn add_member(db: &impl ConnectionTrait, project: ProjectId, user: UserId) -> Result<()> {
    let inserted = project_members::ActiveModel {
        project_id: Set(project.get()),
        user_id: Set(user.get()),
        created_at: Set(now()),
    }
    .insert(db)
    .await;
    match inserted.map_err(StoreError::from) {
        Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(StoreError::MissingReference(_)) => Err(StoreError::NotFound("project or user")),
        Err(err) => Err(err),
    }
}

pub async fn remove_member(
    db: &impl ConnectionTrait,
    project: ProjectId,
    user: UserId,
) -> Result<bool> {
    let deleted = project_members::Entity::delete_many()
        .filter(project_members::Column::ProjectId.eq(project.get()))
        .filter(project_members::Column::UserId.eq(user.get()))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected > 0)
}

/// The members of `project`, by user id, at most [`crate::MAX_USERS`].
pub async fn project_members(db: &impl ConnectionTrait, project: ProjectId) -> Result<Vec<User>> {
    let ids: Vec<i64> = project_members::Entity::find()
        .select_only()
        .column(project_members::Column::UserId)
        .filter(project_members::Column::ProjectId.eq(project.get()))
        .order_by_asc(project_members::Column::UserId)
        .limit(crate::MAX_USERS)
        .into_tuple()
        .all(db)
        .await?;
    users::Entity::find()
        .filter(users::Column::Id.is_in(ids))
        .order_by_asc(users::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(User::try_from)
        .collect()
}

pub async fn member_project_ids(db: &impl ConnectionTrait, user: UserId) -> Result<Vec<ProjectId>> {
    let ids: Vec<i64> = project_members::Entity::find()
        .select_only()
        .column(project_members::Column::ProjectId)
        .filter(project_members::Column::UserId.eq(user.get()))
        .order_by_asc(project_members::Column::ProjectId)
        .into_tuple()
        .all(db)
        .await?;
    ids.into_iter().map(|id| id_of(id, "project")).collect()
}

/// What `user` may see: everything for an admin, their projects for a member.
pub async fn scope_for(db: &impl ConnectionTrait, user: &User) -> Result<Scope> {
    Ok(match user.role {
        Role::Admin => Scope::All,
        Role::Member => Scope::Projects(member_project_ids(db, user.id).await?),
    })
}

pub async fn create_task(
    db: &impl ConnectionTrait,
    project: ProjectId,
    code: &str,
    title: &str,
) -> Result<Task> {
    let at = now();
    tasks::ActiveModel {
        project_id: Set(project.get()),
        code: Set(code.to_owned()),
        title: Set(title.to_owned()),
        status: Set("todo".to_owned()),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::MissingReference(_) => StoreError::NotFound("project"),
        other => other.naming("task with this code in the project"),
    })?
    .try_into()
}

/// The project's tasks, by id, at most [`MAX_PAGE`]; none when the project is out of scope.
pub async fn tasks_of_project(
    db: &impl ConnectionTrait,
    scope: &Scope,
    project: ProjectId,
) -> Result<Vec<Task>> {
    if !scope.allows(project) {
        return Ok(Vec::new());
    }
    tasks::Entity::find()
        .filter(tasks::Column::ProjectId.eq(project.get()))
        .order_by_asc(tasks::Column::Id)
        .limit(MAX_PAGE)
        .all(db)
        .await?
        .into_iter()
        .map(Task::try_from)
        .collect()
}

/// The tasks with these ids, whatever their project (the caller checks its scope), read with
/// one query.
pub async fn tasks_by_ids(
    db: &impl ConnectionTrait,
    ids: &[TaskId],
) -> Result<std::collections::HashMap<TaskId, Task>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    tasks::Entity::find()
        .filter(tasks::Column::Id.is_in(padded_to_power_of_two(
            ids.iter().map(|id| id.get()).collect(),
        )))
        .all(db)
        .await?
        .into_iter()
        .map(|row| Task::try_from(row).map(|task| (task.id, task)))
        .collect()
}

/// The task, if it exists and its project is in `scope`.
pub async fn task_by_id(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: TaskId,
) -> Result<Option<Task>> {
    tasks::Entity::find_by_id(id.get())
        .filter(scope.condition(tasks::Column::ProjectId))
        .one(db)
        .await?
        .map(Task::try_from)
        .transpose()
}
