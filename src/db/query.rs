//! How a query reaches its backend: every query is written once, in diesel's typed DSL, and
//! compiled once per backend by `query!`, which brings that backend's `RunQueryDsl` into scope
//! for the one statement it runs. Model functions are `async fn`s taking a `Conn`: on
//! PostgreSQL their statements are awaited on diesel-async's connection; on SQLite nothing in
//! them ever waits (see `Db::run`), so the same function runs blocking there (docs/database.md).
//!
//! A model module imports `db::prelude::*`, never a `RunQueryDsl` of its own: with both in scope
//! a method call such as `.load(c)` would be ambiguous once the arms differ.

use std::pin::pin;
use std::task::{Context, Poll, Waker};

use diesel::SqliteConnection;
use diesel::connection::TransactionManager as _;
use diesel_async::{AsyncPgConnection, TransactionManager as _};

/// What a model module needs of diesel's prelude: its expression methods, derives and query
/// building, but not `RunQueryDsl` (the arms of `query!` bring their own).
pub mod prelude {
    pub use diesel::IntoSql as _;
    pub use diesel::expression_methods::*;
    pub use diesel::{
        AsChangeset, BoxableExpression, Identifiable, Insertable, JoinOnDsl,
        OptionalExtension as _, QueryDsl, QueryResult, Queryable, QueryableByName, Selectable,
        SelectableHelper,
    };
}

/// A connection to one of the two databases, as model functions take it.
pub enum Conn<'a> {
    Postgres(Pg<'a>),
    Sqlite(&'a mut SqliteConnection),
}

/// A PostgreSQL connection: one the work has to itself (`Db::run`, `Db::write`), or one it
/// shares with the other reads of its worker, their statements pipelined (`Db::read`). Every
/// statement runs on the connection shared, as diesel-async allows; only a transaction needs
/// one of its own.
pub enum Pg<'a> {
    Own(&'a mut AsyncPgConnection),
    Shared(&'a AsyncPgConnection),
}

impl Pg<'_> {
    /// The connection, to run a statement on.
    pub fn shared(&self) -> &AsyncPgConnection {
        match self {
            Pg::Own(conn) => conn,
            Pg::Shared(conn) => conn,
        }
    }
}

/// Runs one statement: `$body`, written once, is compiled once per backend with `$c` bound to
/// that backend's connection and that backend's `RunQueryDsl` in scope, and its result is
/// awaited where the backend is asynchronous. `$body` ends in the call that runs the
/// statement (`.load(c)`, `.get_result(c)`, `.execute(c)`, `c.batch_execute(sql)`, …); what
/// works on its result (`.optional()`, `?`) goes after the macro.
///
/// ```ignore
/// let row = query!(conn, |c| regions::table.find(id).first::<Region>(c)).optional()?;
/// ```
macro_rules! query {
    ($conn:expr, |$c:ident| $body:expr) => {
        match &mut *$conn {
            $crate::db::Conn::Postgres(pg) => $crate::db::postgres_query!(pg, |$c| $body),
            $crate::db::Conn::Sqlite(sqlite) => {
                #[allow(unused_imports)]
                use diesel::{RunQueryDsl as _, connection::SimpleConnection as _};
                let $c: &mut diesel::SqliteConnection = &mut **sqlite;
                $body
            }
        }
    };
}
pub(crate) use query;

/// How a statement runs on PostgreSQL: `query!`'s PostgreSQL arm. `$pg` is what
/// `Conn::Postgres` holds (`Pg`); the statement borrows the connection shared, as
/// diesel-async allows.
macro_rules! postgres_query {
    ($pg:expr, |$c:ident| $body:expr) => {{
        #[allow(unused_imports)]
        use diesel_async::{RunQueryDsl as _, SimpleAsyncConnection as _};
        let mut shared: &diesel_async::AsyncPgConnection = $pg.shared();
        let $c = &mut shared;
        $body.await
    }};
}
pub(crate) use postgres_query;

/// Runs one multi-row statement per batch of `$n` of the owned rows `$rows` (any iterable,
/// taken a batch at a time) and collects what each returns. A full batch is a `Box<[T; $n]>`,
/// whose statement is the same every time (its query id is static, which needs rows that own
/// their values): both databases prepare it once and reuse it, where PostgreSQL spent as long
/// parsing and planning each 500-row `VALUES` list of an import as inserting its rows. The
/// last, shorter batch is a `Vec`. `$n` rows may carry at most 32 766 parameters (SQLite's
/// limit; PostgreSQL's is 65 535).
macro_rules! in_batches {
    ($conn:expr, $rows:expr, $n:expr, |$c:ident, $batch:ident| $insert:expr) => {{
        let conn: &mut $crate::db::Conn<'_> = $conn;
        let mut rows = $rows.into_iter();
        let mut results = Vec::new();
        loop {
            let batch: Box<[_]> = rows.by_ref().take($n).collect();
            if batch.is_empty() {
                break Ok::<_, diesel::result::Error>(results);
            }
            results.push(match <Box<[_; $n]>>::try_from(batch) {
                Ok($batch) => $crate::db::query!(&mut *conn, |$c| $insert)?,
                Err(rest) => {
                    let $batch = rest.into_vec();
                    $crate::db::query!(&mut *conn, |$c| $insert)?
                }
            });
        }
    }};
}
pub(crate) use in_batches;

/// Runs `work` in a transaction: committed when it returns `Ok`, rolled back when it returns
/// an error (which is then returned, unless the rollback itself failed). Nested, it runs in a
/// savepoint. The same steps as diesel's `Connection::transaction`, written for an async body.
///
/// A transaction needs a connection of its own: on the connection `Db::read` shares, its
/// statements would mix with other requests' (an error, never a silent mix).
pub async fn transaction<T, E>(
    conn: &mut Conn<'_>,
    work: impl AsyncFnOnce(&mut Conn<'_>) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    type Postgres = <AsyncPgConnection as diesel_async::AsyncConnection>::TransactionManager;
    type Sqlite = <SqliteConnection as diesel::Connection>::TransactionManager;
    match conn {
        Conn::Postgres(Pg::Own(c)) => Postgres::begin_transaction(*c).await?,
        Conn::Postgres(Pg::Shared(_)) => {
            return Err(E::from(diesel::result::Error::QueryBuilderError(
                "a transaction on the connection Db::read shares: run it with Db::run or \
                 Db::write"
                    .into(),
            )));
        }
        Conn::Sqlite(c) => Sqlite::begin_transaction(*c)?,
    }
    let result = work(conn).await;
    let ended = match (&result, &mut *conn) {
        (Ok(_), Conn::Postgres(Pg::Own(c))) => Postgres::commit_transaction(*c).await,
        (Err(_), Conn::Postgres(Pg::Own(c))) => Postgres::rollback_transaction(*c).await,
        // Begun on a connection of its own, which the work can't swap for a shared one.
        (_, Conn::Postgres(Pg::Shared(_))) => Err(diesel::result::Error::BrokenTransactionManager),
        (Ok(_), Conn::Sqlite(c)) => Sqlite::commit_transaction(*c),
        (Err(_), Conn::Sqlite(c)) => Sqlite::rollback_transaction(*c),
    };
    match (result, ended) {
        (result, Ok(())) => result,
        // The work failed and so did its rollback: the work's error says more.
        (Err(e), Err(diesel::result::Error::BrokenTransactionManager)) => Err(e),
        (_, Err(e)) => Err(e.into()),
    }
}

/// Runs two independent pieces of database work, neither needing the other's result: on
/// PostgreSQL at once, their statements pipelined on the one connection, so the work waits
/// for one round trip where it would wait for two; on SQLite, which runs in the process and
/// has nothing to wait for, one after the other. A project and its funding lines are read so.
pub async fn both<A, B, E>(
    conn: &mut Conn<'_>,
    a: impl AsyncFnOnce(&mut Conn<'_>) -> Result<A, E>,
    b: impl AsyncFnOnce(&mut Conn<'_>) -> Result<B, E>,
) -> Result<(A, B), E> {
    match conn {
        Conn::Postgres(pg) => {
            let shared = pg.shared();
            let (mut first, mut second) = (
                Conn::Postgres(Pg::Shared(shared)),
                Conn::Postgres(Pg::Shared(shared)),
            );
            // Both to their ends, even when one fails: a statement dropped half-way would
            // still run, and hold up whoever used the connection next.
            let (a, b) = futures_util::future::join(a(&mut first), b(&mut second)).await;
            Ok((a?, b?))
        }
        Conn::Sqlite(_) => Ok((a(conn).await?, b(conn).await?)),
    }
}

/// The value of database work that never waits: on SQLite a model function's future is ready
/// at its first poll. `None` if it was not, which would be a mistake of ours (`db::blocking`
/// logs it and answers 503).
pub(super) fn ready<T>(work: impl Future<Output = T>) -> Option<T> {
    match pin!(work).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => Some(value),
        Poll::Pending => None,
    }
}
