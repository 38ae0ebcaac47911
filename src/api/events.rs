//! `/api/v1/events`: kick-offs, needs assessments, neighbourhood meetings, company workshops,
//! closing events. Partners may create events; they change only their own.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::Connection as _;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::api::body::not_blank;
use crate::api::error::ApiError;
use crate::api::paging::{SortField, filter_id, list_response};
use crate::api::relations::{IdCheck, id_array, id_set};
use crate::api::resource::{Resource, resource_endpoints};
use crate::auth::{Caller, Role};
use crate::db::DbConnection;
use crate::domain::values::{EventFormat, EventKind};
use crate::domain::{Actor, EventId};
use crate::models::events::{self, Event, EventFields, EventFilter, EventRecord, EventSort};
use crate::models::links::{event_companies, event_organizations, event_topics};
use crate::models::page::{Page, PageRequest};
use crate::models::{companies, organizations, projects, regions, topics};

/// An event of a project.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 7, "title": "Abschlussveranstaltung Betriebsnachbarschaft Schöningen/Heeseberg", "kind": "closing_event",
    "project_id": 1, "region_id": 4, "starts_at": "2022-03-28T00:00:00Z", "ends_at": null, "location": null,
    "format": null, "topic_ids": [], "organization_ids": [], "company_ids": [], "notes": null,
    "created_at": "2026-11-26T12:00:00Z", "updated_at": "2026-11-26T12:00:00Z", "version": 1
}))]
pub struct EventView {
    #[schema(read_only)]
    pub id: EventId,
    pub title: String,
    pub kind: EventKind,
    pub project_id: i64,
    pub region_id: Option<i64>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub location: Option<String>,
    pub format: Option<EventFormat>,
    #[schema(max_items = 1000)]
    pub topic_ids: Vec<i64>,
    /// Contributing organizations (e.g. a chamber presenting its offers).
    #[schema(max_items = 1000)]
    pub organization_ids: Vec<i64>,
    /// Participating companies.
    #[schema(max_items = 1000)]
    pub company_ids: Vec<i64>,
    pub notes: Option<String>,
    #[schema(read_only)]
    pub created_at: DateTime<Utc>,
    #[schema(read_only)]
    pub updated_at: DateTime<Utc>,
    #[schema(read_only, minimum = 1)]
    pub version: i64,
}

impl From<EventRecord> for EventView {
    fn from(r: EventRecord) -> Self {
        let e = r.event;
        Self {
            id: e.id,
            title: e.title,
            kind: e.kind.parse().unwrap_or(EventKind::Other),
            project_id: e.project_id,
            region_id: e.region_id,
            starts_at: e.starts_at.and_utc(),
            ends_at: e.ends_at.map(|t| t.and_utc()),
            location: e.location,
            format: e.format.and_then(|f| f.parse().ok()),
            topic_ids: r.topic_ids,
            organization_ids: r.organization_ids,
            company_ids: r.company_ids,
            notes: e.notes,
            created_at: e.created_at.and_utc(),
            updated_at: e.updated_at.and_utc(),
            version: e.version,
        }
    }
}

/// The writable fields of an event.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[schema(example = json!({
    "title": "Nachbarschaftstreffen Gewerbegebiet", "kind": "neighbourhood_meeting", "project_id": 1,
    "region_id": 4, "starts_at": "2021-09-15T16:00:00Z", "format": "in_person", "company_ids": [3, 5]
}))]
pub struct EventInput {
    #[validate(
        required(message = "is required"),
        length(min = 1, max = 300, message = "must be 1 to 300 characters"),
        custom(function = "not_blank")
    )]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 300)]
    pub title: Option<String>,
    #[validate(required(message = "is required"))]
    #[schema(required = true, value_type = EventKind)]
    pub kind: Option<EventKind>,
    #[validate(required(message = "is required"))]
    #[schema(required = true, value_type = i64, minimum = 1)]
    pub project_id: Option<i64>,
    pub region_id: Option<i64>,
    #[validate(required(message = "is required"))]
    #[schema(required = true, value_type = DateTime<Utc>)]
    pub starts_at: Option<DateTime<Utc>>,
    /// Not before `starts_at`.
    pub ends_at: Option<DateTime<Utc>>,
    #[validate(length(max = 300, message = "must be at most 300 characters"))]
    #[schema(max_length = 300)]
    pub location: Option<String>,
    pub format: Option<EventFormat>,
    /// Topic ids (a set).
    #[validate(custom(function = "id_array"))]
    #[schema(max_items = 1000)]
    pub topic_ids: Option<Vec<i64>>,
    /// Organization ids (a set).
    #[validate(custom(function = "id_array"))]
    #[schema(max_items = 1000)]
    pub organization_ids: Option<Vec<i64>>,
    /// Company ids (a set).
    #[validate(custom(function = "id_array"))]
    #[schema(max_items = 1000)]
    pub company_ids: Option<Vec<i64>>,
    #[validate(length(max = 10000, message = "must be at most 10000 characters"))]
    #[schema(max_length = 10000)]
    pub notes: Option<String>,
}

/// A JSON Merge Patch of an event: any subset of the writable fields (arrays are replaced whole).
#[derive(ToSchema)]
#[allow(dead_code)] // documents the PATCH body; the patch is applied as JSON
pub struct EventPatch {
    #[schema(nullable = false, min_length = 1, max_length = 300)]
    title: Option<String>,
    #[schema(nullable = false)]
    kind: Option<EventKind>,
    #[schema(nullable = false, minimum = 1)]
    project_id: Option<i64>,
    region_id: Option<i64>,
    #[schema(nullable = false)]
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    location: Option<String>,
    format: Option<EventFormat>,
    #[schema(max_items = 1000)]
    topic_ids: Option<Vec<i64>>,
    #[schema(max_items = 1000)]
    organization_ids: Option<Vec<i64>>,
    #[schema(max_items = 1000)]
    company_ids: Option<Vec<i64>>,
    notes: Option<String>,
}

impl From<EventRecord> for EventInput {
    fn from(r: EventRecord) -> Self {
        let e = r.event;
        Self {
            title: Some(e.title),
            kind: e.kind.parse().ok(),
            project_id: Some(e.project_id),
            region_id: e.region_id,
            starts_at: Some(e.starts_at.and_utc()),
            ends_at: e.ends_at.map(|t| t.and_utc()),
            location: e.location,
            format: e.format.and_then(|f| f.parse().ok()),
            topic_ids: Some(r.topic_ids),
            organization_ids: Some(r.organization_ids),
            company_ids: Some(r.company_ids),
            notes: e.notes,
        }
    }
}

struct EventWrite {
    fields: EventFields,
    topic_ids: Vec<i64>,
    organization_ids: Vec<i64>,
    company_ids: Vec<i64>,
}

/// Timestamps are kept at microseconds, the precision both databases store.
fn micros(t: DateTime<Utc>) -> NaiveDateTime {
    chrono::SubsecRound::trunc_subsecs(t, 6).naive_utc()
}

impl EventInput {
    fn into_write(self, conn: &mut DbConnection) -> Result<EventWrite, ApiError> {
        let starts_at = self.starts_at.map(micros).unwrap_or_default();
        let ends_at = self.ends_at.map(micros);
        if ends_at.is_some_and(|end| end < starts_at) {
            return Err(ApiError::invalid(
                "ends_at",
                "range",
                "ends_at must not be before starts_at",
            ));
        }
        let topic_ids = id_set(self.topic_ids);
        let organization_ids = id_set(self.organization_ids);
        let company_ids = id_set(self.company_ids);
        IdCheck::default()
            .id(
                conn,
                "project_id",
                "project",
                self.project_id,
                projects::existing,
            )?
            .id(
                conn,
                "region_id",
                "region",
                self.region_id,
                regions::existing,
            )?
            .ids(conn, "topic_ids", "topic", &topic_ids, topics::existing)?
            .ids(
                conn,
                "organization_ids",
                "organization",
                &organization_ids,
                organizations::existing,
            )?
            .ids(
                conn,
                "company_ids",
                "company",
                &company_ids,
                companies::existing,
            )?
            .finish()?;
        let title = self.title.unwrap_or_default();
        Ok(EventWrite {
            fields: EventFields {
                title_key: EventFields::title_key(&title),
                title,
                kind: self.kind.unwrap_or(EventKind::Other).as_str().to_owned(),
                project_id: self.project_id.unwrap_or_default(),
                region_id: self.region_id,
                starts_at,
                ends_at,
                location: self.location,
                format: self.format.map(|f| f.as_str().to_owned()),
                notes: self.notes,
            },
            topic_ids,
            organization_ids,
            company_ids,
        })
    }
}

fn write_relations(
    conn: &mut DbConnection,
    event: Event,
    write: EventWrite,
) -> Result<EventRecord, ApiError> {
    let id = event.id.0;
    event_topics::replace(conn, id, &write.topic_ids)?;
    event_organizations::replace(conn, id, &write.organization_ids)?;
    event_companies::replace(conn, id, &write.company_ids)?;
    Ok(EventRecord {
        event,
        topic_ids: write.topic_ids,
        organization_ids: write.organization_ids,
        company_ids: write.company_ids,
    })
}

/// Filters of the event list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Case-insensitive substring of the title.
    pub q: Option<String>,
    pub kind: Option<EventKind>,
    #[param(minimum = 0)]
    pub project_id: Option<i64>,
    #[param(minimum = 0)]
    pub region_id: Option<i64>,
    /// Events on this topic.
    #[param(minimum = 0)]
    pub topic_id: Option<i64>,
    /// Events starting at or after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Events starting at or before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
}

impl SortField for EventSort {
    const FIELDS: &'static [(&'static str, Self)] = &[
        ("starts_at", Self::StartsAt),
        ("title", Self::Title),
        ("created_at", Self::CreatedAt),
        ("updated_at", Self::UpdatedAt),
    ];
}

list_response!(
    /// One page of events.
    EventList,
    EventView
);

/// The events resource.
pub struct Events;

impl Resource for Events {
    const NAME: &'static str = "event";
    const COLLECTION: &'static str = "/events";
    type Id = EventId;
    type Input = EventInput;
    type Record = EventRecord;
    type View = EventView;
    type Query = EventQuery;
    type Sort = EventSort;

    fn id(record: &EventRecord) -> EventId {
        record.event.id
    }

    fn version(record: &EventRecord) -> i64 {
        record.event.version
    }

    fn owner_org(record: &EventRecord) -> Option<i64> {
        record.event.owner_org_id
    }

    fn to_input(record: EventRecord) -> EventInput {
        record.into()
    }

    /// Partners organize events, too.
    fn may_create(caller: &Caller) -> Result<(), ApiError> {
        if caller.role == Role::Partner {
            Ok(())
        } else {
            caller.require_editor()
        }
    }

    fn find(conn: &mut DbConnection, id: EventId) -> Result<Option<EventRecord>, ApiError> {
        Ok(events::find_record(conn, id)?)
    }

    fn insert(
        conn: &mut DbConnection,
        input: EventInput,
        by: &Actor,
    ) -> Result<EventRecord, ApiError> {
        let write = input.into_write(conn)?;
        conn.transaction(|conn| {
            let event = events::insert(conn, &write.fields, by)?;
            write_relations(conn, event, write)
        })
    }

    fn update(
        conn: &mut DbConnection,
        id: EventId,
        expected_version: Option<i64>,
        input: EventInput,
        by: &Actor,
    ) -> Result<EventRecord, ApiError> {
        let write = input.into_write(conn)?;
        conn.transaction(|conn| {
            let event = events::update(conn, id, expected_version, &write.fields, by)
                .map_err(|e| ApiError::from_write(e, Self::NAME, id))?;
            write_relations(conn, event, write)
        })
    }

    fn delete(
        conn: &mut DbConnection,
        id: EventId,
        expected_version: Option<i64>,
    ) -> Result<(), ApiError> {
        events::delete(conn, id, expected_version)
            .map_err(|e| ApiError::from_write(e, Self::NAME, id))
    }

    fn list(
        conn: &mut DbConnection,
        query: EventQuery,
        updated_since: Option<NaiveDateTime>,
        page: &PageRequest<EventSort>,
    ) -> Result<Page<EventRecord>, ApiError> {
        let filter = EventFilter {
            q: query.q,
            kind: query.kind.map(|k| k.as_str().to_owned()),
            project_id: filter_id("project_id", query.project_id)?,
            region_id: filter_id("region_id", query.region_id)?,
            topic_id: filter_id("topic_id", query.topic_id)?,
            from: query.from.map(|t| t.naive_utc()),
            to: query.to.map(|t| t.naive_utc()),
            updated_since,
        };
        Ok(events::list(conn, &filter, page)?)
    }
}

resource_endpoints! {
    resource: Events,
    id: EventId,
    tag: "events",
    singular: "event",
    plural: "events",
    collection: "/events",
    input: EventInput,
    patch: EventPatch,
    view: EventView,
    list: EventList,
    query: EventQuery,
    sort: EventSort,
    operations: ("listEvents", "createEvent", "getEvent", "replaceEvent", "updateEvent", "deleteEvent"),
}
