//! Organizations. The full resource comes with the domain resources; users and clients
//! already reference them.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::organizations;
use crate::domain::{name_key, now};

pub fn exists(conn: &mut DbConnection, id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(organizations::table.find(id))).get_result(conn)
}

/// Finds an organization by name (case-insensitively) or id, for the command line.
pub fn find_id(conn: &mut DbConnection, name_or_id: &str) -> QueryResult<Option<i64>> {
    if let Ok(id) = name_or_id.parse::<i64>() {
        return Ok(exists(conn, id)?.then_some(id));
    }
    organizations::table
        .filter(organizations::name_key.eq(name_key(name_or_id)))
        .select(organizations::id)
        .first(conn)
        .optional()
}

/// Creates an organization with a name and kind (the command line's `organization create`).
pub fn insert(conn: &mut DbConnection, name: &str, kind: &str) -> QueryResult<i64> {
    let at = now();
    diesel::insert_into(organizations::table)
        .values((
            organizations::name.eq(name),
            organizations::name_key.eq(name_key(name)),
            organizations::kind.eq(kind),
            organizations::created_at.eq(at),
            organizations::updated_at.eq(at),
            organizations::version.eq(1),
        ))
        .returning(organizations::id)
        .get_result(conn)
}
