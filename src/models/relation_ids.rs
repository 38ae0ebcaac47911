//! A record's relation ids in the select clause of the query that reads the record: a
//! correlated subselect on the join table aggregates them into one value per row, so a
//! record, or a page of them, comes with its relations in one statement on both databases.
//! On PostgreSQL a round trip is most of what a read costs; on SQLite one statement instead
//! of one per relation saves their preparation and the map that put the ids back together.
//!
//! The aggregate is each database's own: `array_agg` on PostgreSQL (an `int8[]`, read in
//! binary), `json_group_array` on SQLite (a JSON array as text). The SQL type [`IdList`]
//! stands for either, so the query is written once.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::pg::{Pg, PgValue};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Nullable, SqlType};
use diesel::sqlite::Sqlite;

/// The ids of a relation aggregated into one value: `int8[]` on PostgreSQL, JSON text on
/// SQLite. Never bound as a parameter, only read.
#[derive(Debug, Clone, Copy, SqlType, QueryId)]
#[diesel(postgres_type(oid = 1016, array_oid = 0))]
#[diesel(sqlite_type(name = "Text"))]
pub struct IdList;

/// `array_agg(expr)` on PostgreSQL, `json_group_array(expr)` on SQLite: an aggregate over
/// the ids of the rows it sees. NULL (PostgreSQL) or `[]` (SQLite) for no rows; both read as
/// no ids.
#[derive(Debug, Clone, Copy, QueryId)]
pub struct AggregateIds<E>(E);

/// The ids `expr` takes over the rows of its query, as one value.
pub fn aggregate_ids<E: Expression<SqlType = BigInt>>(expr: E) -> AggregateIds<E> {
    AggregateIds(expr)
}

/// The type of [`aggregate_ids`], by the name `#[diesel::dsl::auto_type]` looks for.
#[allow(non_camel_case_types)]
pub type aggregate_ids<E> = AggregateIds<E>;

impl<E: Expression> Expression for AggregateIds<E> {
    type SqlType = Nullable<IdList>;
}

impl<E, GB> ValidGrouping<GB> for AggregateIds<E> {
    type IsAggregate = diesel::expression::is_aggregate::Yes;
}

impl<E: AppearsOnTable<QS>, QS> AppearsOnTable<QS> for AggregateIds<E> where Self: Expression {}

impl<E: SelectableExpression<QS>, QS> SelectableExpression<QS> for AggregateIds<E> where
    Self: AppearsOnTable<QS>
{
}

impl<E: QueryFragment<Pg>> QueryFragment<Pg> for AggregateIds<E> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        out.push_sql("array_agg(");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(")");
        Ok(())
    }
}

impl<E: QueryFragment<Sqlite>> QueryFragment<Sqlite> for AggregateIds<E> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> diesel::QueryResult<()> {
        out.push_sql("json_group_array(");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(")");
        Ok(())
    }
}

/// Relation ids as read from an [`IdList`]: ascending, as the API lists them (neither
/// aggregate promises an order), empty for none.
#[derive(Debug, Clone, PartialEq, Eq, FromSqlRow)]
pub struct RelationIds<T>(Vec<T>);

impl<T: Ord> RelationIds<T> {
    fn sorted(mut ids: Vec<T>) -> Self {
        ids.sort_unstable();
        Self(ids)
    }
}

impl<T> From<RelationIds<T>> for Vec<T> {
    fn from(ids: RelationIds<T>) -> Vec<T> {
        ids.0
    }
}

impl<T: Ord> FromSql<Nullable<IdList>, Pg> for RelationIds<T>
where
    Vec<T>: FromSql<Array<BigInt>, Pg>,
{
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        Ok(Self::sorted(
            <Vec<T> as FromSql<Array<BigInt>, Pg>>::from_sql(value)?,
        ))
    }

    fn from_nullable_sql(value: Option<PgValue<'_>>) -> deserialize::Result<Self> {
        match value {
            Some(value) => Self::from_sql(value),
            None => Ok(Self(Vec::new())),
        }
    }
}

impl<T: Ord + From<i64>> FromSql<Nullable<IdList>, Sqlite> for RelationIds<T> {
    fn from_sql(mut value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        let ids: Vec<i64> = serde_json::from_str(value.read_text())?;
        Ok(Self::sorted(ids.into_iter().map(T::from).collect()))
    }

    fn from_nullable_sql(
        value: Option<<Sqlite as Backend>::RawValue<'_>>,
    ) -> deserialize::Result<Self> {
        match value {
            Some(value) => Self::from_sql(value),
            None => Ok(Self(Vec::new())),
        }
    }
}
