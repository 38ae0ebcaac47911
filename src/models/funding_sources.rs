//! Funding sources: who pays for projects.

use crate::db::prelude::*;
use chrono::NaiveDateTime;

use crate::db::schema::funding_sources;
use crate::db::{Conn, query};
use crate::domain::funding_sources::NewFundingSource;
use crate::domain::values::FundingKind;
use crate::domain::{FundingSourceId, OrganizationId, name_key};
use crate::models::page::{Page, PageRequest, sorted};
use crate::models::{ListError, contains_pattern, named_fields, record_queries};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = funding_sources)]
pub struct FundingSource {
    pub id: FundingSourceId,
    pub name: String,
    pub name_key: String,
    pub kind: FundingKind,
    pub provider: Option<String>,
    pub programme: Option<String>,
    pub website: Option<String>,
    pub description: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
    pub owner_org_id: Option<OrganizationId>,
    pub created_by: Option<String>,
    pub updated_by: Option<String>,
}

named_fields!(
    /// The inserted and updated columns of a funding source.
    FundingSourceFields,
    funding_sources,
    NewFundingSource
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FundingSourceSort {
    Name,
    Kind,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, Default)]
pub struct FundingSourceFilter {
    pub q: Option<String>,
    pub kind: Option<FundingKind>,
    pub updated_since: Option<NaiveDateTime>,
}

record_queries!(
    funding_sources,
    FundingSource,
    FundingSourceFields,
    FundingSourceId
);

pub async fn list(
    conn: &mut Conn<'_>,
    filter: &FundingSourceFilter,
    page: &PageRequest<FundingSourceSort>,
) -> Result<Page<FundingSource>, ListError> {
    // A macro, not a closure: each arm of `query!` builds the boxed query for its backend.
    macro_rules! filtered {
        () => {{
            let mut query = funding_sources::table.into_boxed();
            if let Some(q) = &filter.q {
                query = query.filter(
                    funding_sources::name_key
                        .like(contains_pattern(q))
                        .escape('\\'),
                );
            }
            if let Some(kind) = &filter.kind {
                query = query.filter(funding_sources::kind.eq(*kind));
            }
            if let Some(since) = filter.updated_since {
                query = query.filter(funding_sources::updated_at.ge(since));
            }
            query
        }};
    }
    let (rows, keyset) = sorted!(conn, filtered!().select(FundingSource::as_select()), page, funding_sources::id, |f: FundingSource| {
        FundingSourceSort::Name => text(funding_sources::name_key, f.name_key.clone()),
        FundingSourceSort::Kind => text(funding_sources::kind, f.kind.as_str().to_owned()),
        FundingSourceSort::CreatedAt => time(funding_sources::created_at, f.created_at),
        FundingSourceSort::UpdatedAt => time(funding_sources::updated_at, f.updated_at),
    })?;
    let total = if page.with_total {
        Some(query!(conn, |c| filtered!().count().get_result(c))?)
    } else {
        None
    };
    Ok(Page::from_rows(rows, page.limit, total, keyset))
}

/// The id of the funding source with this name (case-insensitively), if any.
pub async fn id_by_name(conn: &mut Conn<'_>, name: &str) -> QueryResult<Option<FundingSourceId>> {
    query!(conn, |c| funding_sources::table
        .filter(funding_sources::name_key.eq(name_key(name)))
        .select(funding_sources::id)
        .first(c))
    .optional()
}
