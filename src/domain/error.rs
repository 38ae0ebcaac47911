//! What an operation of the domain layer can fail with. `api/error.rs` is the one place that
//! turns it into an HTTP answer; the seed, the command line and the imports read it as it is.

use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbError;
use crate::models::page::CursorMismatch;
use crate::models::{ListError, WriteError};

/// Why a domain operation did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// No record of this kind with this id.
    #[error("{what} {id} does not exist")]
    NotFound { what: &'static str, id: String },
    /// The record is no longer at the version the change was based on.
    #[error("{what} {id} has changed since the version the change is based on")]
    Stale { what: &'static str, id: String },
    /// The change conflicts with the stored state (a duplicate, a reference).
    #[error("{0}")]
    Conflict(String),
    /// The values are invalid; one entry per field.
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    /// The actor's role or organization may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// A change-feed position older than the kept history: the reader must start over.
    #[error("{0}")]
    Gone(String),
    /// A list cursor from another sort order.
    #[error("invalid cursor: {0}")]
    BadCursor(CursorMismatch),
    /// The database can't be reached in time.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The database did not finish the work in time (`DB_QUERY_TIMEOUT_SECS`).
    #[error("the database did not answer in time: {0}")]
    Timeout(String),
    /// A bug or an unexpected failure (the cause, for the log).
    #[error("internal error: {0}")]
    Internal(String),
}

/// One invalid field of a request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's name (a dotted path with indexes for nested fields: `funding[0].role`).
    #[schema(example = "name", max_length = 200)]
    pub field: String,
    /// A machine-readable reason: `required`, `length`, `type`, `unknown_field`, `read_only`, …
    #[schema(example = "required", max_length = 50)]
    pub code: String,
    /// A human-readable explanation.
    #[schema(example = "name is required", max_length = 500)]
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self {
            field: truncate(field.into(), 200),
            code: code.to_owned(),
            message: truncate(message.into(), 500),
        }
    }
}

/// Cuts text to at most `max` bytes at a character boundary (the documented maxLength).
pub fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

impl DomainError {
    pub fn not_found(what: &'static str, id: impl std::fmt::Display) -> Self {
        Self::NotFound {
            what,
            id: id.to_string(),
        }
    }

    pub fn invalid(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, code, message)])
    }

    /// Maps a failed conditional write of `what` `id`.
    pub fn from_write(e: WriteError, what: &'static str, id: impl std::fmt::Display) -> Self {
        match e {
            WriteError::NotFound => Self::not_found(what, id),
            WriteError::VersionMismatch => Self::Stale {
                what,
                id: id.to_string(),
            },
            WriteError::Db(e) => e.into(),
        }
    }

    /// Maps a failed conditional update, its database error through `db` (which names a
    /// taken unique value).
    pub fn from_update(
        e: WriteError,
        what: &'static str,
        id: impl std::fmt::Display,
        db: impl FnOnce(diesel::result::Error) -> Self,
    ) -> Self {
        match e {
            WriteError::Db(e) => db(e),
            other => Self::from_write(other, what, id),
        }
    }

    /// A unique violation as a conflict with a useful message; other errors as usual.
    pub fn unique(e: diesel::result::Error, message: impl FnOnce() -> String) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                Self::Conflict(message())
            }
            other => other.into(),
        }
    }
}

/// The one mapping of database errors: every layer above reads them through this.
impl From<diesel::result::Error> for DomainError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as Kind, Error};
        match e {
            Error::DatabaseError(Kind::UniqueViolation, _) => {
                Self::Conflict("a record with the same unique value already exists".into())
            }
            Error::DatabaseError(Kind::ForeignKeyViolation, _) => {
                Self::Conflict("the change conflicts with records that reference this one".into())
            }
            Error::DatabaseError(Kind::ClosedConnection | Kind::UnableToSendCommand, info) => {
                Self::Unavailable(info.message().to_owned())
            }
            Error::DatabaseError(_, ref info) if is_sqlite_busy(info.message()) => {
                Self::Unavailable(info.message().to_owned())
            }
            Error::DatabaseError(_, ref info) if is_connection_lost(info.as_ref()) => {
                Self::Unavailable(info.message().to_owned())
            }
            Error::DatabaseError(_, ref info) if is_statement_timeout(info.as_ref()) => {
                Self::Timeout(info.message().to_owned())
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

/// PostgreSQL cancelled a statement (SQLSTATE 57014, `query_canceled`): at its
/// `statement_timeout`, or by an operator's `pg_cancel_backend`. Either way it did not finish
/// in time. Read from the code, not the message, which follows the server's `lc_messages`.
fn is_statement_timeout(info: &dyn diesel::result::DatabaseErrorInformation) -> bool {
    info.sqlstate() == Some(diesel::pg::sql_state::QUERY_CANCELED)
}

/// PostgreSQL ended the connection or refuses work for now: a connection exception (SQLSTATE
/// class 08), or the server shutting down, crashed or still starting (57P01–57P03, which it
/// sends on each open connection when it stops). Unavailable for now, not a fault of the
/// request: the caller gets a 503 and retries.
fn is_connection_lost(info: &dyn diesel::result::DatabaseErrorInformation) -> bool {
    info.sqlstate().is_some_and(|state| {
        let code = state.as_str();
        code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
    })
}

/// SQLite reports a lock it could not get within busy_timeout as a plain error message.
fn is_sqlite_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database is busy")
}

impl From<DbError> for DomainError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable(cause) => Self::Unavailable(cause),
            DbError::Timeout(cause) => Self::Timeout(cause),
            DbError::Query(e) => e.into(),
        }
    }
}

impl From<ListError> for DomainError {
    fn from(e: ListError) -> Self {
        match e {
            ListError::Cursor(e) => Self::BadCursor(e),
            ListError::Db(e) => e.into(),
        }
    }
}
