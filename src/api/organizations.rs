//! `/api/v1/organizations`: sponsors, chambers, economic-development agencies, consultancies.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::api::body::{not_blank, required};
use crate::api::error::ApiError;
use crate::api::paging::{SortField, list_response};
use crate::api::resource::{Resource, resource_endpoints};
use crate::domain::organizations::{NewOrganization, Organizations};
use crate::domain::values::{OrganizationKind, web_url};
use crate::domain::{DomainError, OrganizationId};
use crate::models::organizations::{Organization, OrganizationFilter, OrganizationSort};

/// An organization.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 1, "name": "Allianz für die Region GmbH", "kind": "sponsor", "city": "Braunschweig",
    "website": null, "description": null,
    "created_at": "2026-11-26T12:00:00Z", "updated_at": "2026-11-26T12:00:00Z", "version": 1
}))]
pub struct OrganizationView {
    #[schema(read_only)]
    pub id: OrganizationId,
    /// Unique, case-insensitively.
    pub name: String,
    pub kind: OrganizationKind,
    pub city: Option<String>,
    pub website: Option<String>,
    pub description: Option<String>,
    #[schema(read_only)]
    pub created_at: DateTime<Utc>,
    #[schema(read_only)]
    pub updated_at: DateTime<Utc>,
    #[schema(read_only, minimum = 1)]
    pub version: i64,
}

impl From<Organization> for OrganizationView {
    fn from(o: Organization) -> Self {
        Self {
            id: o.id,
            name: o.name,
            kind: o.kind,
            city: o.city,
            website: o.website,
            description: o.description,
            created_at: o.created_at.and_utc(),
            updated_at: o.updated_at.and_utc(),
            version: o.version,
        }
    }
}

/// The writable fields of an organization.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"name": "Handwerkskammer Braunschweig-Lüneburg-Stade", "kind": "chamber_of_crafts"}))]
pub struct OrganizationInput {
    #[validate(
        required(message = "is required"),
        length(min = 1, max = 200, message = "must be 1 to 200 characters"),
        custom(function = "not_blank")
    )]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[validate(required(message = "is required"))]
    #[schema(required = true, value_type = OrganizationKind)]
    pub kind: Option<OrganizationKind>,
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    #[schema(max_length = 200)]
    pub city: Option<String>,
    #[validate(
        length(max = 2000, message = "must be at most 2000 characters"),
        custom(function = "web_url")
    )]
    #[schema(format = "uri", max_length = 2000)]
    pub website: Option<String>,
    #[validate(length(max = 10000, message = "must be at most 10000 characters"))]
    #[schema(max_length = 10000)]
    pub description: Option<String>,
}

impl TryFrom<OrganizationInput> for NewOrganization {
    type Error = DomainError;

    fn try_from(input: OrganizationInput) -> Result<Self, DomainError> {
        Ok(Self {
            name: required(input.name, "name")?,
            kind: required(input.kind, "kind")?,
            city: input.city,
            website: input.website,
            description: input.description,
        })
    }
}

/// Filters of the organization list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrganizationQuery {
    /// Case-insensitive substring of the name.
    pub q: Option<String>,
    pub kind: Option<OrganizationKind>,
}

impl SortField for OrganizationSort {
    const FIELDS: &'static [(&'static str, Self)] = &[
        ("created_at", Self::CreatedAt),
        ("name", Self::Name),
        ("kind", Self::Kind),
        ("updated_at", Self::UpdatedAt),
    ];
}

list_response!(
    /// One page of organizations.
    OrganizationList,
    OrganizationView
);

impl Resource for Organizations {
    const PATCH_DOC: &'static str =
        "A JSON Merge Patch of an organization: any subset of the writable fields.";
    type Input = OrganizationInput;
    type View = OrganizationView;
    type Query = OrganizationQuery;

    fn filter(
        query: OrganizationQuery,
        updated_since: Option<NaiveDateTime>,
    ) -> Result<OrganizationFilter, ApiError> {
        Ok(OrganizationFilter {
            q: query.q,
            kind: query.kind,
            updated_since,
        })
    }
}

resource_endpoints! {
    resource: Organizations,
    id: OrganizationId,
    tag: "organizations",
    singular: "organization",
    plural: "organizations",
    collection: "/organizations",
    input: OrganizationInput,
    view: OrganizationView,
    list: OrganizationList,
    query: OrganizationQuery,
    sort: OrganizationSort,
    operations: ("listOrganizations", "createOrganization", "getOrganization", "replaceOrganization", "updateOrganization", "deleteOrganization"),
}
