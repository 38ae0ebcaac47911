//! Stored answers of creating requests sent with an `Idempotency-Key` (see `api::idempotency`).

use crate::db::prelude::*;
use chrono::NaiveDateTime;

use crate::db::schema::idempotency_keys;
use crate::db::{Conn, query};

/// An answer as it was first given.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_keys, treat_none_as_default_value = false)]
pub struct StoredAnswer {
    pub caller: String,
    pub key: String,
    pub fingerprint: String,
    pub status: i32,
    pub location: Option<String>,
    pub etag: Option<String>,
    pub body: String,
    pub created_at: NaiveDateTime,
}

/// Takes the caller's key for this request, or returns the answer stored under it. On
/// PostgreSQL, while another transaction holds the same key, this waits for it to end: if it
/// committed, its answer is returned; if it rolled back, the key is taken here.
pub async fn claim(
    conn: &mut Conn<'_>,
    answer: &StoredAnswer,
) -> QueryResult<Option<StoredAnswer>> {
    // A stored answer can vanish between the two statements (the TTL purge): then take the
    // key again.
    loop {
        let taken = query!(conn, |c| diesel::insert_into(idempotency_keys::table)
            .values(answer)
            .on_conflict_do_nothing()
            .execute(c))?;
        if taken == 1 {
            return Ok(None);
        }
        let stored = query!(conn, |c| idempotency_keys::table
            .find((&answer.caller, &answer.key))
            .select(StoredAnswer::as_select())
            .first(c))
        .optional()?;
        if stored.is_some() {
            return Ok(stored);
        }
    }
}

/// Stores the answer under the key `claim` took.
pub async fn complete(conn: &mut Conn<'_>, answer: &StoredAnswer) -> QueryResult<()> {
    query!(conn, |c| diesel::update(
        idempotency_keys::table.find((&answer.caller, &answer.key))
    )
    .set((
        idempotency_keys::status.eq(answer.status),
        idempotency_keys::location.eq(&answer.location),
        idempotency_keys::etag.eq(&answer.etag),
        idempotency_keys::body.eq(&answer.body),
    ))
    .execute(c))
    .map(drop)
}

/// Forgets the answers stored before `before`.
pub async fn purge(conn: &mut Conn<'_>, before: NaiveDateTime) -> QueryResult<usize> {
    query!(conn, |c| diesel::delete(
        idempotency_keys::table.filter(idempotency_keys::created_at.lt(before))
    )
    .execute(c))
}
