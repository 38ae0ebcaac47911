//! `/api/v1/clients`: machine clients of partner organizations (admins only). The secret is
//! shown once, in the answer to the create request; only its hash is stored. There is no
//! `PUT` (see `users`): clients change with `PATCH`; a lost secret means a new client.

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::api::body::{self, not_blank, required};
use crate::api::conditional::{IfMatch, etag};
use crate::api::error::{ApiError, Problem};
use crate::api::paging::{ListParams, ListQuery, SortField, filter_id, list_response};
use crate::auth::secrets::{random_token, token_hash};
use crate::auth::{Caller, Role};
use crate::db::Db;
use crate::domain::clients::{self, NewClient};
use crate::domain::{DomainError, OrganizationId};
use crate::models::clients::{Client, ClientFilter, ClientSort};

/// A machine client. Its secret is never shown after creation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    #[schema(read_only)]
    pub id: i64,
    /// The public identifier to send as `client_id`.
    #[schema(read_only, example = "bnc_3q2o5vQ1pX0", max_length = 40)]
    pub client_id: String,
    pub name: String,
    pub role: Role,
    pub organization_id: Option<i64>,
    pub disabled: bool,
    #[schema(read_only)]
    pub created_at: DateTime<Utc>,
    #[schema(read_only)]
    pub updated_at: DateTime<Utc>,
    #[schema(read_only, minimum = 1)]
    pub version: i64,
}

impl From<Client> for ClientView {
    fn from(c: Client) -> Self {
        Self {
            // Roles in the database are constrained by a CHECK to the four known ones.
            role: c.role,
            id: c.id,
            client_id: c.client_id,
            name: c.name,
            organization_id: c.organization_id,
            disabled: c.disabled,
            created_at: c.created_at.and_utc(),
            updated_at: c.updated_at.and_utc(),
            version: c.version,
        }
    }
}

/// The answer to creating a client: the client and, this once, its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedClient {
    #[serde(flatten)]
    pub client: ClientView,
    /// Store it now: it is never shown again.
    #[schema(max_length = 64)]
    pub client_secret: String,
}

/// The writable fields of a client.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
pub struct ClientInput {
    #[validate(
        required(message = "is required"),
        length(min = 1, max = 200, message = "must be 1 to 200 characters"),
        custom(function = "not_blank")
    )]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// Default (and `null`): `partner`.
    pub role: Option<Role>,
    /// Required for the `partner` role.
    pub organization_id: Option<i64>,
    /// Default (and `null`): `false`.
    pub disabled: Option<bool>,
}

/// A JSON Merge Patch of a machine client: any subset of the writable fields.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the PATCH body; the patch is applied as JSON
pub struct ClientPatch {
    #[schema(nullable = false, min_length = 1, max_length = 200)]
    name: Option<String>,
    /// `null` resets it to `partner`.
    role: Option<Role>,
    organization_id: Option<i64>,
    /// `null` resets it to `false`.
    disabled: Option<bool>,
}

impl From<&Client> for ClientInput {
    fn from(c: &Client) -> Self {
        Self {
            name: Some(c.name.clone()),
            role: Some(c.role),
            organization_id: c.organization_id,
            disabled: Some(c.disabled),
        }
    }
}

impl TryFrom<ClientInput> for NewClient {
    type Error = DomainError;

    fn try_from(input: ClientInput) -> Result<Self, DomainError> {
        Ok(Self {
            name: required(input.name, "name")?,
            role: input.role.unwrap_or(Role::Partner),
            organization_id: input.organization_id.map(OrganizationId),
            disabled: input.disabled.unwrap_or(false),
        })
    }
}

/// Filters of the client list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClientQuery {
    /// Case-insensitive substring of the name.
    pub q: Option<String>,
    pub role: Option<Role>,
    #[param(minimum = 0)]
    pub organization_id: Option<i64>,
}

impl SortField for ClientSort {
    const FIELDS: &'static [(&'static str, Self)] = &[
        ("created_at", Self::CreatedAt),
        ("name", Self::Name),
        ("updated_at", Self::UpdatedAt),
    ];
}

list_response!(
    /// One page of clients.
    ClientList,
    ClientView
);

fn client_response(mut response: actix_web::HttpResponseBuilder, client: Client) -> HttpResponse {
    response
        .insert_header(header::ETag(etag(client.version)))
        .json(ClientView::from(client))
}

/// List machine clients.
///
/// Admins only. Filters by name, role and organization; the secrets are never shown.
#[utoipa::path(
    get, path = "", operation_id = "listClients", tag = "clients",
    params(ListParams, ClientQuery),
    responses(
        (status = 200, description = "One page of clients", body = ClientList),
        (status = 400, description = "Bad paging, sort or filter parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("")]
pub async fn list_clients(
    caller: Caller,
    db: web::Data<Db>,
    query: ListQuery<ClientQuery, ClientSort>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    query.refuse_export("clients")?;
    let ListQuery {
        page,
        filter,
        updated_since,
        ..
    } = query;
    let filter = ClientFilter {
        q: filter.q,
        role: filter.role,
        organization_id: filter_id("organization_id", filter.organization_id)?,
        updated_since,
    };
    let sort = page.sort;
    let actor = caller.actor();
    let found = db
        .run(async move |conn| clients::list(conn, &actor, &filter, &page).await)
        .await?;
    Ok(HttpResponse::Ok().json(ClientList::from_page(found, sort)))
}

/// Create a machine client.
///
/// Admins only. The answer carries `client_id` and `client_secret`: the only time the secret
/// is shown; only its hash is stored. A `partner` client needs an `organization_id`.
#[utoipa::path(
    post, path = "", operation_id = "createClient", tag = "clients",
    request_body = ClientInput,
    responses(
        (status = 201, description = "Created", body = CreatedClient, headers(("Location" = String, description = "URL of the new client"))),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("")]
pub async fn create_client(
    caller: Caller,
    db: web::Data<Db>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let new = NewClient::try_from(body::parse::<ClientInput>(body.into_inner())?)?;
    let secret = random_token(32)?;
    let client_id = format!("bnc_{}", random_token(12)?);
    let secret_hash = token_hash(&secret);
    let actor = caller.actor();
    let client = db
        .write(async move |conn| clients::create(conn, &actor, new, &client_id, &secret_hash).await)
        .await?;
    let location = format!("/api/v1/clients/{}", client.id);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CreatedClient {
            client: client.into(),
            client_secret: secret,
        }))
}

/// Read a machine client.
///
/// Admins only. The secret is never shown.
#[utoipa::path(
    get, path = "/{id}", operation_id = "getClient", tag = "clients",
    params(("id" = i64, Path, description = "Client id (the number, not client_id)", minimum = 1)),
    responses(
        (status = 200, description = "The client", body = ClientView, headers(("ETag" = String, description = "The version, quoted"))),
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/{id}")]
pub async fn get_client(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let id = id.into_inner();
    let actor = caller.actor();
    let client = db
        .read(async move |conn| clients::find(conn, &actor, id).await)
        .await?;
    Ok(client_response(HttpResponse::Ok(), client))
}

/// Update a machine client.
///
/// Admins only; a JSON Merge Patch of name, role, organization or disabled. A disabled client
/// gets no new token; tokens already issued run out within their lifetime.
#[utoipa::path(
    patch, path = "/{id}", operation_id = "updateClient", tag = "clients",
    params(
        ("id" = i64, Path, description = "Client id", minimum = 1),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag the change is based on (one ETag, or *); 412 when stale", pattern = r#"^(\*|(W/)?"[\x21\x23-\x2B\x2D-\x7E]*")$"#),
    ),
    request_body(content = ClientPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated client", body = ClientView),
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names a stale version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/{id}")]
pub async fn update_client(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    if_match: IfMatch,
    patch: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let id = id.into_inner();
    let patch = patch.into_inner();
    let actor = caller.actor();
    let client = db
        .write(async move |conn| {
            {
                clients::patch(conn, &actor, id, if_match.0, |current| {
                    let input: ClientInput = body::merge_patch(&ClientInput::from(current), patch)?;
                    Ok::<_, ApiError>(NewClient::try_from(input)?)
                })
            }
            .await
        })
        .await?;
    Ok(client_response(HttpResponse::Ok(), client))
}

/// Delete a machine client.
///
/// Admins only. Tokens already issued run out within their lifetime.
#[utoipa::path(
    delete, path = "/{id}", operation_id = "deleteClient", tag = "clients",
    params(
        ("id" = i64, Path, description = "Client id", minimum = 1),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag the deletion is based on (one ETag, or *); 412 when stale", pattern = r#"^(\*|(W/)?"[\x21\x23-\x2B\x2D-\x7E]*")$"#),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names a stale version", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/{id}")]
pub async fn delete_client(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let id = id.into_inner();
    let actor = caller.actor();
    db.write(async move |conn| clients::delete(conn, &actor, id, if_match.0).await)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the endpoints, in their own scope (see `resource_endpoints!`).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(
        utoipa_actix_web::scope("/clients")
            .service(list_clients)
            .service(create_client)
            .service(get_client)
            .service(update_client)
            .service(delete_client),
    );
}
