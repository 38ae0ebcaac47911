//! Id arrays on the wire: normalized to sets, checked against the database (422 naming each
//! unknown id), and the 409 that names what still references a record being deleted.

use std::fmt::Display;

use crate::api::error::{ApiError, FieldError};
use crate::db::DbConnection;

/// The most ids one array may name.
pub const MAX_IDS: usize = 1000;

/// For `#[validate(custom(function = "id_array"))]`: at most `MAX_IDS` ids, each ≥ 1.
pub fn id_array(ids: &[i64]) -> Result<(), validator::ValidationError> {
    let error = |message: &'static str| {
        let mut e = validator::ValidationError::new("range");
        e.message = Some(message.into());
        Err(e)
    };
    if ids.len() > MAX_IDS {
        return error("must name at most 1000 ids");
    }
    if ids.iter().any(|id| *id < 1) {
        return error("ids are positive integers");
    }
    Ok(())
}

/// An id array as a set: sorted, without repeats (`null` or absent is empty).
pub fn id_set(ids: Option<Vec<i64>>) -> Vec<i64> {
    let mut ids = ids.unwrap_or_default();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Collects the ids a request names that don't exist, field by field, into one 422.
#[derive(Default)]
pub struct IdCheck {
    errors: Vec<FieldError>,
}

impl IdCheck {
    /// Checks the ids of `field` against `existing` (a `record_queries!` `existing` function).
    pub fn ids(
        mut self,
        conn: &mut DbConnection,
        field: &str,
        what: &str,
        ids: &[i64],
        existing: fn(&mut DbConnection, &[i64]) -> diesel::QueryResult<Vec<i64>>,
    ) -> Result<Self, ApiError> {
        let found = existing(conn, ids)?;
        for (index, id) in ids.iter().enumerate() {
            if !found.contains(id) {
                self.errors.push(FieldError::new(
                    format!("{field}[{index}]"),
                    "not_found",
                    format!("{what} {id} does not exist"),
                ));
            }
        }
        Ok(self)
    }

    /// Checks a single optional id.
    pub fn id(
        mut self,
        conn: &mut DbConnection,
        field: &str,
        what: &str,
        id: Option<i64>,
        existing: fn(&mut DbConnection, &[i64]) -> diesel::QueryResult<Vec<i64>>,
    ) -> Result<Self, ApiError> {
        if let Some(id) = id
            && existing(conn, &[id])?.is_empty()
        {
            self.errors.push(FieldError::new(
                field,
                "not_found",
                format!("{what} {id} does not exist"),
            ));
        }
        Ok(self)
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}

/// 409 when anything still references the record: "region 3 is used by 12 companies and 1
/// project". `uses` are (count, singular, plural) of each kind of referencing record.
pub fn ensure_unreferenced(
    name: &str,
    id: impl Display,
    uses: &[(i64, &str, &str)],
) -> Result<(), ApiError> {
    let parts: Vec<String> = uses
        .iter()
        .filter(|(count, _, _)| *count > 0)
        .map(|(count, one, many)| format!("{count} {}", if *count == 1 { one } else { many }))
        .collect();
    let Some((last, rest)) = parts.split_last() else {
        return Ok(());
    };
    let list = if rest.is_empty() {
        last.clone()
    } else {
        format!("{} and {last}", rest.join(", "))
    };
    Err(ApiError::conflict(format!(
        "{name} {id} is used by {list}; remove those references first"
    )))
}

/// Maps a unique violation to a 409 with a useful message; other errors as usual.
pub fn unique_conflict(e: diesel::result::Error, message: impl FnOnce() -> String) -> ApiError {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            ApiError::conflict(message())
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_messages_read_naturally() {
        let e = ensure_unreferenced(
            "region",
            3,
            &[
                (12, "company", "companies"),
                (1, "project", "projects"),
                (0, "event", "events"),
            ],
        );
        assert_eq!(
            e.unwrap_err().to_string(),
            "region 3 is used by 12 companies and 1 project; remove those references first"
        );
        assert!(ensure_unreferenced("region", 3, &[(0, "company", "companies")]).is_ok());
        assert_eq!(id_set(Some(vec![3, 1, 3])), vec![1, 3]);
    }
}
