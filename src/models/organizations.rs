//! Organizations: sponsors, chambers, agencies, consultancies. Users and clients belong to one.

use crate::db::prelude::*;
use chrono::NaiveDateTime;

use crate::db::schema::organizations;
use crate::db::{Conn, query};
use crate::domain::organizations::NewOrganization;
use crate::domain::values::OrganizationKind;
use crate::domain::{OrganizationId, name_key};
use crate::models::page::{Page, PageRequest, sorted};
use crate::models::{ListError, contains_pattern, named_fields, record_queries};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = organizations)]
pub struct Organization {
    pub id: OrganizationId,
    pub name: String,
    pub name_key: String,
    pub kind: OrganizationKind,
    pub city: Option<String>,
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
    /// The inserted and updated columns of a organization.
    OrganizationFields,
    organizations,
    NewOrganization
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrganizationSort {
    Name,
    Kind,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, Default)]
pub struct OrganizationFilter {
    pub q: Option<String>,
    pub kind: Option<OrganizationKind>,
    pub updated_since: Option<NaiveDateTime>,
}

record_queries!(
    organizations,
    Organization,
    OrganizationFields,
    OrganizationId
);

pub async fn exists(conn: &mut Conn<'_>, id: OrganizationId) -> QueryResult<bool> {
    query!(conn, |c| diesel::select(diesel::dsl::exists(
        organizations::table.find(id)
    ))
    .get_result(c))
}

/// Finds an organization by name (case-insensitively) or id, for the command line.
pub async fn find_id(conn: &mut Conn<'_>, name_or_id: &str) -> QueryResult<Option<OrganizationId>> {
    if let Ok(id) = name_or_id.parse::<i64>() {
        let id = OrganizationId(id);
        return Ok(exists(conn, id).await?.then_some(id));
    }
    query!(conn, |c| organizations::table
        .filter(organizations::name_key.eq(name_key(name_or_id)))
        .select(organizations::id)
        .first(c))
    .optional()
}

pub async fn list(
    conn: &mut Conn<'_>,
    filter: &OrganizationFilter,
    page: &PageRequest<OrganizationSort>,
) -> Result<Page<Organization>, ListError> {
    // A macro, not a closure: each arm of `query!` builds the boxed query for its backend.
    macro_rules! filtered {
        () => {{
            let mut query = organizations::table.into_boxed();
            if let Some(q) = &filter.q {
                query = query.filter(
                    organizations::name_key
                        .like(contains_pattern(q))
                        .escape('\\'),
                );
            }
            if let Some(kind) = &filter.kind {
                query = query.filter(organizations::kind.eq(*kind));
            }
            if let Some(since) = filter.updated_since {
                query = query.filter(organizations::updated_at.ge(since));
            }
            query
        }};
    }
    let (rows, keyset) = sorted!(conn, filtered!().select(Organization::as_select()), page, organizations::id, |o: Organization| {
        OrganizationSort::Name => text(organizations::name_key, o.name_key.clone()),
        OrganizationSort::Kind => text(organizations::kind, o.kind.as_str().to_owned()),
        OrganizationSort::CreatedAt => time(organizations::created_at, o.created_at),
        OrganizationSort::UpdatedAt => time(organizations::updated_at, o.updated_at),
    })?;
    let total = if page.with_total {
        Some(query!(conn, |c| filtered!().count().get_result(c))?)
    } else {
        None
    };
    Ok(Page::from_rows(rows, page.limit, total, keyset))
}

/// What still references an organization: (count, singular, plural) per kind.
pub async fn usage(
    conn: &mut Conn<'_>,
    id: OrganizationId,
) -> QueryResult<Vec<(i64, &'static str, &'static str)>> {
    use crate::db::schema::{
        clients, companies, event_organizations, events, funding_sources, projects, regions,
        topics, users,
    };
    let owned: i64 = [
        query!(conn, |c| regions::table
            .filter(regions::owner_org_id.eq(id))
            .count()
            .get_result::<i64>(c))?,
        query!(conn, |c| topics::table
            .filter(topics::owner_org_id.eq(id))
            .count()
            .get_result::<i64>(c))?,
        query!(conn, |c| funding_sources::table
            .filter(funding_sources::owner_org_id.eq(id))
            .count()
            .get_result::<i64>(c))?,
        query!(conn, |c| organizations::table
            .filter(organizations::owner_org_id.eq(id))
            .count()
            .get_result::<i64>(c))?,
        query!(conn, |c| projects::table
            .filter(projects::owner_org_id.eq(id))
            .count()
            .get_result::<i64>(c))?,
        query!(conn, |c| companies::table
            .filter(companies::owner_org_id.eq(id))
            .count()
            .get_result::<i64>(c))?,
        query!(conn, |c| events::table
            .filter(events::owner_org_id.eq(id))
            .count()
            .get_result::<i64>(c))?,
    ]
    .iter()
    .sum();
    Ok(vec![
        (
            query!(conn, |c| users::table
                .filter(users::organization_id.eq(id))
                .count()
                .get_result(c))?,
            "user",
            "users",
        ),
        (
            query!(conn, |c| clients::table
                .filter(clients::organization_id.eq(id))
                .count()
                .get_result(c))?,
            "client",
            "clients",
        ),
        (
            query!(conn, |c| projects::table
                .filter(projects::sponsor_id.eq(id))
                .count()
                .get_result(c))?,
            "project as sponsor",
            "projects as sponsor",
        ),
        (
            query!(conn, |c| event_organizations::table
                .filter(event_organizations::organization_id.eq(id))
                .count()
                .get_result(c))?,
            "event as contributor",
            "events as contributor",
        ),
        (owned, "record it created", "records it created"),
    ])
}
