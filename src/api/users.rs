//! `/api/v1/users`: people who sign in with a password (admins only).
//!
//! There is no `PUT`: a full replacement is ill-defined for a record with a write-only
//! password, so users change with `PATCH` (JSON Merge Patch) only.

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::api::body::{self, not_blank, required};
use crate::api::conditional::{IfMatch, etag};
use crate::api::error::{ApiError, Problem};
use crate::api::idempotency::{Answer, IdempotencyKey, IdempotencyKeyParam};
use crate::api::paging::{ListParams, ListQuery, SortField, filter_id, list_response};
use crate::auth::password::{Hasher, check_password};
use crate::auth::{Caller, Role};
use crate::db::Db;
use crate::domain::users::{self, NewUser};
use crate::domain::{DomainError, OrganizationId};
use crate::models::WriteError;
use crate::models::users::{User, UserFilter, UserSort};

/// A person who signs in with a password. The password is never shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    #[schema(read_only)]
    pub id: i64,
    /// Unique, case-insensitively.
    pub username: String,
    pub role: Role,
    /// The partner organization the user acts for (required for `partner`).
    pub organization_id: Option<i64>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    /// A disabled user can't sign in or refresh.
    pub disabled: bool,
    #[schema(read_only)]
    pub created_at: DateTime<Utc>,
    #[schema(read_only)]
    pub updated_at: DateTime<Utc>,
    #[schema(read_only, minimum = 1)]
    pub version: i64,
}

/// The writable fields of a user: the body of POST, and (as a merge patch, any subset) of PATCH.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
pub struct UserInput {
    #[validate(
        required(message = "is required"),
        length(min = 1, max = 100, message = "must be 1 to 100 characters"),
        custom(function = "not_blank")
    )]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 100)]
    pub username: Option<String>,
    /// Write-only; at least 12 characters. Required on create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(write_only, format = Password, min_length = 12, max_length = 1024, nullable = false)]
    pub password: Option<String>,
    #[validate(required(message = "is required"))]
    #[schema(required = true, value_type = Role)]
    pub role: Option<Role>,
    /// Required for the `partner` role.
    pub organization_id: Option<i64>,
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    #[schema(max_length = 200)]
    pub display_name: Option<String>,
    #[validate(
        email(message = "must be an e-mail address"),
        length(max = 254, message = "must be at most 254 characters")
    )]
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    /// Default (and `null`): `false`.
    pub disabled: Option<bool>,
}

/// A JSON Merge Patch of a user: any subset of the writable fields.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the PATCH body; the patch is applied as JSON
pub struct UserPatch {
    #[schema(nullable = false, min_length = 1, max_length = 100)]
    username: Option<String>,
    /// A new password (at least 12 characters); ends the user's sign-ins.
    #[schema(write_only, format = Password, min_length = 12, max_length = 1024, nullable = false)]
    password: Option<String>,
    #[schema(nullable = false)]
    role: Option<Role>,
    organization_id: Option<i64>,
    #[schema(max_length = 200)]
    display_name: Option<String>,
    #[schema(format = Email, max_length = 254)]
    email: Option<String>,
    /// `null` resets it to `false`.
    disabled: Option<bool>,
}

impl From<&User> for UserInput {
    fn from(u: &User) -> Self {
        Self {
            username: Some(u.username.clone()),
            password: None,
            role: Some(u.role),
            organization_id: u.organization_id,
            display_name: u.display_name.clone(),
            email: u.email.clone(),
            disabled: Some(u.disabled),
        }
    }
}

impl TryFrom<UserInput> for NewUser {
    type Error = DomainError;

    fn try_from(input: UserInput) -> Result<Self, DomainError> {
        Ok(Self {
            username: required(input.username, "username")?,
            role: required(input.role, "role")?,
            organization_id: input.organization_id.map(OrganizationId),
            display_name: input.display_name,
            email: input.email,
            disabled: input.disabled.unwrap_or(false),
        })
    }
}

/// Checks a new password's length, as a field error.
fn checked_password(password: &str) -> Result<(), ApiError> {
    check_password(password)
        .map_err(|m| ApiError::invalid("password", "length", format!("password {m}")))
}

fn user_response(
    mut response: actix_web::HttpResponseBuilder,
    user: User,
) -> Result<HttpResponse, ApiError> {
    Ok(response
        .insert_header(header::ETag(etag(user.version)))
        .json(UserView::from(user)))
}

/// Filters of the user list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Case-insensitive substring of the username.
    pub q: Option<String>,
    pub role: Option<Role>,
    #[param(minimum = 0)]
    pub organization_id: Option<i64>,
}

impl SortField for UserSort {
    const FIELDS: &'static [(&'static str, Self)] = &[
        ("created_at", Self::CreatedAt),
        ("username", Self::Username),
        ("updated_at", Self::UpdatedAt),
    ];
}

list_response!(
    /// One page of users.
    UserList,
    UserView
);

impl From<User> for UserView {
    fn from(u: User) -> Self {
        // Roles in the database are constrained by a CHECK to the four known ones.
        let role = u.role;
        Self {
            role,
            id: u.id,
            username: u.username,
            organization_id: u.organization_id,
            display_name: u.display_name,
            email: u.email,
            disabled: u.disabled,
            created_at: u.created_at.and_utc(),
            updated_at: u.updated_at.and_utc(),
            version: u.version,
        }
    }
}

/// List users.
///
/// Admins only. Filters by username, role and organization; passwords are never shown.
#[utoipa::path(
    get, path = "", operation_id = "listUsers", tag = "users",
    params(ListParams, UserQuery),
    responses(
        (status = 200, description = "One page of users", body = UserList),
        (status = 400, description = "Bad paging, sort or filter parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("")]
pub async fn list_users(
    caller: Caller,
    db: web::Data<Db>,
    query: ListQuery<UserQuery, UserSort>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    query.refuse_export("users")?;
    let ListQuery {
        page,
        filter,
        updated_since,
        ..
    } = query;
    let filter = UserFilter {
        q: filter.q,
        role: filter.role,
        organization_id: filter_id("organization_id", filter.organization_id)?,
        updated_since,
    };
    let sort = page.sort;
    let actor = caller.actor();
    let found = db
        .run(async move |conn| users::list(conn, &actor, &filter, &page).await)
        .await?;
    Ok(HttpResponse::Ok().json(UserList::from_page(found, sort)))
}

/// Create a user.
///
/// Admins only. The password (at least 12 characters) is stored as an argon2id hash and never
/// shown; a `partner` needs an `organization_id`.
#[utoipa::path(
    post, path = "", operation_id = "createUser", tag = "users",
    params(IdempotencyKeyParam),
    request_body = UserInput,
    responses(
        (status = 201, description = "Created (or, with Idempotent-Replayed, the first answer to this key)", body = UserView, headers(
            ("Location" = String, description = "URL of the new user"),
            ("ETag" = String, description = "The version, quoted"),
            ("Idempotent-Replayed" = String, description = "`true` when this is the stored answer to an earlier request with the same Idempotency-Key"),
        )),
        (status = 400, description = "A malformed Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The username is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or an Idempotency-Key used for another request", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("")]
pub async fn create_user(
    caller: Caller,
    db: web::Data<Db>,
    hasher: web::Data<Hasher>,
    key: IdempotencyKey,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let mut body = body.into_inner();
    // The password is no part of the request's fingerprint: a fast hash of it must not be
    // stored for the idempotency key's lifetime.
    let password = body.as_object_mut().and_then(|b| b.remove("password"));
    let once = key.of(&caller, &body);
    if let (Some(password), Some(fields)) = (password, body.as_object_mut()) {
        fields.insert("password".into(), password);
    }
    let mut input = body::parse::<UserInput>(body)?;
    let Some(password) = input.password.take() else {
        return Err(ApiError::invalid(
            "password",
            "required",
            "password is required",
        ));
    };
    checked_password(&password)?;
    let new = NewUser::try_from(input)?;
    {
        // Judged before the hash is spent on a request that can't succeed.
        let (role, organization_id) = (new.role, new.organization_id);
        db.read(async move |conn| users::check_organization(conn, role, organization_id).await)
            .await?;
    }
    let hash = hasher.hash(password).await?;
    let actor = caller.actor();
    let answer = db
        .write(async move |conn| {
            {
                once.run(conn, async |conn| {
                    let user = users::create(conn, &actor, new, &hash).await?;
                    let location = format!("/api/v1/users/{}", user.id);
                    let version = etag(user.version).to_string();
                    let body = serde_json::to_string(&UserView::from(user))
                        .map_err(|e| ApiError::Internal(e.to_string()))?;
                    Ok(Answer::created(location, version, body))
                })
            }
            .await
        })
        .await?;
    Ok(answer.into_response())
}

/// Read a user.
///
/// Admins only. The password is never shown.
#[utoipa::path(
    get, path = "/{id}", operation_id = "getUser", tag = "users",
    params(("id" = i64, Path, description = "User id", minimum = 1)),
    responses(
        (status = 200, description = "The user", body = UserView, headers(("ETag" = String, description = "The version, quoted"))),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/{id}")]
pub async fn get_user(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let id = id.into_inner();
    let actor = caller.actor();
    let user = db
        .read(async move |conn| users::find(conn, &actor, id).await)
        .await?;
    user_response(HttpResponse::Ok(), user)
}

/// Update a user with a JSON Merge Patch.
///
/// Changing the password, the role, or disabling the user ends all of the user's sign-ins
/// (refresh tokens); access tokens already issued expire within their lifetime.
#[utoipa::path(
    patch, path = "/{id}", operation_id = "updateUser", tag = "users",
    params(
        ("id" = i64, Path, description = "User id", minimum = 1),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag the change is based on (one ETag, or *); 412 when stale", pattern = r#"^(\*|(W/)?"[\x21\x23-\x2B\x2D-\x7E]*")$"#),
    ),
    request_body(content = UserPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated user", body = UserView),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The username is taken, or an admin would lock themselves out", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names a stale version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/{id}")]
pub async fn update_user(
    caller: Caller,
    db: web::Data<Db>,
    hasher: web::Data<Hasher>,
    id: web::Path<i64>,
    if_match: IfMatch,
    patch: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let id = id.into_inner();
    let actor = caller.actor();
    let current = {
        let actor = actor.clone();
        db.read(async move |conn| users::find(conn, &actor, id).await)
            .await?
    };
    let mut input: UserInput = body::merge_patch(&UserInput::from(&current), patch.into_inner())?;
    // The whole patch is judged before the precondition: an invalid patch is 422 at any version.
    let password = input.password.take();
    if let Some(password) = &password {
        checked_password(password)?;
    }
    let new = NewUser::try_from(input)?;
    if if_match.0.is_some_and(|v| v != current.version) {
        return Err(DomainError::from_write(WriteError::VersionMismatch, "user", id).into());
    }
    let new_hash = match password {
        Some(password) => Some(hasher.hash(password).await?),
        None => None,
    };
    let user = db
        .write(async move |conn| {
            users::update(conn, &actor, id, &current, new, new_hash.as_deref()).await
        })
        .await?;
    user_response(HttpResponse::Ok(), user)
}

/// Delete a user.
///
/// Admins only; ends all of the user's sign-ins. Admins can't delete themselves.
#[utoipa::path(
    delete, path = "/{id}", operation_id = "deleteUser", tag = "users",
    params(
        ("id" = i64, Path, description = "User id", minimum = 1),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The ETag the deletion is based on (one ETag, or *); 412 when stale", pattern = r#"^(\*|(W/)?"[\x21\x23-\x2B\x2D-\x7E]*")$"#),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An admin can't delete themselves", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names a stale version", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/{id}")]
pub async fn delete_user(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let id = id.into_inner();
    let actor = caller.actor();
    db.write(async move |conn| users::delete(conn, &actor, id, if_match.0).await)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the endpoints, in their own scope (see `resource_endpoints!`).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(
        utoipa_actix_web::scope("/users")
            .service(list_users)
            .service(create_user)
            .service(get_user)
            .service(update_user)
            .service(delete_user),
    );
}
