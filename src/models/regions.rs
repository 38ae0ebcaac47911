//! Regions in the database: the row, the writable fields, and every query on the table.

use crate::db::prelude::*;
use chrono::NaiveDateTime;

use crate::db::schema::regions;
use crate::db::{Conn, query};
use crate::domain::regions::NewRegion;
use crate::domain::{OrganizationId, RegionId, name_key};
use crate::models::page::{Page, PageRequest, sorted};
use crate::models::{ListError, contains_pattern, named_fields, record_queries};

/// A stored region.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = regions)]
pub struct Region {
    pub id: RegionId,
    pub name: String,
    pub name_key: String,
    pub district: Option<String>,
    pub state: Option<String>,
    pub commercial_area: Option<String>,
    pub description: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
    /// The organization whose user or client created the region (partners may change only
    /// their own organization's records).
    pub owner_org_id: Option<OrganizationId>,
    /// Who created it and who changed it last (`user:<id>` or `client:<client_id>`).
    pub created_by: Option<String>,
    pub updated_by: Option<String>,
}

named_fields!(
    /// The inserted and updated columns of a region.
    RegionFields,
    regions,
    NewRegion
);

/// The fields a list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionSort {
    Name,
    CreatedAt,
    UpdatedAt,
}

/// List filters; all given ones must hold.
#[derive(Debug, Clone, Default)]
pub struct RegionFilter {
    /// Case-insensitive substring of the name.
    pub q: Option<String>,
    pub district: Option<String>,
    pub state: Option<String>,
    pub updated_since: Option<NaiveDateTime>,
}

record_queries!(regions, Region, RegionFields, RegionId);

pub async fn list(
    conn: &mut Conn<'_>,
    filter: &RegionFilter,
    page: &PageRequest<RegionSort>,
) -> Result<Page<Region>, ListError> {
    // A macro, not a closure: each arm of `query!` builds the boxed query for its backend.
    macro_rules! filtered {
        () => {{
            let mut query = regions::table.into_boxed();
            if let Some(q) = &filter.q {
                query = query.filter(regions::name_key.like(contains_pattern(q)).escape('\\'));
            }
            if let Some(district) = &filter.district {
                query = query.filter(regions::district.eq(district));
            }
            if let Some(state) = &filter.state {
                query = query.filter(regions::state.eq(state));
            }
            if let Some(since) = filter.updated_since {
                query = query.filter(regions::updated_at.ge(since));
            }
            query
        }};
    }
    let (rows, keyset) = sorted!(conn, filtered!().select(Region::as_select()), page, regions::id, |r: Region| {
        RegionSort::Name => text(regions::name_key, r.name_key.clone()),
        RegionSort::CreatedAt => time(regions::created_at, r.created_at),
        RegionSort::UpdatedAt => time(regions::updated_at, r.updated_at),
    })?;
    let total = if page.with_total {
        Some(query!(conn, |c| filtered!().count().get_result(c))?)
    } else {
        None
    };
    Ok(Page::from_rows(rows, page.limit, total, keyset))
}

/// The id of the region with this name (case-insensitively), if any.
pub async fn id_by_name(conn: &mut Conn<'_>, name: &str) -> QueryResult<Option<RegionId>> {
    query!(conn, |c| regions::table
        .filter(regions::name_key.eq(name_key(name)))
        .select(regions::id)
        .first(c))
    .optional()
}
