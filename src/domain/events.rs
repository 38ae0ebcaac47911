//! Events: in an existing project (and region), the end not before the start, every listed
//! id an existing record. Partners create events too, and change only their own.

use chrono::NaiveDateTime;

use crate::db::Conn;
use crate::domain::relations::IdCheck;
use crate::domain::resource::{Crud, RecordMeta};
use crate::domain::values::ResourceKind;
use crate::domain::values::{EventFormat, EventKind};
use crate::domain::{
    Actor, CompanyId, DomainError, EventId, IdSet, OrganizationId, ProjectId, RegionId, TopicId,
};
use crate::models::Owner;
use crate::models::events::{self, Event, EventFields, EventFilter, EventRecord, EventSort};
use crate::models::links::{event_companies, event_organizations, event_topics};
use crate::models::page::{Page, PageRequest};
use crate::models::{companies, organizations, projects, regions, topics};

/// An event to write.
#[derive(Debug, Clone, PartialEq, Eq, diesel::Insertable, diesel::AsChangeset)]
#[diesel(table_name = crate::db::schema::events, treat_none_as_null = true, treat_none_as_default_value = false)]
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
    #[diesel(skip_insertion, skip_update)]
    pub topic_ids: IdSet<TopicId>,
    #[diesel(skip_insertion, skip_update)]
    pub organization_ids: IdSet<OrganizationId>,
    #[diesel(skip_insertion, skip_update)]
    pub company_ids: IdSet<CompanyId>,
    pub notes: Option<String>,
}

/// The events resource.
pub struct Events;

/// Checks the time order and that every id names an existing record.
async fn check(conn: &mut Conn<'_>, new: NewEvent) -> Result<EventFields, DomainError> {
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
        )
        .await?
        .id(
            conn,
            "region_id",
            "region",
            new.region_id,
            regions::existing,
        )
        .await?
        .ids(
            conn,
            "topic_ids",
            "topic",
            new.topic_ids.as_slice(),
            topics::existing,
        )
        .await?
        .ids(
            conn,
            "organization_ids",
            "organization",
            new.organization_ids.as_slice(),
            organizations::existing,
        )
        .await?
        .ids(
            conn,
            "company_ids",
            "company",
            new.company_ids.as_slice(),
            companies::existing,
        )
        .await?
        .finish()?;
    Ok(EventFields::from(new))
}

async fn write_relations(
    conn: &mut Conn<'_>,
    event: Event,
    fields: EventFields,
    was: Owner,
) -> Result<EventRecord, DomainError> {
    let new = fields.event;
    event_topics::replace(conn, event.id, new.topic_ids.as_slice(), was).await?;
    event_organizations::replace(conn, event.id, new.organization_ids.as_slice(), was).await?;
    event_companies::replace(conn, event.id, new.company_ids.as_slice(), was).await?;
    Ok(EventRecord {
        event,
        topic_ids: new.topic_ids.into_vec(),
        organization_ids: new.organization_ids.into_vec(),
        company_ids: new.company_ids.into_vec(),
    })
}

impl Crud for Events {
    const NAME: &'static str = "event";
    const KIND: ResourceKind = ResourceKind::Events;
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

    async fn find_many(
        conn: &mut Conn<'_>,
        ids: &[EventId],
    ) -> Result<Vec<EventRecord>, DomainError> {
        Ok(events::find_records(conn, ids).await?)
    }

    async fn find(conn: &mut Conn<'_>, id: EventId) -> Result<Option<EventRecord>, DomainError> {
        Ok(events::find_record(conn, id).await?)
    }

    async fn insert(
        conn: &mut Conn<'_>,
        new: NewEvent,
        by: &Actor,
    ) -> Result<EventRecord, DomainError> {
        let fields = check(conn, new).await?;
        let event = events::insert(conn, &fields, by).await?;
        write_relations(conn, event, fields, Owner::New).await
    }

    async fn update(
        conn: &mut Conn<'_>,
        id: EventId,
        expected_version: Option<i64>,
        new: NewEvent,
        by: &Actor,
    ) -> Result<EventRecord, DomainError> {
        let fields = check(conn, new).await?;
        let event = events::update(conn, id, expected_version, &fields, by)
            .await
            .map_err(|e| DomainError::from_write(e, Self::NAME, id))?;
        write_relations(conn, event, fields, Owner::Existing).await
    }

    async fn remove(
        conn: &mut Conn<'_>,
        id: EventId,
        expected_version: Option<i64>,
    ) -> Result<i64, DomainError> {
        events::delete(conn, id, expected_version)
            .await
            .map_err(|e| DomainError::from_write(e, Self::NAME, id))
    }

    async fn query(
        conn: &mut Conn<'_>,
        filter: &EventFilter,
        page: &PageRequest<EventSort>,
    ) -> Result<Page<EventRecord>, DomainError> {
        Ok(events::list(conn, filter, page).await?)
    }
}
