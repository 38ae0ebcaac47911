//! The queries of the project report: each one aggregates over the whole project in the
//! database, so the report costs the same few statements whatever the project's size.

use crate::db::prelude::*;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::dsl::{count_star, max, min};

use crate::db::schema::{
    companies, company_projects, company_topics, event_topics, events, funding_sources,
    organizations, project_funding, project_regions, projects, regions, topics,
};
use crate::db::{Conn, query};
use crate::domain::values::{EventKind, FundingKind, FundingRole, ProjectStatus};
use crate::domain::{FundingSourceId, OrganizationId, ProjectId, RegionId, TopicId};

/// The project's own fields the report shows.
#[derive(Debug, Clone, Queryable)]
pub struct ProjectHead {
    pub id: ProjectId,
    pub name: String,
    pub status: ProjectStatus,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub sponsor_id: Option<OrganizationId>,
}

pub async fn project(conn: &mut Conn<'_>, id: ProjectId) -> QueryResult<Option<ProjectHead>> {
    query!(conn, |c| projects::table
        .find(id)
        .select((
            projects::id,
            projects::name,
            projects::status,
            projects::start_date,
            projects::end_date,
            projects::sponsor_id,
        ))
        .first(c))
    .optional()
}

pub async fn organization_name(
    conn: &mut Conn<'_>,
    id: OrganizationId,
) -> QueryResult<Option<String>> {
    query!(conn, |c| organizations::table
        .find(id)
        .select(organizations::name)
        .first(c))
    .optional()
}

/// The project's own regions.
pub async fn project_regions(
    conn: &mut Conn<'_>,
    project: ProjectId,
) -> QueryResult<Vec<RegionId>> {
    query!(conn, |c| project_regions::table
        .filter(project_regions::project_id.eq(project))
        .select(project_regions::region_id)
        .load(c))
}

/// How many companies of each region take part in the project.
pub async fn companies_per_region(
    conn: &mut Conn<'_>,
    project: ProjectId,
) -> QueryResult<Vec<(RegionId, i64)>> {
    query!(conn, |c| companies::table
        .inner_join(company_projects::table.on(company_projects::company_id.eq(companies::id)))
        .filter(company_projects::project_id.eq(project))
        .group_by(companies::region_id)
        .select((companies::region_id, count_star()))
        .load(c))
}

/// The project's events per region (none: events without one) and kind, with the first and
/// last start.
pub type EventGroup = (
    Option<RegionId>,
    EventKind,
    i64,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

pub async fn events_per_region(
    conn: &mut Conn<'_>,
    project: ProjectId,
) -> QueryResult<Vec<EventGroup>> {
    query!(conn, |c| events::table
        .filter(events::project_id.eq(project))
        .group_by((events::region_id, events::kind))
        .select((
            events::region_id,
            events::kind,
            count_star(),
            min(events::starts_at),
            max(events::starts_at),
        ))
        .load(c))
}

/// The topics of the project's events, per region.
pub async fn event_topics_per_region(
    conn: &mut Conn<'_>,
    project: ProjectId,
) -> QueryResult<Vec<(Option<RegionId>, TopicId)>> {
    query!(conn, |c| events::table
        .inner_join(event_topics::table.on(event_topics::event_id.eq(events::id)))
        .filter(events::project_id.eq(project))
        .select((events::region_id, event_topics::topic_id))
        .distinct()
        .load(c))
}

/// The topics of the companies taking part, per region.
pub async fn company_topics_per_region(
    conn: &mut Conn<'_>,
    project: ProjectId,
) -> QueryResult<Vec<(RegionId, TopicId)>> {
    query!(conn, |c| companies::table
        .inner_join(company_projects::table.on(company_projects::company_id.eq(companies::id)))
        .inner_join(company_topics::table.on(company_topics::company_id.eq(companies::id)))
        .filter(company_projects::project_id.eq(project))
        .select((companies::region_id, company_topics::topic_id))
        .distinct()
        .load(c))
}

/// Region id, name and district.
pub async fn regions(
    conn: &mut Conn<'_>,
    ids: &[RegionId],
) -> QueryResult<Vec<(RegionId, String, Option<String>)>> {
    query!(conn, |c| regions::table
        .filter(regions::id.eq_any(ids))
        .select((regions::id, regions::name, regions::district))
        .load(c))
}

/// Topic id, key and name.
pub async fn topics(
    conn: &mut Conn<'_>,
    ids: &[TopicId],
) -> QueryResult<Vec<(TopicId, String, String)>> {
    query!(conn, |c| topics::table
        .filter(topics::id.eq_any(ids))
        .select((topics::id, topics::key, topics::name))
        .load(c))
}

/// One funding line with its source.
#[derive(Debug, Clone, Queryable)]
pub struct FundingRow {
    pub funding_source_id: FundingSourceId,
    pub name: String,
    pub kind: FundingKind,
    pub role: FundingRole,
    pub amount_cents: Option<i64>,
}

/// The project's funding lines, by role, then source name.
pub async fn funding(conn: &mut Conn<'_>, project: ProjectId) -> QueryResult<Vec<FundingRow>> {
    query!(conn, |c| project_funding::table
        .inner_join(
            funding_sources::table.on(funding_sources::id.eq(project_funding::funding_source_id)),
        )
        .filter(project_funding::project_id.eq(project))
        .order((project_funding::role, funding_sources::name_key))
        .select((
            project_funding::funding_source_id,
            funding_sources::name,
            funding_sources::kind,
            project_funding::role,
            project_funding::amount_cents,
        ))
        .load(c))
}
