//! `/api/v1/regions`: project regions (*Projekträume*).

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
use crate::domain::{Actor, RegionId};
use crate::models::links::project_regions;
use crate::models::page::{Page, PageRequest};
use crate::models::regions::{self, Region, RegionFields, RegionFilter, RegionSort};
use crate::models::{WriteError, companies, events};

/// A project region (*Projektraum*), e.g. "Schöningen/Samtgemeinde Heeseberg".
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 4,
    "name": "Schöningen/Samtgemeinde Heeseberg",
    "district": "Landkreis Helmstedt",
    "state": "Niedersachsen",
    "commercial_area": null,
    "description": null,
    "created_at": "2026-11-26T12:00:00Z",
    "updated_at": "2026-11-26T12:00:00Z",
    "version": 1
}))]
pub struct RegionView {
    #[schema(read_only)]
    pub id: RegionId,
    /// Unique (case-insensitively), 1–200 characters.
    pub name: String,
    /// The district (*Landkreis*), e.g. "Landkreis Helmstedt".
    pub district: Option<String>,
    /// The federal state, e.g. "Niedersachsen".
    pub state: Option<String>,
    /// The commercial area whose companies form the neighbourhood.
    pub commercial_area: Option<String>,
    pub description: Option<String>,
    #[schema(read_only)]
    pub created_at: DateTime<Utc>,
    #[schema(read_only)]
    pub updated_at: DateTime<Utc>,
    /// Incremented by every change; the ETag is this number in quotes.
    #[schema(read_only, minimum = 1)]
    pub version: i64,
}

impl From<Region> for RegionView {
    fn from(r: Region) -> Self {
        Self {
            id: r.id,
            name: r.name,
            district: r.district,
            state: r.state,
            commercial_area: r.commercial_area,
            description: r.description,
            created_at: r.created_at.and_utc(),
            updated_at: r.updated_at.and_utc(),
            version: r.version,
        }
    }
}

/// The writable fields of a region: the body of POST and PUT (all of it) and, as a merge
/// patch, of PATCH.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[schema(example = json!({
    "name": "Schöningen/Samtgemeinde Heeseberg",
    "district": "Landkreis Helmstedt",
    "state": "Niedersachsen"
}))]
pub struct RegionInput {
    /// Unique (case-insensitively), 1–200 characters.
    #[validate(
        required(message = "is required"),
        length(min = 1, max = 200, message = "must be 1 to 200 characters"),
        custom(function = "not_blank")
    )]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    #[schema(max_length = 200)]
    pub district: Option<String>,
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    #[schema(max_length = 200)]
    pub state: Option<String>,
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    #[schema(max_length = 200)]
    pub commercial_area: Option<String>,
    #[validate(length(max = 10000, message = "must be at most 10000 characters"))]
    #[schema(max_length = 10000)]
    pub description: Option<String>,
}

impl RegionInput {
    fn into_fields(self) -> RegionFields {
        RegionFields::new(
            self.name.unwrap_or_default(),
            self.district,
            self.state,
            self.commercial_area,
            self.description,
        )
    }
}

impl From<Region> for RegionInput {
    fn from(r: Region) -> Self {
        Self {
            name: Some(r.name),
            district: r.district,
            state: r.state,
            commercial_area: r.commercial_area,
            description: r.description,
        }
    }
}

/// Filters of the region list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegionQuery {
    /// Case-insensitive substring of the name.
    pub q: Option<String>,
    /// Exact district, e.g. `Landkreis Helmstedt`.
    pub district: Option<String>,
    /// Exact state, e.g. `Niedersachsen`.
    pub state: Option<String>,
}

impl SortField for RegionSort {
    const FIELDS: &'static [(&'static str, Self)] = &[
        ("created_at", Self::CreatedAt),
        ("name", Self::Name),
        ("updated_at", Self::UpdatedAt),
    ];
}

list_response!(
    /// One page of regions.
    RegionList,
    RegionView
);

/// A JSON Merge Patch of a region: any subset of the writable fields; `null` clears one.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the PATCH body; the patch is applied as JSON
pub struct RegionPatch {
    /// Can't be cleared: a region always has a name.
    #[schema(nullable = false, min_length = 1, max_length = 200)]
    name: Option<String>,
    #[schema(max_length = 200)]
    district: Option<String>,
    #[schema(max_length = 200)]
    state: Option<String>,
    #[schema(max_length = 200)]
    commercial_area: Option<String>,
    #[schema(max_length = 10000)]
    description: Option<String>,
}

/// The regions resource.
pub struct Regions;

impl Resource for Regions {
    const NAME: &'static str = "region";
    const COLLECTION: &'static str = "/regions";
    type Id = RegionId;
    type Input = RegionInput;
    type Record = Region;
    type View = RegionView;
    type Query = RegionQuery;
    type Sort = RegionSort;

    fn id(record: &Region) -> RegionId {
        record.id
    }

    fn version(record: &Region) -> i64 {
        record.version
    }

    fn owner_org(record: &Region) -> Option<i64> {
        record.owner_org_id
    }

    fn to_input(record: Region) -> RegionInput {
        record.into()
    }

    fn find(conn: &mut DbConnection, id: RegionId) -> Result<Option<Region>, ApiError> {
        Ok(regions::find(conn, id)?)
    }

    fn insert(conn: &mut DbConnection, input: RegionInput, by: &Actor) -> Result<Region, ApiError> {
        let fields = input.into_fields();
        regions::insert(conn, &fields, by).map_err(|e| duplicate_name(e, &fields.name))
    }

    fn update(
        conn: &mut DbConnection,
        id: RegionId,
        expected_version: Option<i64>,
        input: RegionInput,
        by: &Actor,
    ) -> Result<Region, ApiError> {
        let fields = input.into_fields();
        regions::update(conn, id, expected_version, &fields, by).map_err(|e| match e {
            WriteError::Db(e) => duplicate_name(e, &fields.name),
            other => ApiError::from_write(other, Self::NAME, id),
        })
    }

    fn delete(
        conn: &mut DbConnection,
        id: RegionId,
        expected_version: Option<i64>,
    ) -> Result<(), ApiError> {
        ensure_unreferenced(
            Self::NAME,
            id,
            &[
                (
                    companies::count_in_region(conn, id.0)?,
                    "company",
                    "companies",
                ),
                (
                    project_regions::count_owners(conn, id.0)?,
                    "project",
                    "projects",
                ),
                (events::count_in_region(conn, id.0)?, "event", "events"),
            ],
        )?;
        regions::delete(conn, id, expected_version)
            .map_err(|e| ApiError::from_write(e, Self::NAME, id))
    }

    fn list(
        conn: &mut DbConnection,
        query: RegionQuery,
        updated_since: Option<NaiveDateTime>,
        page: &PageRequest<RegionSort>,
    ) -> Result<Page<Region>, ApiError> {
        let filter = RegionFilter {
            q: query.q,
            district: query.district,
            state: query.state,
            updated_since,
        };
        Ok(regions::list(conn, &filter, page)?)
    }
}

fn duplicate_name(e: diesel::result::Error, name: &str) -> ApiError {
    unique_conflict(e, || format!("a region named {name:?} already exists"))
}

resource_endpoints! {
    resource: Regions,
    id: RegionId,
    tag: "regions",
    singular: "region",
    plural: "regions",
    collection: "/regions",
    input: RegionInput,
    patch: RegionPatch,
    view: RegionView,
    list: RegionList,
    query: RegionQuery,
    sort: RegionSort,
    operations: ("listRegions", "createRegion", "getRegion", "replaceRegion", "updateRegion", "deleteRegion"),
}
