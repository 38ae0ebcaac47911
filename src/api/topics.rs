//! `/api/v1/topics`: skilled-labour topics (recruitment, Azubimarketing, retention, …).

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::api::body::{not_blank, required};
use crate::api::error::ApiError;
use crate::api::paging::{SortField, list_response};
use crate::api::resource::{Resource, resource_endpoints};
use crate::domain::topics::{NewTopic, Topics};
use crate::domain::values::{TopicCategory, slug};
use crate::domain::{DomainError, TopicId};
use crate::models::topics::{Topic, TopicFilter, TopicSort};

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
            category: t.category,
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

impl TryFrom<TopicInput> for NewTopic {
    type Error = DomainError;

    fn try_from(input: TopicInput) -> Result<Self, DomainError> {
        Ok(Self {
            key: required(input.key, "key")?,
            name: required(input.name, "name")?,
            category: required(input.category, "category")?,
            description: input.description,
        })
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

impl Resource for Topics {
    const PATCH_DOC: &'static str =
        "A JSON Merge Patch of a topic: any subset of the writable fields.";
    type Input = TopicInput;
    type View = TopicView;
    type Query = TopicQuery;

    fn filter(
        query: TopicQuery,
        updated_since: Option<NaiveDateTime>,
    ) -> Result<TopicFilter, ApiError> {
        Ok(TopicFilter {
            q: query.q,
            category: query.category,
            updated_since,
        })
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
    view: TopicView,
    list: TopicList,
    query: TopicQuery,
    sort: TopicSort,
    operations: ("listTopics", "createTopic", "getTopic", "replaceTopic", "updateTopic", "deleteTopic"),
}
