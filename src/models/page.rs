//! Keyset paging shared by every list: a page asks for rows after the last (sort key, id)
//! it saw, so inserts between two pages neither repeat nor skip rows, and a page deep in a
//! large table costs as much as the first.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

/// The lists' page size when a request names none, and the largest it may name.
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;
/// The rows an export reads per statement.
pub const EXPORT_BATCH: i64 = 1000;

/// The pages whose LIMIT is written into their statement (`Limited`), each with its look-ahead
/// row: the lists' default and largest page, the export's batch, the change feed's default and
/// largest page (the feed's sizes are here because its statements are built the same way).
/// Each size is named, even where two are equal today, so changing one keeps the other.
const LITERAL_LIMITS: [i64; 5] = [
    DEFAULT_LIMIT + 1,
    MAX_LIMIT + 1,
    EXPORT_BATCH + 1,
    super::changes::DEFAULT_LIMIT + 1,
    super::changes::MAX_LIMIT + 1,
];

/// A page's query and its LIMIT, written into the statement's text for the usual page sizes:
/// `LIMIT 51` where diesel's `.limit(n)` always binds `LIMIT $4`. Every page statement asks
/// for one row more than the page holds, to know whether another page follows.
///
/// Why: PostgreSQL plans a prepared statement anew at each execution (a "custom plan") until
/// its one generic plan is estimated to cost no more. A LIMIT it cannot see is estimated at a
/// tenth of the rows, so a page's generic plan looked several times dearer than it is, and
/// every list request was planned again (BENCHMARKS.md, 2026-12-07, fifth session). Seeing the
/// LIMIT, PostgreSQL keeps the generic plan from the sixth execution on a connection.
///
/// Each written LIMIT is a statement text of its own, prepared and cached per connection, and
/// diesel's statement cache has no bound: were every size written, a client walking through
/// page sizes would fill each connection with prepared statements (on PostgreSQL, memory in
/// each server process). So any other LIMIT — an unusual `?limit=`, the rest of a page after
/// rows tied on the cursor's key — stays bound: one more statement per query, planned at each
/// execution as before. (Not sending such a statement unprepared: diesel-async prepares even
/// statements it won't cache, a round trip of its own.)
pub struct Limited<Q> {
    query: Q,
    rows: i64,
    /// `LIMIT`'s value as text, for the usual sizes: formatted once, not in each of the
    /// several passes diesel makes over a statement.
    literal: Option<String>,
}

impl<Q> Limited<Q> {
    /// `query`, which has no LIMIT of its own, limited to `rows`.
    pub fn new(query: Q, rows: i64) -> Self {
        Self {
            query,
            rows,
            literal: LITERAL_LIMITS.contains(&rows).then(|| rows.to_string()),
        }
    }
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for Limited<Q> {
    type SqlType = Q::SqlType;
}

/// No static query id: diesel caches the statement by its text, which holds the LIMIT.
impl<Q> diesel::query_builder::QueryId for Limited<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, DB> diesel::query_builder::QueryFragment<DB> for Limited<Q>
where
    Q: diesel::query_builder::QueryFragment<DB>,
    DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<diesel::sql_types::BigInt>,
    i64: diesel::serialize::ToSql<diesel::sql_types::BigInt, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(" LIMIT ");
        match &self.literal {
            Some(rows) => out.push_sql(rows),
            None => out.push_bind_param::<diesel::sql_types::BigInt, _>(&self.rows)?,
        }
        Ok(())
    }
}

impl<Q, C> diesel::RunQueryDsl<C> for Limited<Q> {}
impl<Q, C> diesel_async::RunQueryDsl<C> for Limited<Q> {}

/// The sort key of the last row of a page, as stored in the cursor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortKey {
    Int(i64),
    Text(String),
    /// A timestamp as microseconds since the epoch (UTC).
    Time(NaiveDateTimeMicros),
    /// A date as days since 0001-01-01.
    Day(DayNumber),
}

/// Dates travel in cursors as a day number.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DayNumber {
    pub d: i32,
}

/// Timestamps travel in cursors as microseconds, exact and compact.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NaiveDateTimeMicros {
    pub t: i64,
}

impl SortKey {
    pub fn time(at: NaiveDateTime) -> Self {
        Self::Time(NaiveDateTimeMicros {
            t: at.and_utc().timestamp_micros(),
        })
    }

    pub fn day(date: chrono::NaiveDate) -> Self {
        use chrono::Datelike as _;
        Self::Day(DayNumber {
            d: date.num_days_from_ce(),
        })
    }

    pub fn as_day(&self) -> Option<chrono::NaiveDate> {
        match self {
            Self::Day(n) => chrono::NaiveDate::from_num_days_from_ce_opt(n.d),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<String> {
        match self {
            Self::Text(s) => Some(s.clone()),
            _ => None,
        }
    }

    pub fn as_time(&self) -> Option<NaiveDateTime> {
        match self {
            Self::Time(m) => chrono::DateTime::from_timestamp_micros(m.t).map(|t| t.naive_utc()),
            _ => None,
        }
    }
}

/// Where the previous page ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keyset {
    pub key: SortKey,
    pub id: i64,
}

/// A sort order: a resource's sortable field and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort<F> {
    pub field: F,
    pub descending: bool,
}

/// What a list query asks for.
#[derive(Debug, Clone)]
pub struct PageRequest<F> {
    pub sort: Sort<F>,
    pub limit: i64,
    pub after: Option<Keyset>,
    pub with_total: bool,
}

/// One page of rows, the keyset of the next page, and the total if asked.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Keyset>,
    pub total: Option<i64>,
}

/// The cursor names a key of another type than the sort field: it belongs to another sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the cursor does not belong to this sort order")]
pub struct CursorMismatch;

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only says there is more.
    pub fn from_rows(
        mut rows: Vec<T>,
        limit: i64,
        total: Option<i64>,
        keyset_of: impl Fn(&T) -> Keyset,
    ) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(keyset_of)
        } else {
            None
        };
        Self {
            items: rows,
            next,
            total,
        }
    }
}

/// Which statement of a page is built (`sorted!`). The first page is one statement. A page
/// after a cursor `(k, id0)` is two, each a plain seek on the `(col, id)` index: the rest of
/// the rows tied on `k` (`col = k AND id > id0`, by id), then the rows after `k` (`col > k`),
/// as many as are still missing (mirrored when descending).
///
/// Why not one statement: `(col > k) OR (col = k AND id > id0)` (also as a row value
/// `(col, id) > (k, id0)`) makes SQLite's and PostgreSQL's planners start the index range at
/// `col >= k` and filter the tied rows one by one, so a page deep inside many equal keys
/// (a million companies in five cities, or rows created in one instant) read every tied row
/// before it: a whole-list export by city was quadratic (BENCHMARKS.md).
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    First,
    Tied(&'a Keyset),
    Past(&'a Keyset),
}

/// One statement of a page: `$query` (a boxed query, built once before the match on the sort
/// field) with the `$step`'s filter and order on
/// the sort column `$col` and the id `$id`, `$descending` or not. Every variant is the same
/// boxed query type, so the caller writes its `load` once: a statement per sort field and
/// step made the compiler type-check a list's query and its `load` dozens of times — most of
/// this crate's build time. `$read` converts the cursor's key into the column's Rust type; a
/// key of another kind was refused before (`sorted!`), so here it would only find no rows.
macro_rules! keyset_step {
    ($query:expr, $col:expr, $id:expr, $step:expr, $descending:expr, $read:expr) => {{
        use $crate::models::page::Step;
        let query = $query;
        match ($step, $descending) {
            (Step::First, false) => query.order_by($col.asc()).then_order_by($id.asc()),
            (Step::First, true) => query.order_by($col.desc()).then_order_by($id.desc()),
            (Step::Tied(after) | Step::Past(after), descending) => match $read(&after.key) {
                // Not reached: `sorted!` refuses a key of another kind before any statement.
                // Were it reached, the page would end (no rows), not fail.
                None => query.filter(false.into_sql::<diesel::sql_types::Bool>()),
                Some(k) => match ($step, descending) {
                    (Step::Tied(_), false) => query
                        .filter($col.eq(k))
                        .filter($id.gt(after.id))
                        .order_by($id.asc()),
                    (Step::Tied(_), true) => query
                        .filter($col.eq(k))
                        .filter($id.lt(after.id))
                        .order_by($id.desc()),
                    (_, false) => query
                        .filter($col.gt(k))
                        .order_by($col.asc())
                        .then_order_by($id.asc()),
                    (_, true) => query
                        .filter($col.lt(k))
                        .order_by($col.desc())
                        .then_order_by($id.desc()),
                },
            },
        }
    }};
}
pub(crate) use keyset_step;

/// The two sides of a sort key's kind: reading it from a cursor, making it from a row.
macro_rules! cursor_key {
    (read text) => {
        $crate::models::page::SortKey::as_text
    };
    (read int) => {
        $crate::models::page::SortKey::as_int
    };
    (read time) => {
        $crate::models::page::SortKey::as_time
    };
    (read day) => {
        $crate::models::page::SortKey::as_day
    };
    (make text, $value:expr) => {
        $crate::models::page::SortKey::Text($value)
    };
    (make int, $value:expr) => {
        $crate::models::page::SortKey::Int($value)
    };
    (make time, $value:expr) => {
        $crate::models::page::SortKey::time($value)
    };
    (make day, $value:expr) => {
        $crate::models::page::SortKey::day($value)
    };
}
pub(crate) use cursor_key;

/// A list's sort orders, each declared once: the field, the kind of its key (`text`, `int`,
/// `time`, `day`), the column, and the row's value of it. Loads the page's rows of `$query`
/// (an expression evaluated once per statement, type-checked once per backend, see
/// `keyset_step!`) and returns them with
/// the function that reads the keyset of a row for the next cursor, so the column and the
/// cursor can't disagree. Where the loaded row holds the table's row in a field (a record
/// with its relation ids), `|r: Record, c = &r.row|` names it for the keys and the id.
///
/// ```ignore
/// let (rows, keyset) = sorted!(conn, filtered!().select(Topic::as_select()), page, topics::id, |t: Topic| {
///     TopicSort::Name => text(topics::name_key, t.name_key.clone()),
///     TopicSort::CreatedAt => time(topics::created_at, t.created_at),
/// });
/// ```
macro_rules! sorted {
    // The internal form: `$keyed` is the table's row, `$of_row` how to get it from `$row`.
    (@keyed $conn:expr, $query:expr, $page:expr, $id:expr, |$row:ident: $ty:ty, $keyed:ident = ($($of_row:tt)+)| {
        $($field:path => $kind:ident($col:expr, $key:expr)),+ $(,)?
    }) => {{
        let conn: &mut $crate::db::Conn<'_> = $conn;
        let page = &$page;
        let limit = page.limit + 1;
        let descending = page.sort.descending;
        // One statement, written once: its query and `load` are type-checked once per backend.
        let load = async |conn: &mut $crate::db::Conn<'_>, step: $crate::models::page::Step<'_>, limit: i64| {
            $crate::db::query!(conn, |c| {
                let query = $query;
                $crate::models::page::Limited::new(
                    match page.sort.field {
                        $($field => $crate::models::page::keyset_step!(
                            query, $col, $id, step, descending, $crate::models::page::cursor_key!(read $kind)
                        ),)+
                    },
                    limit,
                )
                .load::<$ty>(c)
            })
        };
        let rows = async {
            let Some(after) = &page.after else {
                return Ok(load(conn, $crate::models::page::Step::First, limit).await?);
            };
            let fits = match page.sort.field {
                $($field => $crate::models::page::cursor_key!(read $kind)(&after.key).is_some(),)+
            };
            if !fits {
                return Err($crate::models::ListError::from($crate::models::page::CursorMismatch));
            }
            let mut rows = load(conn, $crate::models::page::Step::Tied(after), limit).await?;
            let missing = limit - i64::try_from(rows.len()).unwrap_or(limit);
            rows.extend(load(conn, $crate::models::page::Step::Past(after), missing).await?);
            Ok::<_, $crate::models::ListError>(rows)
        }
        .await;
        let sort = page.sort.field;
        let keyset = move |$row: &$ty| {
            let $keyed = $($of_row)+;
            $crate::models::page::Keyset {
                key: match sort {
                    $($field => $crate::models::page::cursor_key!(make $kind, $key),)+
                },
                id: i64::from($keyed.id),
            }
        };
        rows.map(|rows| (rows, keyset))
    }};
    ($conn:expr, $query:expr, $page:expr, $id:expr, |$row:ident: $ty:ty| {
        $($field:path => $kind:ident($col:expr, $key:expr)),+ $(,)?
    }) => {
        $crate::models::page::sorted!(@keyed $conn, $query, $page, $id, |$row: $ty, $row = ($row)| {
            $($field => $kind($col, $key)),+
        })
    };
    ($conn:expr, $query:expr, $page:expr, $id:expr, |$row:ident: $ty:ty, $keyed:ident = &$of:ident.$part:ident| {
        $($field:path => $kind:ident($col:expr, $key:expr)),+ $(,)?
    }) => {
        $crate::models::page::sorted!(@keyed $conn, $query, $page, $id, |$row: $ty, $keyed = (&$of.$part)| {
            $($field => $kind($col, $key)),+
        })
    };
}
pub(crate) use sorted;
