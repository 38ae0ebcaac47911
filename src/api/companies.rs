//! `/api/v1/companies`: participating businesses, with the topics they work on and the
//! projects they take part in. Partners may create companies; they change only their own.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::Connection as _;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::api::body::not_blank;
use crate::api::error::ApiError;
use crate::api::paging::{SortField, filter_id, list_response};
use crate::api::relations::{IdCheck, ensure_unreferenced, id_array, id_set};
use crate::api::resource::{Resource, resource_endpoints};
use crate::auth::{Caller, Role};
use crate::db::DbConnection;
use crate::domain::values::{self, web_url};
use crate::domain::{Actor, CompanyId};
use crate::models::companies::{
    self, Company, CompanyData, CompanyFilter, CompanyRecord, CompanySort,
};
use crate::models::links::{company_projects, company_topics, event_companies};
use crate::models::page::{Page, PageRequest};
use crate::models::{projects, regions, topics};

/// A participating company.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyView {
    #[schema(read_only)]
    pub id: CompanyId,
    pub name: String,
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
    #[schema(max_items = 1000)]
    pub topic_ids: Vec<i64>,
    /// Projects it takes part in.
    #[schema(max_items = 1000)]
    pub project_ids: Vec<i64>,
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
            legal_form: c.legal_form,
            sector: c.sector,
            trade: c.trade,
            region_id: c.region_id,
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
    "name": "Tischlerei Beispiel GmbH (fiktiv)", "legal_form": "GmbH", "sector": "Handwerk", "trade": "Tischlerei",
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

/// A JSON Merge Patch of a company: any subset of the writable fields (arrays are replaced whole).
#[derive(ToSchema)]
#[allow(dead_code)] // documents the PATCH body; the patch is applied as JSON
pub struct CompanyPatch {
    #[schema(nullable = false, min_length = 1, max_length = 300)]
    name: Option<String>,
    legal_form: Option<String>,
    sector: Option<String>,
    trade: Option<String>,
    #[schema(nullable = false, minimum = 1)]
    region_id: Option<i64>,
    street: Option<String>,
    #[schema(pattern = "^[0-9]{5}$", max_length = 5)]
    postal_code: Option<String>,
    city: Option<String>,
    #[schema(minimum = 0)]
    employee_count: Option<i64>,
    #[schema(minimum = 0)]
    apprentice_count: Option<i64>,
    #[schema(format = "uri")]
    website: Option<String>,
    #[schema(format = Email, max_length = 254)]
    email: Option<String>,
    phone: Option<String>,
    #[schema(max_items = 1000)]
    topic_ids: Option<Vec<i64>>,
    #[schema(max_items = 1000)]
    project_ids: Option<Vec<i64>>,
}

impl From<CompanyRecord> for CompanyInput {
    fn from(r: CompanyRecord) -> Self {
        let c: Company = r.company;
        Self {
            name: Some(c.name),
            legal_form: c.legal_form,
            sector: c.sector,
            trade: c.trade,
            region_id: Some(c.region_id),
            street: c.street,
            postal_code: c.postal_code,
            city: c.city,
            employee_count: c.employee_count,
            apprentice_count: c.apprentice_count,
            website: c.website,
            email: c.email,
            phone: c.phone,
            topic_ids: Some(r.topic_ids),
            project_ids: Some(r.project_ids),
        }
    }
}

struct CompanyWrite {
    data: CompanyData,
    topic_ids: Vec<i64>,
    project_ids: Vec<i64>,
}

impl CompanyInput {
    fn into_write(self, conn: &mut DbConnection) -> Result<CompanyWrite, ApiError> {
        let topic_ids = id_set(self.topic_ids);
        let project_ids = id_set(self.project_ids);
        IdCheck::default()
            .id(
                conn,
                "region_id",
                "region",
                self.region_id,
                regions::existing,
            )?
            .ids(conn, "topic_ids", "topic", &topic_ids, topics::existing)?
            .ids(
                conn,
                "project_ids",
                "project",
                &project_ids,
                projects::existing,
            )?
            .finish()?;
        Ok(CompanyWrite {
            data: CompanyData {
                name: self.name.unwrap_or_default(),
                legal_form: self.legal_form,
                sector: self.sector,
                trade: self.trade,
                region_id: self.region_id.unwrap_or_default(),
                street: self.street,
                postal_code: self.postal_code,
                city: self.city,
                employee_count: self.employee_count,
                apprentice_count: self.apprentice_count,
                website: self.website,
                email: self.email,
                phone: self.phone,
            },
            topic_ids,
            project_ids,
        })
    }
}

fn write_relations(
    conn: &mut DbConnection,
    company: Company,
    write: CompanyWrite,
) -> Result<CompanyRecord, ApiError> {
    let id = company.id.0;
    company_topics::replace(conn, id, &write.topic_ids)?;
    company_projects::replace(conn, id, &write.project_ids)?;
    Ok(CompanyRecord {
        company,
        topic_ids: write.topic_ids,
        project_ids: write.project_ids,
    })
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

/// The companies resource.
pub struct Companies;

impl Resource for Companies {
    const NAME: &'static str = "company";
    const COLLECTION: &'static str = "/companies";
    type Id = CompanyId;
    type Input = CompanyInput;
    type Record = CompanyRecord;
    type View = CompanyView;
    type Query = CompanyQuery;
    type Sort = CompanySort;

    fn id(record: &CompanyRecord) -> CompanyId {
        record.company.id
    }

    fn version(record: &CompanyRecord) -> i64 {
        record.company.version
    }

    fn owner_org(record: &CompanyRecord) -> Option<i64> {
        record.company.owner_org_id
    }

    fn to_input(record: CompanyRecord) -> CompanyInput {
        record.into()
    }

    /// Partners register the companies of their region, too.
    fn may_create(caller: &Caller) -> Result<(), ApiError> {
        if caller.role == Role::Partner {
            Ok(())
        } else {
            caller.require_editor()
        }
    }

    fn find(conn: &mut DbConnection, id: CompanyId) -> Result<Option<CompanyRecord>, ApiError> {
        Ok(companies::find_record(conn, id)?)
    }

    fn insert(
        conn: &mut DbConnection,
        input: CompanyInput,
        by: &Actor,
    ) -> Result<CompanyRecord, ApiError> {
        let write = input.into_write(conn)?;
        conn.transaction(|conn| {
            let company = companies::insert(conn, &write.data.clone().into(), by)?;
            write_relations(conn, company, write)
        })
    }

    fn update(
        conn: &mut DbConnection,
        id: CompanyId,
        expected_version: Option<i64>,
        input: CompanyInput,
        by: &Actor,
    ) -> Result<CompanyRecord, ApiError> {
        let write = input.into_write(conn)?;
        conn.transaction(|conn| {
            let company =
                companies::update(conn, id, expected_version, &write.data.clone().into(), by)
                    .map_err(|e| ApiError::from_write(e, Self::NAME, id))?;
            write_relations(conn, company, write)
        })
    }

    fn delete(
        conn: &mut DbConnection,
        id: CompanyId,
        expected_version: Option<i64>,
    ) -> Result<(), ApiError> {
        ensure_unreferenced(
            Self::NAME,
            id,
            &[(
                event_companies::count_owners(conn, id.0)?,
                "event",
                "events",
            )],
        )?;
        companies::delete(conn, id, expected_version)
            .map_err(|e| ApiError::from_write(e, Self::NAME, id))
    }

    fn list(
        conn: &mut DbConnection,
        query: CompanyQuery,
        updated_since: Option<NaiveDateTime>,
        page: &PageRequest<CompanySort>,
    ) -> Result<Page<CompanyRecord>, ApiError> {
        let filter = CompanyFilter {
            q: query.q,
            region_id: filter_id("region_id", query.region_id)?,
            topic_id: filter_id("topic_id", query.topic_id)?,
            project_id: filter_id("project_id", query.project_id)?,
            city: query.city,
            postal_code: query.postal_code,
            sector: query.sector,
            min_employees: filter_id("min_employees", query.min_employees)?,
            max_employees: filter_id("max_employees", query.max_employees)?,
            updated_since,
        };
        Ok(companies::list(conn, &filter, page)?)
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
    patch: CompanyPatch,
    view: CompanyView,
    list: CompanyList,
    query: CompanyQuery,
    sort: CompanySort,
    operations: ("listCompanies", "createCompany", "getCompany", "replaceCompany", "updateCompany", "deleteCompany"),
}
