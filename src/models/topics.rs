//! Skilled-labour topics.

use crate::db::prelude::*;
use chrono::NaiveDateTime;

use crate::db::schema::topics;
use crate::db::{Conn, query};
use crate::domain::topics::NewTopic;
use crate::domain::values::TopicCategory;
use crate::domain::{OrganizationId, TopicId};
use crate::models::page::{Page, PageRequest, sorted};
use crate::models::{ListError, contains_pattern, named_fields, record_queries};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = topics)]
pub struct Topic {
    pub id: TopicId,
    pub key: String,
    pub name: String,
    pub name_key: String,
    pub category: TopicCategory,
    pub description: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
    pub owner_org_id: Option<OrganizationId>,
    pub created_by: Option<String>,
    pub updated_by: Option<String>,
}

named_fields!(
    /// The inserted and updated columns of a topic.
    TopicFields,
    topics,
    NewTopic
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicSort {
    Key,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, Default)]
pub struct TopicFilter {
    pub q: Option<String>,
    pub category: Option<TopicCategory>,
    pub updated_since: Option<NaiveDateTime>,
}

record_queries!(topics, Topic, TopicFields, TopicId);

pub async fn list(
    conn: &mut Conn<'_>,
    filter: &TopicFilter,
    page: &PageRequest<TopicSort>,
) -> Result<Page<Topic>, ListError> {
    // A macro, not a closure: each arm of `query!` builds the boxed query for its backend.
    macro_rules! filtered {
        () => {{
            let mut query = topics::table.into_boxed();
            if let Some(q) = &filter.q {
                query = query.filter(topics::name_key.like(contains_pattern(q)).escape('\\'));
            }
            if let Some(category) = &filter.category {
                query = query.filter(topics::category.eq(*category));
            }
            if let Some(since) = filter.updated_since {
                query = query.filter(topics::updated_at.ge(since));
            }
            query
        }};
    }
    let (rows, keyset) = sorted!(conn, filtered!().select(Topic::as_select()), page, topics::id, |t: Topic| {
        TopicSort::Key => text(topics::key, t.key.clone()),
        TopicSort::Name => text(topics::name_key, t.name_key.clone()),
        TopicSort::CreatedAt => time(topics::created_at, t.created_at),
        TopicSort::UpdatedAt => time(topics::updated_at, t.updated_at),
    })?;
    let total = if page.with_total {
        Some(query!(conn, |c| filtered!().count().get_result(c))?)
    } else {
        None
    };
    Ok(Page::from_rows(rows, page.limit, total, keyset))
}

/// The id of the topic with this key, if any.
pub async fn id_by_key(conn: &mut Conn<'_>, key: &str) -> QueryResult<Option<TopicId>> {
    query!(conn, |c| topics::table
        .filter(topics::key.eq(key))
        .select(topics::id)
        .first(c))
    .optional()
}
