//! The store against real databases: SQLite always (a file per test), MariaDB and PostgreSQL
//! when `AGENTQ_TEST_MYSQL_URL` / `AGENTQ_TEST_POSTGRES_URL` are set (each test then creates a
//! database of its own and drops it at the end).

mod helpers;

mod accounts;
mod jobs;
mod metrics;
mod migrations;
mod stats;
