//! Rows, writable field sets and queries, one module per table.

pub mod clients;
pub mod login_failures;
pub mod organizations;
pub mod page;
pub mod refresh_tokens;
pub mod regions;
pub mod users;

use crate::domain::name_key;
use page::CursorMismatch;

/// Why a conditional write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("not found")]
    NotFound,
    #[error("the version does not match")]
    VersionMismatch,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Errors of a list query.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    Cursor(#[from] CursorMismatch),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// `%q%` for LIKE over the lower-cased key, with LIKE's wildcards in `q` taken literally.
pub fn contains_pattern(q: &str) -> String {
    let mut pattern = String::with_capacity(q.len() + 2);
    pattern.push('%');
    for c in name_key(q).chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}
