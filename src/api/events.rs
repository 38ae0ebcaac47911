//! `/api/v1/events`: kick-offs, needs assessments, neighbourhood meetings, company workshops,
//! closing events. Partners may create events; they change only their own.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::api::body::{not_blank, required};
use crate::api::error::ApiError;
use crate::api::paging::{SortField, filter_id, list_response};
use crate::api::resource::{Resource, resource_endpoints};
use crate::domain::events::{Events, NewEvent};
use crate::domain::relations::id_array;
use crate::domain::values::{EventFormat, EventKind};
use crate::domain::{
    CompanyId, DomainError, EventId, OrganizationId, ProjectId, RegionId, TopicId,
};
use crate::models::events::{EventFilter, EventRecord, EventSort};

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
    #[schema(value_type = Vec<i64>, max_items = 1000)]
    pub topic_ids: Vec<TopicId>,
    /// Contributing organizations (e.g. a chamber presenting its offers).
    #[schema(value_type = Vec<i64>, max_items = 1000)]
    pub organization_ids: Vec<OrganizationId>,
    /// Participating companies.
    #[schema(value_type = Vec<i64>, max_items = 1000)]
    pub company_ids: Vec<CompanyId>,
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
            kind: e.kind,
            project_id: e.project_id.0,
            region_id: e.region_id.map(|r| r.0),
            starts_at: e.starts_at.and_utc(),
            ends_at: e.ends_at.map(|t| t.and_utc()),
            location: e.location,
            format: e.format,
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

/// Times as the databases keep them: UTC, whole microseconds.
fn micros(t: DateTime<Utc>) -> NaiveDateTime {
    chrono::SubsecRound::trunc_subsecs(t, 6).naive_utc()
}

impl TryFrom<EventInput> for NewEvent {
    type Error = DomainError;

    fn try_from(input: EventInput) -> Result<Self, DomainError> {
        Ok(Self {
            title: required(input.title, "title")?,
            kind: required(input.kind, "kind")?,
            project_id: ProjectId(required(input.project_id, "project_id")?),
            region_id: input.region_id.map(RegionId),
            starts_at: micros(required(input.starts_at, "starts_at")?),
            ends_at: input.ends_at.map(micros),
            location: input.location,
            format: input.format,
            topic_ids: input.topic_ids.into_iter().flatten().map(TopicId).collect(),
            organization_ids: input
                .organization_ids
                .into_iter()
                .flatten()
                .map(OrganizationId)
                .collect(),
            company_ids: input
                .company_ids
                .into_iter()
                .flatten()
                .map(CompanyId)
                .collect(),
            notes: input.notes,
        })
    }
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

impl Resource for Events {
    const PATCH_DOC: &'static str = "A JSON Merge Patch of an event: any subset of the writable fields (arrays are replaced whole).";
    type Input = EventInput;
    type View = EventView;
    type Query = EventQuery;

    fn filter(
        query: EventQuery,
        updated_since: Option<NaiveDateTime>,
    ) -> Result<EventFilter, ApiError> {
        Ok(EventFilter {
            q: query.q,
            kind: query.kind,
            project_id: filter_id("project_id", query.project_id)?,
            region_id: filter_id("region_id", query.region_id)?,
            topic_id: filter_id("topic_id", query.topic_id)?,
            from: query.from.map(|t| t.naive_utc()),
            to: query.to.map(|t| t.naive_utc()),
            updated_since,
        })
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
    view: EventView,
    list: EventList,
    query: EventQuery,
    sort: EventSort,
    operations: ("listEvents", "createEvent", "getEvent", "replaceEvent", "updateEvent", "deleteEvent"),
}
