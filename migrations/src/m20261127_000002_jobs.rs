//! The durable record of every job (the seed's `agent_jobs`, with `bullmq_job_id` renamed
//! `job_id`) and the activity log.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::m20261127_000001_accounts::{Agents, Projects, Tasks, Users};

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AgentJobs::Table)
                    .col(big_pk_auto(AgentJobs::Id))
                    .col(string_len_uniq(AgentJobs::JobId, 36))
                    .col(string_len(AgentJobs::QueueName, 100))
                    .col(big_integer(AgentJobs::TaskId))
                    .col(string_len(AgentJobs::TaskCode, 50))
                    .col(big_integer(AgentJobs::AgentId))
                    .col(big_integer(AgentJobs::ProjectId))
                    // waiting | active | completed | failed | cancelled | delayed
                    .col(string_len(AgentJobs::Status, 16))
                    .col(small_integer(AgentJobs::Progress))
                    .col(json(AgentJobs::JobData))
                    .col(json_null(AgentJobs::JobResult))
                    .col(small_integer(AgentJobs::Priority))
                    .col(date_time(AgentJobs::QueuedAt))
                    .col(date_time_null(AgentJobs::StartedAt))
                    .col(date_time_null(AgentJobs::CompletedAt))
                    .col(text_null(AgentJobs::LastError))
                    .col(text_null(AgentJobs::ErrorStack))
                    .col(big_integer_null(AgentJobs::ExecutionTimeMs))
                    .col(small_integer(AgentJobs::AttemptsMade))
                    .col(small_integer(AgentJobs::MaxAttempts))
                    // the id of the last queue event applied (`<ms>-<seq>`, as two numbers):
                    // an older or repeated event never overwrites a newer one
                    .col(big_integer(AgentJobs::LastEventMs).default(0))
                    .col(big_integer(AgentJobs::LastEventSeq).default(0))
                    .col(date_time(AgentJobs::CreatedAt))
                    .col(date_time(AgentJobs::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AgentJobs::Table, AgentJobs::TaskId)
                            .to(Tasks::Table, Tasks::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AgentJobs::Table, AgentJobs::AgentId)
                            .to(Agents::Table, Agents::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AgentJobs::Table, AgentJobs::ProjectId)
                            .to(Projects::Table, Projects::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // one index per query of the seed's service; each ends in `id` for keyset pagination
        let indexes: [(&str, &[AgentJobs]); 5] = [
            ("idx_agent_jobs_status", &[AgentJobs::Status, AgentJobs::Id]),
            (
                "idx_agent_jobs_agent",
                &[AgentJobs::AgentId, AgentJobs::Status, AgentJobs::Id],
            ),
            ("idx_agent_jobs_task", &[AgentJobs::TaskId, AgentJobs::Id]),
            (
                "idx_agent_jobs_project",
                &[AgentJobs::ProjectId, AgentJobs::Id],
            ),
            ("idx_agent_jobs_created", &[AgentJobs::CreatedAt]),
        ];
        for (name, columns) in indexes {
            let mut index = Index::create();
            index.name(name).table(AgentJobs::Table);
            for column in columns {
                index.col(column.clone());
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ActivityLog::Table)
                    .col(big_pk_auto(ActivityLog::Id))
                    .col(big_integer_null(ActivityLog::UserId))
                    .col(string_len(ActivityLog::Action, 64))
                    .col(big_integer_null(ActivityLog::ProjectId))
                    .col(big_integer_null(ActivityLog::TaskId))
                    .col(string_len_null(ActivityLog::JobId, 36))
                    .col(json_null(ActivityLog::Detail))
                    .col(date_time(ActivityLog::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ActivityLog::Table, ActivityLog::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_activity_log_project")
                    .table(ActivityLog::Table)
                    .col(ActivityLog::ProjectId)
                    .col(ActivityLog::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ActivityLog::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AgentJobs::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
pub enum AgentJobs {
    Table,
    Id,
    JobId,
    QueueName,
    TaskId,
    TaskCode,
    AgentId,
    ProjectId,
    Status,
    Progress,
    JobData,
    JobResult,
    Priority,
    QueuedAt,
    StartedAt,
    CompletedAt,
    LastError,
    ErrorStack,
    ExecutionTimeMs,
    AttemptsMade,
    MaxAttempts,
    LastEventMs,
    LastEventSeq,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum ActivityLog {
    Table,
    Id,
    UserId,
    Action,
    ProjectId,
    TaskId,
    JobId,
    Detail,
    CreatedAt,
}
