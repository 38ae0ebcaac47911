//! The change feed: every create, update and delete of a domain record, in an order a reader
//! can follow without ever missing one.
//!
//! Why numbering happens after commit (the trap the design avoids): numbers taken inside
//! concurrent write transactions become visible in commit order, not number order, so a
//! reader could see 6 before a slower transaction commits 5 and, resuming after 6, skip 5
//! forever. So a write only appends its change unnumbered (`seq` NULL), in its own
//! transaction; a *sequencer* numbers what has committed, one run at a time across every
//! connection and replica (its first statement locks the single `change_feed` row), each run
//! above every number before it. A reader sees a run's numbers only when the run commits, all
//! at once, and every later run numbers higher: paging with `after=<last seq>` misses nothing.
//! A counter row updated by every write transaction would be correct too, but it serializes
//! all writers' commits; the sequencer serializes only itself, off the write path.
//!
//! When numbering happens: on SQLite, writes already run one at a time, so a write numbers
//! its own change before it commits (read-your-writes, no delay). On PostgreSQL, a feed read
//! first numbers what is pending (so a change is in the feed as soon as its write was
//! answered), and every replica's feed ticker (`api::changes`) numbers pending changes every
//! `TICK` for long-polling readers.

use std::time::Duration;

use crate::db::Conn;
use crate::domain::values::{ChangeAction, ResourceKind};
use crate::domain::{Actor, DomainError, now};
use crate::models::changes::{self, Change, Head, NewChange};

/// How often each replica numbers pending changes and looks for new ones (the bound on how
/// late a long-polling reader hears of a change made through another replica).
pub const TICK: Duration = Duration::from_millis(100);

/// Appends a change of `kind` `id` to the feed, inside the write's transaction.
pub async fn record(
    conn: &mut Conn<'_>,
    by: &Actor,
    kind: ResourceKind,
    id: i64,
    action: ChangeAction,
    version: i64,
) -> Result<(), DomainError> {
    record_all(conn, by, kind, &[(id, action, version)]).await
}

/// Appends the changes `(id, action, version)` of `kind`, in this order, inside the write's
/// transaction.
pub async fn record_all(
    conn: &mut Conn<'_>,
    by: &Actor,
    kind: ResourceKind,
    all: &[(i64, ChangeAction, i64)],
) -> Result<(), DomainError> {
    let Ok(count) = i64::try_from(all.len()) else {
        return Err(DomainError::Internal("too many changes at once".into()));
    };
    if count == 0 {
        return Ok(());
    }
    // Writes take turns on SQLite: the next numbers, taken inside the write, are in commit
    // order already.
    let first_seq = match conn {
        Conn::Sqlite(_) => Some(changes::take_seqs(conn, count).await? - count + 1),
        Conn::Postgres(_) => None,
    };
    let at = now();
    let entries: Vec<NewChange> = all
        .iter()
        .zip(0..)
        .map(|(&(resource_id, action, version), i)| NewChange {
            seq: first_seq.map(|first| first + i),
            resource: kind,
            resource_id,
            action,
            version,
            at,
            actor: by.label.clone(),
        })
        .collect();
    changes::append_all(conn, entries).await?;
    Ok(())
}

/// Numbers what has committed without a number (PostgreSQL; on SQLite nothing waits) and
/// returns the feed's head.
pub async fn catch_up(conn: &mut Conn<'_>) -> Result<Head, DomainError> {
    if changes::pending(conn).await? {
        return crate::db::transaction(conn, async |conn| Ok(changes::sequence(conn).await?)).await;
    }
    Ok(changes::head(conn).await?)
}

/// One page of the feed.
#[derive(Debug, Clone)]
pub struct FeedPage {
    pub items: Vec<Change>,
    /// Where the next page starts: the last item's seq, or on an empty page the newest seq
    /// the feed holds (never less than `after`).
    pub next_after: i64,
    pub has_more: bool,
    /// The newest seq the feed held when the page was read.
    pub head: i64,
}

/// Up to `limit` changes after `after` (`None`: from the oldest change kept), of the given
/// kinds (all when empty).
pub async fn read(
    conn: &mut Conn<'_>,
    after: Option<i64>,
    kinds: &[ResourceKind],
    limit: i64,
) -> Result<FeedPage, DomainError> {
    // The head before the items: an empty page's next_after must not pass a number that got
    // committed after the items were read.
    let head = catch_up(conn).await?;
    let after = after.unwrap_or(head.purged_through);
    let mut items = changes::after(conn, after, kinds, limit + 1).await?;
    // Retention after the items: a purge that committed in between removed rows this read
    // may have missed (a purge deletes and moves purged_through in one transaction).
    let purged_through = changes::head(conn).await?.purged_through;
    if after < purged_through {
        return Err(DomainError::Gone(format!(
            "changes up to {purged_through} are no longer kept; load the lists again and \
             follow the feed from the head of a page read without after"
        )));
    }
    let has_more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next_after = match items.last() {
        Some(last) => last.seq.unwrap_or(after),
        None => head.last_seq.max(after),
    };
    Ok(FeedPage {
        items,
        next_after,
        has_more,
        head: head.last_seq,
    })
}

/// Removes the changes older than `days` days.
pub async fn purge(conn: &mut Conn<'_>, days: u32) -> Result<i64, DomainError> {
    let before = now() - chrono::Duration::days(i64::from(days));
    crate::db::transaction(conn, async |conn| Ok(changes::purge(conn, before).await?)).await
}
