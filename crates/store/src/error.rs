//! What can go wrong in the store, in terms a caller can act on.

use sea_orm::{DbErr, SqlErr};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row asked for, or one it refers to, does not exist (or is not visible).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique value is taken (an email, an agent name, a task code in its project).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A row refers to a row that does not exist.
    #[error("a referenced row does not exist: {0}")]
    MissingReference(&'static str),
    #[error("{what} is {size} bytes, over the limit of {limit}")]
    TooLarge {
        what: &'static str,
        size: usize,
        limit: usize,
    },
    /// A stored value this code cannot read (a status it does not know, say).
    #[error("invalid stored data: {0}")]
    InvalidData(String),
    #[error("database: {0}")]
    Db(#[source] DbErr),
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Self::Conflict("a row with this key"),
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => Self::MissingReference("row"),
            _ => Self::Db(err),
        }
    }
}

impl StoreError {
    /// The same error, naming what collided or was missing.
    pub(crate) fn naming(self, what: &'static str) -> Self {
        match self {
            Self::Conflict(_) => Self::Conflict(what),
            Self::MissingReference(_) => Self::MissingReference(what),
            other => other,
        }
    }
}

impl StoreError {
    /// Whether the same write may go through later: the database was unreachable, busy, timed
    /// out, or chose this transaction as a lock or deadlock victim. Anything else (a value too
    /// large or invalid for a column, a constraint) fails again however often it is tried.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Db(err) => is_transient_db(err),
            Self::NotFound(_)
            | Self::Conflict(_)
            | Self::MissingReference(_)
            | Self::TooLarge { .. }
            | Self::InvalidData(_) => false,
        }
    }
}

fn is_transient_db(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    let runtime = match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime,
        _ => return false,
    };
    let RuntimeErr::SqlxError(sqlx) = runtime else {
        // a message from the driver layer itself, not from the database: presume a glitch
        return true;
    };
    match sqlx.as_ref() {
        Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::Protocol(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed => true,
        Sqlx::Database(db) => {
            // MariaDB's SQLSTATE is the generic HY000 for a lock wait timeout: its number tells
            let mysql = db.try_downcast_ref::<sea_orm::sqlx::mysql::MySqlDatabaseError>();
            mysql.is_some_and(|e| matches!(e.number(), 1205 | 1213 | 2006 | 2013))
                || db.code().is_some_and(|code| is_transient_code(&code))
        }
        _ => false,
    }
}

/// SQLSTATEs and SQLite codes that mean "try again": SQLite busy/locked; serialization failure
/// and deadlock; PostgreSQL lock not available and shutdown; the connection class `08`.
fn is_transient_code(code: &str) -> bool {
    matches!(
        code,
        "5" | "6" | "517" | "262" | "40001" | "40P01" | "55P03" | "57P01" | "57P02" | "57P03"
    ) || code.starts_with("08")
}
