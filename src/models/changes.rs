//! The change feed's rows: one per change of a domain record, numbered (`seq`) after commit by
//! `sequence`; the rules that make the numbering safe are in `domain::changes`.

use crate::db::prelude::*;
use chrono::NaiveDateTime;
use diesel::dsl::{exists, max, min};

use crate::db::schema::{change_feed, changes};
use crate::db::{Conn, query};
use crate::domain::values::{ChangeAction, ResourceKind};
use crate::models::page::Limited;

/// The feed's page size when a request names none, and the largest it may name.
pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

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
pub async fn append_all(conn: &mut Conn<'_>, all: Vec<NewChange>) -> QueryResult<()> {
    if let [one] = all.as_slice() {
        return query!(conn, |c| diesel::insert_into(changes::table)
            .values(one)
            .execute(c))
        .map(drop);
    }
    // As many as an import's chunk creates companies.
    crate::db::in_batches!(conn, all, super::companies::INSERT_BATCH, |c, batch| {
        diesel::insert_into(changes::table).values(batch).execute(c)
    })
    .map(drop)
}

pub async fn head(conn: &mut Conn<'_>) -> QueryResult<Head> {
    query!(conn, |c| change_feed::table
        .find(1_i64)
        .select((change_feed::last_seq, change_feed::purged_through))
        .first(c))
}

/// Takes the next `n` numbers and returns the last (SQLite only, where the write holding them
/// is the only writer).
pub async fn take_seqs(conn: &mut Conn<'_>, n: i64) -> QueryResult<i64> {
    query!(conn, |c| diesel::update(change_feed::table.find(1_i64))
        .set(change_feed::last_seq.eq(change_feed::last_seq + n))
        .returning(change_feed::last_seq)
        .get_result(c))
}

/// Whether a committed change still waits for its number.
pub async fn pending(conn: &mut Conn<'_>) -> QueryResult<bool> {
    query!(conn, |c| diesel::select(exists(
        changes::table.filter(changes::seq.is_null())
    ))
    .get_result(c))
}

/// Numbers the changes committed so far that have none, in write order, above every number
/// handed out before, and returns the new head. Must run inside a transaction: its first
/// statement locks the feed's row, so runs on every connection and replica take turns, and
/// each run sees every run before it committed.
pub async fn sequence(conn: &mut Conn<'_>) -> QueryResult<Head> {
    let (last, purged_through): (i64, i64) =
        query!(conn, |c| diesel::update(change_feed::table.find(1_i64))
            .set(change_feed::last_seq.eq(change_feed::last_seq))
            .returning((change_feed::last_seq, change_feed::purged_through))
            .get_result(c))?;
    let (first, newest): (Option<i64>, Option<i64>) = query!(conn, |c| changes::table
        .filter(changes::seq.is_null())
        .select((min(changes::id), max(changes::id)))
        .get_result(c))?;
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
    query!(conn, |c| diesel::update(
        changes::table
            .filter(changes::seq.is_null())
            .filter(changes::id.between(first, newest)),
    )
    .set(changes::seq.eq((changes::id + offset).nullable()))
    .execute(c))?;
    let head = newest + offset;
    query!(conn, |c| diesel::update(change_feed::table.find(1_i64))
        .set(change_feed::last_seq.eq(head))
        .execute(c))?;
    Ok(Head {
        last_seq: head,
        purged_through,
    })
}

/// Up to `limit` numbered changes after `after`, in seq order, of the given kinds (all when
/// empty).
pub async fn after(
    conn: &mut Conn<'_>,
    after: i64,
    kinds: &[ResourceKind],
    limit: i64,
) -> QueryResult<Vec<Change>> {
    query!(conn, |c| {
        let mut query = changes::table
            .filter(changes::seq.gt(after))
            .select(Change::as_select())
            .order(changes::seq)
            .into_boxed();
        if !kinds.is_empty() {
            query = query.filter(changes::resource.eq_any(kinds));
        }
        Limited::new(query, limit).load(c)
    })
}

/// Removes the numbered changes made before `before`; returns the new `purged_through`.
pub async fn purge(conn: &mut Conn<'_>, before: NaiveDateTime) -> QueryResult<i64> {
    let newest: Option<i64> = query!(conn, |c| changes::table
        .filter(changes::at.lt(before))
        .filter(changes::seq.is_not_null())
        .select(max(changes::seq))
        .get_result(c))?;
    let Some(newest) = newest else {
        return Ok(head(conn).await?.purged_through);
    };
    query!(conn, |c| diesel::delete(
        changes::table.filter(changes::seq.le(newest))
    )
    .execute(c))?;
    query!(conn, |c| diesel::update(change_feed::table.find(1_i64))
        .filter(change_feed::purged_through.lt(newest))
        .set(change_feed::purged_through.eq(newest))
        .execute(c))?;
    Ok(newest)
}
