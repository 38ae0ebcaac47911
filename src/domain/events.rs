//! Events: in an existing project (and region), the end not before the start, every listed
//! id an existing record. Partners create events too, and change only their own.

use chrono::NaiveDateTime;
use diesel::Connection as _;

use crate::db::DbConnection;
use crate::domain::relations::IdCheck;
use crate::domain::resource::{Crud, RecordMeta};
use crate::domain::values::{EventFormat, EventKind};
use crate::domain::{
    Actor, CompanyId, DomainError, EventId, IdSet, OrganizationId, ProjectId, RegionId, TopicId,
    name_key,
};
use crate::models::events::{self, Event, EventFields, EventFilter, EventRecord, EventSort};
use crate::models::links::{event_companies, event_organizations, event_topics};
use crate::models::page::{Page, PageRequest};
use crate::models::{companies, organizations, projects, regions, topics};

/// An event to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub title: String,
    pub kind: EventKind,
    pub project_id: ProjectId,
    pub region_id: Option<RegionId>,
    /// UTC, at microsecond precision.
    pub starts_at: NaiveDateTime,
    /// Not before `starts_at`.
    pub ends_at: Option<NaiveDateTime>,
    pub location: Option<String>,
    pub format: Option<EventFormat>,
    pub topic_ids: IdSet<TopicId>,
    pub organization_ids: IdSet<OrganizationId>,
    pub company_ids: IdSet<CompanyId>,
    pub notes: Option<String>,
}

/// The events resource.
pub struct Events;

/// A checked event, split into its columns and relation sets.
struct EventWrite {
    fields: EventFields,
    topic_ids: Vec<i64>,
    organization_ids: Vec<i64>,
    company_ids: Vec<i64>,
}

/// Checks the time order and that every id names an existing record.
fn check(conn: &mut DbConnection, new: NewEvent) -> Result<EventWrite, DomainError> {
    if new.ends_at.is_some_and(|end| end < new.starts_at) {
        return Err(DomainError::invalid(
            "ends_at",
            "range",
            "ends_at must not be before starts_at",
        ));
    }
    IdCheck::default()
        .id(
            conn,
            "project_id",
            "project",
            Some(new.project_id),
            projects::existing,
        )?
        .id(
            conn,
            "region_id",
            "region",
            new.region_id,
            regions::existing,
        )?
        .ids(
            conn,
            "topic_ids",
            "topic",
            new.topic_ids.as_slice(),
            topics::existing,
        )?
        .ids(
            conn,
            "organization_ids",
            "organization",
            new.organization_ids.as_slice(),
            organizations::existing,
        )?
        .ids(
            conn,
            "company_ids",
            "company",
            new.company_ids.as_slice(),
            companies::existing,
        )?
        .finish()?;
    Ok(EventWrite {
        topic_ids: new.topic_ids.as_slice().iter().map(|t| t.0).collect(),
        organization_ids: new
            .organization_ids
            .as_slice()
            .iter()
            .map(|o| o.0)
            .collect(),
        company_ids: new.company_ids.as_slice().iter().map(|c| c.0).collect(),
        fields: EventFields {
            title_key: name_key(&new.title),
            title: new.title,
            kind: new.kind,
            project_id: new.project_id,
            region_id: new.region_id,
            starts_at: new.starts_at,
            ends_at: new.ends_at,
            location: new.location,
            format: new.format,
            notes: new.notes,
        },
    })
}

fn write_relations(
    conn: &mut DbConnection,
    event: Event,
    write: EventWrite,
) -> Result<EventRecord, DomainError> {
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

impl Crud for Events {
    const NAME: &'static str = "event";
    type Id = EventId;
    type New = NewEvent;
    type Record = EventRecord;
    type Filter = EventFilter;
    type Sort = EventSort;

    fn meta(record: &EventRecord) -> RecordMeta<EventId> {
        record.event.meta()
    }

    /// Partners announce their own events, too.
    fn may_create(actor: &Actor) -> Result<(), DomainError> {
        actor.require_contributor()
    }

    fn find(conn: &mut DbConnection, id: EventId) -> Result<Option<EventRecord>, DomainError> {
        Ok(events::find_record(conn, id)?)
    }

    fn insert(
        conn: &mut DbConnection,
        new: NewEvent,
        by: &Actor,
    ) -> Result<EventRecord, DomainError> {
        let write = check(conn, new)?;
        conn.transaction(|conn| {
            let event = events::insert(conn, &write.fields, by)?;
            write_relations(conn, event, write)
        })
    }

    fn update(
        conn: &mut DbConnection,
        id: EventId,
        expected_version: Option<i64>,
        new: NewEvent,
        by: &Actor,
    ) -> Result<EventRecord, DomainError> {
        let write = check(conn, new)?;
        conn.transaction(|conn| {
            let event = events::update(conn, id, expected_version, &write.fields, by)
                .map_err(|e| DomainError::from_write(e, Self::NAME, id))?;
            write_relations(conn, event, write)
        })
    }

    fn remove(
        conn: &mut DbConnection,
        id: EventId,
        expected_version: Option<i64>,
    ) -> Result<(), DomainError> {
        events::delete(conn, id, expected_version)
            .map_err(|e| DomainError::from_write(e, Self::NAME, id))
    }

    fn query(
        conn: &mut DbConnection,
        filter: &EventFilter,
        page: &PageRequest<EventSort>,
    ) -> Result<Page<EventRecord>, DomainError> {
        Ok(events::list(conn, filter, page)?)
    }
}
