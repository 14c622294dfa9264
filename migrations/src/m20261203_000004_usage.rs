//! What agents spend and what projects may spend: each job's tokens and cost (summed from its
//! agent's reports), an agent's idle timeout, a project's daily budget, and the index that
//! sums a project's spend for a day without reading its older jobs.
//!
//! One column per statement: SQLite's ALTER TABLE adds or drops one column at a time.

use sea_orm_migration::prelude::*;

use crate::m20261127_000001_accounts::{Agents, Projects};
use crate::m20261127_000002_jobs::AgentJobs;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Added {
    InputTokens,
    OutputTokens,
    CostMicroUsd,
    IdleTimeoutSecs,
    BudgetMicroUsdPerDay,
}

fn new_columns() -> Vec<(TableRef, Added)> {
    vec![
        (AgentJobs::Table.into_table_ref(), Added::InputTokens),
        (AgentJobs::Table.into_table_ref(), Added::OutputTokens),
        (AgentJobs::Table.into_table_ref(), Added::CostMicroUsd),
        (Agents::Table.into_table_ref(), Added::IdleTimeoutSecs),
        (
            Projects::Table.into_table_ref(),
            Added::BudgetMicroUsdPerDay,
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in new_columns() {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(ColumnDef::new(column).big_integer().null())
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
        Ok(())
    }
}
