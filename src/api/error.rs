//! The one error type at the HTTP edge. Every answer that is not a success is an `ApiError`
//! rendered as `application/problem+json` (RFC 9457); the request-context middleware adds the
//! request id and `instance`, and turns actix's own error responses into the same shape.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbError;
use crate::domain::DomainError;
pub use crate::domain::FieldError;
use crate::domain::error::truncate;
use crate::models::ListError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// `Retry-After` of every 503, in seconds.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 2;

/// Everything the service can answer with instead of a success.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed syntax, a bad path or query parameter.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no credentials (`None`) or bad ones (why); answered with `WWW-Authenticate`.
    #[error("{}", .0.as_deref().unwrap_or("this endpoint needs a bearer token"))]
    Unauthorized(Option<String>),
    /// 403: authenticated, but the role or organization may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such route, or no such record.
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists, the method does not (`Allow` lists the ones that do).
    #[error("method not allowed")]
    MethodNotAllowed(Vec<actix_web::http::Method>),
    /// 406: `Accept` admits no media type the endpoint answers in.
    #[error("{0}")]
    NotAcceptable(String),
    /// 409: the change conflicts with the stored state (a duplicate, a reference).
    #[error("{0}")]
    Conflict(String),
    /// 412: `If-Match` names a version that is no longer current.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 410: a change-feed position older than the kept history (start over from the lists).
    #[error("{0}")]
    Gone(String),
    /// 413: the body exceeds the configured limit.
    #[error("the request body exceeds the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// 431: the request's header section is over the limit, in bytes.
    #[error("the request's headers exceed the limit of {0} bytes")]
    HeadersTooLarge(usize),
    /// 415: a body in a media type this endpoint does not read.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: an `Idempotency-Key` the caller used for another request.
    #[error("{0}")]
    IdempotencyKeyReused(String),
    /// 422: an import with bad rows; nothing was written. The report says what and where.
    #[error("{}", .0.summary())]
    ImportRejected(Box<crate::api::import::ImportReport>),
    /// 422: the body is well-formed but its content is invalid; one entry per field.
    #[error("the request body is invalid")]
    Validation(Vec<FieldError>),
    /// 429: too many failed sign-ins; retry after this many seconds.
    #[error("too many failed attempts; try again in {0} seconds")]
    TooManyRequests(u64),
    /// An error of the token endpoint, in RFC 6749's own shape (not a problem document).
    #[error("{0}: {1}")]
    OAuth(OAuthError, String),
    /// 504: the database did not finish the request's work in time.
    #[error("the database did not answer in time")]
    Timeout(String),
    /// 503: the process is shutting down (readiness only; requests are still answered).
    #[error("the service is shutting down; other replicas answer")]
    ShuttingDown,
    /// 503: the database can't be reached in time.
    #[error("the database is unavailable")]
    Unavailable(String),
    /// 500: a bug or an unexpected failure; the cause goes to the log, never to the client.
    #[error("internal error")]
    Internal(String),
    /// Any other status actix produced by itself (kept so its body becomes a problem too).
    #[error("{}", .0.canonical_reason().unwrap_or("error"))]
    Status(StatusCode),
}

/// The error codes of RFC 6749 §5.2 (and RFC 7009) that the token endpoint answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OAuthError {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
}

impl OAuthError {
    fn status(self) -> StatusCode {
        match self {
            Self::InvalidClient => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = serde_json::to_value(self).ok();
        f.write_str(
            code.as_ref()
                .and_then(|v| v.as_str())
                .unwrap_or("invalid_request"),
        )
    }
}

/// The body of a token endpoint error (RFC 6749 §5.2).
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthErrorBody {
    pub error: OAuthError,
    #[schema(max_length = 500)]
    pub error_description: String,
    /// The request id, as in the `X-Request-Id` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 128)]
    pub request_id: Option<String>,
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[schema(
        example = "urn:betriebsnachbarschaften:problem:not-found",
        max_length = 100
    )]
    pub r#type: String,
    /// The status's short, stable summary.
    #[schema(example = "Not Found", max_length = 100)]
    pub title: String,
    /// The HTTP status code.
    #[schema(example = 404)]
    pub status: u16,
    /// What went wrong with this request.
    #[schema(example = "region 42 does not exist", max_length = 2000)]
    pub detail: String,
    /// The path of the request.
    #[schema(example = "/api/v1/regions/42", max_length = 2048)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The request id, as in the `X-Request-Id` header and the logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 128)]
    pub request_id: Option<String>,
    /// For 422: each invalid field.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 100)]
    pub errors: Option<Vec<FieldError>>,
    /// For a rejected import (422): what each row would have done, and each bad row's errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Box<crate::api::import::ImportReport>>,
}

impl ApiError {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest(detail.into())
    }

    pub fn not_found(resource: &str, id: impl std::fmt::Display) -> Self {
        Self::NotFound(format!("{resource} {id} does not exist"))
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::Conflict(detail.into())
    }

    pub fn invalid(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, code, message)])
    }

    /// The problem document for this error (without request context).
    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let slug = match self {
            Self::Validation(_) => "validation-failed",
            Self::PreconditionFailed(_) => "version-mismatch",
            Self::Unavailable(_) => "database-unavailable",
            Self::ShuttingDown => "shutting-down",
            Self::Timeout(_) => "database-timeout",
            Self::Unauthorized(Some(_)) => "invalid-token",
            Self::Gone(_) => "feed-position-gone",
            Self::IdempotencyKeyReused(_) => "idempotency-key-reused",
            Self::ImportRejected(_) => "import-rejected",
            _ => status_slug(status),
        };
        let detail = match self {
            Self::Internal(_) => {
                "the server failed to answer; the request id identifies it in the logs".to_owned()
            }
            Self::Unavailable(_) => "the database is unavailable; try again shortly".to_owned(),
            Self::Timeout(_) => {
                "the database did not answer in time; the request may or may not have taken \
                 effect, so read before retrying a write without an Idempotency-Key"
                    .to_owned()
            }
            Self::Validation(errors) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                format!("invalid fields: {}", fields.join(", "))
            }
            Self::MethodNotAllowed(allow) => {
                let allow: Vec<&str> = allow.iter().map(|m| m.as_str()).collect();
                format!("this resource allows {}", allow.join(", "))
            }
            other => other.to_string(),
        };
        Problem {
            r#type: format!("urn:betriebsnachbarschaften:problem:{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: truncate(detail, 2000),
            instance: None,
            request_id: None,
            // At most 100 entries (the documented maxItems); the detail names every field.
            errors: match self {
                Self::Validation(errors) => Some(errors.iter().take(100).cloned().collect()),
                _ => None,
            },
            report: match self {
                Self::ImportRejected(report) => Some(report.clone()),
                _ => None,
            },
        }
    }

    /// The problem as a complete response: status, headers that belong to it, JSON body.
    /// A 503 always carries `Retry-After`.
    pub fn to_response(&self, instance: Option<&str>, request_id: Option<&str>) -> HttpResponse {
        if let Self::OAuth(error, description) = self {
            return HttpResponse::build(error.status())
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(OAuthErrorBody {
                    error: *error,
                    error_description: description.clone(),
                    request_id: request_id.map(str::to_owned),
                });
        }
        let mut problem = self.problem();
        problem.instance = instance.map(|path| truncate(path.to_owned(), 2048));
        problem.request_id = request_id.map(str::to_owned);
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        match self {
            Self::MethodNotAllowed(allow) => {
                response.insert_header(header::Allow(allow.clone()));
            }
            Self::Unauthorized(None) => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    r#"Bearer realm="betriebsnachbarschaften""#,
                ));
            }
            Self::Unauthorized(Some(why)) => {
                let why = why.replace(['"', '\\'], "'");
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!(r#"Bearer realm="betriebsnachbarschaften", error="invalid_token", error_description="{why}""#),
                ));
            }
            Self::TooManyRequests(seconds) => {
                response.insert_header((header::RETRY_AFTER, seconds.to_string()));
            }
            // Every 503 says when to try again (the contract): the database is down or busy,
            // which usually passes within seconds.
            _ if self.status_code() == StatusCode::SERVICE_UNAVAILABLE => {
                response.insert_header((header::RETRY_AFTER, UNAVAILABLE_RETRY_AFTER_SECS));
            }
            _ => {}
        }
        match serde_json::to_vec(&problem) {
            Ok(body) => response.body(body),
            Err(_) => response.finish(),
        }
    }
}

fn status_slug(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad-request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not-found",
        405 => "method-not-allowed",
        406 => "not-acceptable",
        409 => "conflict",
        410 => "gone",
        412 => "precondition-failed",
        413 => "payload-too-large",
        415 => "unsupported-media-type",
        422 => "validation-failed",
        429 => "too-many-requests",
        431 => "request-headers-too-large",
        503 => "service-unavailable",
        s if s >= 500 => "internal-error",
        _ => "client-error",
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::OAuth(error, _) => error.status(),
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::Gone(_) => StatusCode::GONE,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) | Self::IdempotencyKeyReused(_) | Self::ImportRejected(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::Unavailable(_) | Self::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Self::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Status(status) => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.to_response(None, None)
    }
}

/// The one place where the domain's answers become HTTP answers.
impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound { .. } => Self::NotFound(e.to_string()),
            DomainError::Stale { what, id } => Self::PreconditionFailed(format!(
                "{what} {id} has changed since the version named in If-Match; read it again"
            )),
            DomainError::Conflict(detail) => Self::Conflict(detail),
            DomainError::Invalid(errors) => Self::Validation(errors),
            DomainError::Forbidden(detail) => Self::Forbidden(detail),
            DomainError::Gone(detail) => Self::Gone(detail),
            DomainError::BadCursor(e) => Self::bad_request(format!("invalid cursor: {e}")),
            DomainError::Unavailable(cause) => Self::Unavailable(cause),
            DomainError::Timeout(cause) => Self::Timeout(cause),
            DomainError::Internal(cause) => Self::Internal(cause),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        DomainError::from(e).into()
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        DomainError::from(e).into()
    }
}

impl From<ListError> for ApiError {
    fn from(e: ListError) -> Self {
        DomainError::from(e).into()
    }
}

impl From<crate::auth::password::HashError> for ApiError {
    fn from(e: crate::auth::password::HashError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<getrandom::Error> for ApiError {
    fn from(e: getrandom::Error) -> Self {
        Self::Internal(format!("no randomness: {e}"))
    }
}
