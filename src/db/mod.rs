//! The database: `Db`, the handle handlers hold (SQLite's r2d2 pool run on blocking threads,
//! PostgreSQL's asynchronous pools per worker), the connection set-up of each backend, the
//! connections of migrations and the command line, and `query!` (src/db/query.rs), through
//! which every statement is written once for both (docs/database.md).

mod migrations;
pub mod postgres;
mod query;
pub mod schema;

pub use migrations::{has_pending, migrate};
pub use query::{Conn, Pg, Unsent, both, prelude, transaction, transaction_ending_with};
pub(crate) use query::{all, in_batches, postgres_query, query};

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;

use crate::config::{DatabaseUrl, Settings, SqliteSynchronous};

/// SQLite's pool: blocking connections, used on actix's blocking threads (`Db::run`).
pub type SqlitePool = Pool<ConnectionManager<SqliteConnection>>;
/// PostgreSQL's pool: asynchronous connections, used on the workers themselves.
pub type PgPool = diesel_async::pooled_connection::deadpool::Pool<AsyncPgConnection>;
type PgObject = deadpool::managed::Object<AsyncDieselConnectionManager<AsyncPgConnection>>;

/// Counts the statements a pool's connections run, and the round trips they cost: tests use
/// it to prove that a list page costs a fixed number of queries, whatever its size, and that a
/// write sends what it can at once.
#[derive(Debug, Clone, Default)]
pub struct QueryCounter(Arc<Counts>);

#[derive(Debug, Default)]
struct Counts {
    statements: AtomicU64,
    /// Statements sent while no other was waiting for its answer: each starts a round trip.
    rounds: AtomicU64,
    /// Statements sent and not yet answered.
    in_flight: AtomicI64,
}

impl QueryCounter {
    pub fn get(&self) -> u64 {
        self.0.statements.load(Ordering::Relaxed)
    }

    /// Round trips so far: statements sent together (pipelined on PostgreSQL) count once. The
    /// count is over all connections, so it is exact only while one piece of work runs at a
    /// time (as in a test); on SQLite every statement is a round of its own.
    pub fn rounds(&self) -> u64 {
        self.0.rounds.load(Ordering::Relaxed)
    }
}

impl diesel::connection::Instrumentation for QueryCounter {
    fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
        use diesel::connection::InstrumentationEvent;
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                self.0.statements.fetch_add(1, Ordering::Relaxed);
                if self.0.in_flight.fetch_add(1, Ordering::Relaxed) == 0 {
                    self.0.rounds.fetch_add(1, Ordering::Relaxed);
                }
            }
            InstrumentationEvent::FinishQuery { .. } => {
                self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}

/// Prepares every new SQLite connection: the query counter, and SQLite's pragmas (they are
/// per connection).
#[derive(Debug, Clone)]
struct SqliteSetup {
    synchronous: SqliteSynchronous,
    counter: QueryCounter,
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqliteSetup {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        sqlite_pragmas(conn, self.synchronous).map_err(diesel::r2d2::Error::QueryError)?;
        conn.set_instrumentation(self.counter.clone());
        Ok(())
    }
}

/// busy_timeout first, so that every later statement waits for a lock instead of failing.
/// WAL (set once in `prepare_sqlite_file`; it is stored in the file) lets readers run beside
/// the one writer. synchronous=FULL syncs the WAL on every commit, so an acknowledged write
/// survives a power loss, not only a process crash (NORMAL, the faster opt-in, survives the
/// crash but may lose the last commits on power loss). optimize=0x10002:
/// `refresh_statistics` for every table, as SQLite advises when a connection opens.
fn sqlite_pragmas(conn: &mut SqliteConnection, synchronous: SqliteSynchronous) -> QueryResult<()> {
    let synchronous = match synchronous {
        SqliteSynchronous::Full => "FULL",
        SqliteSynchronous::Normal => "NORMAL",
    };
    conn.batch_execute(&format!(
        "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; \
         PRAGMA synchronous = {synchronous}; PRAGMA optimize = 0x10002;"
    ))
}

/// What every new PostgreSQL connection runs first. The change feed's sequencer and the
/// idempotency keys rely on each statement seeing what committed before it (READ COMMITTED,
/// PostgreSQL's default), whatever default the server or role was given. statement_timeout:
/// a statement still running when its request has long been answered 504 (`Db::run`) is
/// cancelled, and its transaction with it.
/// The command line's connections have no statement timeout (seeding a million companies).
async fn connect_postgres(
    connector: &postgres::Connector,
    statement_timeout: Option<Duration>,
) -> diesel::ConnectionResult<AsyncPgConnection> {
    let mut conn = connector.connect().await?;
    set_up_postgres(&mut conn, statement_timeout).await?;
    Ok(conn)
}

/// What `connect_postgres` runs on a new connection.
async fn set_up_postgres(
    conn: &mut AsyncPgConnection,
    statement_timeout: Option<Duration>,
) -> diesel::ConnectionResult<()> {
    let mut setup = String::from("SET default_transaction_isolation TO 'read committed'");
    if let Some(timeout) = statement_timeout {
        setup.push_str(&format!(
            "; SET statement_timeout = {}",
            timeout.as_millis()
        ));
    }
    diesel_async::SimpleAsyncConnection::batch_execute(conn, &setup)
        .await
        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)
}

/// A connection of its own to the SQLite file, outside any pool (migrations, the command
/// line). The file is created and switched to WAL first.
fn open_sqlite(settings: &Settings) -> anyhow::Result<SqliteConnection> {
    let url = settings.database();
    prepare_sqlite_file(&url)?;
    let mut conn = SqliteConnection::establish(url.sqlite_path())
        .with_context(|| format!("cannot open the SQLite database {url}"))?;
    sqlite_pragmas(&mut conn, settings.sqlite_synchronous)?;
    Ok(conn)
}

/// Runs `work` to its end on a runtime of this thread: the command line's way to asynchronous
/// database work (no server runs). Not for a thread that already runs a runtime (tokio
/// refuses to nest them).
pub fn block_on<F: Future>(work: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime for the database connection")?;
    Ok(runtime.block_on(work))
}

/// Runs `work` on a connection of its own, to its end, on this thread: the command line's way
/// to the database (after migrating it). On PostgreSQL the connection is asynchronous, driven
/// by a runtime of this thread.
pub fn run_once<T, E>(
    settings: &Settings,
    work: impl AsyncFnOnce(&mut Conn<'_>) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<DbError> + From<anyhow::Error>,
{
    if !settings.database().is_postgres() {
        let mut conn = open_sqlite(settings)?;
        migrations::migrate_sqlite(&mut conn)?;
        return blocking(&mut conn, work);
    }
    block_on(async {
        migrate(settings).await?;
        let connector = postgres::Connector::from_url(settings.database().expose())?;
        let mut conn = connect_postgres(&connector, None)
            .await
            .with_context(|| format!("cannot connect to PostgreSQL at {}", settings.database()))?;
        work(&mut Conn::Postgres(Pg::Own(&mut conn))).await
    })?
}

/// The least time one connection attempt of `wait_for_postgres` gets.
const CONNECT_ATTEMPT_MIN: Duration = Duration::from_secs(5);

/// Connects, retrying with growing pauses until `wait` has passed, and returns the
/// connection. A PostgreSQL started beside the service refuses connections while it
/// initialises; every failed attempt is logged with its reason, so a wrong password shows at
/// once and does not look like a slow start.
async fn wait_for_postgres(
    connector: &postgres::Connector,
    url: &DatabaseUrl,
    wait: Duration,
) -> anyhow::Result<AsyncPgConnection> {
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(100);
    loop {
        // One attempt may not outlast the wait (a host that drops packets would hold it for
        // minutes), yet gets a few seconds even when the wait is shorter.
        let attempt = deadline
            .saturating_duration_since(Instant::now())
            .max(CONNECT_ATTEMPT_MIN);
        let connected = tokio::time::timeout(attempt, connector.connect())
            .await
            .unwrap_or_else(|_| {
                Err(diesel::ConnectionError::BadConnection(format!(
                    "no answer within {attempt:.0?}"
                )))
            });
        match connected {
            Ok(conn) => return Ok(conn),
            Err(e) if Instant::now() + pause < deadline => {
                log::warn!(
                    "PostgreSQL at {url} does not accept connections yet, retrying in {pause:?}: {}",
                    e.to_string().trim_end()
                );
                tokio::time::sleep(pause).await;
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

/// Runs database work to its end on this thread, on a blocking SQLite connection: nothing in
/// it waits, so its future is done at its first poll (`query::ready`).
fn blocking<T, E: From<DbError>>(
    conn: &mut SqliteConnection,
    work: impl AsyncFnOnce(&mut Conn<'_>) -> Result<T, E>,
) -> Result<T, E> {
    query::ready(work(&mut Conn::Sqlite(conn))).unwrap_or_else(|| {
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

/// The pool of one of the two databases.
#[derive(Clone)]
enum Pools {
    Sqlite {
        pool: SqlitePool,
        /// One permit per pooled connection (see `Db::run`).
        turns: Arc<tokio::sync::Semaphore>,
        /// The turn of this process's writers (see `Db::write`).
        writers: Arc<tokio::sync::Mutex<()>>,
        /// Callers waiting for a permit.
        waiting: Arc<AtomicI64>,
    },
    Postgres {
        /// This worker's pool (or the background tasks', for the `Db` built by `connect`).
        pool: PgPool,
        /// The connections this worker's point reads share (`Db::read`); none for the
        /// background tasks, or with `DB_READ_CONNECTIONS=0`: their reads take a pooled one.
        pipeline: Option<Arc<Pipeline>>,
        /// How to build another worker's pool, and every pool built, for `stats`.
        pools: Arc<PgPools>,
    },
}

/// PostgreSQL's pools: one per actix worker and one for the background tasks. Each worker is
/// a single-threaded runtime, and a connection's I/O runs as a task on the runtime that
/// opened it: a pool shared by the workers made most requests wake another thread twice (to
/// send, and to hear the answer), and context switches took a quarter of the CPU time
/// (BENCHMARKS.md).
struct PgPools {
    spec: PgPoolSpec,
    /// Connections per worker pool.
    per_worker: usize,
    /// Connections each worker's reads share (`Pipeline`; 0: none, reads use the pool).
    shared_per_worker: usize,
    all: std::sync::Mutex<Vec<PgPool>>,
}

impl PgPools {
    fn add(&self, size: usize) -> anyhow::Result<PgPool> {
        let pool = self.spec.build(size)?;
        self.all
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(pool.clone());
        Ok(pool)
    }
}

/// Handle to the pool that handlers hold; `run` executes database work with its deadline.
#[derive(Clone)]
pub struct Db {
    pools: Pools,
    queries: QueryCounter,
    timeouts: Arc<AtomicU64>,
    /// How long a caller waits for a connection.
    pool_timeout: Duration,
    /// How long one `run` may take before its caller gets `DbError::Timeout`.
    deadline: Duration,
}

impl Db {
    /// The server's pool, its statements counted in `queries`. On PostgreSQL it first connects
    /// directly, retrying for `DB_CONNECT_WAIT_SECS` (a wrong password shows at once), and
    /// PostgreSQL cancels a statement a second after `DB_QUERY_TIMEOUT_SECS` (see `run`).
    pub async fn connect(settings: &Settings, queries: QueryCounter) -> anyhow::Result<Self> {
        let url = settings.database();
        let pools = if url.is_postgres() {
            let connector = postgres::Connector::from_url(url.expose())?;
            drop(wait_for_postgres(&connector, &url, settings.connect_wait()).await?);
            let pools = Arc::new(PgPools {
                spec: PgPoolSpec {
                    url: url.expose().to_owned(),
                    connector: Arc::new(connector),
                    counter: queries.clone(),
                    statement_timeout: settings.query_timeout() + Duration::from_secs(1),
                    pool_timeout: settings.pool_timeout(),
                },
                per_worker: (settings.db_pool_size as usize / settings.worker_count()).max(1),
                shared_per_worker: settings.db_read_connections as usize,
                all: std::sync::Mutex::default(),
            });
            Pools::Postgres {
                pool: pools.add(BACKGROUND_CONNECTIONS)?,
                pipeline: None,
                pools,
            }
        } else {
            prepare_sqlite_file(&url)?;
            let pool = Pool::builder()
                .max_size(settings.db_pool_size)
                .min_idle(Some(settings.db_pool_size.min(2)))
                .connection_timeout(settings.pool_timeout())
                .test_on_check_out(false)
                .connection_customizer(Box::new(SqliteSetup {
                    synchronous: settings.sqlite_synchronous,
                    counter: queries.clone(),
                }))
                .build(ConnectionManager::new(url.sqlite_path()))
                .with_context(|| format!("cannot open the database at {url}"))?;
            Pools::Sqlite {
                turns: Arc::new(tokio::sync::Semaphore::new(pool.max_size() as usize)),
                pool,
                writers: Arc::default(),
                waiting: Arc::default(),
            }
        };
        Ok(Self {
            pools,
            queries,
            timeouts: Arc::default(),
            pool_timeout: settings.pool_timeout(),
            deadline: settings.query_timeout(),
        })
    }

    /// The `Db` of one actix worker, built in the app factory on the worker's thread: on
    /// PostgreSQL a pool of its own (`PgPools`), its share of `DB_POOL_SIZE`, and the
    /// connections its point reads share (`Pipeline`); on SQLite the same pool.
    pub fn for_worker(&self) -> anyhow::Result<Self> {
        let pools = match &self.pools {
            Pools::Postgres { pools, .. } => Pools::Postgres {
                pool: pools.add(pools.per_worker)?,
                pipeline: (pools.shared_per_worker > 0).then(|| {
                    Arc::new(Pipeline {
                        pools: Arc::clone(pools),
                        slots: (0..pools.shared_per_worker)
                            .map(|_| tokio::sync::Mutex::default())
                            .collect(),
                        next: std::sync::atomic::AtomicUsize::new(0),
                    })
                }),
                pools: Arc::clone(pools),
            },
            sqlite @ Pools::Sqlite { .. } => sqlite.clone(),
        };
        Ok(Self {
            pools,
            ..self.clone()
        })
    }

    /// The pools know their connections; timeouts are counted here.
    pub fn stats(&self) -> PoolStats {
        let timeouts = self.timeouts.load(Ordering::Relaxed);
        match &self.pools {
            Pools::Sqlite { pool, waiting, .. } => {
                let state = pool.state();
                PoolStats {
                    connections: state.connections,
                    idle: state.idle_connections,
                    max: pool.max_size(),
                    waiting: waiting.load(Ordering::Relaxed),
                    timeouts,
                }
            }
            Pools::Postgres { pools, .. } => {
                let all = pools
                    .all
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
                let mut stats = PoolStats {
                    connections: 0,
                    idle: 0,
                    max: 0,
                    waiting: 0,
                    timeouts,
                };
                for status in all.iter().map(PgPool::status) {
                    stats.connections += count(status.size);
                    stats.idle += count(status.available);
                    stats.max += count(status.max_size);
                    stats.waiting += i64::try_from(status.waiting).unwrap_or(i64::MAX);
                }
                stats
            }
        }
    }

    /// Statements run so far on this pool's connections.
    pub fn queries_run(&self) -> u64 {
        self.queries.get()
    }

    /// Round trips to the database so far (`QueryCounter::rounds`).
    pub fn round_trips_run(&self) -> u64 {
        self.queries.rounds()
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

    /// Runs a point read — work of one round trip (or of statements sent at once,
    /// `db::both`), outside a transaction — within the deadline, as `run` does.
    ///
    /// On PostgreSQL the work goes to one of this worker's shared connections
    /// (`DB_READ_CONNECTIONS`, taken in turn), on which the statements of all its reads are
    /// pipelined: sent while earlier ones are still being answered, so a read neither waits
    /// for a pooled connection nor waits alone for its round trip (GET by id: +40–60 % over a
    /// pooled connection, BENCHMARKS.md). A connection is opened when first needed, on the
    /// worker's runtime, and again once it has ended (within the pool timeout, else
    /// `DbError::Unavailable`). Work past its deadline is dropped and leaves nothing behind: a
    /// statement still running is answered to no one, and PostgreSQL cancels it at the
    /// statement timeout. A transaction is refused here (`db::transaction`): it needs a
    /// connection of its own, `run` or `write`.
    ///
    /// Work of several round trips one after the other (a page after a cursor, a project page
    /// and its funding lines) belongs in `run`: on a shared connection each of its statements queues behind the
    /// others' (list p99 +60 %, BENCHMARKS.md), where a pooled connection makes it wait once.
    /// So does work slow by nature, which would delay the reads queued behind it.
    ///
    /// On SQLite, and for the background tasks' `Db`, this is `run`.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: AsyncFnOnce(&mut Conn<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let Pools::Postgres {
            pipeline: Some(pipeline),
            ..
        } = &self.pools
        else {
            return self.run(f).await;
        };
        // One budget for getting a connection, however many reads wait to open one.
        let shared = match tokio::time::timeout(self.pool_timeout, pipeline.connection()).await {
            Ok(Ok(shared)) => shared,
            Ok(Err(e)) => return Err(E::from(e)),
            Err(_) => {
                self.timeouts.fetch_add(1, Ordering::Relaxed);
                return Err(E::from(DbError::Unavailable(format!(
                    "no shared connection to PostgreSQL within {:?}",
                    self.pool_timeout
                ))));
            }
        };
        let unsent = Unsent::default();
        let mut conn = Conn::Postgres(Pg::Shared(&shared.conn, &unsent));
        match tokio::time::timeout(self.deadline, f(&mut conn)).await {
            Ok(result) => result,
            Err(_) => {
                // A connection whose server went silent never ends on its own (TCP retries
                // for many minutes): later reads get another. Reads still on it keep it open
                // until they end.
                pipeline.forget(&shared);
                Err(E::from(self.too_late()))
            }
        }
    }

    /// Runs database work with a connection of the pool, within the deadline
    /// (`DB_QUERY_TIMEOUT_SECS`): past it the caller gets `DbError::Timeout` at once, whatever
    /// the database does — a frozen server runs no timers of its own. A caller that gets no
    /// connection within the pool timeout gets `DbError::Unavailable`.
    ///
    /// On PostgreSQL the work runs on this worker, on an asynchronous connection. Work that
    /// does not finish (its deadline passed, or its caller went away and dropped it) may have
    /// left a statement running or a transaction open on its connection: that connection is
    /// closed, never handed to anyone else, and PostgreSQL rolls back what it had open.
    ///
    /// On SQLite the work runs on actix's blocking threads, so that a slow statement never
    /// stalls an async worker. Callers first wait for one of the pool's permits, as tasks on
    /// the async workers: only as many blocking threads run as there are connections, and none
    /// sleeps inside r2d2 (at 64 concurrent reads the wake-ups of parked threads cost more than
    /// the queries, BENCHMARKS.md). The work can't be interrupted on its blocking thread; it
    /// keeps its permit and connection until it ends, so callers beyond the stuck ones get 503
    /// after the pool timeout instead of queueing.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: AsyncFnOnce(&mut Conn<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        match &self.pools {
            Pools::Postgres { pool, .. } => self.run_postgres(pool, f).await,
            Pools::Sqlite {
                pool,
                turns,
                waiting,
                ..
            } => self.run_sqlite(pool, turns, waiting, f).await,
        }
    }

    async fn run_postgres<T, E>(
        &self,
        pool: &PgPool,
        f: impl AsyncFnOnce(&mut Conn<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<DbError>,
    {
        let mut checkout = match pool.get().await {
            Ok(conn) => Checkout(Some(conn)),
            Err(e) => {
                if let deadpool::managed::PoolError::Timeout(_) = e {
                    self.timeouts.fetch_add(1, Ordering::Relaxed);
                }
                return Err(E::from(DbError::Unavailable(e.to_string())));
            }
        };
        let Some(conn) = checkout.0.as_deref_mut() else {
            return Err(E::from(DbError::Unavailable("no connection".into())));
        };
        match tokio::time::timeout(self.deadline, f(&mut Conn::Postgres(Pg::Own(conn)))).await {
            Ok(result) => {
                checkout.finished();
                result
            }
            Err(_) => Err(E::from(self.too_late())),
        }
    }

    async fn run_sqlite<T, E, F>(
        &self,
        pool: &SqlitePool,
        turns: &Arc<tokio::sync::Semaphore>,
        waiting: &AtomicI64,
        f: F,
    ) -> Result<T, E>
    where
        F: AsyncFnOnce(&mut Conn<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let permit = match Arc::clone(turns).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                waiting.fetch_add(1, Ordering::Relaxed);
                let waited =
                    tokio::time::timeout(self.pool_timeout, Arc::clone(turns).acquire_owned())
                        .await;
                waiting.fetch_sub(1, Ordering::Relaxed);
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
        let pool = pool.clone();
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
            Err(_) => Err(E::from(self.too_late())),
        }
    }

    /// The answer to work past its deadline.
    fn too_late(&self) -> DbError {
        DbError::Timeout(format!("no answer within {:?}", self.deadline))
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
        let _turn = match &self.pools {
            Pools::Sqlite { writers, .. } => Some(writers.lock().await),
            Pools::Postgres { .. } => None,
        };
        self.run(f).await
    }

    /// Readiness: the database answers within `timeout` and no migration is pending.
    pub async fn check_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let db = self.with_deadline(timeout);
        let check = db.run(async |conn| {
            query!(conn, |c| c.batch_execute("SELECT 1"))
                .map_err(|e| anyhow::anyhow!("database does not answer: {e}"))?;
            if has_pending(conn).await? {
                anyhow::bail!("database migrations are pending");
            }
            Ok::<_, anyhow::Error>(())
        });
        check.await
    }
}

/// A pooled PostgreSQL connection that goes back to the pool only when the work on it
/// finished (see `Db::run`); otherwise it is closed.
struct Checkout(Option<PgObject>);

impl Checkout {
    fn finished(mut self) {
        drop(self.0.take());
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        if let Some(unfinished) = self.0.take() {
            drop(deadpool::managed::Object::take(unfinished));
        }
    }
}

/// The connections one worker's point reads share (`Db::read`): each opened when a read first
/// needs it, on the worker's runtime, where its I/O task then runs, and opened anew once it
/// has ended.
struct Pipeline {
    pools: Arc<PgPools>,
    /// The shared connections (`DB_READ_CONNECTIONS`), each opened when first needed.
    slots: Box<[tokio::sync::Mutex<Option<Arc<postgres::Watched>>>]>,
    next: std::sync::atomic::AtomicUsize,
}

impl Pipeline {
    /// The connection a read goes to: the slots are taken in turn. (Choosing the one with the
    /// fewest reads on it made the tail worse, not better: BENCHMARKS.md.)
    async fn connection(&self) -> Result<Arc<postgres::Watched>, DbError> {
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let slot = &self.slots[turn];
        if let Ok(current) = slot.try_lock()
            && let Some(open) = current.as_ref().filter(|conn| !conn.has_ended())
        {
            return Ok(Arc::clone(open));
        }
        self.open(slot).await
    }

    /// Takes `conn` out of its slot, if it is still there: the next read on the slot opens
    /// another.
    fn forget(&self, conn: &Arc<postgres::Watched>) {
        for slot in &self.slots {
            // A locked slot is being opened anew already.
            if let Ok(mut current) = slot.try_lock()
                && current.as_ref().is_some_and(|open| Arc::ptr_eq(open, conn))
            {
                *current = None;
            }
        }
    }

    /// The slot's connection, opened unless another read opened it meanwhile. Reads waiting
    /// for the same slot wait for this one, rather than each opening its own; `Db::read` bounds
    /// the wait and the opening with one pool timeout (dropped, the attempt leaves nothing).
    async fn open(
        &self,
        slot: &tokio::sync::Mutex<Option<Arc<postgres::Watched>>>,
    ) -> Result<Arc<postgres::Watched>, DbError> {
        let mut current = slot.lock().await;
        if let Some(open) = current.as_ref().filter(|conn| !conn.has_ended()) {
            return Ok(Arc::clone(open));
        }
        // An ended connection closes once the reads still holding it have failed.
        *current = None;
        let conn = match self.pools.spec.open_shared().await {
            Ok(conn) => Arc::new(conn),
            Err(e) => return Err(DbError::Unavailable(e.to_string())),
        };
        *current = Some(Arc::clone(&conn));
        Ok(conn)
    }
}

/// The connections of the background tasks (the change feed's ticker, housekeeping) and of
/// start-up, beside the workers' pools.
const BACKGROUND_CONNECTIONS: usize = 2;

/// What a PostgreSQL pool is built from: each connection set up (`connect_postgres`) and
/// counted as it opens. A pool opens connections as callers need them, on the runtime of the
/// caller, and waits, creates and recycles within the pool timeout. A connection is recycled
/// without a test statement (a request would pay a round trip for it); one whose client has
/// closed or whose transaction state is broken is dropped instead.
struct PgPoolSpec {
    url: String,
    connector: Arc<postgres::Connector>,
    counter: QueryCounter,
    statement_timeout: Duration,
    pool_timeout: Duration,
}

impl PgPoolSpec {
    /// A connection set up as the pools' are, outside any pool: the one a worker's reads
    /// share (`Pipeline`).
    async fn open_shared(&self) -> diesel::ConnectionResult<postgres::Watched> {
        let mut shared = self.connector.connect_watched().await?;
        set_up_postgres(&mut shared.conn, Some(self.statement_timeout)).await?;
        diesel_async::AsyncConnection::set_instrumentation(&mut shared.conn, self.counter.clone());
        Ok(shared)
    }

    /// A pool of at most `size` connections.
    fn build(&self, size: usize) -> anyhow::Result<PgPool> {
        use diesel_async::pooled_connection::{ManagerConfig, RecyclingMethod};
        use futures_util::FutureExt as _;
        let mut config = ManagerConfig::default();
        config.recycling_method = RecyclingMethod::Fast;
        let (connector, counter) = (self.connector.clone(), self.counter.clone());
        let statement_timeout = self.statement_timeout;
        config.custom_setup = Box::new(move |_url| {
            let (connector, counter) = (connector.clone(), counter.clone());
            async move {
                let mut conn = connect_postgres(&connector, Some(statement_timeout)).await?;
                diesel_async::AsyncConnection::set_instrumentation(&mut conn, counter);
                Ok(conn)
            }
            .boxed()
        });
        let manager =
            AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(&self.url, config);
        let timeout = Some(self.pool_timeout);
        PgPool::builder(manager)
            .max_size(size)
            .wait_timeout(timeout)
            .create_timeout(timeout)
            .recycle_timeout(timeout)
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .context("cannot build the PostgreSQL pool")
    }
}
