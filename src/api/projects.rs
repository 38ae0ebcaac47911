//! `/api/v1/projects`: projects with their regions, topics and funding.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::api::body::{not_blank, required};
use crate::api::error::ApiError;
use crate::api::paging::{SortField, filter_id, list_response};
use crate::api::resource::{Resource, resource_endpoints};
use crate::domain::projects::{NewProject, Projects};
use crate::domain::relations::id_array;
use crate::domain::values::{FundingRole, ProjectStatus};
use crate::domain::{DomainError, FundingSourceId, OrganizationId, ProjectId, RegionId, TopicId};
use crate::models::projects::{FundingLine, ProjectFilter, ProjectRecord, ProjectSort};

/// How a funding source pays for a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Funding {
    #[schema(minimum = 1)]
    pub funding_source_id: i64,
    pub role: FundingRole,
    /// Euro cents; `null` when the amount is not known.
    #[validate(range(min = 0, message = "must not be negative"))]
    #[schema(minimum = 0)]
    pub amount_cents: Option<i64>,
}

/// A project, e.g. "Betriebsnachbarschaften".
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectView {
    #[schema(read_only)]
    pub id: ProjectId,
    pub name: String,
    pub description: Option<String>,
    /// The sponsoring organization (*Projektträger*).
    pub sponsor_id: Option<i64>,
    /// e.g. "Fachkräftebündnis SüdOstNiedersachsen".
    pub programme: Option<String>,
    pub status: ProjectStatus,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    #[schema(value_type = Vec<i64>, max_items = 1000)]
    pub region_ids: Vec<RegionId>,
    #[schema(value_type = Vec<i64>, max_items = 1000)]
    pub topic_ids: Vec<TopicId>,
    #[schema(max_items = 1000)]
    pub funding: Vec<Funding>,
    #[schema(read_only)]
    pub created_at: DateTime<Utc>,
    #[schema(read_only)]
    pub updated_at: DateTime<Utc>,
    #[schema(read_only, minimum = 1)]
    pub version: i64,
}

fn funding_of(lines: Vec<FundingLine>) -> Vec<Funding> {
    lines
        .into_iter()
        .map(|l| Funding {
            funding_source_id: l.funding_source_id.0,
            role: l.role,
            amount_cents: l.amount_cents,
        })
        .collect()
}

impl From<ProjectRecord> for ProjectView {
    fn from(r: ProjectRecord) -> Self {
        let p = r.project;
        Self {
            id: p.id,
            name: p.name,
            description: p.description,
            sponsor_id: p.sponsor_id.map(|o| o.0),
            programme: p.programme,
            status: p.status,
            start_date: p.start_date,
            end_date: p.end_date,
            region_ids: r.region_ids,
            topic_ids: r.topic_ids,
            funding: funding_of(r.funding),
            created_at: p.created_at.and_utc(),
            updated_at: p.updated_at.and_utc(),
            version: p.version,
        }
    }
}

/// The writable fields of a project.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[schema(example = json!({
    "name": "Betriebsnachbarschaften", "status": "completed", "programme": "Fachkräftebündnis SüdOstNiedersachsen",
    "start_date": "2020-03-01", "end_date": "2022-03-31", "region_ids": [1, 2], "topic_ids": [1],
    "funding": [{"funding_source_id": 1, "role": "funding", "amount_cents": null}]
}))]
pub struct ProjectInput {
    #[validate(
        required(message = "is required"),
        length(min = 1, max = 300, message = "must be 1 to 300 characters"),
        custom(function = "not_blank")
    )]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 300)]
    pub name: Option<String>,
    #[validate(length(max = 10000, message = "must be at most 10000 characters"))]
    #[schema(max_length = 10000)]
    pub description: Option<String>,
    /// An organization id.
    pub sponsor_id: Option<i64>,
    #[validate(length(max = 300, message = "must be at most 300 characters"))]
    #[schema(max_length = 300)]
    pub programme: Option<String>,
    #[validate(required(message = "is required"))]
    #[schema(required = true, value_type = ProjectStatus)]
    pub status: Option<ProjectStatus>,
    pub start_date: Option<NaiveDate>,
    /// Not before `start_date`.
    pub end_date: Option<NaiveDate>,
    /// Region ids (a set: order and repeats don't matter).
    #[validate(custom(function = "id_array"))]
    #[schema(max_items = 1000)]
    pub region_ids: Option<Vec<i64>>,
    /// Topic ids (a set).
    #[validate(custom(function = "id_array"))]
    #[schema(max_items = 1000)]
    pub topic_ids: Option<Vec<i64>>,
    /// Funding lines; each funding source at most once per role.
    #[validate(nested, length(max = 1000, message = "must have at most 1000 lines"))]
    #[schema(max_items = 1000)]
    pub funding: Option<Vec<Funding>>,
}

impl TryFrom<ProjectInput> for NewProject {
    type Error = DomainError;

    fn try_from(input: ProjectInput) -> Result<Self, DomainError> {
        Ok(Self {
            name: required(input.name, "name")?,
            description: input.description,
            sponsor_id: input.sponsor_id.map(OrganizationId),
            programme: input.programme,
            status: required(input.status, "status")?,
            start_date: input.start_date,
            end_date: input.end_date,
            region_ids: input
                .region_ids
                .into_iter()
                .flatten()
                .map(RegionId)
                .collect(),
            topic_ids: input.topic_ids.into_iter().flatten().map(TopicId).collect(),
            funding: input
                .funding
                .into_iter()
                .flatten()
                .map(|f| FundingLine {
                    funding_source_id: FundingSourceId(f.funding_source_id),
                    role: f.role,
                    amount_cents: f.amount_cents,
                })
                .collect(),
        })
    }
}

/// Filters of the project list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProjectQuery {
    /// Case-insensitive substring of the name.
    pub q: Option<String>,
    pub status: Option<ProjectStatus>,
    /// Projects in this region.
    #[param(minimum = 0)]
    pub region_id: Option<i64>,
    /// Projects on this topic.
    #[param(minimum = 0)]
    pub topic_id: Option<i64>,
    /// Projects this funding source pays for (in any role).
    #[param(minimum = 0)]
    pub funding_source_id: Option<i64>,
    /// Projects running on this day (unknown start or end dates count as open).
    pub active_on: Option<NaiveDate>,
}

impl SortField for ProjectSort {
    const FIELDS: &'static [(&'static str, Self)] = &[
        ("created_at", Self::CreatedAt),
        ("name", Self::Name),
        ("start_date", Self::StartDate),
        ("end_date", Self::EndDate),
        ("updated_at", Self::UpdatedAt),
    ];
}

list_response!(
    /// One page of projects.
    ProjectList,
    ProjectView
);

impl Resource for Projects {
    const PATCH_DOC: &'static str = "A JSON Merge Patch of a project: any subset of the writable fields (arrays are replaced whole).";
    type Input = ProjectInput;
    type View = ProjectView;
    type Query = ProjectQuery;

    fn filter(
        query: ProjectQuery,
        updated_since: Option<NaiveDateTime>,
    ) -> Result<ProjectFilter, ApiError> {
        Ok(ProjectFilter {
            q: query.q,
            status: query.status,
            region_id: filter_id("region_id", query.region_id)?,
            topic_id: filter_id("topic_id", query.topic_id)?,
            funding_source_id: filter_id("funding_source_id", query.funding_source_id)?,
            active_on: query.active_on,
            updated_since,
        })
    }
}

resource_endpoints! {
    resource: Projects,
    id: ProjectId,
    tag: "projects",
    singular: "project",
    plural: "projects",
    collection: "/projects",
    input: ProjectInput,
    view: ProjectView,
    list: ProjectList,
    query: ProjectQuery,
    sort: ProjectSort,
    operations: ("listProjects", "createProject", "getProject", "replaceProject", "updateProject", "deleteProject"),
}
