//! Authentication and authorization: signing keys, access tokens, password and secret
//! hashing, and `Caller`, the extractor every protected handler takes as an argument, so no
//! handler can forget to authenticate.

pub mod keys;
pub mod password;
pub mod secrets;
pub mod tokens;

use std::future::{Ready, ready};
use std::str::FromStr;

use actix_web::{FromRequest, HttpRequest, http::header, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::error::ApiError;
use crate::domain::Actor;
pub use tokens::TokenService;

/// What a person or machine client may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including users, clients and deletes.
    Admin,
    /// Create, update and delete all domain resources (sponsor staff).
    Editor,
    /// Read all; create companies and events; change only its own organization's records.
    Partner,
    /// Read only.
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Editor => "editor",
            Self::Partner => "partner",
            Self::Viewer => "viewer",
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "admin" => Ok(Self::Admin),
            "editor" => Ok(Self::Editor),
            "partner" => Ok(Self::Partner),
            "viewer" => Ok(Self::Viewer),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}

/// Who a token was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User(i64),
    Client(String),
}

impl Subject {
    /// The `sub` claim: `user:<id>` or `client:<client_id>`.
    pub fn to_claim(&self) -> String {
        match self {
            Self::User(id) => format!("user:{id}"),
            Self::Client(id) => format!("client:{id}"),
        }
    }

    pub fn from_claim(sub: &str) -> Option<Self> {
        match sub.split_once(':')? {
            ("user", id) => id.parse().ok().map(Self::User),
            ("client", id) if !id.is_empty() => Some(Self::Client(id.to_owned())),
            _ => None,
        }
    }
}

/// The authenticated caller of a request, from a verified access token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub subject: Subject,
    pub role: Role,
    pub org: Option<i64>,
    /// When the access token expires (seconds since the epoch).
    pub expires_at: i64,
}

impl Caller {
    /// Who is acting, for the records' created_by/updated_by.
    pub fn actor(&self) -> Actor {
        Actor {
            label: self.subject.to_claim(),
            org: self.org,
        }
    }

    /// Admins and editors: create, change and delete any domain record.
    pub fn require_editor(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Admin | Role::Editor => Ok(()),
            role => Err(ApiError::Forbidden(format!(
                "the {} role may not change this resource",
                role.as_str()
            ))),
        }
    }

    /// Admins only: users, clients.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            role => Err(ApiError::Forbidden(format!(
                "only admins may do this; the caller is {}",
                role.as_str()
            ))),
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Err(ApiError::Unauthorized(None));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::Unauthorized(Some(
                "the Authorization header must be: Bearer <token>".into(),
            ))
        })?;
    let tokens = req
        .app_data::<web::Data<TokenService>>()
        .ok_or_else(|| ApiError::Internal("no token service".into()))?;
    tokens
        .verify(token)
        .map_err(|e| ApiError::Unauthorized(Some(e.to_string())))
}
