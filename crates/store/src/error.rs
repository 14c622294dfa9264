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
    Db(DbErr),
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
