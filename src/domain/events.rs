//! Events: in an existing project (and region), the end not before the start, every listed
//! id an existing record. Partners create events too, and change only their own.

use chrono::NaiveDateTime;

use crate::db::{self, Conn};
use crate::domain::relations::{IdCheck, checked_write};
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

/// Checks the time order.
fn validate(new: &NewEvent) -> Result<(), DomainError> {
    if new.ends_at.is_some_and(|end| end < new.starts_at) {
        return Err(DomainError::invalid(
            "ends_at",
            "range",
            "ends_at must not be before starts_at",
        ));
    }
    Ok(())
}

/// Checks that every id names an existing record; the lookups go out together (`db::all!`).
async fn check(conn: &mut Conn<'_>, new: &NewEvent) -> Result<(), DomainError> {
    let (projects, (regions, (topics, (organizations, companies)))) = db::all!(
        conn,
        async |c| projects::existing(c, &[new.project_id]).await,
        async |c| regions::existing(c, new.region_id.as_slice()).await,
        async |c| topics::existing(c, new.topic_ids.as_slice()).await,
        async |c| organizations::existing(c, new.organization_ids.as_slice()).await,
        async |c| companies::existing(c, new.company_ids.as_slice()).await,
    )?;
    IdCheck::default()
        .id_among("project_id", "project", Some(new.project_id), &projects)
        .id_among("region_id", "region", new.region_id, &regions)
        .ids_among("topic_ids", "topic", new.topic_ids.as_slice(), &topics)
        .ids_among(
            "organization_ids",
            "organization",
            new.organization_ids.as_slice(),
            &organizations,
        )
        .ids_among(
            "company_ids",
            "company",
            new.company_ids.as_slice(),
            &companies,
        )
        .finish()
}

/// Writes the event's topic, organization and company links at once (`db::all!`).
async fn write_relations(
    conn: &mut Conn<'_>,
    event: Event,
    fields: EventFields,
    was: Owner,
) -> Result<EventRecord, DomainError> {
    let new = fields.event;
    let id = event.id;
    db::all!(
        conn,
        async |c| event_topics::replace(c, id, new.topic_ids.as_slice(), was).await,
        async |c| {
            event_organizations::replace(c, id, new.organization_ids.as_slice(), was).await
        },
        async |c| event_companies::replace(c, id, new.company_ids.as_slice(), was).await,
    )?;
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
        validate(&new)?;
        let fields = EventFields::from(new);
        let event = checked_write(
            conn,
            async |c| check(c, &fields.event).await,
            async |c| Ok(events::insert(c, &fields, by).await?),
        )
        .await?;
        write_relations(conn, event, fields, Owner::New).await
    }

    async fn update(
        conn: &mut Conn<'_>,
        id: EventId,
        expected_version: Option<i64>,
        new: NewEvent,
        by: &Actor,
    ) -> Result<EventRecord, DomainError> {
        validate(&new)?;
        let fields = EventFields::from(new);
        let event = checked_write(
            conn,
            async |c| check(c, &fields.event).await,
            async |c| {
                events::update(c, id, expected_version, &fields, by)
                    .await
                    .map_err(|e| DomainError::from_write(e, Self::NAME, id))
            },
        )
        .await?;
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
