//! Rows, writable field sets and queries, one module per table.

pub mod changes;
pub mod clients;
pub mod companies;
pub mod events;
pub mod funding_sources;
pub mod idempotency;
pub mod links;
pub mod login_failures;
pub mod organizations;
pub mod page;
pub mod projects;
pub mod refresh_tokens;
pub mod regions;
pub mod relation_ids;
pub mod reports;
pub mod topics;
pub mod users;

use crate::domain::name_key;
use page::CursorMismatch;

/// Why a conditional write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("not found")]
    NotFound,
    #[error("the version does not match")]
    VersionMismatch,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Errors of a list query.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    Cursor(#[from] CursorMismatch),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// `%q%` for LIKE over the lower-cased key, with LIKE's wildcards in `q` taken literally.
pub fn contains_pattern(q: &str) -> String {
    let mut pattern = String::with_capacity(q.len() + 2);
    pattern.push('%');
    for c in name_key(q).chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A new record's row: its fields and the columns every insert sets (created and changed
/// now, version 1, owned by the actor's organization, by the actor).
macro_rules! new_row {
    ($table:ident, $fields:expr, $by:expr, $at:expr) => {{
        let at: chrono::NaiveDateTime = $at;
        (
            $fields,
            $table::created_at.eq(at),
            $table::updated_at.eq(at),
            $table::version.eq(1_i64),
            $table::owner_org_id.eq($by.org),
            $table::created_by.eq($by.label.clone()),
            $table::updated_by.eq($by.label.clone()),
        )
    }};
}
pub(crate) use new_row;

/// Declares `insert`, `find`, `update` and `delete` for a table whose rows carry the common
/// columns (`id`, `created_at`, `updated_at`, `version`, `owner_org_id`, `created_by`,
/// `updated_by`). Updates and deletes are single conditional statements: with an expected
/// version, `… WHERE id = ? AND version = ?`; the row count tells a lost race from success.
macro_rules! record_queries {
    ($table:ident, $row:ty, $fields:ty, $id:ty) => {
        impl $row {
            /// The id, version and owner, as every record has them.
            pub fn meta(&self) -> crate::domain::resource::RecordMeta<$id> {
                crate::domain::resource::RecordMeta {
                    id: self.id,
                    version: self.version,
                    owner: self.owner_org_id,
                }
            }
        }

        pub async fn insert(
            conn: &mut crate::db::Conn<'_>,
            fields: &$fields,
            by: &crate::domain::Actor,
        ) -> diesel::QueryResult<$row> {
            let at = crate::domain::now();
            crate::db::query!(conn, |c| diesel::insert_into($table::table)
                .values(crate::models::new_row!($table, fields, by, at))
                .returning($table::all_columns)
                .get_result(c))
        }

        pub async fn find(
            conn: &mut crate::db::Conn<'_>,
            id: $id,
        ) -> diesel::QueryResult<Option<$row>> {
            crate::db::query!(conn, |c| $table::table
                .find(id)
                .select(<$row>::as_select())
                .first(c))
            .optional()
        }

        pub async fn update(
            conn: &mut crate::db::Conn<'_>,
            id: $id,
            expected_version: Option<i64>,
            fields: &$fields,
            by: &crate::domain::Actor,
        ) -> Result<$row, crate::models::WriteError> {
            let at = crate::domain::now();
            let changes = || {
                (
                    fields,
                    $table::updated_by.eq(&by.label),
                    $table::updated_at.eq(at),
                    $table::version.eq($table::version + 1),
                )
            };
            let target = $table::table.filter($table::id.eq(id));
            let updated = match expected_version {
                Some(v) => crate::db::query!(&mut *conn, |c| diesel::update(
                    target.filter($table::version.eq(v))
                )
                .set(changes())
                .returning($table::all_columns)
                .get_result::<$row>(c)),
                None => crate::db::query!(&mut *conn, |c| diesel::update(target)
                    .set(changes())
                    .returning($table::all_columns)
                    .get_result::<$row>(c)),
            }
            .optional()?;
            match updated {
                Some(row) => Ok(row),
                None => Err(crate::models::missing_or_stale(
                    find(conn, id).await?.is_some(),
                )),
            }
        }

        pub async fn delete(
            conn: &mut crate::db::Conn<'_>,
            id: $id,
            expected_version: Option<i64>,
        ) -> Result<i64, crate::models::WriteError> {
            let target = $table::table.filter($table::id.eq(id));
            // The deleted version: the change feed shows it.
            let deleted = match expected_version {
                Some(v) => crate::db::query!(&mut *conn, |c| diesel::delete(
                    target.filter($table::version.eq(v))
                )
                .returning($table::version)
                .get_result::<i64>(c)),
                None => crate::db::query!(&mut *conn, |c| diesel::delete(target)
                    .returning($table::version)
                    .get_result::<i64>(c)),
            }
            .optional()?;
            match deleted {
                Some(version) => Ok(version),
                None => Err(crate::models::missing_or_stale(
                    find(conn, id).await?.is_some(),
                )),
            }
        }

        /// The rows of `ids` that exist, in no particular order.
        pub async fn find_all(
            conn: &mut crate::db::Conn<'_>,
            ids: &[$id],
        ) -> diesel::QueryResult<Vec<$row>> {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            crate::db::query!(conn, |c| $table::table
                .filter($table::id.eq_any(ids))
                .select(<$row>::as_select())
                .load(c))
        }

        /// Which of `ids` exist (for checking the ids a client sends).
        pub async fn existing(
            conn: &mut crate::db::Conn<'_>,
            ids: &[$id],
        ) -> diesel::QueryResult<Vec<$id>> {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            crate::db::query!(conn, |c| $table::table
                .filter($table::id.eq_any(ids))
                .select($table::id)
                .load::<$id>(c))
        }
    };
}
pub(crate) use record_queries;

/// Declares the inserted and updated columns of a table whose one derived column is
/// `name_key`: the domain's writable fields (the domain type is their change set, embedded)
/// and the key of their name.
macro_rules! named_fields {
    ($(#[$doc:meta])* $fields:ident, $table:ident, $new:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, diesel::Insertable, diesel::AsChangeset)]
        #[diesel(table_name = $table, treat_none_as_default_value = false)]
        pub struct $fields {
            #[diesel(embed)]
            pub new: $new,
            pub name_key: String,
        }

        impl From<$new> for $fields {
            fn from(new: $new) -> Self {
                Self {
                    name_key: crate::domain::name_key(&new.name),
                    new,
                }
            }
        }
    };
}
pub(crate) use named_fields;

/// After a conditional write touched no row: the row is at another version, or gone.
pub fn missing_or_stale(exists: bool) -> WriteError {
    if exists {
        WriteError::VersionMismatch
    } else {
        WriteError::NotFound
    }
}

/// Whether the record whose relation set is written existed before (a new one has no links
/// to remove: creating skips that statement).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    New,
    Existing,
}

impl Owner {
    /// Makes what `add` inserts the owner's whole set of some rows: a new owner has none for
    /// `remove` to delete; an existing one's delete and inserts go out together (`db::both`),
    /// and a connection runs them in the order sent. `both` polls `remove` first, and
    /// diesel-async sends a statement within the poll that took its statement cache's lock
    /// (held while it prepares, released right before the execute goes out, with no wait in
    /// between), so the delete is sent before the inserts even when only it needs preparing.
    pub async fn replace<R, A>(
        self,
        conn: &mut crate::db::Conn<'_>,
        remove: impl AsyncFnOnce(&mut crate::db::Conn<'_>) -> diesel::QueryResult<R>,
        add: impl AsyncFnOnce(&mut crate::db::Conn<'_>) -> diesel::QueryResult<A>,
    ) -> diesel::QueryResult<()> {
        match self {
            Owner::New => add(conn).await.map(drop),
            Owner::Existing => crate::db::both(conn, remove, add).await.map(drop),
        }
    }
}

diesel::define_sql_function! {
    /// PostgreSQL's `unnest`: an array's elements as rows. `INSERT … SELECT unnest($1),
    /// unnest($2)` inserts any number of rows in one statement whose text never changes, so
    /// it is prepared once per connection; a multi-row `VALUES` list from a `Vec` is a new
    /// statement for every length, which diesel does not cache: each write would pay a round
    /// trip to prepare it. Several `unnest`s in one select list run in lockstep (PostgreSQL
    /// 10 and later). SQLite has no arrays: there the rows go in as `VALUES` lists.
    fn unnest<T: diesel::sql_types::SingleValue>(array: diesel::sql_types::Array<T>) -> T;
}

/// Declares a module of queries on a join table `(owner, target)` whose owner is a row of
/// `owner_table`: the target ids of each owner as a column of a query on the owner's table,
/// replace an owner's set, count the owners of a target.
macro_rules! join_table {
    ($module:ident, $table:ident, $owner_table:ident.$owner:ident: $owner_id:ty, $target:ident: $target_id:ty) => {
        pub mod $module {
            use crate::db::prelude::*;
            use crate::db::schema::$table;
            use crate::db::{Conn, query};
            use diesel::sql_types::{Array, BigInt};

            /// The target ids of each row of the owner's table, for the select clause of a
            /// query on it: the ids come with the row, in the same statement (`relation_ids`).
            #[diesel::dsl::auto_type]
            pub fn ids() -> _ {
                $table::table
                    .filter($table::$owner.eq(crate::db::schema::$owner_table::id))
                    .select(crate::models::relation_ids::aggregate_ids($table::$target))
                    .single_value()
            }

            /// Makes `targets` the owner's whole set (`Owner::replace`).
            pub async fn replace(
                conn: &mut Conn<'_>,
                owner: $owner_id,
                targets: &[$target_id],
                was: crate::models::Owner,
            ) -> QueryResult<()> {
                let pairs: Vec<($owner_id, $target_id)> =
                    targets.iter().map(|target| (owner, *target)).collect();
                was.replace(
                    conn,
                    async |c| {
                        query!(c, |c| diesel::delete(
                            $table::table.filter($table::$owner.eq(owner))
                        )
                        .execute(c))
                    },
                    async |c| add_all(c, &pairs).await,
                )
                .await
            }

            /// Adds the links `(owner, target)`.
            pub async fn add_all(
                conn: &mut Conn<'_>,
                pairs: &[($owner_id, $target_id)],
            ) -> QueryResult<()> {
                if pairs.is_empty() {
                    return Ok(());
                }
                if let Conn::Postgres(pg) = conn {
                    // One statement for any number of links, prepared once (`unnest`).
                    let (owners, targets): (Vec<$owner_id>, Vec<$target_id>) =
                        pairs.iter().copied().unzip();
                    return crate::db::postgres_query!(pg, |c| diesel::insert_into($table::table)
                        .values(diesel::select((
                            crate::models::unnest(owners.into_sql::<Array<BigInt>>()),
                            crate::models::unnest(targets.into_sql::<Array<BigInt>>()),
                        )))
                        .into_columns(($table::$owner, $table::$target))
                        .execute(c))
                    .map(drop);
                }
                let row = |(owner, target): &($owner_id, $target_id)| {
                    ($table::$owner.eq(*owner), $table::$target.eq(*target))
                };
                crate::db::in_batches!(conn, pairs.iter().map(row), 10_000, |c, batch| {
                    diesel::insert_into($table::table).values(batch).execute(c)
                })
                .map(drop)
            }

            /// How many owners list `target`.
            pub async fn count_owners(conn: &mut Conn<'_>, target: $target_id) -> QueryResult<i64> {
                query!(conn, |c| $table::table
                    .filter($table::$target.eq(target))
                    .count()
                    .get_result(c))
            }
        }
    };
}
pub(crate) use join_table;
