//! `/api/v1/topics`: skilled-labour topics (recruitment, Azubimarketing, retention, …).

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::api::body::not_blank;
use crate::api::error::ApiError;
use crate::api::paging::{SortField, list_response};
use crate::api::relations::{ensure_unreferenced, unique_conflict};
use crate::api::resource::{Resource, resource_endpoints};
use crate::db::DbConnection;
use crate::domain::values::{TopicCategory, slug};
use crate::domain::{Actor, TopicId};
use crate::models::links::{company_topics, event_topics, project_topics};
use crate::models::page::{Page, PageRequest};
use crate::models::topics::{self, Topic, TopicFields, TopicFilter, TopicSort};

/// A skilled-labour topic.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 2, "key": "apprentice_marketing", "name": "Azubimarketing", "category": "apprentice_marketing",
    "description": null, "created_at": "2026-11-26T12:00:00Z", "updated_at": "2026-11-26T12:00:00Z", "version": 1
}))]
pub struct TopicView {
    #[schema(read_only)]
    pub id: TopicId,
    /// Unique slug, e.g. `apprentice_marketing`.
    pub key: String,
    pub name: String,
    pub category: TopicCategory,
    pub description: Option<String>,
    #[schema(read_only)]
    pub created_at: DateTime<Utc>,
    #[schema(read_only)]
    pub updated_at: DateTime<Utc>,
    #[schema(read_only, minimum = 1)]
    pub version: i64,
}

impl From<Topic> for TopicView {
    fn from(t: Topic) -> Self {
        Self {
            id: t.id,
            key: t.key,
            name: t.name,
            category: t.category.parse().unwrap_or(TopicCategory::Other),
            description: t.description,
            created_at: t.created_at.and_utc(),
            updated_at: t.updated_at.and_utc(),
            version: t.version,
        }
    }
}

/// The writable fields of a topic.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"key": "apprentice_marketing", "name": "Azubimarketing", "category": "apprentice_marketing"}))]
pub struct TopicInput {
    /// Unique slug of `[a-z0-9_]`, 1–100 characters.
    #[validate(
        required(message = "is required"),
        length(min = 1, max = 100, message = "must be 1 to 100 characters"),
        custom(function = "slug")
    )]
    #[schema(required = true, value_type = String, pattern = "^[a-z0-9_]+$", min_length = 1, max_length = 100)]
    pub key: Option<String>,
    #[validate(
        required(message = "is required"),
        length(min = 1, max = 200, message = "must be 1 to 200 characters"),
        custom(function = "not_blank")
    )]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[validate(required(message = "is required"))]
    #[schema(required = true, value_type = TopicCategory)]
    pub category: Option<TopicCategory>,
    #[validate(length(max = 10000, message = "must be at most 10000 characters"))]
    #[schema(max_length = 10000)]
    pub description: Option<String>,
}

/// A JSON Merge Patch of a topic: any subset of the writable fields.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the PATCH body; the patch is applied as JSON
pub struct TopicPatch {
    #[schema(
        nullable = false,
        pattern = "^[a-z0-9_]+$",
        min_length = 1,
        max_length = 100
    )]
    key: Option<String>,
    #[schema(nullable = false, min_length = 1, max_length = 200)]
    name: Option<String>,
    #[schema(nullable = false)]
    category: Option<TopicCategory>,
    #[schema(max_length = 10000)]
    description: Option<String>,
}

impl From<Topic> for TopicInput {
    fn from(t: Topic) -> Self {
        Self {
            key: Some(t.key),
            name: Some(t.name),
            category: t.category.parse().ok(),
            description: t.description,
        }
    }
}

impl TopicInput {
    fn into_fields(self) -> TopicFields {
        TopicFields::new(
            self.key.unwrap_or_default(),
            self.name.unwrap_or_default(),
            self.category.unwrap_or(TopicCategory::Other).as_str(),
            self.description,
        )
    }
}

/// Filters of the topic list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TopicQuery {
    /// Case-insensitive substring of the name.
    pub q: Option<String>,
    pub category: Option<TopicCategory>,
}

impl SortField for TopicSort {
    const FIELDS: &'static [(&'static str, Self)] = &[
        ("created_at", Self::CreatedAt),
        ("key", Self::Key),
        ("name", Self::Name),
        ("updated_at", Self::UpdatedAt),
    ];
}

list_response!(
    /// One page of topics.
    TopicList,
    TopicView
);

/// The topics resource.
pub struct Topics;

fn key_taken(e: diesel::result::Error, key: &str) -> ApiError {
    unique_conflict(e, || format!("a topic with the key {key:?} already exists"))
}

impl Resource for Topics {
    const NAME: &'static str = "topic";
    const COLLECTION: &'static str = "/topics";
    type Id = TopicId;
    type Input = TopicInput;
    type Record = Topic;
    type View = TopicView;
    type Query = TopicQuery;
    type Sort = TopicSort;

    fn id(record: &Topic) -> TopicId {
        record.id
    }

    fn version(record: &Topic) -> i64 {
        record.version
    }

    fn owner_org(record: &Topic) -> Option<i64> {
        record.owner_org_id
    }

    fn to_input(record: Topic) -> TopicInput {
        record.into()
    }

    fn find(conn: &mut DbConnection, id: TopicId) -> Result<Option<Topic>, ApiError> {
        Ok(topics::find(conn, id)?)
    }

    fn insert(conn: &mut DbConnection, input: TopicInput, by: &Actor) -> Result<Topic, ApiError> {
        let fields = input.into_fields();
        topics::insert(conn, &fields, by).map_err(|e| key_taken(e, &fields.key))
    }

    fn update(
        conn: &mut DbConnection,
        id: TopicId,
        expected_version: Option<i64>,
        input: TopicInput,
        by: &Actor,
    ) -> Result<Topic, ApiError> {
        let fields = input.into_fields();
        topics::update(conn, id, expected_version, &fields, by).map_err(|e| match e {
            crate::models::WriteError::Db(e) => key_taken(e, &fields.key),
            other => ApiError::from_write(other, Self::NAME, id),
        })
    }

    fn delete(
        conn: &mut DbConnection,
        id: TopicId,
        expected_version: Option<i64>,
    ) -> Result<(), ApiError> {
        ensure_unreferenced(
            Self::NAME,
            id,
            &[
                (
                    company_topics::count_owners(conn, id.0)?,
                    "company",
                    "companies",
                ),
                (
                    project_topics::count_owners(conn, id.0)?,
                    "project",
                    "projects",
                ),
                (event_topics::count_owners(conn, id.0)?, "event", "events"),
            ],
        )?;
        topics::delete(conn, id, expected_version)
            .map_err(|e| ApiError::from_write(e, Self::NAME, id))
    }

    fn list(
        conn: &mut DbConnection,
        query: TopicQuery,
        updated_since: Option<NaiveDateTime>,
        page: &PageRequest<TopicSort>,
    ) -> Result<Page<Topic>, ApiError> {
        let filter = TopicFilter {
            q: query.q,
            category: query.category.map(|c| c.as_str().to_owned()),
            updated_since,
        };
        Ok(topics::list(conn, &filter, page)?)
    }
}

resource_endpoints! {
    resource: Topics,
    id: TopicId,
    tag: "topics",
    singular: "topic",
    plural: "topics",
    collection: "/topics",
    input: TopicInput,
    patch: TopicPatch,
    view: TopicView,
    list: TopicList,
    query: TopicQuery,
    sort: TopicSort,
    operations: ("listTopics", "createTopic", "getTopic", "replaceTopic", "updateTopic", "deleteTopic"),
}
