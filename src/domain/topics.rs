//! Skilled-labour topics: a unique key, and no delete while companies, projects or events
//! work on the topic.

use crate::db::DbConnection;
use crate::domain::relations::ensure_unreferenced;
use crate::domain::resource::{Crud, RecordMeta};
use crate::domain::values::ResourceKind;
use crate::domain::values::TopicCategory;
use crate::domain::{Actor, DomainError, TopicId};
use crate::models::links::{company_topics, event_topics, project_topics};
use crate::models::page::{Page, PageRequest};
use crate::models::topics::{self, Topic, TopicFields, TopicFilter, TopicSort};

/// A topic to write.
#[derive(Debug, Clone, PartialEq, Eq, diesel::Insertable, diesel::AsChangeset)]
#[diesel(table_name = crate::db::schema::topics, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct NewTopic {
    /// A unique slug of `[a-z0-9_]`.
    pub key: String,
    pub name: String,
    pub category: TopicCategory,
    pub description: Option<String>,
}

/// The topics resource.
pub struct Topics;

fn key_taken(e: diesel::result::Error, key: &str) -> DomainError {
    DomainError::unique(e, || format!("a topic with the key {key:?} already exists"))
}

impl Crud for Topics {
    const NAME: &'static str = "topic";
    const KIND: ResourceKind = ResourceKind::Topics;
    type Id = TopicId;
    type New = NewTopic;
    type Record = Topic;
    type Filter = TopicFilter;
    type Sort = TopicSort;

    fn meta(record: &Topic) -> RecordMeta<TopicId> {
        record.meta()
    }

    fn find_many(conn: &mut DbConnection, ids: &[TopicId]) -> Result<Vec<Topic>, DomainError> {
        Ok(topics::find_all(conn, ids)?)
    }

    fn find(conn: &mut DbConnection, id: TopicId) -> Result<Option<Topic>, DomainError> {
        Ok(topics::find(conn, id)?)
    }

    fn insert(conn: &mut DbConnection, new: NewTopic, by: &Actor) -> Result<Topic, DomainError> {
        let fields = TopicFields::from(new);
        topics::insert(conn, &fields, by).map_err(|e| key_taken(e, &fields.new.key))
    }

    fn update(
        conn: &mut DbConnection,
        id: TopicId,
        expected_version: Option<i64>,
        new: NewTopic,
        by: &Actor,
    ) -> Result<Topic, DomainError> {
        let fields = TopicFields::from(new);
        topics::update(conn, id, expected_version, &fields, by).map_err(|e| {
            DomainError::from_update(e, Self::NAME, id, |e| key_taken(e, &fields.new.key))
        })
    }

    fn remove(
        conn: &mut DbConnection,
        id: TopicId,
        expected_version: Option<i64>,
    ) -> Result<i64, DomainError> {
        ensure_unreferenced(
            Self::NAME,
            id,
            &[
                (
                    company_topics::count_owners(conn, id)?,
                    "company",
                    "companies",
                ),
                (
                    project_topics::count_owners(conn, id)?,
                    "project",
                    "projects",
                ),
                (event_topics::count_owners(conn, id)?, "event", "events"),
            ],
        )?;
        topics::delete(conn, id, expected_version)
            .map_err(|e| DomainError::from_write(e, Self::NAME, id))
    }

    fn query(
        conn: &mut DbConnection,
        filter: &TopicFilter,
        page: &PageRequest<TopicSort>,
    ) -> Result<Page<Topic>, DomainError> {
        Ok(topics::list(conn, filter, page)?)
    }
}
