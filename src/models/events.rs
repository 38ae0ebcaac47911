//! Events: meetings, workshops, kick-offs, closing events.

use crate::db::prelude::*;
use chrono::NaiveDateTime;

use crate::db::schema::{self, events};
use crate::db::{self, Conn, postgres_query, query};
use crate::domain::events::NewEvent;
use crate::domain::values::{EventFormat, EventKind};
use crate::domain::{CompanyId, EventId, OrganizationId, ProjectId, RegionId, TopicId, name_key};
use crate::models::links::{event_companies, event_organizations, event_topics};
use crate::models::page::{Page, PageRequest, sorted};
use crate::models::{ListError, contains_pattern, record_queries, sorted_ids};

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

/// An event with the ids it lists.
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub event: Event,
    pub topic_ids: Vec<TopicId>,
    pub organization_ids: Vec<OrganizationId>,
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

/// One event with its relation ids: one statement on PostgreSQL (see `companies::find_record`).
pub async fn find_record(conn: &mut Conn<'_>, id: EventId) -> QueryResult<Option<EventRecord>> {
    if let Conn::Postgres(pg) = conn {
        let found = postgres_query!(pg, |c| events::table
            .find(id)
            .select((
                Event::as_select(),
                event_topics::ids_of(id),
                event_organizations::ids_of(id),
                event_companies::ids_of(id),
            ))
            .first::<(
                Event,
                Option<Vec<TopicId>>,
                Option<Vec<OrganizationId>>,
                Option<Vec<CompanyId>>,
            )>(c))
        .optional()?;
        return Ok(
            found.map(|(event, topics, organizations, companies)| EventRecord {
                event,
                topic_ids: sorted_ids(topics),
                organization_ids: sorted_ids(organizations),
                company_ids: sorted_ids(companies),
            }),
        );
    }
    let rows: Vec<_> = find(conn, id).await?.into_iter().collect();
    Ok(with_relations(conn, rows).await?.pop())
}

/// Attaches the relation ids to rows: three queries, whatever the number of rows, side by
/// side (`db::both`).
pub async fn with_relations(
    conn: &mut Conn<'_>,
    rows: Vec<Event>,
) -> QueryResult<Vec<EventRecord>> {
    let ids: Vec<EventId> = rows.iter().map(|e| e.id).collect();
    let (mut topics, (mut organizations, mut companies)) = db::both(
        conn,
        async |c| event_topics::load(c, &ids).await,
        async |c| {
            db::both(
                c,
                async |c| event_organizations::load(c, &ids).await,
                async |c| event_companies::load(c, &ids).await,
            )
            .await
        },
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|event| {
            let id = event.id;
            EventRecord {
                event,
                topic_ids: topics.remove(&id).unwrap_or_default(),
                organization_ids: organizations.remove(&id).unwrap_or_default(),
                company_ids: companies.remove(&id).unwrap_or_default(),
            }
        })
        .collect())
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
    let (rows, keyset) = sorted!(conn, filtered!().select(Event::as_select()), page, events::id, |e: Event| {
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
    let page = Page::from_rows(rows, page.limit, total, keyset);
    Ok(Page {
        items: with_relations(conn, page.items).await?,
        next: page.next,
        total: page.total,
    })
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
