//! Conditional requests: a resource's ETag is its `version`; `If-None-Match` turns a read of
//! an unchanged resource into 304, `If-Match` guards writes against lost updates (412).

use actix_web::http::header::{self, EntityTag, Header as _, IfMatch as IfMatchHeader};
use actix_web::{FromRequest, HttpRequest, HttpResponse};

use crate::api::error::ApiError;

/// The longest conditional header accepted (a list of ETags far longer than any client needs).
pub const MAX_HEADER_LEN: usize = 2048;

/// Refuses an over-long `If-Match`/`If-None-Match` instead of parsing it.
pub fn check_conditional_headers(req: &HttpRequest) -> Result<(), ApiError> {
    for name in [header::IF_MATCH, header::IF_NONE_MATCH] {
        if req
            .headers()
            .get(&name)
            .is_some_and(|v| v.len() > MAX_HEADER_LEN)
        {
            return Err(ApiError::bad_request(format!(
                "{name} is longer than {MAX_HEADER_LEN} bytes"
            )));
        }
    }
    Ok(())
}

/// The strong ETag of a version: `"3"`.
pub fn etag(version: i64) -> EntityTag {
    EntityTag::new_strong(version.to_string())
}

/// The version a write must find, from `If-Match`. `None` when the header is absent or `*`
/// (the write then applies to whatever version is current).
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub Option<i64>);

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(parse_if_match(req))
    }
}

fn parse_if_match(req: &HttpRequest) -> Result<IfMatch, ApiError> {
    check_conditional_headers(req)?;
    if !req.headers().contains_key(header::IF_MATCH) {
        return Ok(IfMatch(None));
    }
    let parsed = IfMatchHeader::parse(req)
        .map_err(|_| ApiError::bad_request("If-Match must be * or a quoted ETag such as \"3\""))?;
    match parsed {
        IfMatchHeader::Any => Ok(IfMatch(None)),
        IfMatchHeader::Items(tags) => match tags.as_slice() {
            // A weak tag never matches under the strong comparison If-Match requires, nor does
            // a tag that is no version of ours: both are stale by definition. i64::MIN is a
            // version no row ever has.
            [tag] if !tag.weak => Ok(IfMatch(Some(tag.tag().parse().unwrap_or(i64::MIN)))),
            [_] => Ok(IfMatch(Some(i64::MIN))),
            _ => Err(ApiError::bad_request(
                "If-Match must name exactly one ETag (or *)",
            )),
        },
    }
}

/// Answers 304 when `If-None-Match` names the current version (weak comparison, as RFC 9110
/// asks for GET).
pub fn not_modified(req: &HttpRequest, version: i64) -> Option<HttpResponse> {
    let current = etag(version);
    let header = header::IfNoneMatch::parse(req).ok()?;
    let matches = match header {
        header::IfNoneMatch::Any => true,
        header::IfNoneMatch::Items(tags) => tags.iter().any(|t| t.weak_eq(&current)),
    };
    matches.then(|| {
        HttpResponse::NotModified()
            .insert_header(header::ETag(current))
            .finish()
    })
}
