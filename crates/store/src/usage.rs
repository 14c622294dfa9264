//! What projects spend: a project's daily budget, and the sum of its jobs' usage since a time
//! (read through `idx_agent_jobs_project_created`, so a day's sum does not read older jobs).

use agentq_domain::{ProjectId, Usage};
use chrono::NaiveDateTime;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect};

use crate::Result;
use crate::entities::agent_jobs::{self, Column};
use crate::entities::projects;

/// Sets (or with `None` removes) what `project`'s jobs may spend per UTC day, in
/// micro-dollars. False when there is no such project.
pub async fn set_project_budget(
    db: &impl ConnectionTrait,
    project: ProjectId,
    micro_usd_per_day: Option<u64>,
) -> Result<bool> {
    let budget = micro_usd_per_day.map(|m| i64::try_from(m).unwrap_or(i64::MAX));
    let updated = projects::Entity::update_many()
        .col_expr(projects::Column::BudgetMicroUsdPerDay, Expr::value(budget))
        .filter(projects::Column::Id.eq(project.get()))
        .exec(db)
        .await?;
    Ok(updated.rows_affected > 0)
}

/// What the jobs `project` queued since `since` spent, summed.
pub async fn project_usage_since(
    db: &impl ConnectionTrait,
    project: ProjectId,
    since: NaiveDateTime,
) -> Result<Usage> {
    let backend = db.get_database_backend();
    let row: Option<(i64, i64, i64)> = agent_jobs::Entity::find()
        .select_only()
        .expr_as(Expr::cust(sum(backend, "input_tokens")), "input")
        .expr_as(Expr::cust(sum(backend, "output_tokens")), "output")
        .expr_as(Expr::cust(sum(backend, "cost_micro_usd")), "cost")
        .filter(Column::ProjectId.eq(project.get()))
        .filter(Column::CreatedAt.gte(since))
        .into_tuple()
        .one(db)
        .await?;
    let (input, output, cost) = row.unwrap_or_default();
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(Usage {
        input_tokens: count(input),
        output_tokens: count(output),
        cost_micro_usd: count(cost),
    })
}

/// `SUM(column)` as a BIGINT, 0 when no row has a value: MariaDB and PostgreSQL sum BIGINTs
/// into DECIMAL/NUMERIC, which would not decode as an integer.
fn sum(backend: DbBackend, column: &str) -> String {
    match backend {
        DbBackend::MySql => format!("CAST(COALESCE(SUM({column}), 0) AS SIGNED)"),
        DbBackend::Postgres => format!("CAST(COALESCE(SUM({column}), 0) AS BIGINT)"),
        _ => format!("COALESCE(SUM({column}), 0)"),
    }
}
