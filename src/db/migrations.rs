//! Embedded migrations: applied over a blocking connection of their own (`migrate`, with
//! PostgreSQL's advisory lock), and compared with what a database has applied (`has_pending`,
//! over any connection, for readiness).

use diesel::QueryableByName;
use diesel::migration::MigrationSource;
use diesel::sql_types::Text;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness as _, embed_migrations};

use super::{Conn, DbConnection, query};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Applies every pending migration; returns how many ran. `conn` is a connection of its own
/// (`admin_connection`), not a pool's.
pub fn migrate(conn: &mut DbConnection) -> anyhow::Result<usize> {
    use diesel::connection::SimpleConnection as _;
    let applied = match conn {
        DbConnection::Postgres(c) => {
            // Two replicas starting at once must not both migrate: a session-level advisory
            // lock serialises them, the second then finds nothing pending. A migration may
            // rewrite a large table: no statement timeout on this connection while it runs.
            c.batch_execute("SET statement_timeout = 0; SELECT pg_advisory_lock(7210411)")?;
            let result = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len());
            c.batch_execute("SELECT pg_advisory_unlock(7210411)")?;
            result
        }
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
    };
    applied.map_err(|e| anyhow::anyhow!("migration failed: {e}"))
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
