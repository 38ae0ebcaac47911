//! `/api/v1/regions`: project regions (*Projekträume*).

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::api::body::{not_blank, required};
use crate::api::error::ApiError;
use crate::api::paging::{SortField, list_response};
use crate::api::resource::{Resource, resource_endpoints};
use crate::domain::regions::{NewRegion, Regions};
use crate::domain::{DomainError, RegionId};
use crate::models::regions::{Region, RegionFilter, RegionSort};

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

impl TryFrom<RegionInput> for NewRegion {
    type Error = DomainError;

    fn try_from(input: RegionInput) -> Result<Self, DomainError> {
        Ok(Self {
            name: required(input.name, "name")?,
            district: input.district,
            state: input.state,
            commercial_area: input.commercial_area,
            description: input.description,
        })
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

impl Resource for Regions {
    const PATCH_DOC: &'static str =
        "A JSON Merge Patch of a region: any subset of the writable fields; `null` clears one.";
    const PATCH_NOTES: &'static [(&'static str, &'static str)] =
        &[("name", "Can't be cleared: a region always has a name.")];
    type Input = RegionInput;
    type View = RegionView;
    type Query = RegionQuery;

    fn filter(
        query: RegionQuery,
        updated_since: Option<NaiveDateTime>,
    ) -> Result<RegionFilter, ApiError> {
        Ok(RegionFilter {
            q: query.q,
            district: query.district,
            state: query.state,
            updated_since,
        })
    }
}

resource_endpoints! {
    resource: Regions,
    id: RegionId,
    tag: "regions",
    singular: "region",
    plural: "regions",
    collection: "/regions",
    input: RegionInput,
    view: RegionView,
    list: RegionList,
    query: RegionQuery,
    sort: RegionSort,
    operations: ("listRegions", "createRegion", "getRegion", "replaceRegion", "updateRegion", "deleteRegion"),
}
