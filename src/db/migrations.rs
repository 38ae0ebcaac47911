//! Embedded migrations: applied over a connection of their own (`migrate`, with PostgreSQL's
//! advisory lock), and compared with what a database has applied (`has_pending`, over any
//! connection, for readiness).

use diesel::QueryableByName;
use diesel::connection::SimpleConnection as _;
use diesel::migration::MigrationSource;
use diesel::sql_types::Text;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{Conn, postgres, query};
use crate::config::Settings;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Applies every pending migration to the configured database; returns how many ran.
///
/// SQLite migrates on this thread, over a connection of its own. PostgreSQL connects as the
/// service does (its TLS settings, waiting up to `DB_CONNECT_WAIT_SECS` for a server that is
/// still starting), then runs diesel's migration harness on a blocking thread: the harness is
/// synchronous, and diesel-async's `AsyncConnectionWrapper` makes the asynchronous connection
/// one by waiting on this runtime, which keeps driving the connection's I/O meanwhile. (Its
/// `AsyncMigrationHarness` would block in place, which a single-threaded runtime such as
/// actix's forbids.) So the binary needs no second PostgreSQL driver (libpq) for migrations.
///
/// It must run under `Runtime::block_on` (actix's, `db::block_on`) or on a multi-threaded
/// runtime: the blocking thread's wait needs another thread driving the connection.
///
/// Unlike libpq's `PgConnection`, the wrapper does not restore the search path after each
/// migration (diesel's harness asks the connection to); no migration may change it
/// (`schema::no_migration_changes_the_search_path`).
pub async fn migrate(settings: &Settings) -> anyhow::Result<usize> {
    let url = settings.database();
    if !url.is_postgres() {
        return migrate_sqlite(&mut super::open_sqlite(settings)?);
    }
    let connector = postgres::Connector::from_url(url.expose())?;
    let conn = super::wait_for_postgres(&connector, &url, settings.connect_wait()).await?;
    let migrated = tokio::task::spawn_blocking(move || {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::from(conn);
        // Two replicas starting at once must not both migrate: a session-level advisory lock
        // serialises them, the second then finds nothing pending. A migration may rewrite a
        // large table: no statement timeout on this connection while it runs.
        conn.batch_execute("SET statement_timeout = 0; SELECT pg_advisory_lock(7210411)")?;
        let result = applied(conn.run_pending_migrations(POSTGRES_MIGRATIONS));
        // The session's end releases the lock too: a failed unlock must not hide the result.
        if let Err(e) = conn.batch_execute("SELECT pg_advisory_unlock(7210411)") {
            log::warn!("cannot release the migration lock (the session's end will): {e}");
        }
        result
    });
    migrated
        .await
        .map_err(|e| anyhow::anyhow!("the migration was interrupted: {e}"))?
}

/// Applies every pending migration over this SQLite connection; returns how many ran.
pub(super) fn migrate_sqlite(conn: &mut diesel::SqliteConnection) -> anyhow::Result<usize> {
    applied(conn.run_pending_migrations(SQLITE_MIGRATIONS))
}

/// How many migrations ran, or why they failed.
fn applied<V>(ran: diesel::migration::Result<Vec<V>>) -> anyhow::Result<usize> {
    ran.map(|v| v.len())
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"))
}

/// Whether a migration of this binary has not been applied to the database `conn` reaches
/// (one statement: the versions applied).
pub async fn has_pending(conn: &mut Conn<'_>) -> anyhow::Result<bool> {
    #[derive(QueryableByName)]
    struct Applied {
        #[diesel(sql_type = Text)]
        version: String,
    }
    let embedded = match conn {
        Conn::Postgres(_) => versions(MigrationSource::<diesel::pg::Pg>::migrations(
            &POSTGRES_MIGRATIONS,
        )),
        Conn::Sqlite(_) => versions(MigrationSource::<diesel::sqlite::Sqlite>::migrations(
            &SQLITE_MIGRATIONS,
        )),
    }?;
    let applied = match query!(conn, |c| diesel::sql_query(
        "SELECT version FROM __diesel_schema_migrations"
    )
    .load::<Applied>(c))
    {
        Ok(applied) => applied,
        // A database never migrated has no such table: everything is pending.
        Err(diesel::result::Error::DatabaseError(_, info)) if is_missing_table(info.as_ref()) => {
            return Ok(true);
        }
        Err(e) => anyhow::bail!("cannot read the migration state: {e}"),
    };
    Ok(embedded
        .iter()
        .any(|version| !applied.iter().any(|a| &a.version == version)))
}

/// PostgreSQL's undefined_table (42P01), SQLite's "no such table".
fn is_missing_table(info: &dyn diesel::result::DatabaseErrorInformation) -> bool {
    info.sqlstate()
        .is_some_and(|state| state.as_str() == "42P01")
        || info.message().starts_with("no such table")
}

fn versions<DB: diesel::backend::Backend>(
    migrations: diesel::migration::Result<Vec<Box<dyn diesel::migration::Migration<DB>>>>,
) -> anyhow::Result<Vec<String>> {
    let migrations =
        migrations.map_err(|e| anyhow::anyhow!("cannot read this binary's migrations: {e}"))?;
    Ok(migrations
        .iter()
        .map(|m| m.name().version().to_string())
        .collect())
}
