//! The HTTP side of every domain resource, written once: create (201 + Location), read (ETag,
//! 304), replace, merge-patch, delete, `If-Match` as the expected version, keyset lists. A
//! resource implements `Resource` (its wire types); the rules and queries are the domain's
//! (`domain::resource`). `resource_endpoints!` declares its six documented handlers, each one
//! line that calls the generic function here.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDateTime;
use serde::Serialize;
use serde::de::DeserializeOwned;
use validator::Validate;

use crate::api::body;
use crate::api::conditional::{IfMatch, check_conditional_headers, etag, not_modified};
use crate::api::error::ApiError;
use crate::api::export;
use crate::api::idempotency::{Answer, IdempotencyKey};
use crate::api::paging::{ListQuery, SortField, encode_cursor};
use crate::auth::Caller;
use crate::db::Db;
use crate::domain::DomainError;
use crate::domain::resource::{self, Crud};

/// A domain resource over HTTP: its wire types. The rules are the domain's (`Crud`).
pub trait Resource: Crud<Sort: SortField> {
    /// The description of the PATCH body, `<Name>Patch`: the OpenAPI document derives its
    /// schema from `Input`'s (`api::openapi`), so the fields are listed once.
    const PATCH_DOC: &'static str;
    /// Notes on fields that are particular to a patch (the input's own notes are dropped:
    /// they describe a whole record).
    const PATCH_NOTES: &'static [(&'static str, &'static str)] = &[];

    /// The writable fields (POST/PUT body; PATCH merges onto the record's view without its
    /// read-only fields, so the view shows every one of them). Parsed into the domain's input
    /// by `TryFrom`, after its field rules have been checked.
    type Input: Serialize
        + DeserializeOwned
        + utoipa::ToSchema
        + Validate
        + TryInto<Self::New, Error = DomainError>
        + Send
        + 'static;
    type View: Serialize + From<Self::Record> + utoipa::ToSchema;
    /// The resource's own list filters.
    type Query: DeserializeOwned + Send + 'static;

    /// The domain's filter from the query parameters (400 for a bad one).
    fn filter(
        query: Self::Query,
        updated_since: Option<NaiveDateTime>,
    ) -> Result<Self::Filter, ApiError>;
}

/// A create or replace body as the domain's input, every bad field reported at once.
fn parse<R: Resource>(body: serde_json::Value) -> Result<R::New, ApiError> {
    Ok(body::parse::<R::Input>(body)?.try_into()?)
}

fn respond<R: Resource>(
    mut response: actix_web::HttpResponseBuilder,
    record: R::Record,
) -> HttpResponse {
    response
        .insert_header(header::ETag(etag(R::meta(&record).version)))
        .json(R::View::from(record))
}

/// One page as it goes over the wire (each resource documents it under its own name).
#[derive(Serialize)]
struct ListPage<V> {
    items: Vec<V>,
    next_cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<i64>,
}

pub async fn list<R: Resource>(
    _caller: Caller,
    db: web::Data<Db>,
    req: HttpRequest,
    query: ListQuery<R::Query, R::Sort>,
) -> Result<HttpResponse, ApiError> {
    let ListQuery {
        page,
        filter,
        updated_since,
        paged,
        format,
        dialect,
    } = query;
    let sort = page.sort;
    let filter = R::filter(filter, updated_since)?;
    if export::wanted(&req, format) {
        let dialect = dialect.unwrap_or_default();
        return if paged {
            export::page::<R>(db.into_inner(), &req, filter, page, dialect).await
        } else {
            export::all::<R>(db.into_inner(), filter, sort, dialect).await
        };
    }
    let found = db
        .run(async move |conn| Ok::<_, ApiError>(resource::list::<R>(conn, &filter, &page).await?))
        .await?;
    Ok(HttpResponse::Ok().json(ListPage {
        items: found.items.into_iter().map(R::View::from).collect(),
        next_cursor: found.next.map(|at| encode_cursor(sort, at)),
        total: found.total,
    }))
}

pub async fn create<R: Resource>(
    caller: Caller,
    db: web::Data<Db>,
    key: IdempotencyKey,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let by = caller.actor();
    // Settled before the body is read, so a caller without the right learns nothing from
    // validation answers; `resource::create` holds the rule for every caller.
    R::may_create(&by)?;
    let body = body.into_inner();
    let once = key.of(&caller, &body);
    let new = parse::<R>(body)?;
    let answer = db
        .write(async move |conn| {
            {
                once.run(conn, async |conn| {
                    let record = resource::create::<R>(conn, &by, new).await?;
                    created::<R>(record)
                })
            }
            .await
        })
        .await?;
    Ok(answer.into_response())
}

/// The answer to a create: 201, the record's URL and version, its view.
fn created<R: Resource>(record: R::Record) -> Result<Answer, ApiError> {
    let meta = R::meta(&record);
    let location = format!("{}/{}/{}", crate::api::API_BASE, R::KIND, meta.id);
    let body = serde_json::to_string(&R::View::from(record))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Answer::created(
        location,
        etag(meta.version).to_string(),
        body,
    ))
}

pub async fn read<R: Resource>(
    _caller: Caller,
    db: web::Data<Db>,
    req: HttpRequest,
    id: R::Id,
) -> Result<HttpResponse, ApiError> {
    check_conditional_headers(&req)?;
    let record = db
        .read(async move |conn| Ok::<_, ApiError>(resource::find::<R>(conn, id).await?))
        .await?;
    if let Some(response) = not_modified(&req, R::meta(&record).version) {
        return Ok(response);
    }
    Ok(respond::<R>(HttpResponse::Ok(), record))
}

pub async fn replace<R: Resource>(
    caller: Caller,
    db: web::Data<Db>,
    id: R::Id,
    if_match: IfMatch,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let by = caller.actor();
    let record = db
        .write(async move |conn| {
            {
                resource::replace::<R, ApiError>(conn, &by, id, if_match.0, || {
                    parse::<R>(body.into_inner())
                })
            }
            .await
        })
        .await?;
    Ok(respond::<R>(HttpResponse::Ok(), record))
}

pub async fn update<R: Resource>(
    caller: Caller,
    db: web::Data<Db>,
    id: R::Id,
    if_match: IfMatch,
    patch: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let patch = patch.into_inner();
    let by = caller.actor();
    let record = db
        .write(async move |conn| {
            {
                resource::patch::<R, ApiError>(conn, &by, id, if_match.0, |current| {
                    let merged: R::Input =
                        body::merge_patch(&R::View::from(current), patch.clone())?;
                    Ok(merged.try_into()?)
                })
            }
            .await
        })
        .await?;
    Ok(respond::<R>(HttpResponse::Ok(), record))
}

pub async fn delete<R: Resource>(
    caller: Caller,
    db: web::Data<Db>,
    id: R::Id,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let by = caller.actor();
    db.write(async move |conn| {
        Ok::<_, ApiError>(resource::delete::<R>(conn, &by, id, if_match.0).await?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Declares a resource's six handlers with their OpenAPI documentation and `configure`.
///
/// The handlers sit in a scope named after the collection (`/companies`, then `` and `/{id}`
/// inside it). actix tries routes in order and matches each `{id}` route with a regex; under
/// a scope, only the matching collection's routes are tried (the scope's prefix is a plain
/// string comparison) instead of every earlier resource's four item routes.
macro_rules! resource_endpoints {
    (
        resource: $resource:ty,
        id: $id:ty,
        tag: $tag:literal,
        singular: $singular:literal,
        plural: $plural:literal,
        collection: $collection:literal,
        input: $input:ty,
        view: $view:ty,
        list: $list:ty,
        query: $query:ty,
        sort: $sort:ty,
        operations: ($list_op:literal, $create_op:literal, $get_op:literal, $replace_op:literal, $update_op:literal, $delete_op:literal),
    ) => {
        // utoipa recognizes the route attributes by their bare names.
        use actix_web::{delete, get, patch, post, put};

        #[doc = concat!("List ", $plural, ".")]
        #[utoipa::path(
            get, path = "", operation_id = $list_op, tag = $tag,
            summary = concat!("List ", $plural),
            description = "One page at a time (keyset: follow next_cursor), filtered by the parameters given (all must hold), sorted by sort. Every role may read.",
            params($crate::api::paging::ListParams, $crate::api::paging::ExportParams, $query),
            responses(
                (status = 200, description = concat!("One page of ", $plural, "; as CSV (Accept: text/csv or format=csv) the whole filtered list, or with limit or cursor one page and the next page's URL in Link"), content(
                    ($list = "application/json"),
                    (String = "text/csv"),
                ), headers(
                    ("Content-Disposition" = String, description = "CSV only: `attachment; filename=\"<collection>-<date>.csv\"`"),
                    ("Link" = String, description = "CSV page only: `<url>; rel=\"next\"` while there is a next page"),
                )),
                (status = 400, description = "Bad paging, sort or filter parameter", body = $crate::api::error::Problem, content_type = "application/problem+json"),
            )
        )]
        #[get("")]
        pub async fn list(
            caller: $crate::auth::Caller,
            db: actix_web::web::Data<$crate::db::Db>,
            req: actix_web::HttpRequest,
            query: $crate::api::paging::ListQuery<$query, $sort>,
        ) -> Result<actix_web::HttpResponse, $crate::api::error::ApiError> {
            $crate::api::resource::list::<$resource>(caller, db, req, query).await
        }

        #[doc = concat!("Create a ", $singular, ".")]
        #[utoipa::path(
            post, path = "", operation_id = $create_op, tag = $tag,
            summary = concat!("Create a ", $singular),
            description = "Answers 201 with the record, its URL in Location and its version in ETag. Unknown or read-only fields, and ids of records that do not exist, answer 422 naming each field. With an Idempotency-Key, a repeat of the same request replays the first answer (Idempotent-Replayed: true) instead of creating another record.",
            params($crate::api::idempotency::IdempotencyKeyParam),
            request_body = $input,
            responses(
                (status = 201, description = "Created (or, with Idempotent-Replayed, the first answer to this key)", body = $view, headers(
                    ("Location" = String, description = "URL of the new record"),
                    ("ETag" = String, description = "The version, quoted"),
                    ("Idempotent-Replayed" = String, description = "`true` when this is the stored answer to an earlier request with the same Idempotency-Key"),
                )),
                (status = 400, description = "A malformed Idempotency-Key", body = $crate::api::error::Problem, content_type = "application/problem+json"),
                (status = 409, description = "A unique field is taken", body = $crate::api::error::Problem, content_type = "application/problem+json"),
                (status = 422, description = "Invalid fields (each named in errors[]), or an Idempotency-Key used for another request", body = $crate::api::error::Problem, content_type = "application/problem+json"),
            )
        )]
        #[post("")]
        pub async fn create(
            caller: $crate::auth::Caller,
            db: actix_web::web::Data<$crate::db::Db>,
            key: $crate::api::idempotency::IdempotencyKey,
            body: actix_web::web::Json<serde_json::Value>,
        ) -> Result<actix_web::HttpResponse, $crate::api::error::ApiError> {
            $crate::api::resource::create::<$resource>(caller, db, key, body).await
        }

        #[doc = concat!("Read a ", $singular, ".")]
        #[utoipa::path(
            get, path = "/{id}", operation_id = $get_op, tag = $tag,
            summary = concat!("Read a ", $singular),
            description = "Answers the record with its version as ETag; with If-None-Match naming that ETag, 304 without a body.",
            params(
                ("id" = i64, Path, description = "The record's id", minimum = 1),
                ("If-None-Match" = Option<String>, Header, nullable = false, description = "An ETag; answers 304 while it is current"),
            ),
            responses(
                (status = 200, description = "The record", body = $view, headers(("ETag" = String, description = "The version, quoted"))),
                (status = 304, description = "Not modified since the given ETag"),
                (status = 404, description = "No such record", body = $crate::api::error::Problem, content_type = "application/problem+json"),
            )
        )]
        #[get("/{id}")]
        pub async fn read(
            caller: $crate::auth::Caller,
            db: actix_web::web::Data<$crate::db::Db>,
            req: actix_web::HttpRequest,
            id: actix_web::web::Path<$id>,
        ) -> Result<actix_web::HttpResponse, $crate::api::error::ApiError> {
            $crate::api::resource::read::<$resource>(caller, db, req, id.into_inner()).await
        }

        #[doc = concat!("Replace a ", $singular, ".")]
        #[doc = ""]
        #[doc = "Every writable field is set from the body; omitted optional fields become null, omitted id arrays empty."]
        #[utoipa::path(
            put, path = "/{id}", operation_id = $replace_op, tag = $tag,
            summary = concat!("Replace a ", $singular),
            description = "Every writable field is set from the body; omitted optional fields become null, omitted id arrays empty.",
            params(
                ("id" = i64, Path, description = "The record's id", minimum = 1),
                ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag the change is based on (one ETag, or *); 412 when stale", pattern = r#"^(\*|(W/)?"[\x21\x23-\x2B\x2D-\x7E]*")$"#),
            ),
            request_body = $input,
            responses(
                (status = 200, description = "The replaced record", body = $view, headers(("ETag" = String, description = "The new version, quoted"))),
                (status = 404, description = "No such record", body = $crate::api::error::Problem, content_type = "application/problem+json"),
                (status = 409, description = "A unique field is taken", body = $crate::api::error::Problem, content_type = "application/problem+json"),
                (status = 412, description = "If-Match names a stale version", body = $crate::api::error::Problem, content_type = "application/problem+json"),
                (status = 422, description = "Invalid fields (each named in errors[])", body = $crate::api::error::Problem, content_type = "application/problem+json"),
            )
        )]
        #[put("/{id}")]
        pub async fn replace(
            caller: $crate::auth::Caller,
            db: actix_web::web::Data<$crate::db::Db>,
            id: actix_web::web::Path<$id>,
            if_match: $crate::api::conditional::IfMatch,
            body: actix_web::web::Json<serde_json::Value>,
        ) -> Result<actix_web::HttpResponse, $crate::api::error::ApiError> {
            $crate::api::resource::replace::<$resource>(caller, db, id.into_inner(), if_match, body).await
        }

        #[doc = concat!("Update a ", $singular, " with a JSON Merge Patch (RFC 7396).")]
        #[doc = ""]
        #[doc = "Fields in the patch replace the stored ones, `null` clears one, omitted fields stay."]
        #[utoipa::path(
            patch, path = "/{id}", operation_id = $update_op, tag = $tag,
            summary = concat!("Update a ", $singular, " with a JSON Merge Patch (RFC 7396)"),
            description = "Fields in the patch replace the stored ones, `null` clears one, omitted fields stay.",
            params(
                ("id" = i64, Path, description = "The record's id", minimum = 1),
                ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag the change is based on (one ETag, or *); 412 when stale", pattern = r#"^(\*|(W/)?"[\x21\x23-\x2B\x2D-\x7E]*")$"#),
            ),
            // The document's PATCH pass points this at `<Name>Patch`, derived from the input.
            request_body(content = $input, content_type = "application/merge-patch+json"),
            responses(
                (status = 200, description = "The updated record", body = $view, headers(("ETag" = String, description = "The new version, quoted"))),
                (status = 404, description = "No such record", body = $crate::api::error::Problem, content_type = "application/problem+json"),
                (status = 409, description = "A unique field is taken", body = $crate::api::error::Problem, content_type = "application/problem+json"),
                (status = 412, description = "If-Match names a stale version", body = $crate::api::error::Problem, content_type = "application/problem+json"),
                (status = 422, description = "Invalid fields (each named in errors[])", body = $crate::api::error::Problem, content_type = "application/problem+json"),
            )
        )]
        #[patch("/{id}")]
        pub async fn update(
            caller: $crate::auth::Caller,
            db: actix_web::web::Data<$crate::db::Db>,
            id: actix_web::web::Path<$id>,
            if_match: $crate::api::conditional::IfMatch,
            patch: actix_web::web::Json<serde_json::Value>,
        ) -> Result<actix_web::HttpResponse, $crate::api::error::ApiError> {
            $crate::api::resource::update::<$resource>(caller, db, id.into_inner(), if_match, patch).await
        }

        #[doc = concat!("Delete a ", $singular, ".")]
        #[utoipa::path(
            delete, path = "/{id}", operation_id = $delete_op, tag = $tag,
            summary = concat!("Delete a ", $singular),
            description = "Answers 204. A record that others still reference is not deleted: 409 says what references it.",
            params(
                ("id" = i64, Path, description = "The record's id", minimum = 1),
                ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag the deletion is based on (one ETag, or *); 412 when stale", pattern = r#"^(\*|(W/)?"[\x21\x23-\x2B\x2D-\x7E]*")$"#),
            ),
            responses(
                (status = 204, description = "Deleted"),
                (status = 404, description = "No such record", body = $crate::api::error::Problem, content_type = "application/problem+json"),
                (status = 409, description = "Other records still reference it (the detail names them)", body = $crate::api::error::Problem, content_type = "application/problem+json"),
                (status = 412, description = "If-Match names a stale version", body = $crate::api::error::Problem, content_type = "application/problem+json"),
            )
        )]
        #[delete("/{id}")]
        pub async fn delete(
            caller: $crate::auth::Caller,
            db: actix_web::web::Data<$crate::db::Db>,
            id: actix_web::web::Path<$id>,
            if_match: $crate::api::conditional::IfMatch,
        ) -> Result<actix_web::HttpResponse, $crate::api::error::ApiError> {
            $crate::api::resource::delete::<$resource>(caller, db, id.into_inner(), if_match).await
        }

        /// Registers the endpoints.
        pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
            cfg.service(
                utoipa_actix_web::scope($collection)
                    .service(list)
                    .service(create)
                    .service(read)
                    .service(replace)
                    .service(update)
                    .service(delete),
            );
        }
    };
}
pub(crate) use resource_endpoints;
