//! How a query reaches its backend: every query is written once, in diesel's typed DSL, and
//! compiled once per backend by `query!`, which brings that backend's `RunQueryDsl` into scope
//! for the one statement it runs. Model functions are `async fn`s taking a `Conn`: on
//! PostgreSQL their statements are awaited on diesel-async's connection; on SQLite nothing in
//! them ever waits (see `Db::run`), so the same function runs blocking there (docs/database.md).
//!
//! A model module imports `db::prelude::*`, never a `RunQueryDsl` of its own: with both in scope
//! a method call such as `.load(c)` would be ambiguous once the arms differ.

use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// With the pipeline's `Unsent`, where its pieces note a failure the server never saw.
    Shared(&'a AsyncPgConnection, &'a Unsent),
}

impl Pg<'_> {
    /// The connection, to run a statement on.
    pub fn shared(&self) -> &AsyncPgConnection {
        match self {
            Pg::Own(conn) => conn,
            Pg::Shared(conn, _) => conn,
        }
    }
}

/// Whether a piece of pipelined work (`both`) failed on this side before it sent anything —
/// a bind value that could not be serialized, SQL that could not be built. The server knows
/// nothing of such a failure, so it aborts nothing: a `COMMIT` sent behind the other pieces
/// would commit them without it. `last_with_commit` reads it and rolls back instead.
/// (An atomic only so that the work holding it stays `Send`; it never leaves its task.)
#[derive(Debug, Default)]
pub struct Unsent(AtomicBool);

impl Unsent {
    /// Notes a piece of work's first poll: a statement builds its SQL and serializes its bind
    /// values before it first waits, so an error that early was never sent.
    fn note<T, E>(&self, first: &Poll<Result<T, E>>) {
        if matches!(first, Poll::Ready(Err(_))) {
            self.0.store(true, Ordering::Relaxed);
        }
    }

    fn noted(&self) -> bool {
        self.0.load(Ordering::Relaxed)
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

/// The transaction managers of the two connections.
type Postgres = <AsyncPgConnection as diesel_async::AsyncConnection>::TransactionManager;
type Sqlite = <SqliteConnection as diesel::Connection>::TransactionManager;

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
    transaction_ending_with(conn, work, async |_, _| Ok(())).await
}

/// `transaction`, with `last` run on what `work` returned as the transaction's last step: on
/// PostgreSQL its statement goes out together with the COMMIT, so committing costs no round
/// trip of its own (a write's entry in the change feed is written so). If `last` fails on the
/// server, the COMMIT finds the transaction failed and rolls it back, as PostgreSQL does with
/// a COMMIT after an error; if it, or a piece of it, fails on this side before sending
/// anything (`Unsent`), no COMMIT is sent and the transaction is rolled back. Either way
/// `last`'s error is returned.
///
/// `last` must send all its statements at once — one statement, or several through `both` —
/// before it waits for any answer: a statement sent after an answer would come after the
/// COMMIT, outside the transaction. Nested, and on SQLite, the steps run one after the other.
pub async fn transaction_ending_with<T, E>(
    conn: &mut Conn<'_>,
    work: impl AsyncFnOnce(&mut Conn<'_>) -> Result<T, E>,
    last: impl AsyncFnOnce(&mut Conn<'_>, &T) -> Result<(), E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let outermost = match conn {
        Conn::Postgres(Pg::Own(c)) => {
            let outermost = Postgres::transaction_manager_status_mut(*c)
                .transaction_depth()?
                .is_none();
            Postgres::begin_transaction(*c).await?;
            outermost
        }
        Conn::Postgres(Pg::Shared(..)) => {
            return Err(E::from(diesel::result::Error::QueryBuilderError(
                "a transaction on the connection Db::read shares: run it with Db::run or \
                 Db::write"
                    .into(),
            )));
        }
        Conn::Sqlite(c) => {
            Sqlite::begin_transaction(*c)?;
            false
        }
    };
    let result = match work(conn).await {
        Ok(value) if outermost => return last_with_commit(conn, value, last).await,
        Ok(value) => last(conn, &value).await.map(|()| value),
        Err(e) => Err(e),
    };
    let ended = match (&result, &mut *conn) {
        (Ok(_), Conn::Postgres(Pg::Own(c))) => Postgres::commit_transaction(*c).await,
        (Err(_), Conn::Postgres(Pg::Own(c))) => Postgres::rollback_transaction(*c).await,
        // Begun on a connection of its own, which the work can't swap for a shared one.
        (_, Conn::Postgres(Pg::Shared(..))) => Err(diesel::result::Error::BrokenTransactionManager),
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

/// The end of an outermost PostgreSQL transaction whose work succeeded: `last`'s statements
/// and the COMMIT sent together. The COMMIT goes through the prepared-statement path, as
/// `last`'s statements do, so it queues behind one of them still being prepared instead of
/// overtaking it (`batch_execute` would send it at once). diesel-async's transaction manager
/// learns here that the transaction is over.
async fn last_with_commit<T, E>(
    conn: &mut Conn<'_>,
    value: T,
    last: impl AsyncFnOnce(&mut Conn<'_>, &T) -> Result<(), E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let Conn::Postgres(Pg::Own(own)) = conn else {
        return Err(E::from(diesel::result::Error::BrokenTransactionManager));
    };
    let sent = {
        let shared: &AsyncPgConnection = own;
        let unsent = Unsent::default();
        let mut on_shared = Conn::Postgres(Pg::Shared(shared, &unsent));
        let mut last = pin!(last(&mut on_shared, &value));
        // `last` sends its statements when first polled. Done at once with an error, or with
        // a piece that failed at once (`Unsent`), it failed on this side before that reached
        // the server, where the transaction is then not aborted: a COMMIT would commit the
        // work without it. It is rolled back instead, once what did go out has answered.
        // Unconstrained: a statement's client-side error reaches its future's first poll only
        // if no tokio lock on the way yields to the task's cooperative budget first.
        let first = std::future::poll_fn(|cx| Poll::Ready(last.as_mut().poll(cx)));
        match tokio::task::unconstrained(first).await {
            Poll::Ready(Err(e)) => Err(e),
            Poll::Pending if unsent.noted() => Err(match last.await {
                Err(e) => e,
                // `last` swallowed its piece's error: still not committed.
                Ok(()) => E::from(diesel::result::Error::QueryBuilderError(
                    "a statement sent with the COMMIT failed before it was sent; rolled back"
                        .into(),
                )),
            }),
            first => Ok(futures_util::future::join(
                async {
                    match first {
                        Poll::Ready(done) => done,
                        Poll::Pending => last.await,
                    }
                },
                diesel_async::RunQueryDsl::execute(Commit, &mut &*shared),
            )
            .await),
        }
    };
    let (done, committed) = match sent {
        Ok(answers) => answers,
        Err(e) => {
            // Should the rollback fail too, the connection is broken and `last`'s error says more.
            let _ = Postgres::rollback_transaction(*own).await;
            return Err(e);
        }
    };
    let status = Postgres::transaction_manager_status_mut(*own);
    match &committed {
        // Committed, or rolled back after `last` failed: either way over.
        Ok(_) => status
            .transaction_state()?
            .change_transaction_depth(diesel::connection::TransactionDepthChange::DecreaseDepth)?,
        // Not known to be over (the connection may be gone): the pool drops the connection.
        Err(_) => status.set_in_error(),
    }
    done?;
    committed?;
    Ok(value)
}

/// `COMMIT` as a statement with a static query id: prepared once per connection and sent
/// like any other statement (`last_with_commit`).
#[derive(diesel::query_builder::QueryId)]
struct Commit;

impl<C> diesel_async::RunQueryDsl<C> for Commit {}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for Commit {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        out.push_sql("COMMIT");
        Ok(())
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
            let own = Unsent::default();
            let (shared, unsent) = match pg {
                Pg::Own(conn) => (&**conn, &own),
                Pg::Shared(conn, unsent) => (*conn, *unsent),
            };
            let (mut first, mut second) = (
                Conn::Postgres(Pg::Shared(shared, unsent)),
                Conn::Postgres(Pg::Shared(shared, unsent)),
            );
            let (mut a, mut b) = (pin!(a(&mut first)), pin!(b(&mut second)));
            // Each polled first in order, which sends their statements in that order.
            let first_a = std::future::poll_fn(|cx| Poll::Ready(a.as_mut().poll(cx))).await;
            let first_b = std::future::poll_fn(|cx| Poll::Ready(b.as_mut().poll(cx))).await;
            unsent.note(&first_a);
            unsent.note(&first_b);
            // Both to their ends, even when one fails: a statement dropped half-way would
            // still run, and hold up whoever used the connection next.
            let (a, b) = futures_util::future::join(
                async {
                    match first_a {
                        Poll::Ready(done) => done,
                        Poll::Pending => a.await,
                    }
                },
                async {
                    match first_b {
                        Poll::Ready(done) => done,
                        Poll::Pending => b.await,
                    }
                },
            )
            .await;
            Ok((a?, b?))
        }
        Conn::Sqlite(_) => Ok((a(conn).await?, b(conn).await?)),
    }
}

/// `both` for more than two pieces of work: `all!(conn, a, b, c)` runs `a`, `b` and `c` as
/// `both(conn, a, both(b, c))` does and gives `(a, (b, c))`. All pieces share one error type.
macro_rules! all {
    ($conn:expr, $a:expr, $b:expr $(,)?) => {
        $crate::db::both($conn, $a, $b).await
    };
    ($conn:expr, $a:expr, $($rest:expr),+ $(,)?) => {
        $crate::db::both($conn, $a, async |c| $crate::db::all!(c, $($rest),+)).await
    };
}
pub(crate) use all;

/// The value of database work that never waits: on SQLite a model function's future is ready
/// at its first poll. `None` if it was not, which would be a mistake of ours (`db::blocking`
/// logs it and answers 503).
pub(super) fn ready<T>(work: impl Future<Output = T>) -> Option<T> {
    match pin!(work).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => Some(value),
        Poll::Pending => None,
    }
}
