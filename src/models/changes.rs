//! The change feed's rows: one per change of a domain record, numbered (`seq`) after commit by
//! `sequence`; the rules that make the numbering safe are in `domain::changes`.

use chrono::NaiveDateTime;
use diesel::dsl::{exists, max, min};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{change_feed, changes};
use crate::domain::values::{ChangeAction, ResourceKind};

/// A numbered change, as the feed shows it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = changes)]
pub struct Change {
    pub seq: Option<i64>,
    pub resource: ResourceKind,
    pub resource_id: i64,
    pub action: ChangeAction,
    pub version: i64,
    pub at: NaiveDateTime,
    pub actor: String,
}

/// A change to append: numbered at once where writes take turns (SQLite), else later by
/// `sequence`.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = changes, treat_none_as_default_value = false)]
pub struct NewChange {
    pub seq: Option<i64>,
    pub resource: ResourceKind,
    pub resource_id: i64,
    pub action: ChangeAction,
    pub version: i64,
    pub at: NaiveDateTime,
    pub actor: String,
}

/// The feed's bounds: the newest seq handed out, the newest seq removed by retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Queryable)]
pub struct Head {
    pub last_seq: i64,
    pub purged_through: i64,
}

/// Appends changes: one (a single write's) in a statement prepared once, many in batches.
pub fn append_all(conn: &mut DbConnection, all: Vec<NewChange>) -> QueryResult<()> {
    if let [one] = all.as_slice() {
        return diesel::insert_into(changes::table)
            .values(one)
            .execute(conn)
            .map(drop);
    }
    // As many as an import's chunk creates companies.
    crate::db::in_batches!(conn, all, super::companies::INSERT_BATCH, |c, batch| {
        diesel::insert_into(changes::table).values(batch).execute(c)
    })
    .map(drop)
}

pub fn head(conn: &mut DbConnection) -> QueryResult<Head> {
    change_feed::table
        .find(1_i64)
        .select((change_feed::last_seq, change_feed::purged_through))
        .first(conn)
}

/// Takes the next `n` numbers and returns the last (SQLite only, where the write holding them
/// is the only writer).
pub fn take_seqs(conn: &mut DbConnection, n: i64) -> QueryResult<i64> {
    diesel::update(change_feed::table.find(1_i64))
        .set(change_feed::last_seq.eq(change_feed::last_seq + n))
        .returning(change_feed::last_seq)
        .get_result(conn)
}

/// Whether a committed change still waits for its number.
pub fn pending(conn: &mut DbConnection) -> QueryResult<bool> {
    diesel::select(exists(changes::table.filter(changes::seq.is_null()))).get_result(conn)
}

/// Numbers the changes committed so far that have none, in write order, above every number
/// handed out before, and returns the new head. Must run inside a transaction: its first
/// statement locks the feed's row, so runs on every connection and replica take turns, and
/// each run sees every run before it committed.
pub fn sequence(conn: &mut DbConnection) -> QueryResult<Head> {
    let (last, purged_through): (i64, i64) = diesel::update(change_feed::table.find(1_i64))
        .set(change_feed::last_seq.eq(change_feed::last_seq))
        .returning((change_feed::last_seq, change_feed::purged_through))
        .get_result(conn)?;
    let (first, newest): (Option<i64>, Option<i64>) = changes::table
        .filter(changes::seq.is_null())
        .select((min(changes::id), max(changes::id)))
        .get_result(conn)?;
    let (Some(first), Some(newest)) = (first, newest) else {
        return Ok(Head {
            last_seq: last,
            purged_through,
        });
    };
    // seq = id + offset keeps write order and starts above `last`. Only ids from `first` on:
    // a smaller id that commits meanwhile would get a number at or below `last`, so it waits
    // for the next run. Every id in [first, newest] that is committed by now gets its number
    // here; `newest` was seen committed, so the new head is exactly its number.
    let offset = last + 1 - first;
    diesel::update(
        changes::table
            .filter(changes::seq.is_null())
            .filter(changes::id.between(first, newest)),
    )
    .set(changes::seq.eq((changes::id + offset).nullable()))
    .execute(conn)?;
    let head = newest + offset;
    diesel::update(change_feed::table.find(1_i64))
        .set(change_feed::last_seq.eq(head))
        .execute(conn)?;
    Ok(Head {
        last_seq: head,
        purged_through,
    })
}

/// Up to `limit` numbered changes after `after`, in seq order, of the given kinds (all when
/// empty).
pub fn after(
    conn: &mut DbConnection,
    after: i64,
    kinds: &[ResourceKind],
    limit: i64,
) -> QueryResult<Vec<Change>> {
    let mut query = changes::table
        .filter(changes::seq.gt(after))
        .select(Change::as_select())
        .order(changes::seq)
        .limit(limit)
        .into_boxed();
    if !kinds.is_empty() {
        query = query.filter(changes::resource.eq_any(kinds));
    }
    query.load(conn)
}

/// Removes the numbered changes made before `before`; returns the new `purged_through`.
pub fn purge(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<i64> {
    let newest: Option<i64> = changes::table
        .filter(changes::at.lt(before))
        .filter(changes::seq.is_not_null())
        .select(max(changes::seq))
        .get_result(conn)?;
    let Some(newest) = newest else {
        return Ok(head(conn)?.purged_through);
    };
    diesel::delete(changes::table.filter(changes::seq.le(newest))).execute(conn)?;
    diesel::update(change_feed::table.find(1_i64))
        .filter(change_feed::purged_through.lt(newest))
        .set(change_feed::purged_through.eq(newest))
        .execute(conn)?;
    Ok(newest)
}
