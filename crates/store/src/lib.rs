//! agentq's SQL store: SeaORM entities and one plain function per query the services make
//! (named after the seed's `AgentExecutionService` methods). Reads of project data take a
//! [`Scope`], the caller's visible projects, so authorization cannot be forgotten.
//!
//! All times are UTC, stored without a zone (portable across SQLite, MariaDB and PostgreSQL).

pub mod entities;

mod accounts;
mod activity;
mod agents;
mod dependencies;
mod error;
mod jobs;
mod metrics;
mod projects;
mod scope;
mod shapes;
mod stats;
mod time;
mod usage;

pub use accounts::{
    MAX_USERS, NewUser, Role, User, create_user, list_users, user_by_email, user_by_id,
};
pub use activity::{ActivityEntry, ActivityRecord, MAX_ACTIVITY, job_activity, log_activity};
pub use agents::{
    Agent, AgentChanges, AgentEnv, AgentKind, NewAgent, agent_by_id, agents_by_ids, create_agent,
    list_agents, update_agent,
};
pub use dependencies::{DependencyRefusal, MAX_DEPENDENCIES, dependency_jobs};
pub use error::StoreError;
pub use jobs::{
    EventPosition, JobFilter, JobPage, JobRecord, JobTransition, MAX_JOB_DATA_BYTES, MAX_PAGE,
    NewJobRecord, TransitionOutcome, active_jobs, apply_transition, apply_transitions,
    cleanup_old_jobs, failed_jobs, insert_job, insert_jobs, insert_jobs_each, job_by_job_id,
    jobs_by_agent, jobs_by_job_ids, jobs_by_project, jobs_by_task, list_jobs,
};
pub use metrics::{JobMetrics, metrics};
pub use projects::{
    Project, Task, add_member, create_project, create_task, member_project_ids, project_by_id,
    project_members, projects, remove_member, scope_for, set_project_weight, task_by_id,
    tasks_by_ids, tasks_of_project,
};
pub use scope::Scope;
pub use stats::{MinuteCount, StateCount, finished_per_minute, state_counts};
pub use time::{from_millis, now};
pub use usage::{project_usage_since, set_project_budget};

use sea_orm::{ConnectOptions, Database, DatabaseConnection};

pub use agentq_migrations::{Migrator, MigratorTrait};
pub use sea_orm::DatabaseConnection as Db;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Connections a pool keeps at most. More connections than this made MariaDB's commit tail
/// worse under load, not better (BENCHMARKS.md).
const MAX_CONNECTIONS: u32 = 10;
/// SQLite has one writer at a time: a few connections, so that writers queue in the pool
/// rather than spin in SQLite's busy handler.
const SQLITE_MAX_CONNECTIONS: u32 = 4;
/// How long opening a connection may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a caller may wait for a free connection of the pool.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// The longest a statement may run (PostgreSQL enforces it; MariaDB's `max_statement_time`
/// is left to the server's configuration).
const STATEMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether the database takes one writer at a time (SQLite): concurrent write transactions
/// would only wait for each other.
pub fn has_single_writer(db: &DatabaseConnection) -> bool {
    db.get_database_backend() == sea_orm::DbBackend::Sqlite
}

/// Connects to `url` (sqlite://, mysql://, postgres://).
pub async fn connect(url: &str) -> Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url);
    let max = if url.starts_with("sqlite:") {
        SQLITE_MAX_CONNECTIONS
    } else {
        MAX_CONNECTIONS
    };
    // statements would carry job payloads: never log them. A database that does not answer
    // makes callers fail after these, not wait forever.
    options
        .sqlx_logging(false)
        .max_connections(max)
        .connect_timeout(CONNECT_TIMEOUT)
        .acquire_timeout(ACQUIRE_TIMEOUT);
    // PostgreSQL ends a statement that runs past the limit (SQLite waits out its busy timeout)
    options.map_sqlx_postgres_opts(|o| {
        o.options([(
            "statement_timeout",
            format!("{}", STATEMENT_TIMEOUT.as_millis()),
        )])
    });
    // SQLite: write-ahead log (readers do not wait for the writer) with fsync at checkpoints
    // rather than at every commit, which keeps every committed transaction across a process
    // crash; writers queue for up to 5 s instead of failing with SQLITE_BUSY
    options.map_sqlx_sqlite_opts(|o| {
        o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(5))
    });
    Ok(Database::connect(options).await?)
}

/// Connects and brings the schema up to date.
///
/// On SQLite, processes starting together (a gateway, workers, broadcasters) contend for the
/// file's lock while switching it to WAL and checking the migrations; a lock SQLite refuses
/// at once (rather than waiting out its busy timeout) is tried again, for up to about 10 s.
pub async fn connect_and_migrate(url: &str) -> Result<DatabaseConnection> {
    let mut attempt: u64 = 0;
    loop {
        let outcome = async {
            let db = connect(url).await?;
            migrate(&db).await?;
            Ok::<_, StoreError>(db)
        }
        .await;
        match outcome {
            Err(err) if attempt < 40 && is_sqlite_lock(&err) => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50 * attempt.min(10))).await;
            }
            other => return other,
        }
    }
}

/// SQLITE_BUSY (5) or SQLITE_LOCKED (6).
fn is_sqlite_lock(err: &StoreError) -> bool {
    let text = err.to_string();
    text.contains("database is locked") || text.contains("(code: 5)") || text.contains("(code: 6)")
}

/// Whether the database answers.
pub async fn ping(db: &DatabaseConnection) -> Result<()> {
    Ok(db.ping().await?)
}

pub async fn migrate(db: &DatabaseConnection) -> Result<()> {
    Ok(Migrator::up(db, None).await?)
}
