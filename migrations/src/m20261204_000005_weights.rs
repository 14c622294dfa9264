//! A project's fair-share weight: within a priority, a project of weight w runs w jobs a round
//! where one of weight 1 runs one. `NULL` is weight 1, so existing projects keep their share.

use sea_orm_migration::prelude::*;

use crate::m20261127_000001_accounts::Projects;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Added {
    FairShareWeight,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Projects::Table)
                    .add_column(ColumnDef::new(Added::FairShareWeight).integer().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Projects::Table)
                    .drop_column(Added::FairShareWeight)
                    .to_owned(),
            )
            .await
    }
}
