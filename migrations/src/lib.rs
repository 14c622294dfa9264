//! agentq's SQL schema, as one migration set that runs forward and back on SQLite, MariaDB and
//! PostgreSQL. Only portable column types are used: ids are BIGINT, times are DATETIME/TIMESTAMP
//! without zone holding UTC, enums are short strings checked by the application (an SQL ENUM
//! does not exist on SQLite and needs a type of its own on PostgreSQL).

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_accounts;
mod m20261127_000002_jobs;
mod m20261202_000003_dashboard;
mod m20261203_000004_usage;
mod m20261204_000005_weights;

#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_accounts::Migration),
            Box::new(m20261127_000002_jobs::Migration),
            Box::new(m20261202_000003_dashboard::Migration),
            Box::new(m20261203_000004_usage::Migration),
            Box::new(m20261204_000005_weights::Migration),
        ]
    }
}
