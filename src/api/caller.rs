//! `Caller` as a handler argument: the bearer token of the request, verified.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, http::header, web};

use crate::api::error::ApiError;
use crate::auth::{Caller, TokenService};

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
