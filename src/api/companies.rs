//! `/api/v1/companies`: participating businesses, with the topics they work on and the
//! projects they take part in. Partners may create companies; they change only their own.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::api::body::{not_blank, required};
use crate::api::error::ApiError;
use crate::api::paging::{SortField, filter_id, list_response};
use crate::api::resource::{Resource, resource_endpoints};
use crate::domain::companies::{Companies, NewCompany};
use crate::domain::relations::id_array;
use crate::domain::values::{self, web_url};
use crate::domain::{CompanyId, DomainError, ProjectId, RegionId, TopicId};
use crate::models::companies::{CompanyFilter, CompanyRecord, CompanySort};

/// A participating company.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyView {
    #[schema(read_only)]
    pub id: CompanyId,
    pub name: String,
    /// The partner's own key for the company (a chamber's member or craft-register number),
    /// unique per owning organization.
    pub external_id: Option<String>,
    /// e.g. "GmbH".
    pub legal_form: Option<String>,
    /// e.g. "Handwerk".
    pub sector: Option<String>,
    /// e.g. "Tischlerei".
    pub trade: Option<String>,
    pub region_id: i64,
    pub street: Option<String>,
    /// Five digits.
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub employee_count: Option<i64>,
    pub apprentice_count: Option<i64>,
    pub website: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Topics the company works on.
    #[schema(value_type = Vec<i64>, max_items = 1000)]
    pub topic_ids: Vec<TopicId>,
    /// Projects it takes part in.
    #[schema(value_type = Vec<i64>, max_items = 1000)]
    pub project_ids: Vec<ProjectId>,
    #[schema(read_only)]
    pub created_at: DateTime<Utc>,
    #[schema(read_only)]
    pub updated_at: DateTime<Utc>,
    #[schema(read_only, minimum = 1)]
    pub version: i64,
}

impl From<CompanyRecord> for CompanyView {
    fn from(r: CompanyRecord) -> Self {
        let c = r.company;
        Self {
            id: c.id,
            name: c.name,
            external_id: c.external_id,
            legal_form: c.legal_form,
            sector: c.sector,
            trade: c.trade,
            region_id: c.region_id.0,
            street: c.street,
            postal_code: c.postal_code,
            city: c.city,
            employee_count: c.employee_count,
            apprentice_count: c.apprentice_count,
            website: c.website,
            email: c.email,
            phone: c.phone,
            topic_ids: r.topic_ids,
            project_ids: r.project_ids,
            created_at: c.created_at.and_utc(),
            updated_at: c.updated_at.and_utc(),
            version: c.version,
        }
    }
}

/// The writable fields of a company.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[schema(example = json!({
    "name": "Tischlerei Beispiel GmbH (fiktiv)", "external_id": "HWK-0815", "legal_form": "GmbH", "sector": "Handwerk", "trade": "Tischlerei",
    "region_id": 4, "postal_code": "38364", "city": "Schöningen", "employee_count": 12, "apprentice_count": 2,
    "topic_ids": [2], "project_ids": [1]
}))]
pub struct CompanyInput {
    #[validate(
        required(message = "is required"),
        length(min = 1, max = 300, message = "must be 1 to 300 characters"),
        custom(function = "not_blank")
    )]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 300)]
    pub name: Option<String>,
    /// The partner's own key for the company (a chamber's member or craft-register number):
    /// unique per owning organization (the companies of admins and editors, which have none,
    /// count as one owner). An import with `mode=upsert` finds companies by it.
    #[validate(
        length(min = 1, max = 100, message = "must be 1 to 100 characters"),
        custom(function = "not_blank")
    )]
    #[schema(min_length = 1, max_length = 100)]
    pub external_id: Option<String>,
    #[validate(length(max = 100, message = "must be at most 100 characters"))]
    #[schema(max_length = 100)]
    pub legal_form: Option<String>,
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    #[schema(max_length = 200)]
    pub sector: Option<String>,
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    #[schema(max_length = 200)]
    pub trade: Option<String>,
    #[validate(required(message = "is required"))]
    #[schema(required = true, value_type = i64, minimum = 1)]
    pub region_id: Option<i64>,
    #[validate(length(max = 300, message = "must be at most 300 characters"))]
    #[schema(max_length = 300)]
    pub street: Option<String>,
    #[validate(custom(function = "values::postal_code"))]
    #[schema(pattern = "^[0-9]{5}$", max_length = 5)]
    pub postal_code: Option<String>,
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    #[schema(max_length = 200)]
    pub city: Option<String>,
    #[validate(range(min = 0, message = "must not be negative"))]
    #[schema(minimum = 0)]
    pub employee_count: Option<i64>,
    #[validate(range(min = 0, message = "must not be negative"))]
    #[schema(minimum = 0)]
    pub apprentice_count: Option<i64>,
    #[validate(
        length(max = 2000, message = "must be at most 2000 characters"),
        custom(function = "web_url")
    )]
    #[schema(format = "uri", max_length = 2000)]
    pub website: Option<String>,
    #[validate(
        email(message = "must be an e-mail address"),
        length(max = 254, message = "must be at most 254 characters")
    )]
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    #[validate(length(max = 50, message = "must be at most 50 characters"))]
    #[schema(max_length = 50)]
    pub phone: Option<String>,
    /// Topic ids (a set).
    #[validate(custom(function = "id_array"))]
    #[schema(max_items = 1000)]
    pub topic_ids: Option<Vec<i64>>,
    /// Project ids (a set).
    #[validate(custom(function = "id_array"))]
    #[schema(max_items = 1000)]
    pub project_ids: Option<Vec<i64>>,
}

impl TryFrom<CompanyInput> for NewCompany {
    type Error = DomainError;

    fn try_from(input: CompanyInput) -> Result<Self, DomainError> {
        Ok(Self {
            name: required(input.name, "name")?,
            external_id: input.external_id,
            legal_form: input.legal_form,
            sector: input.sector,
            trade: input.trade,
            region_id: RegionId(required(input.region_id, "region_id")?),
            street: input.street,
            postal_code: input.postal_code,
            city: input.city,
            employee_count: input.employee_count,
            apprentice_count: input.apprentice_count,
            website: input.website,
            email: input.email,
            phone: input.phone,
            topic_ids: input.topic_ids.into_iter().flatten().map(TopicId).collect(),
            project_ids: input
                .project_ids
                .into_iter()
                .flatten()
                .map(ProjectId)
                .collect(),
        })
    }
}

/// Filters of the company list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompanyQuery {
    /// Case-insensitive substring of the name.
    pub q: Option<String>,
    #[param(minimum = 0)]
    pub region_id: Option<i64>,
    /// Companies working on this topic.
    #[param(minimum = 0)]
    pub topic_id: Option<i64>,
    /// Companies taking part in this project.
    #[param(minimum = 0)]
    pub project_id: Option<i64>,
    /// The city, case-insensitively.
    pub city: Option<String>,
    pub postal_code: Option<String>,
    /// The exact sector, e.g. `Handwerk`.
    pub sector: Option<String>,
    /// At least this many employees.
    #[param(minimum = 0)]
    pub min_employees: Option<i64>,
    /// At most this many employees.
    #[param(minimum = 0)]
    pub max_employees: Option<i64>,
    /// The company with this partner key (exactly; several organizations may use the same).
    pub external_id: Option<String>,
}

impl SortField for CompanySort {
    const FIELDS: &'static [(&'static str, Self)] = &[
        ("created_at", Self::CreatedAt),
        ("name", Self::Name),
        ("city", Self::City),
        ("employee_count", Self::EmployeeCount),
        ("updated_at", Self::UpdatedAt),
    ];
}

list_response!(
    /// One page of companies.
    CompanyList,
    CompanyView
);

impl Resource for Companies {
    const PATCH_DOC: &'static str = "A JSON Merge Patch of a company: any subset of the writable fields (arrays are replaced whole).";
    type Input = CompanyInput;
    type View = CompanyView;
    type Query = CompanyQuery;

    fn filter(
        query: CompanyQuery,
        updated_since: Option<NaiveDateTime>,
    ) -> Result<CompanyFilter, ApiError> {
        Ok(CompanyFilter {
            q: query.q,
            region_id: filter_id("region_id", query.region_id)?,
            topic_id: filter_id("topic_id", query.topic_id)?,
            project_id: filter_id("project_id", query.project_id)?,
            city: query.city,
            postal_code: query.postal_code,
            sector: query.sector,
            min_employees: filter_id("min_employees", query.min_employees)?,
            max_employees: filter_id("max_employees", query.max_employees)?,
            external_id: query.external_id,
            updated_since,
        })
    }
}

resource_endpoints! {
    resource: Companies,
    id: CompanyId,
    tag: "companies",
    singular: "company",
    plural: "companies",
    collection: "/companies",
    input: CompanyInput,
    view: CompanyView,
    list: CompanyList,
    query: CompanyQuery,
    sort: CompanySort,
    operations: ("listCompanies", "createCompany", "getCompany", "replaceCompany", "updateCompany", "deleteCompany"),
}
