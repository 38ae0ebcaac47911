//! The SQLite and PostgreSQL migration trees must build the same schema: tables, columns with
//! mapped types and nullability, unique and plain indexes, foreign keys.

use std::collections::BTreeSet;

use betriebsnachbarschaften::config::Settings;
use betriebsnachbarschaften::db;
use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::helpers::{DbConnection, connect, postgres_url};

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    ty: String,
    #[diesel(sql_type = BigInt)]
    not_null: i64,
}

#[derive(QueryableByName)]
struct Index {
    #[diesel(sql_type = Text)]
    columns: String,
    #[diesel(sql_type = BigInt)]
    is_unique: i64,
}

#[derive(QueryableByName)]
struct ForeignKey {
    #[diesel(sql_type = Text)]
    columns: String,
    #[diesel(sql_type = Text)]
    target: String,
    #[diesel(sql_type = Text)]
    on_delete: String,
}

/// SQLite's declared types and PostgreSQL's types, mapped to the diesel type both stand for.
fn mapped_type(ty: &str) -> String {
    match ty.to_ascii_lowercase().as_str() {
        "integer" | "bigint" => "BigInt".into(),
        "text" => "Text".into(),
        "timestamp" | "timestamp without time zone" => "Timestamp".into(),
        "boolean" | "bool" => "Bool".into(),
        "date" => "Date".into(),
        other => format!("unmapped:{other}"),
    }
}

fn describe(conn: &mut DbConnection) -> BTreeSet<String> {
    let postgres = matches!(conn, DbConnection::Postgres(_));
    let tables: Vec<Name> = if postgres {
        diesel::sql_query(
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name <> '__diesel_schema_migrations'",
        )
        .load(conn)
        .unwrap()
    } else {
        diesel::sql_query(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations'",
        )
        .load(conn)
        .unwrap()
    };
    let mut schema = BTreeSet::new();
    for table in tables.iter().map(|t| t.name.as_str()) {
        schema.insert(format!("table {table}"));
        let (columns, indexes, fks) = if postgres {
            pg_table(conn, table)
        } else {
            sqlite_table(conn, table)
        };
        for c in columns {
            let null = if c.not_null == 1 { "NOT NULL" } else { "NULL" };
            schema.insert(format!(
                "column {table}.{} {} {null}",
                c.name,
                mapped_type(&c.ty)
            ));
        }
        for i in indexes {
            let kind = if i.is_unique == 1 {
                "unique index"
            } else {
                "index"
            };
            schema.insert(format!("{kind} {table}({})", i.columns));
        }
        for f in fks {
            schema.insert(format!(
                "foreign key {table}({}) -> {} on delete {}",
                f.columns,
                f.target,
                f.on_delete.to_lowercase()
            ));
        }
    }
    schema
}

fn sqlite_table(
    conn: &mut DbConnection,
    table: &str,
) -> (Vec<Column>, Vec<Index>, Vec<ForeignKey>) {
    let columns = diesel::sql_query(
        "SELECT name, type AS ty, CASE WHEN \"notnull\" = 1 OR pk = 1 THEN 1 ELSE 0 END AS not_null \
         FROM pragma_table_info(?)").bind::<Text, _>(table).load(conn).unwrap();
    let indexes = diesel::sql_query(
        "SELECT (SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info(il.name) ORDER BY seqno)) AS columns, \
                il.\"unique\" AS is_unique \
         FROM pragma_index_list(?) il WHERE il.origin <> 'pk'").bind::<Text, _>(table).load(conn).unwrap();
    let fks = diesel::sql_query(
        "SELECT group_concat(\"from\", ',') AS columns, \"table\" || '(' || group_concat(\"to\", ',') || ')' AS target, \
                on_delete FROM pragma_foreign_key_list(?) GROUP BY id").bind::<Text, _>(table).load(conn).unwrap();
    (columns, indexes, fks)
}

fn pg_table(conn: &mut DbConnection, table: &str) -> (Vec<Column>, Vec<Index>, Vec<ForeignKey>) {
    let columns = diesel::sql_query(
        "SELECT column_name::text AS name, data_type::text AS ty, \
                CASE WHEN is_nullable = 'NO' THEN 1::int8 ELSE 0::int8 END AS not_null \
         FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1",
    )
    .bind::<Text, _>(table)
    .load(conn)
    .unwrap();
    let indexes = diesel::sql_query(
        "SELECT (SELECT string_agg(a.attname, ',' ORDER BY k.ord) \
                   FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord) \
                   JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum) AS columns, \
                CASE WHEN ix.indisunique THEN 1::int8 ELSE 0::int8 END AS is_unique \
         FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid \
         WHERE t.relname = $1 AND t.relnamespace = current_schema()::regnamespace AND NOT ix.indisprimary")
        .bind::<Text, _>(table).load(conn).unwrap();
    let fks = diesel::sql_query(
        "SELECT (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) \
                   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS columns, \
                (SELECT relname::text FROM pg_class WHERE oid = c.confrelid) || '(' || \
                (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord) \
                   JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) || ')' AS target, \
                CASE c.confdeltype WHEN 'a' THEN 'no action' WHEN 'r' THEN 'restrict' WHEN 'c' THEN 'cascade' \
                     WHEN 'n' THEN 'set null' ELSE 'set default' END AS on_delete \
         FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
         WHERE c.contype = 'f' AND t.relname = $1 AND t.relnamespace = current_schema()::regnamespace")
        .bind::<Text, _>(table).load(conn).unwrap();
    (columns, indexes, fks)
}

fn migrated(url: String) -> BTreeSet<String> {
    let settings = Settings::for_database(url);
    db::block_on(db::migrate(&settings)).unwrap().unwrap();
    describe(&mut connect(&settings))
}

#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --run-ignored all"]
fn both_migration_trees_build_the_same_schema() {
    let base = postgres_url();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = migrated(
        dir.path()
            .join("schema.sqlite3")
            .to_string_lossy()
            .into_owned(),
    );

    let schema_name = format!("s_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::establish(&base).unwrap();
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema_name}"))
        .unwrap();
    let separator = if base.contains('?') { '&' } else { '?' };
    let postgres = migrated(format!(
        "{base}{separator}options=-csearch_path%3D{schema_name}"
    ));
    admin
        .batch_execute(&format!("DROP SCHEMA {schema_name} CASCADE"))
        .unwrap();

    assert!(sqlite.contains("table regions"), "{sqlite:#?}");
    assert!(
        !sqlite.iter().any(|l| l.contains("unmapped")),
        "{sqlite:#?}"
    );
    let only_sqlite: Vec<_> = sqlite.difference(&postgres).collect();
    let only_postgres: Vec<_> = postgres.difference(&sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "the trees differ\nonly in SQLite: {only_sqlite:#?}\nonly in PostgreSQL: {only_postgres:#?}"
    );
}

#[test]
fn both_migration_trees_have_the_same_migrations() {
    let names = |tree: &str| -> BTreeSet<String> {
        std::fs::read_dir(format!("{}/migrations/{tree}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(names("sqlite"), names("postgres"));
}

/// PostgreSQL migrations run over diesel-async's `AsyncConnectionWrapper` (`db::migrate`),
/// which, unlike libpq's `PgConnection`, does not restore the search path after each one: a
/// migration that set it would record its version in another schema and change it for the
/// migrations after it (the tests run each in a schema of its own).
#[test]
fn no_migration_changes_the_search_path() {
    let tree = format!("{}/migrations/postgres", env!("CARGO_MANIFEST_DIR"));
    let mut read = 0;
    for migration in std::fs::read_dir(tree).unwrap() {
        for file in std::fs::read_dir(migration.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let sql = std::fs::read_to_string(&path).unwrap().to_lowercase();
            assert!(
                !sql.contains("search_path") && !sql.contains("set schema"),
                "{} sets the search path",
                path.display()
            );
            read += 1;
        }
    }
    assert!(read >= 2, "no migration read");
}
