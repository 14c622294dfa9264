//! Who may do what: users, projects and their members, the tasks of a project, and agents.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(big_pk_auto(Users::Id))
                    // emails are compared lower-cased by the application; unique here
                    .col(string_len_uniq(Users::Email, 255))
                    .col(string_len(Users::PasswordHash, 255))
                    .col(string_len(Users::Role, 16))
                    .col(date_time(Users::CreatedAt))
                    .col(date_time(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Projects::Table)
                    .col(big_pk_auto(Projects::Id))
                    .col(string_len(Projects::Name, 255))
                    .col(date_time(Projects::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProjectMembers::Table)
                    .col(big_integer(ProjectMembers::ProjectId))
                    .col(big_integer(ProjectMembers::UserId))
                    .col(date_time(ProjectMembers::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(ProjectMembers::ProjectId)
                            .col(ProjectMembers::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProjectMembers::Table, ProjectMembers::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProjectMembers::Table, ProjectMembers::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // "which projects may this user see" is asked on every request
        manager
            .create_index(
                Index::create()
                    .name("idx_project_members_user")
                    .table(ProjectMembers::Table)
                    .col(ProjectMembers::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Tasks::Table)
                    .col(big_pk_auto(Tasks::Id))
                    .col(big_integer(Tasks::ProjectId))
                    .col(string_len(Tasks::Code, 50))
                    .col(string_len(Tasks::Title, 255))
                    .col(string_len(Tasks::Status, 32))
                    .col(date_time(Tasks::CreatedAt))
                    .col(date_time(Tasks::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Tasks::Table, Tasks::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_tasks_project_code")
                    .table(Tasks::Table)
                    .col(Tasks::ProjectId)
                    .col(Tasks::Code)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Agents::Table)
                    .col(big_pk_auto(Agents::Id))
                    .col(string_len_uniq(Agents::Name, 100))
                    .col(string_len(Agents::Kind, 16))
                    // argv as a JSON array of strings (never a shell line)
                    .col(json_null(Agents::Command))
                    .col(string_len_null(Agents::EndpointUrl, 2048))
                    .col(big_integer(Agents::TimeoutSecs))
                    .col(integer_null(Agents::MaxConcurrency))
                    .col(json_null(Agents::Env))
                    .col(date_time(Agents::CreatedAt))
                    .col(date_time(Agents::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Agents::Table.into_iden(),
            Tasks::Table.into_iden(),
            ProjectMembers::Table.into_iden(),
            Projects::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
pub enum Users {
    Table,
    Id,
    Email,
    PasswordHash,
    Role,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum Projects {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum ProjectMembers {
    Table,
    ProjectId,
    UserId,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum Tasks {
    Table,
    Id,
    ProjectId,
    Code,
    Title,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum Agents {
    Table,
    Id,
    Name,
    Kind,
    Command,
    EndpointUrl,
    TimeoutSecs,
    MaxConcurrency,
    Env,
    CreatedAt,
    UpdatedAt,
}
