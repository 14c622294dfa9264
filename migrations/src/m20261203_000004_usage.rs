//! What agents spend and what projects may spend, and who approves: each job's tokens and cost
//! (summed from its agent's reports), an agent's idle timeout and approval settings, a
//! project's daily budget, and the index that sums a project's spend for a day without reading
//! its older jobs.
//!
//! One column per statement: SQLite's ALTER TABLE adds or drops one column at a time. The
//! status column widens for `awaiting_approval` (17 characters, past its 16) where the length
//! is enforced; SQLite does not enforce it, nor can it alter a column.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::string_len;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m20261127_000001_accounts::{Agents, Projects};
use crate::m20261127_000002_jobs::AgentJobs;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone)]
enum Added {
    InputTokens,
    OutputTokens,
    CostMicroUsd,
    IdleTimeoutSecs,
    RequiresApproval,
    AsksApproval,
    BudgetMicroUsdPerDay,
}

fn new_columns() -> Vec<(TableRef, Added)> {
    vec![
        (AgentJobs::Table.into_table_ref(), Added::InputTokens),
        (AgentJobs::Table.into_table_ref(), Added::OutputTokens),
        (AgentJobs::Table.into_table_ref(), Added::CostMicroUsd),
        (Agents::Table.into_table_ref(), Added::IdleTimeoutSecs),
        (Agents::Table.into_table_ref(), Added::RequiresApproval),
        (Agents::Table.into_table_ref(), Added::AsksApproval),
        (
            Projects::Table.into_table_ref(),
            Added::BudgetMicroUsdPerDay,
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        status_length(manager, 32).await?;
        for (table, column) in new_columns() {
            let mut definition = ColumnDef::new(column.clone());
            match column {
                Added::RequiresApproval | Added::AsksApproval => definition.boolean(),
                _ => definition.big_integer(),
            };
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(definition.null())
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_agent_jobs_project_created")
                    .table(AgentJobs::Table)
                    .col(AgentJobs::ProjectId)
                    .col(AgentJobs::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_agent_jobs_project_created")
                    .table(AgentJobs::Table)
                    .to_owned(),
            )
            .await?;
        for (table, column) in new_columns().into_iter().rev() {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        status_length(manager, 16).await
    }
}

async fn status_length(manager: &SchemaManager<'_>, length: u32) -> Result<(), DbErr> {
    if manager.get_database_backend() == DbBackend::Sqlite {
        return Ok(());
    }
    manager
        .alter_table(
            Table::alter()
                .table(AgentJobs::Table)
                .modify_column(string_len(AgentJobs::Status, length))
                .to_owned(),
        )
        .await
}
