//! Rules about the ids a record names: at most `MAX_IDS` in one array, each an existing record
//! (one field error per unknown id), and no delete while others still reference a record.

use std::fmt::Display;

use crate::db::{self, Conn};
use crate::domain::{DomainError, FieldError};

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

/// Runs a write together with `check`, the lookup of the ids it names: on PostgreSQL the
/// lookups and the write go out at once, one round trip for both, inside the write's
/// transaction. A failed check wins: its `Invalid` names every unknown id, where the write
/// itself may have failed on the first foreign key (PostgreSQL names only the constraint,
/// SQLite nothing), and the transaction rolls back what the write did. On SQLite the check
/// runs first and a failed one writes nothing.
pub async fn checked_write<T>(
    conn: &mut Conn<'_>,
    check: impl AsyncFnOnce(&mut Conn<'_>) -> Result<(), DomainError>,
    write: impl AsyncFnOnce(&mut Conn<'_>) -> Result<T, DomainError>,
) -> Result<T, DomainError> {
    let ((), written) = db::both(conn, check, write).await?;
    Ok(written)
}

/// Collects the ids a write names that don't exist, field by field, into one `Invalid`.
#[derive(Default)]
pub struct IdCheck {
    errors: Vec<FieldError>,
}

impl IdCheck {
    /// Checks the ids of the array `field` against the ids known to exist (looked up
    /// together, `db::all!`, or once for a whole batch).
    pub fn ids_among<T: Copy + PartialEq + Display>(
        mut self,
        field: &str,
        what: &str,
        ids: &[T],
        found: &[T],
    ) -> Self {
        for (index, id) in ids.iter().enumerate() {
            if !found.contains(id) {
                self.errors.push(FieldError::new(
                    format!("{field}[{index}]"),
                    "not_found",
                    format!("{what} {id} does not exist"),
                ));
            }
        }
        self
    }

    /// Checks a single optional id against the ids known to exist.
    pub fn id_among<T: Copy + PartialEq + Display>(
        mut self,
        field: &str,
        what: &str,
        id: Option<T>,
        found: &[T],
    ) -> Self {
        if let Some(id) = id
            && !found.contains(&id)
        {
            self.errors.push(FieldError::new(
                field,
                "not_found",
                format!("{what} {id} does not exist"),
            ));
        }
        self
    }

    pub fn finish(self) -> Result<(), DomainError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(self.errors))
        }
    }
}

/// A conflict when anything still references the record: "region 3 is used by 12 companies
/// and 1 project". `uses` are (count, singular, plural) of each kind of referencing record.
pub fn ensure_unreferenced(
    name: &str,
    id: impl Display,
    uses: &[(i64, &str, &str)],
) -> Result<(), DomainError> {
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
    Err(DomainError::Conflict(format!(
        "{name} {id} is used by {list}; remove those references first"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::IdSet;

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
        assert_eq!(IdSet::from_iter([3, 1, 3]).into_vec(), vec![1, 3]);
    }
}
