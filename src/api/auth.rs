//! `/api/v1/auth/token` (OAuth2-shaped: password, client credentials, refresh token),
//! `/api/v1/auth/revoke` (RFC 7009) and `/api/v1/me`.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use validator::Validate;

use crate::api::body::{field_errors, no_nul};
use crate::api::error::{ApiError, OAuthError, OAuthErrorBody, Problem};
use crate::api::peer::client_address;
use crate::auth::password::Hasher;
use crate::auth::secrets::{random_token, token_hash};
use crate::auth::{Caller, Role, Subject, TokenService};
use crate::db::Db;
use crate::models::login_failures::Attempt;
use crate::models::{clients, refresh_tokens, users};

/// A token request (RFC 6749 §4.3, §4.4, §6), as JSON or form fields. Longer fields than
/// documented are refused (400 `invalid_request` naming them), as is U+0000.
#[derive(Debug, Default, Deserialize, ToSchema, Validate)]
pub struct TokenRequest {
    /// `password`, `client_credentials` or `refresh_token`.
    #[schema(example = "password", max_length = 50)]
    #[validate(
        length(max = 50, message = "must be at most 50 characters"),
        custom(function = "no_nul")
    )]
    pub grant_type: Option<String>,
    /// For `password`.
    #[schema(max_length = 100)]
    #[validate(
        length(max = 100, message = "must be at most 100 characters"),
        custom(function = "no_nul")
    )]
    pub username: Option<String>,
    /// For `password`.
    #[schema(format = Password, max_length = 1024)]
    #[validate(
        length(max = 1024, message = "must be at most 1024 characters"),
        custom(function = "no_nul")
    )]
    pub password: Option<String>,
    /// For `client_credentials` (or HTTP Basic authentication).
    #[schema(max_length = 100)]
    #[validate(
        length(max = 100, message = "must be at most 100 characters"),
        custom(function = "no_nul")
    )]
    pub client_id: Option<String>,
    /// For `client_credentials` (or HTTP Basic authentication).
    #[schema(format = Password, max_length = 200)]
    #[validate(
        length(max = 200, message = "must be at most 200 characters"),
        custom(function = "no_nul")
    )]
    pub client_secret: Option<String>,
    /// For `refresh_token`.
    #[schema(max_length = 200)]
    #[validate(
        length(max = 200, message = "must be at most 200 characters"),
        custom(function = "no_nul")
    )]
    pub refresh_token: Option<String>,
    /// Accepted and ignored: a token carries its subject's role.
    #[schema(max_length = 1000)]
    #[validate(
        length(max = 1000, message = "must be at most 1000 characters"),
        custom(function = "no_nul")
    )]
    pub scope: Option<String>,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT to send as `Authorization: Bearer <token>`.
    #[schema(max_length = 4096)]
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer", max_length = 6)]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: u64,
    /// For people only: use once with `grant_type=refresh_token` for a new pair.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub refresh_token: Option<String>,
}

/// A revocation request (RFC 7009), held to its documented lengths like `TokenRequest`.
#[derive(Debug, Default, Deserialize, ToSchema, Validate)]
pub struct RevokeRequest {
    /// The refresh token to revoke (with every token of its sign-in).
    #[schema(max_length = 200)]
    #[validate(
        length(max = 200, message = "must be at most 200 characters"),
        custom(function = "no_nul")
    )]
    pub token: Option<String>,
    /// Accepted and ignored.
    #[schema(max_length = 50)]
    #[validate(
        length(max = 50, message = "must be at most 50 characters"),
        custom(function = "no_nul")
    )]
    pub token_type_hint: Option<String>,
}

fn oauth(error: OAuthError, description: &str) -> ApiError {
    ApiError::OAuth(error, description.to_owned())
}

/// Reads a JSON or form body (anything else is answered 415) and holds it to its rules.
fn parse_form<T: serde::de::DeserializeOwned + Default + Validate>(
    req: &HttpRequest,
    body: &[u8],
) -> Result<T, ApiError> {
    let form: T = read_form(req, body)?;
    form.validate().map_err(|errors| {
        let described: Vec<String> = field_errors(&errors)
            .into_iter()
            .map(|e| e.message)
            .collect();
        oauth(OAuthError::InvalidRequest, &described.join("; "))
    })?;
    Ok(form)
}

fn read_form<T: serde::de::DeserializeOwned + Default>(
    req: &HttpRequest,
    body: &[u8],
) -> Result<T, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match content_type.as_str() {
        "application/x-www-form-urlencoded" => serde_urlencoded::from_bytes(body)
            .map_err(|e| oauth(OAuthError::InvalidRequest, &format!("malformed form: {e}"))),
        "application/json" => serde_json::from_slice(body)
            .map_err(|e| oauth(OAuthError::InvalidRequest, &format!("malformed JSON: {e}"))),
        "" if body.is_empty() => Ok(T::default()),
        _ => Err(ApiError::UnsupportedMediaType(
            "send application/x-www-form-urlencoded or application/json".into(),
        )),
    }
}

/// Client credentials from `Authorization: Basic` (RFC 6749 §2.3.1), if sent.
fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let (id, secret) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    let unescape = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    let (id, secret) = (unescape(id)?, unescape(secret)?);
    // U+0000 is in no stored client id or secret (see `body::nul_error`): not credentials.
    (!id.contains('\0') && !secret.contains('\0')).then_some((id, secret))
}

/// Get an access token.
///
/// `password` for people (answers a refresh token too), `client_credentials` for machine
/// clients of partner organizations (credentials in the body or HTTP Basic), `refresh_token`
/// to trade a refresh token for a new pair (each works once; reuse ends the sign-in).
#[utoipa::path(
    post, path = "/auth/token", operation_id = "createToken", tag = "auth",
    request_body(content(
        (TokenRequest = "application/x-www-form-urlencoded"),
        (TokenRequest = "application/json"),
    )),
    responses(
        (status = 200, description = "Tokens", body = TokenResponse),
        (status = 400, description = "invalid_request, invalid_grant or unsupported_grant_type", body = OAuthErrorBody),
        (status = 401, description = "invalid_client", body = OAuthErrorBody),
        (status = 415, description = "Neither JSON nor a form", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
#[post("/auth/token")]
pub async fn create_token(
    req: HttpRequest,
    body: web::Bytes,
    db: web::Data<Db>,
    tokens: web::Data<TokenService>,
    hasher: web::Data<Hasher>,
) -> Result<HttpResponse, ApiError> {
    let form: TokenRequest = parse_form(&req, &body)?;
    let response = match form.grant_type.as_deref() {
        Some("password") => password_grant(&req, form, &db, &tokens, &hasher).await?,
        Some("client_credentials") => client_grant(&req, form, &db, &tokens).await?,
        Some("refresh_token") => refresh_grant(form, &db, &tokens).await?,
        Some(_) => {
            return Err(oauth(
                OAuthError::UnsupportedGrantType,
                "use password, client_credentials or refresh_token",
            ));
        }
        None => return Err(oauth(OAuthError::InvalidRequest, "grant_type is required")),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(response))
}

async fn password_grant(
    req: &HttpRequest,
    form: TokenRequest,
    db: &Db,
    tokens: &TokenService,
    hasher: &Hasher,
) -> Result<TokenResponse, ApiError> {
    let (Some(username), Some(password)) = (form.username, form.password) else {
        return Err(oauth(
            OAuthError::InvalidRequest,
            "username and password are required",
        ));
    };
    let attempt = Arc::new(Attempt::new("user", &username, &client_address(req)));
    let (user, locked) = {
        let attempt = Arc::clone(&attempt);
        db.run(async move |conn| -> Result<_, ApiError> {
            Ok((
                users::find_by_username(conn, &username).await?,
                attempt.locked(conn).await?,
            ))
        })
        .await?
    };
    if let Some(seconds) = locked {
        return Err(ApiError::TooManyRequests(seconds));
    }
    // An unknown user is verified against a dummy hash: the same answer in the same time.
    let matches = hasher
        .verify(password, user.as_ref().map(|u| u.password_hash.clone()))
        .await?;
    let user = match user {
        Some(user) if matches && !user.disabled => user,
        _ => {
            db.write(async move |conn| attempt.failed(conn).await.map_err(ApiError::from))
                .await?;
            return Err(oauth(
                OAuthError::InvalidGrant,
                "wrong username or password, or the account is disabled",
            ));
        }
    };
    let role = user.role;
    let refresh = random_token(32)?;
    let family = uuid::Uuid::new_v4().to_string();
    let refresh_ttl =
        chrono::Duration::from_std(tokens.refresh_ttl()).unwrap_or(chrono::Duration::days(30));
    {
        let hash = token_hash(&refresh);
        let (user_id, role) = (user.id, user.role);
        db.write(async move |conn| -> Result<(), ApiError> {
            attempt.succeeded(conn).await?;
            refresh_tokens::insert(conn, &hash, &family, user_id, role, refresh_ttl).await?;
            Ok(())
        })
        .await?;
    }
    let (access_token, expires_in) = tokens
        .issue(&Subject::User(user.id), role, user.organization_id)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token: Some(refresh),
    })
}

async fn client_grant(
    req: &HttpRequest,
    form: TokenRequest,
    db: &Db,
    tokens: &TokenService,
) -> Result<TokenResponse, ApiError> {
    let (client_id, secret) = match (basic_credentials(req), form.client_id, form.client_secret) {
        (Some(pair), _, _) => pair,
        (None, Some(id), Some(secret)) => (id, secret),
        _ => {
            return Err(oauth(
                OAuthError::InvalidClient,
                "client_id and client_secret are required",
            ));
        }
    };
    let attempt = Arc::new(Attempt::new("client", &client_id, &client_address(req)));
    let (client, locked) = {
        let attempt = Arc::clone(&attempt);
        db.run(async move |conn| -> Result<_, ApiError> {
            Ok((
                clients::find_by_client_id(conn, &client_id).await?,
                attempt.locked(conn).await?,
            ))
        })
        .await?
    };
    if let Some(seconds) = locked {
        return Err(ApiError::TooManyRequests(seconds));
    }
    // Client secrets are 256-bit random values: a SHA-256 comparison is as safe as argon2
    // here and keeps machine sign-ins cheap.
    let presented = token_hash(&secret);
    let client = match client {
        Some(c) if c.secret_hash == presented && !c.disabled => c,
        _ => {
            db.write(async move |conn| attempt.failed(conn).await.map_err(ApiError::from))
                .await?;
            return Err(oauth(
                OAuthError::InvalidClient,
                "unknown client, wrong secret, or the client is disabled",
            ));
        }
    };
    db.write(async move |conn| attempt.succeeded(conn).await.map_err(ApiError::from))
        .await?;
    let role = client.role;
    let (access_token, expires_in) = tokens
        .issue(
            &Subject::Client(client.client_id.clone()),
            role,
            client.organization_id,
        )
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token: None,
    })
}

async fn refresh_grant(
    form: TokenRequest,
    db: &Db,
    tokens: &TokenService,
) -> Result<TokenResponse, ApiError> {
    let Some(presented) = form.refresh_token else {
        return Err(oauth(
            OAuthError::InvalidRequest,
            "refresh_token is required",
        ));
    };
    let invalid = || {
        oauth(
            OAuthError::InvalidGrant,
            "the refresh token is invalid, used, revoked or expired",
        )
    };
    let hash = token_hash(&presented);
    let next = random_token(32)?;
    let next_hash = token_hash(&next);
    let refresh_ttl =
        chrono::Duration::from_std(tokens.refresh_ttl()).unwrap_or(chrono::Duration::days(30));
    let user = db
        .write(async move |conn| -> Result<Option<users::User>, ApiError> {
            let Some(token) = refresh_tokens::find_by_hash(conn, &hash).await? else {
                return Ok(None);
            };
            if token.used_at.is_some() || token.revoked_at.is_some() {
                // A used token presented again: someone holds a copy. End the whole sign-in.
                refresh_tokens::revoke_family(conn, &token.family).await?;
                return Ok(None);
            }
            if token.expires_at < crate::domain::now() {
                return Ok(None);
            }
            let user = users::find(conn, token.user_id).await?;
            let Some(user) = user.filter(|u| !u.disabled && u.role == token.role) else {
                refresh_tokens::revoke_family(conn, &token.family).await?;
                return Ok(None);
            };
            if !refresh_tokens::use_once(conn, token.id).await? {
                refresh_tokens::revoke_family(conn, &token.family).await?;
                return Ok(None);
            }
            refresh_tokens::insert(
                conn,
                &next_hash,
                &token.family,
                user.id,
                user.role,
                refresh_ttl,
            )
            .await?;
            Ok(Some(user))
        })
        .await?
        .ok_or_else(invalid)?;
    let role = user.role;
    let (access_token, expires_in) = tokens
        .issue(&Subject::User(user.id), role, user.organization_id)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token: Some(next),
    })
}

/// Revoke a refresh token (RFC 7009).
///
/// Ends the sign-in the token belongs to. Answers 200 also for unknown tokens, so the answer
/// tells nothing about which tokens exist.
#[utoipa::path(
    post, path = "/auth/revoke", operation_id = "revokeToken", tag = "auth",
    request_body(content(
        (RevokeRequest = "application/x-www-form-urlencoded"),
        (RevokeRequest = "application/json"),
    )),
    responses(
        (status = 200, description = "Revoked, or unknown"),
        (status = 400, description = "No token given", body = OAuthErrorBody),
        (status = 415, description = "Neither JSON nor a form", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/revoke")]
pub async fn revoke_token(
    req: HttpRequest,
    body: web::Bytes,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let form: RevokeRequest = parse_form(&req, &body)?;
    let Some(token) = form.token else {
        return Err(oauth(OAuthError::InvalidRequest, "token is required"));
    };
    let hash = token_hash(&token);
    db.write(async move |conn| -> Result<(), ApiError> {
        if let Some(found) = refresh_tokens::find_by_hash(conn, &hash).await? {
            refresh_tokens::revoke_family(conn, &found.family).await?;
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// Who the access token belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// `user` or `client`.
    #[schema(example = "user", max_length = 6)]
    pub kind: &'static str,
    /// The token's subject: `user:<id>` or `client:<client_id>`.
    #[schema(example = "user:1", max_length = 200)]
    pub subject: String,
    /// The username (people) or the client's name (machine clients).
    #[schema(max_length = 200)]
    pub name: String,
    #[schema(max_length = 200)]
    pub display_name: Option<String>,
    pub role: Role,
    pub organization_id: Option<i64>,
    /// When the access token expires.
    pub token_expires_at: chrono::DateTime<chrono::Utc>,
}

/// The caller.
///
/// Who the access token belongs to (a user or a machine client), its role and organization,
/// and when the token expires.
#[utoipa::path(
    get, path = "/me", operation_id = "getMe", tag = "auth",
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me")]
pub async fn get_me(caller: Caller, db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let subject = caller.subject.clone();
    let (name, display_name) = db
        .read(async move |conn| -> Result<_, ApiError> {
            Ok(match &subject {
                Subject::User(id) => users::find(conn, *id)
                    .await?
                    .map(|u| (u.username, u.display_name)),
                Subject::Client(id) => clients::find_by_client_id(conn, id)
                    .await?
                    .map(|c| (c.name, None)),
            })
        })
        .await?
        .ok_or_else(|| {
            ApiError::Unauthorized(Some("the token's subject no longer exists".into()))
        })?;
    Ok(HttpResponse::Ok().json(Me {
        kind: match caller.subject {
            Subject::User(_) => "user",
            Subject::Client(_) => "client",
        },
        subject: caller.subject.to_claim(),
        name,
        display_name,
        role: caller.role,
        organization_id: caller.org,
        token_expires_at: chrono::DateTime::from_timestamp(caller.expires_at, 0)
            .unwrap_or_default(),
    }))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_token)
        .service(revoke_token)
        .service(get_me);
}
