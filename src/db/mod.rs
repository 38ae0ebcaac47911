//! The database: one diesel connection type over SQLite and PostgreSQL, an r2d2 pool,
//! per-connection SQLite pragmas, embedded migrations, and `Db::run` to execute queries off
//! the async workers.

mod query;
pub mod schema;

pub use query::{Conn, prelude, transaction};
pub(crate) use query::{in_batches, postgres_query, query};

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use diesel::connection::SimpleConnection;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sql_types::Text;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::{DatabaseUrl, Settings, SqliteSynchronous};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// One connection to either database. Queries are written once against its backend.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

pub type DbPool = Pool<ConnectionManager<DbConnection>>;
pub type PooledDb = PooledConnection<ConnectionManager<DbConnection>>;

/// Counts the statements a pool's connections run: tests use it to prove that a list
/// page costs a fixed number of queries, whatever its size.
#[derive(Debug, Clone, Default)]
pub struct QueryCounter(Arc<AtomicU64>);

impl QueryCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl diesel::connection::Instrumentation for QueryCounter {
    fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
        if let diesel::connection::InstrumentationEvent::StartQuery { .. } = event {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Prepares every new connection: the query counter, and SQLite's pragmas (they are per
/// connection).
#[derive(Debug, Clone)]
struct ConnectionSetup {
    /// PostgreSQL cancels a statement after this (`statement_timeout`), if set.
    statement_timeout: Option<Duration>,
    synchronous: SqliteSynchronous,
    counter: QueryCounter,
}

impl CustomizeConnection<DbConnection, diesel::r2d2::Error> for ConnectionSetup {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), diesel::r2d2::Error> {
        let DbConnection::Sqlite(conn) = conn else {
            // The change feed's sequencer and the idempotency keys rely on each statement
            // seeing what committed before it (READ COMMITTED, PostgreSQL's default), whatever
            // default the server or role was given.
            // statement_timeout: a statement still running when its request has long been
            // answered 504 (`Db::run`) is cancelled, and its transaction with it.
            let mut setup = String::from("SET default_transaction_isolation TO 'read committed'");
            if let Some(timeout) = self.statement_timeout {
                setup.push_str(&format!(
                    "; SET statement_timeout = {}",
                    timeout.as_millis()
                ));
            }
            conn.batch_execute(&setup)
                .map_err(diesel::r2d2::Error::QueryError)?;
            conn.set_instrumentation(self.counter.clone());
            return Ok(());
        };
        // busy_timeout first, so that every later statement waits for a lock instead of failing.
        // WAL (set once in `prepare_sqlite_file`; it is stored in the file) lets readers run
        // beside the one writer. synchronous=FULL syncs the WAL on every commit, so an
        // acknowledged write survives a power loss, not only a process crash (NORMAL, the
        // faster opt-in, survives the crash but may lose the last commits on power loss).
        let synchronous = match self.synchronous {
            SqliteSynchronous::Full => "FULL",
            SqliteSynchronous::Normal => "NORMAL",
        };
        // optimize=0x10002: `refresh_statistics` for every table, as SQLite advises when a
        // connection opens.
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; \
             PRAGMA synchronous = {synchronous}; PRAGMA optimize = 0x10002;"
        ))
        .map_err(diesel::r2d2::Error::QueryError)?;
        conn.set_instrumentation(self.counter.clone());
        Ok(())
    }
}

/// The command line's pool, without a statement timeout (seeding a million companies,
/// migrating).
pub fn connect(settings: &Settings) -> anyhow::Result<DbPool> {
    build_pool(settings, QueryCounter::default(), None)
}

/// The server's pool: its statements are counted, and on PostgreSQL cancelled a second after
/// `DB_QUERY_TIMEOUT_SECS` (see `Db::run`).
pub fn connect_counted(settings: &Settings, counter: QueryCounter) -> anyhow::Result<DbPool> {
    let statement_timeout = settings.query_timeout() + Duration::from_secs(1);
    build_pool(settings, counter, Some(statement_timeout))
}

/// Builds a pool counting every statement in `counter`. For PostgreSQL it first connects
/// directly, retrying for `DB_CONNECT_WAIT_SECS`: the MultiConnection hides the real connect
/// error, and "password authentication failed" beats "timed out".
fn build_pool(
    settings: &Settings,
    counter: QueryCounter,
    statement_timeout: Option<Duration>,
) -> anyhow::Result<DbPool> {
    let url = settings.database();
    if url.is_postgres() {
        wait_for_postgres(&url, settings.connect_wait())?;
    } else {
        prepare_sqlite_file(&url)?;
    }
    let manager = ConnectionManager::<DbConnection>::new(url.expose());
    Pool::builder()
        .max_size(settings.db_pool_size)
        .min_idle(Some(settings.db_pool_size.min(2)))
        .connection_timeout(settings.pool_timeout())
        .test_on_check_out(false)
        .connection_customizer(Box::new(ConnectionSetup {
            statement_timeout,
            synchronous: settings.sqlite_synchronous,
            counter,
        }))
        .build(manager)
        .with_context(|| format!("cannot open the database at {url}"))
}

/// Connects once, retrying with growing pauses until `wait` has passed. A PostgreSQL started
/// beside the service refuses connections while it initialises; every failed attempt is logged
/// with its reason, so a wrong password shows at once and does not look like a slow start.
fn wait_for_postgres(url: &DatabaseUrl, wait: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(100);
    loop {
        match PgConnection::establish(url.expose()) {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() + pause < deadline => {
                log::warn!(
                    "PostgreSQL at {url} does not accept connections yet, retrying in {pause:?}: {}",
                    e.to_string().trim_end()
                );
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot connect to PostgreSQL at {url}"));
            }
        }
    }
}

fn prepare_sqlite_file(url: &DatabaseUrl) -> anyhow::Result<()> {
    let path = std::path::Path::new(url.sqlite_path());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    }
    // Switching to WAL needs an exclusive lock: do it once, before the pool opens connections
    // side by side. The mode is persistent, so later connections find it set.
    let mut conn = SqliteConnection::establish(url.sqlite_path())
        .with_context(|| format!("cannot open the SQLite database {url}"))?;
    conn.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;")
        .with_context(|| format!("cannot switch {url} to WAL mode"))?;
    Ok(())
}

/// SQLite's page cache while a large write runs (`with_large_write_cache`), in KiB.
const LARGE_WRITE_CACHE_KIB: i64 = 65_536;

/// Runs a write that touches many pages in one transaction (an import) with a larger SQLite
/// page cache, then gives the memory back. With the default 2 MiB, SQLite spills the
/// transaction's dirty pages to the WAL and reads them back again and again: an import of
/// 100 000 companies made half a million writes of single pages (BENCHMARKS.md). 64 MiB
/// keeps the memory bounded. PostgreSQL needs nothing of the kind.
pub async fn with_large_write_cache<T, E: From<diesel::result::Error>>(
    conn: &mut Conn<'_>,
    write: impl AsyncFnOnce(&mut Conn<'_>) -> Result<T, E>,
) -> Result<T, E> {
    let Conn::Sqlite(sqlite) = conn else {
        return write(conn).await;
    };
    sqlite.batch_execute(&format!("PRAGMA cache_size = -{LARGE_WRITE_CACHE_KIB}"))?;
    let result = write(conn).await;
    // SQLite's default; lowering it frees the pages above it.
    let reset = match conn {
        Conn::Sqlite(sqlite) => sqlite.batch_execute("PRAGMA cache_size = -2000"),
        Conn::Postgres(_) => Ok(()),
    };
    let value = result?;
    reset?;
    Ok(value)
}

/// Brings SQLite's planner statistics up to date where a table grew or shrank much since they
/// were taken (`PRAGMA optimize`, which costs next to nothing when none did). With statistics
/// of 1 000 companies, a lookup of 500 external ids scanned a table grown to 100 000; with
/// none at all, SQLite took the owner's index for it (BENCHMARKS.md). Run when a connection
/// opens, by housekeeping, and between the chunks of an import. PostgreSQL's planner scales
/// its statistics by the table's current size and autovacuum renews them: nothing to do.
pub fn refresh_statistics(conn: &mut Conn<'_>) -> QueryResult<()> {
    match conn {
        Conn::Sqlite(c) => c.batch_execute("PRAGMA optimize"),
        Conn::Postgres(_) => Ok(()),
    }
}

/// Applies every pending migration; returns how many ran.
pub fn migrate(conn: &mut DbConnection) -> anyhow::Result<usize> {
    let applied = match conn {
        DbConnection::Postgres(c) => {
            // Two replicas starting at once must not both migrate: a session-level advisory
            // lock serialises them, the second then finds nothing pending.
            // A migration may rewrite a large table: no statement timeout while it runs (the
            // server's pool sets one), the connection's own restored afterwards.
            let timeout: String =
                diesel::select(sql::<Text>("current_setting('statement_timeout')"))
                    .get_result(c)?;
            c.batch_execute("SET statement_timeout = 0; SELECT pg_advisory_lock(7210411)")?;
            let result = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len());
            c.batch_execute("SELECT pg_advisory_unlock(7210411)")?;
            diesel::select(
                sql::<Text>("set_config('statement_timeout', ")
                    .bind::<Text, _>(timeout)
                    .sql(", false)"),
            )
            .execute(c)?;
            result
        }
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
    };
    applied.map_err(|e| anyhow::anyhow!("migration failed: {e}"))
}

/// Whether a migration of this binary has not been applied yet.
pub fn has_pending_migration(conn: &mut DbConnection) -> anyhow::Result<bool> {
    let pending = match conn {
        DbConnection::Postgres(c) => c.has_pending_migration(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
    };
    pending.map_err(|e| anyhow::anyhow!("cannot read the migration state: {e}"))
}

/// Runs database work to its end on this thread, on a connection of the pool: every connection
/// here is blocking, so the work's future is done at its first poll (`query::ready`). For
/// `Db::run`'s blocking threads, start-up and the command line.
pub fn blocking<T, E: From<DbError>>(
    conn: &mut DbConnection,
    work: impl AsyncFnOnce(&mut Conn<'_>) -> Result<T, E>,
) -> Result<T, E> {
    query::ready(work(&mut Conn::of(conn))).unwrap_or_else(|| {
        log::error!("database work waited on a blocking connection");
        Err(E::from(DbError::Unavailable(
            "database work waited on a blocking connection".into(),
        )))
    })
}

/// Why a database call failed, before it becomes an HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be had in time: the database is down or overloaded.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The work did not finish within its deadline (`DB_QUERY_TIMEOUT_SECS`).
    #[error("the database did not answer in time: {0}")]
    Timeout(String),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

/// The pool at one moment, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    pub connections: u32,
    pub idle: u32,
    pub max: u32,
    /// Callers waiting for a connection right now.
    pub waiting: i64,
    /// Checkouts that timed out since start.
    pub timeouts: u64,
}

/// Handle to the pool that handlers hold; `run` executes a closure on a blocking thread.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    queries: QueryCounter,
    /// One permit per pooled connection (see `run`).
    turns: Arc<tokio::sync::Semaphore>,
    waiting: Arc<AtomicI64>,
    timeouts: Arc<AtomicU64>,
    /// On SQLite: the turn of this process's writers (see `write`).
    writers: Option<Arc<tokio::sync::Mutex<()>>>,
    /// How long one `run` may take before its caller gets `DbError::Timeout`.
    deadline: Duration,
}

impl Db {
    /// `sqlite` makes writers take turns in the process (see `write`); `deadline` bounds each
    /// `run` (see there).
    pub fn new(pool: DbPool, queries: QueryCounter, sqlite: bool, deadline: Duration) -> Self {
        Self {
            deadline,
            turns: Arc::new(tokio::sync::Semaphore::new(pool.max_size() as usize)),
            pool,
            queries,
            waiting: Arc::default(),
            timeouts: Arc::default(),
            writers: sqlite.then(Arc::default),
        }
    }

    /// r2d2 knows its connections; waiting callers and timeouts are counted here.
    pub fn stats(&self) -> PoolStats {
        let state = self.pool.state();
        PoolStats {
            connections: state.connections,
            idle: state.idle_connections,
            max: self.pool.max_size(),
            waiting: self.waiting.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
        }
    }

    /// Statements run so far on this pool's connections.
    pub fn queries_run(&self) -> u64 {
        self.queries.get()
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// How long one `run` may take.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The same pool with another deadline per `run`, for work that is long by nature (an
    /// import of a large file).
    pub fn with_deadline(&self, deadline: Duration) -> Self {
        Self {
            deadline,
            ..self.clone()
        }
    }

    /// Checks out a connection and runs `f` on actix's blocking pool, so that a slow query
    /// never stalls an async worker.
    ///
    /// Callers first wait for one of the pool's permits, as tasks on the async workers: only as
    /// many blocking threads run as there are connections, and none sleeps inside r2d2. With
    /// more requests than connections, every hand-over inside r2d2 would wake a parked
    /// thread; at 64 concurrent reads those wake-ups cost more than the queries (BENCHMARKS.md).
    /// A caller that gets no permit within the pool timeout is answered like an r2d2 timeout.
    ///
    /// The work has the deadline (`DB_QUERY_TIMEOUT_SECS`): past it the caller gets
    /// `DbError::Timeout` at once, whatever the database does — a frozen server runs no
    /// timers of its own. The work itself can't be interrupted on its blocking thread; it
    /// keeps its permit and connection until it ends (on PostgreSQL `statement_timeout`
    /// cancels it a second later), so a stuck connection is never handed to anyone else and
    /// callers beyond the stuck ones get 503 after the pool timeout instead of queueing.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: AsyncFnOnce(&mut Conn<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let permit = match Arc::clone(&self.turns).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                self.waiting.fetch_add(1, Ordering::Relaxed);
                let turns = Arc::clone(&self.turns);
                let waited =
                    tokio::time::timeout(self.pool.connection_timeout(), turns.acquire_owned())
                        .await;
                self.waiting.fetch_sub(1, Ordering::Relaxed);
                match waited {
                    Ok(Ok(permit)) => permit,
                    _ => {
                        self.timeouts.fetch_add(1, Ordering::Relaxed);
                        return Err(E::from(DbError::Unavailable(
                            "timed out waiting for a database connection".into(),
                        )));
                    }
                }
            }
        };
        let pool = self.pool.clone();
        let timeouts = self.timeouts.clone();
        let work = actix_web::web::block(move || {
            let _permit = permit;
            let mut conn = pool.get().map_err(|e| {
                timeouts.fetch_add(1, Ordering::Relaxed);
                E::from(DbError::Unavailable(e.to_string()))
            })?;
            blocking(&mut conn, f)
        });
        match tokio::time::timeout(self.deadline, work).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(E::from(DbError::Unavailable(format!(
                "blocking task failed: {e}"
            )))),
            Err(_) => Err(E::from(DbError::Timeout(format!(
                "no answer within {:?}",
                self.deadline
            )))),
        }
    }

    /// Like `run`, for work that writes. SQLite admits one writer at a time; a writer that
    /// waits inside SQLite sleeps in growing steps (busy_timeout: seconds of tail latency
    /// under load), and one whose read transaction can't be upgraded fails at once with
    /// "database is locked". So on SQLite this process's writers queue here first, in
    /// arrival order, without holding a connection. PostgreSQL writers run side by side.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: AsyncFnOnce(&mut Conn<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let _turn = match &self.writers {
            Some(writers) => Some(writers.lock().await),
            None => None,
        };
        self.run(f).await
    }

    /// Readiness: the database answers and no migration is pending.
    pub fn check_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let mut conn = self
            .pool
            .get_timeout(timeout)
            .context("no database connection")?;
        conn.batch_execute("SELECT 1")
            .context("database does not answer")?;
        if has_pending_migration(&mut conn)? {
            anyhow::bail!("database migrations are pending");
        }
        Ok(())
    }
}
