//! `/api/v1/projects`: projects with their regions, topics and funding.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::Connection as _;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::api::body::not_blank;
use crate::api::error::{ApiError, FieldError};
use crate::api::paging::{SortField, filter_id, list_response};
use crate::api::relations::{IdCheck, ensure_unreferenced, id_array, id_set};
use crate::api::resource::{Resource, resource_endpoints};
use crate::db::DbConnection;
use crate::domain::values::{FundingRole, ProjectStatus};
use crate::domain::{Actor, ProjectId};
use crate::models::links::{company_projects, project_regions, project_topics};
use crate::models::page::{Page, PageRequest};
use crate::models::projects::{
    self, FundingLine, ProjectFields, ProjectFilter, ProjectRecord, ProjectSort,
};
use crate::models::{events, funding_sources, organizations, regions, topics};

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
    #[schema(max_items = 1000)]
    pub region_ids: Vec<i64>,
    #[schema(max_items = 1000)]
    pub topic_ids: Vec<i64>,
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
            funding_source_id: l.funding_source_id,
            role: l.role.parse().unwrap_or(FundingRole::Funding),
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
            sponsor_id: p.sponsor_id,
            programme: p.programme,
            status: p.status.parse().unwrap_or(ProjectStatus::Planned),
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

/// A JSON Merge Patch of a project: any subset of the writable fields (arrays are replaced whole).
#[derive(ToSchema)]
#[allow(dead_code)] // documents the PATCH body; the patch is applied as JSON
pub struct ProjectPatch {
    #[schema(nullable = false, min_length = 1, max_length = 300)]
    name: Option<String>,
    description: Option<String>,
    sponsor_id: Option<i64>,
    programme: Option<String>,
    #[schema(nullable = false)]
    status: Option<ProjectStatus>,
    start_date: Option<NaiveDate>,
    end_date: Option<NaiveDate>,
    #[schema(max_items = 1000)]
    region_ids: Option<Vec<i64>>,
    #[schema(max_items = 1000)]
    topic_ids: Option<Vec<i64>>,
    #[schema(max_items = 1000)]
    funding: Option<Vec<Funding>>,
}

impl From<ProjectRecord> for ProjectInput {
    fn from(r: ProjectRecord) -> Self {
        let p = r.project;
        Self {
            name: Some(p.name),
            description: p.description,
            sponsor_id: p.sponsor_id,
            programme: p.programme,
            status: p.status.parse().ok(),
            start_date: p.start_date,
            end_date: p.end_date,
            region_ids: Some(r.region_ids),
            topic_ids: Some(r.topic_ids),
            funding: Some(funding_of(r.funding)),
        }
    }
}

/// A validated project ready to store.
struct ProjectData {
    fields: ProjectFields,
    region_ids: Vec<i64>,
    topic_ids: Vec<i64>,
    funding: Vec<FundingLine>,
}

impl ProjectInput {
    /// Checks what spans fields or rows: the date order, repeated funding lines, and that
    /// every id names an existing record.
    fn into_data(self, conn: &mut DbConnection) -> Result<ProjectData, ApiError> {
        if let (Some(start), Some(end)) = (self.start_date, self.end_date)
            && end < start
        {
            return Err(ApiError::invalid(
                "end_date",
                "range",
                "end_date must not be before start_date",
            ));
        }
        let funding = self.funding.unwrap_or_default();
        let mut errors = Vec::new();
        for (i, line) in funding.iter().enumerate() {
            if funding[..i]
                .iter()
                .any(|f| f.funding_source_id == line.funding_source_id && f.role == line.role)
            {
                errors.push(FieldError::new(
                    format!("funding[{i}]"),
                    "duplicate",
                    "this funding source already has this role",
                ));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let region_ids = id_set(self.region_ids);
        let topic_ids = id_set(self.topic_ids);
        let source_ids: Vec<i64> = funding.iter().map(|f| f.funding_source_id).collect();
        IdCheck::default()
            .id(
                conn,
                "sponsor_id",
                "organization",
                self.sponsor_id,
                organizations::existing,
            )?
            .ids(conn, "region_ids", "region", &region_ids, regions::existing)?
            .ids(conn, "topic_ids", "topic", &topic_ids, topics::existing)?
            .ids(
                conn,
                "funding",
                "funding source",
                &source_ids,
                funding_sources::existing,
            )?
            .finish()?;
        Ok(ProjectData {
            fields: ProjectFields::new(
                self.name.unwrap_or_default(),
                self.description,
                self.sponsor_id,
                self.programme,
                self.status.unwrap_or(ProjectStatus::Planned).as_str(),
                self.start_date,
                self.end_date,
            ),
            region_ids,
            topic_ids,
            funding: funding
                .into_iter()
                .map(|f| FundingLine {
                    funding_source_id: f.funding_source_id,
                    role: f.role.as_str().to_owned(),
                    amount_cents: f.amount_cents,
                })
                .collect(),
        })
    }
}

/// Stores the relation sets of a project written just now.
fn write_relations(
    conn: &mut DbConnection,
    project: projects::Project,
    data: ProjectData,
) -> Result<ProjectRecord, ApiError> {
    let id = project.id.0;
    project_regions::replace(conn, id, &data.region_ids)?;
    project_topics::replace(conn, id, &data.topic_ids)?;
    projects::replace_funding(conn, id, &data.funding)?;
    Ok(ProjectRecord {
        project,
        region_ids: data.region_ids,
        topic_ids: data.topic_ids,
        funding: data.funding,
    })
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

/// The projects resource.
pub struct Projects;

impl Resource for Projects {
    const NAME: &'static str = "project";
    const COLLECTION: &'static str = "/projects";
    type Id = ProjectId;
    type Input = ProjectInput;
    type Record = ProjectRecord;
    type View = ProjectView;
    type Query = ProjectQuery;
    type Sort = ProjectSort;

    fn id(record: &ProjectRecord) -> ProjectId {
        record.project.id
    }

    fn version(record: &ProjectRecord) -> i64 {
        record.project.version
    }

    fn owner_org(record: &ProjectRecord) -> Option<i64> {
        record.project.owner_org_id
    }

    fn to_input(record: ProjectRecord) -> ProjectInput {
        record.into()
    }

    fn find(conn: &mut DbConnection, id: ProjectId) -> Result<Option<ProjectRecord>, ApiError> {
        let rows: Vec<_> = projects::find(conn, id)?.into_iter().collect();
        Ok(projects::with_relations(conn, rows)?.pop())
    }

    fn insert(
        conn: &mut DbConnection,
        input: ProjectInput,
        by: &Actor,
    ) -> Result<ProjectRecord, ApiError> {
        let data = input.into_data(conn)?;
        conn.transaction(|conn| {
            let project = projects::insert(conn, &data.fields, by)?;
            write_relations(conn, project, data)
        })
    }

    fn update(
        conn: &mut DbConnection,
        id: ProjectId,
        expected_version: Option<i64>,
        input: ProjectInput,
        by: &Actor,
    ) -> Result<ProjectRecord, ApiError> {
        let data = input.into_data(conn)?;
        conn.transaction(|conn| {
            let project = projects::update(conn, id, expected_version, &data.fields, by)
                .map_err(|e| ApiError::from_write(e, Self::NAME, id))?;
            write_relations(conn, project, data)
        })
    }

    fn delete(
        conn: &mut DbConnection,
        id: ProjectId,
        expected_version: Option<i64>,
    ) -> Result<(), ApiError> {
        ensure_unreferenced(
            Self::NAME,
            id,
            &[
                (
                    company_projects::count_owners(conn, id.0)?,
                    "company",
                    "companies",
                ),
                (events::count_in_project(conn, id.0)?, "event", "events"),
            ],
        )?;
        projects::delete(conn, id, expected_version)
            .map_err(|e| ApiError::from_write(e, Self::NAME, id))
    }

    fn list(
        conn: &mut DbConnection,
        query: ProjectQuery,
        updated_since: Option<NaiveDateTime>,
        page: &PageRequest<ProjectSort>,
    ) -> Result<Page<ProjectRecord>, ApiError> {
        let filter = ProjectFilter {
            q: query.q,
            status: query.status.map(|s| s.as_str().to_owned()),
            region_id: filter_id("region_id", query.region_id)?,
            topic_id: filter_id("topic_id", query.topic_id)?,
            funding_source_id: filter_id("funding_source_id", query.funding_source_id)?,
            active_on: query.active_on,
            updated_since,
        };
        Ok(projects::list(conn, &filter, page)?)
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
    patch: ProjectPatch,
    view: ProjectView,
    list: ProjectList,
    query: ProjectQuery,
    sort: ProjectSort,
    operations: ("listProjects", "createProject", "getProject", "replaceProject", "updateProject", "deleteProject"),
}
