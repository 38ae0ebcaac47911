//! `/api/v1/funding-sources`: who pays (the ESF, a state ministry, districts and towns).

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::api::body::{not_blank, required};
use crate::api::error::ApiError;
use crate::api::paging::{SortField, list_response};
use crate::api::resource::{Resource, resource_endpoints};
use crate::domain::funding_sources::{FundingSources, NewFundingSource};
use crate::domain::values::{FundingKind, web_url};
use crate::domain::{DomainError, FundingSourceId};
use crate::models::funding_sources::{FundingSource, FundingSourceFilter, FundingSourceSort};

/// A funding source.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 1, "name": "Europäischer Sozialfonds (ESF)", "kind": "eu", "provider": null,
    "programme": null, "website": null, "description": null,
    "created_at": "2026-11-26T12:00:00Z", "updated_at": "2026-11-26T12:00:00Z", "version": 1
}))]
pub struct FundingSourceView {
    #[schema(read_only)]
    pub id: FundingSourceId,
    /// Unique, case-insensitively.
    pub name: String,
    pub kind: FundingKind,
    /// Who administers it, e.g. "Niedersächsisches Ministerium für Wirtschaft, Arbeit, Verkehr und Digitalisierung".
    pub provider: Option<String>,
    /// e.g. "ESF Förderperiode 2014–2020".
    pub programme: Option<String>,
    pub website: Option<String>,
    pub description: Option<String>,
    #[schema(read_only)]
    pub created_at: DateTime<Utc>,
    #[schema(read_only)]
    pub updated_at: DateTime<Utc>,
    #[schema(read_only, minimum = 1)]
    pub version: i64,
}

impl From<FundingSource> for FundingSourceView {
    fn from(f: FundingSource) -> Self {
        Self {
            id: f.id,
            name: f.name,
            kind: f.kind,
            provider: f.provider,
            programme: f.programme,
            website: f.website,
            description: f.description,
            created_at: f.created_at.and_utc(),
            updated_at: f.updated_at.and_utc(),
            version: f.version,
        }
    }
}

/// The writable fields of a funding source.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"name": "Europäischer Sozialfonds (ESF)", "kind": "eu"}))]
pub struct FundingSourceInput {
    #[validate(
        required(message = "is required"),
        length(min = 1, max = 200, message = "must be 1 to 200 characters"),
        custom(function = "not_blank")
    )]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[validate(required(message = "is required"))]
    #[schema(required = true, value_type = FundingKind)]
    pub kind: Option<FundingKind>,
    #[validate(length(max = 300, message = "must be at most 300 characters"))]
    #[schema(max_length = 300)]
    pub provider: Option<String>,
    #[validate(length(max = 300, message = "must be at most 300 characters"))]
    #[schema(max_length = 300)]
    pub programme: Option<String>,
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

impl TryFrom<FundingSourceInput> for NewFundingSource {
    type Error = DomainError;

    fn try_from(input: FundingSourceInput) -> Result<Self, DomainError> {
        Ok(Self {
            name: required(input.name, "name")?,
            kind: required(input.kind, "kind")?,
            provider: input.provider,
            programme: input.programme,
            website: input.website,
            description: input.description,
        })
    }
}

/// Filters of the funding source list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FundingSourceQuery {
    /// Case-insensitive substring of the name.
    pub q: Option<String>,
    pub kind: Option<FundingKind>,
}

impl SortField for FundingSourceSort {
    const FIELDS: &'static [(&'static str, Self)] = &[
        ("created_at", Self::CreatedAt),
        ("name", Self::Name),
        ("kind", Self::Kind),
        ("updated_at", Self::UpdatedAt),
    ];
}

list_response!(
    /// One page of funding sources.
    FundingSourceList,
    FundingSourceView
);

impl Resource for FundingSources {
    const PATCH_DOC: &'static str =
        "A JSON Merge Patch of a funding source: any subset of the writable fields.";
    type Input = FundingSourceInput;
    type View = FundingSourceView;
    type Query = FundingSourceQuery;

    fn filter(
        query: FundingSourceQuery,
        updated_since: Option<NaiveDateTime>,
    ) -> Result<FundingSourceFilter, ApiError> {
        Ok(FundingSourceFilter {
            q: query.q,
            kind: query.kind,
            updated_since,
        })
    }
}

resource_endpoints! {
    resource: FundingSources,
    id: FundingSourceId,
    tag: "funding-sources",
    singular: "funding source",
    plural: "funding sources",
    collection: "/funding-sources",
    input: FundingSourceInput,
    view: FundingSourceView,
    list: FundingSourceList,
    query: FundingSourceQuery,
    sort: FundingSourceSort,
    operations: ("listFundingSources", "createFundingSource", "getFundingSource", "replaceFundingSource", "updateFundingSource", "deleteFundingSource"),
}
