//! `/api/v1/regions`: project regions (*Projekträume*).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::api::body::{self, not_blank};
use crate::api::conditional::{IfMatch, etag, not_modified};
use crate::api::error::{ApiError, Problem};
use crate::api::paging::{ListParams, ListQuery, SortField, list_response};
use crate::auth::Caller;
use crate::db::Db;
use crate::domain::RegionId;
use crate::models::WriteError;
use crate::models::regions::{self, Region, RegionFields, RegionFilter, RegionSort};

/// How often a PATCH without `If-Match` retries when another writer changed the region
/// between its read and its conditional write.
const PATCH_ATTEMPTS: usize = 16;

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

fn region_response(mut response: actix_web::HttpResponseBuilder, region: Region) -> HttpResponse {
    response
        .insert_header(header::ETag(etag(region.version)))
        .json(RegionView::from(region))
}

fn conflict_on_duplicate(e: diesel::result::Error, name: &str) -> ApiError {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            ApiError::conflict(format!("a region named {name:?} already exists"))
        }
        other => other.into(),
    }
}

/// List regions.
#[utoipa::path(
    get, path = "/regions", operation_id = "listRegions", tag = "regions",
    params(ListParams, RegionQuery),
    responses(
        (status = 200, description = "One page of regions", body = RegionList),
        (status = 400, description = "Bad paging, sort or filter parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/regions")]
pub async fn list_regions(
    _caller: Caller,
    db: web::Data<Db>,
    query: ListQuery<RegionQuery, RegionSort>,
) -> Result<HttpResponse, ApiError> {
    let ListQuery {
        page,
        filter,
        updated_since,
    } = query;
    let filter = RegionFilter {
        q: filter.q,
        district: filter.district,
        state: filter.state,
        updated_since,
    };
    let sort = page.sort;
    let found = db
        .run(move |conn| regions::list(conn, &filter, &page).map_err(ApiError::from))
        .await?;
    Ok(HttpResponse::Ok().json(RegionList::from_page(found, sort)))
}

/// Create a region.
#[utoipa::path(
    post, path = "/regions", operation_id = "createRegion", tag = "regions",
    request_body = RegionInput,
    responses(
        (status = 201, description = "Created", body = RegionView, headers(
            ("Location" = String, description = "URL of the new region"),
            ("ETag" = String, description = "The version, quoted"),
        )),
        (status = 409, description = "A region with this name exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/regions")]
pub async fn create_region(
    caller: Caller,
    db: web::Data<Db>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require_editor()?;
    let by = caller.actor();
    let fields = body::parse::<RegionInput>(body.into_inner())?.into_fields();
    let region = db
        .run(move |conn| {
            regions::insert(conn, &fields, &by).map_err(|e| conflict_on_duplicate(e, &fields.name))
        })
        .await?;
    let location = format!("/api/v1/regions/{}", region.id);
    Ok(region_response(
        HttpResponse::Created()
            .insert_header((header::LOCATION, location))
            .take(),
        region,
    ))
}

/// Read a region.
#[utoipa::path(
    get, path = "/regions/{id}", operation_id = "getRegion", tag = "regions",
    params(
        ("id" = i64, Path, description = "Region id", minimum = 1),
        ("If-None-Match" = Option<String>, Header, description = "An ETag; answers 304 while it is current"),
    ),
    responses(
        (status = 200, description = "The region", body = RegionView, headers(("ETag" = String, description = "The version, quoted"))),
        (status = 304, description = "Not modified since the given ETag"),
        (status = 404, description = "No such region", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/regions/{id}")]
pub async fn get_region(
    _caller: Caller,
    db: web::Data<Db>,
    req: HttpRequest,
    id: web::Path<RegionId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let region = db
        .run(move |conn| regions::find(conn, id).map_err(ApiError::from))
        .await?
        .ok_or_else(|| ApiError::not_found("region", id))?;
    if let Some(response) = not_modified(&req, region.version) {
        return Ok(response);
    }
    Ok(region_response(HttpResponse::Ok(), region))
}

/// Replace a region.
///
/// Every writable field is set from the body; omitted optional fields become null.
#[utoipa::path(
    put, path = "/regions/{id}", operation_id = "replaceRegion", tag = "regions",
    params(
        ("id" = i64, Path, description = "Region id", minimum = 1),
        ("If-Match" = Option<String>, Header, description = "The ETag the change is based on; 412 when stale"),
    ),
    request_body = RegionInput,
    responses(
        (status = 200, description = "The replaced region", body = RegionView, headers(("ETag" = String, description = "The new version, quoted"))),
        (status = 404, description = "No such region", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A region with this name exists", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names a stale version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/regions/{id}")]
pub async fn replace_region(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<RegionId>,
    if_match: IfMatch,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require_editor()?;
    let by = caller.actor();
    let id = id.into_inner();
    let fields = body::parse::<RegionInput>(body.into_inner())?.into_fields();
    let region = db
        .run(move |conn| {
            regions::update(conn, id, if_match.0, &fields, &by)
                .map_err(|e| write_error(e, id, &fields))
        })
        .await?;
    Ok(region_response(HttpResponse::Ok(), region))
}

/// Update a region with a JSON Merge Patch (RFC 7396).
///
/// Fields in the patch replace the stored ones, `null` clears one, omitted fields stay.
#[utoipa::path(
    patch, path = "/regions/{id}", operation_id = "updateRegion", tag = "regions",
    params(
        ("id" = i64, Path, description = "Region id", minimum = 1),
        ("If-Match" = Option<String>, Header, description = "The ETag the change is based on; 412 when stale"),
    ),
    request_body(content = RegionPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated region", body = RegionView, headers(("ETag" = String, description = "The new version, quoted"))),
        (status = 404, description = "No such region", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A region with this name exists", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names a stale version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/regions/{id}")]
pub async fn update_region(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<RegionId>,
    if_match: IfMatch,
    patch: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require_editor()?;
    let by = caller.actor();
    let id = id.into_inner();
    let patch = patch.into_inner();
    let region = db
        .run(move |conn| {
            // Read, merge, then write only if the version read is still current. Without
            // If-Match a concurrent change makes us merge again onto the newer state.
            for _ in 0..PATCH_ATTEMPTS {
                let current =
                    regions::find(conn, id)?.ok_or_else(|| ApiError::not_found("region", id))?;
                let base_version = current.version;
                if if_match.0.is_some_and(|v| v != base_version) {
                    return Err(ApiError::from_write(
                        WriteError::VersionMismatch,
                        "region",
                        id,
                    ));
                }
                let fields =
                    body::merge_patch(&RegionInput::from(current), patch.clone())?.into_fields();
                match regions::update(conn, id, Some(base_version), &fields, &by) {
                    Err(WriteError::VersionMismatch) if if_match.0.is_none() => continue,
                    result => return result.map_err(|e| write_error(e, id, &fields)),
                }
            }
            Err(ApiError::conflict(format!(
                "region {id} is being changed concurrently; try again"
            )))
        })
        .await?;
    Ok(region_response(HttpResponse::Ok(), region))
}

fn write_error(e: WriteError, id: RegionId, fields: &RegionFields) -> ApiError {
    match e {
        WriteError::Db(e) => conflict_on_duplicate(e, &fields.name),
        other => ApiError::from_write(other, "region", id),
    }
}

/// Delete a region.
#[utoipa::path(
    delete, path = "/regions/{id}", operation_id = "deleteRegion", tag = "regions",
    params(
        ("id" = i64, Path, description = "Region id", minimum = 1),
        ("If-Match" = Option<String>, Header, description = "The ETag the deletion is based on; 412 when stale"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such region", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Other records still reference the region", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names a stale version", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/regions/{id}")]
pub async fn delete_region(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<RegionId>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    caller.require_editor()?;
    let id = id.into_inner();
    db.run(move |conn| {
        regions::delete(conn, id, if_match.0).map_err(|e| ApiError::from_write(e, "region", id))
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the region endpoints.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_regions)
        .service(create_region)
        .service(get_region)
        .service(replace_region)
        .service(update_region)
        .service(delete_region);
}
