//! Skilled-labour topics: a unique key, and no delete while companies, projects or events
//! work on the topic.

use crate::db::Conn;
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

    async fn find_many(conn: &mut Conn<'_>, ids: &[TopicId]) -> Result<Vec<Topic>, DomainError> {
        Ok(topics::find_all(conn, ids).await?)
    }

    async fn find(conn: &mut Conn<'_>, id: TopicId) -> Result<Option<Topic>, DomainError> {
        Ok(topics::find(conn, id).await?)
    }

    async fn insert(conn: &mut Conn<'_>, new: NewTopic, by: &Actor) -> Result<Topic, DomainError> {
        let fields = TopicFields::from(new);
        topics::insert(conn, &fields, by)
            .await
            .map_err(|e| key_taken(e, &fields.new.key))
    }

    async fn update(
        conn: &mut Conn<'_>,
        id: TopicId,
        expected_version: Option<i64>,
        new: NewTopic,
        by: &Actor,
    ) -> Result<Topic, DomainError> {
        let fields = TopicFields::from(new);
        topics::update(conn, id, expected_version, &fields, by)
            .await
            .map_err(|e| {
                DomainError::from_update(e, Self::NAME, id, |e| key_taken(e, &fields.new.key))
            })
    }

    async fn remove(
        conn: &mut Conn<'_>,
        id: TopicId,
        expected_version: Option<i64>,
    ) -> Result<i64, DomainError> {
        ensure_unreferenced(
            Self::NAME,
            id,
            &[
                (
                    company_topics::count_owners(conn, id).await?,
                    "company",
                    "companies",
                ),
                (
                    project_topics::count_owners(conn, id).await?,
                    "project",
                    "projects",
                ),
                (
                    event_topics::count_owners(conn, id).await?,
                    "event",
                    "events",
                ),
            ],
        )?;
        topics::delete(conn, id, expected_version)
            .await
            .map_err(|e| DomainError::from_write(e, Self::NAME, id))
    }

    async fn query(
        conn: &mut Conn<'_>,
        filter: &TopicFilter,
        page: &PageRequest<TopicSort>,
    ) -> Result<Page<Topic>, DomainError> {
        Ok(topics::list(conn, filter, page).await?)
    }
}
