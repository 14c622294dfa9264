//! Indexes for the dashboard: jobs ended per minute (by `completed_at`) and a job's activity
//! (by `job_id`), so neither reads the whole table.

use sea_orm_migration::prelude::*;

use crate::m20261127_000002_jobs::{ActivityLog, AgentJobs};

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_agent_jobs_completed")
                    .table(AgentJobs::Table)
                    .col(AgentJobs::CompletedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_activity_log_job")
                    .table(ActivityLog::Table)
                    .col(ActivityLog::JobId)
                    .col(ActivityLog::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_activity_log_job")
                    .table(ActivityLog::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_agent_jobs_completed")
                    .table(AgentJobs::Table)
                    .to_owned(),
            )
            .await
    }
}
