//! Events: meetings, workshops, kick-offs, closing events.

use crate::db::prelude::*;
use chrono::NaiveDateTime;

use crate::db::schema::{self, events};
use crate::db::{Conn, query};
use crate::domain::events::NewEvent;
use crate::domain::values::{EventFormat, EventKind};
use crate::domain::{CompanyId, EventId, OrganizationId, ProjectId, RegionId, TopicId, name_key};
use crate::models::links::{event_companies, event_organizations, event_topics};
use crate::models::page::{Page, PageRequest, sorted};
use crate::models::relation_ids::RelationIds;
use crate::models::{ListError, contains_pattern, record_queries};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct Event {
    pub id: EventId,
    pub title: String,
    pub title_key: String,
    pub kind: EventKind,
    pub project_id: ProjectId,
    pub region_id: Option<RegionId>,
    pub starts_at: NaiveDateTime,
    pub ends_at: Option<NaiveDateTime>,
    pub location: Option<String>,
    pub format: Option<EventFormat>,
    pub notes: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
    pub owner_org_id: Option<OrganizationId>,
    pub created_by: Option<String>,
    pub updated_by: Option<String>,
}

/// The inserted and updated columns: the domain's writable fields (`NewEvent` is their change
/// set) and the key of the title.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = events, treat_none_as_default_value = false)]
pub struct EventFields {
    #[diesel(embed)]
    pub event: NewEvent,
    pub title_key: String,
}

impl From<NewEvent> for EventFields {
    fn from(event: NewEvent) -> Self {
        Self {
            title_key: name_key(&event.title),
            event,
        }
    }
}

/// An event with the ids it lists, read in one statement (`relation_ids`).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRecord {
    #[diesel(embed)]
    pub event: Event,
    #[diesel(select_expression = event_topics::ids(), deserialize_as = RelationIds<TopicId>)]
    pub topic_ids: Vec<TopicId>,
    #[diesel(
        select_expression = event_organizations::ids(),
        deserialize_as = RelationIds<OrganizationId>
    )]
    pub organization_ids: Vec<OrganizationId>,
    #[diesel(select_expression = event_companies::ids(), deserialize_as = RelationIds<CompanyId>)]
    pub company_ids: Vec<CompanyId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventSort {
    StartsAt,
    Title,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub q: Option<String>,
    pub kind: Option<EventKind>,
    pub project_id: Option<i64>,
    pub region_id: Option<i64>,
    pub topic_id: Option<i64>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    pub updated_since: Option<NaiveDateTime>,
}

record_queries!(events, Event, EventFields, EventId);

pub async fn count_in_region(conn: &mut Conn<'_>, region: RegionId) -> QueryResult<i64> {
    query!(conn, |c| events::table
        .filter(events::region_id.eq(region))
        .count()
        .get_result(c))
}

pub async fn count_in_project(conn: &mut Conn<'_>, project: ProjectId) -> QueryResult<i64> {
    query!(conn, |c| events::table
        .filter(events::project_id.eq(project))
        .count()
        .get_result(c))
}

/// One event with its relation ids.
pub async fn find_record(conn: &mut Conn<'_>, id: EventId) -> QueryResult<Option<EventRecord>> {
    query!(conn, |c| events::table
        .find(id)
        .select(EventRecord::as_select())
        .first(c))
    .optional()
}

/// The events of `ids` that exist, with their relation ids, in no particular order.
pub async fn find_records(conn: &mut Conn<'_>, ids: &[EventId]) -> QueryResult<Vec<EventRecord>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    query!(conn, |c| events::table
        .filter(events::id.eq_any(ids))
        .select(EventRecord::as_select())
        .load(c))
}

pub async fn list(
    conn: &mut Conn<'_>,
    filter: &EventFilter,
    page: &PageRequest<EventSort>,
) -> Result<Page<EventRecord>, ListError> {
    // A macro, not a closure: each arm of `query!` builds the boxed query for its backend.
    macro_rules! filtered {
        () => {{
            let mut query = events::table.into_boxed();
            if let Some(q) = &filter.q {
                query = query.filter(events::title_key.like(contains_pattern(q)).escape('\\'));
            }
            if let Some(kind) = &filter.kind {
                query = query.filter(events::kind.eq(*kind));
            }
            if let Some(project) = filter.project_id {
                query = query.filter(events::project_id.eq(project));
            }
            if let Some(region) = filter.region_id {
                query = query.filter(events::region_id.eq(region));
            }
            if let Some(topic) = filter.topic_id {
                query = query.filter(
                    events::id.eq_any(
                        schema::event_topics::table
                            .filter(schema::event_topics::topic_id.eq(topic))
                            .select(schema::event_topics::event_id),
                    ),
                );
            }
            if let Some(from) = filter.from {
                query = query.filter(events::starts_at.ge(from));
            }
            if let Some(to) = filter.to {
                query = query.filter(events::starts_at.le(to));
            }
            if let Some(since) = filter.updated_since {
                query = query.filter(events::updated_at.ge(since));
            }
            query
        }};
    }
    let (rows, keyset) = sorted!(conn, filtered!().select(EventRecord::as_select()), page, events::id, |r: EventRecord, e = &r.event| {
        EventSort::StartsAt => time(events::starts_at, e.starts_at),
        EventSort::Title => text(events::title_key, e.title_key.clone()),
        EventSort::CreatedAt => time(events::created_at, e.created_at),
        EventSort::UpdatedAt => time(events::updated_at, e.updated_at),
    })?;
    let total = if page.with_total {
        Some(query!(conn, |c| filtered!().count().get_result(c))?)
    } else {
        None
    };
    Ok(Page::from_rows(rows, page.limit, total, keyset))
}

/// The id of the event with this title (case-insensitively) in a project, if any.
pub async fn id_by_title_in_project(
    conn: &mut Conn<'_>,
    title: &str,
    project: ProjectId,
) -> QueryResult<Option<EventId>> {
    query!(conn, |c| events::table
        .filter(events::title_key.eq(name_key(title)))
        .filter(events::project_id.eq(project))
        .order(events::id)
        .select(events::id)
        .first(c))
    .optional()
}
