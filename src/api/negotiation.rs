//! Content negotiation: every endpoint answers in one media type (JSON for the API and the
//! probes, problem+json for errors, OpenMetrics text for `/metrics`, HTML for
//! `/docs`). A request whose `Accept` admits none of them gets 406 with a problem body (RFC
//! 9110 lets an error answer ignore `Accept`), instead of JSON it did not ask for. No
//! `Accept`, `*/*`, or a header that does not parse (RFC 9110 §12.5.1: may be ignored) take
//! the default.

use actix_web::dev::ServiceRequest;
use actix_web::http::header::{self, Header as _};
use actix_web::mime;

use crate::api::error::ApiError;

/// The media type a path answers with, or `None` where this does not negotiate (the docs
/// viewer serves HTML, scripts and styles). Errors are problem+json whatever was asked.
fn answers_in(path: &str) -> Option<&'static str> {
    if path == "/docs" || path.starts_with("/docs/") {
        None
    } else if path == "/metrics" {
        Some("application/openmetrics-text")
    } else {
        Some("application/json")
    }
}

/// The 406 for a request that accepts nothing its path produces.
pub fn refuse(req: &ServiceRequest) -> Option<ApiError> {
    let media = answers_in(req.path())?;
    if !req.headers().contains_key(header::ACCEPT) {
        return None;
    }
    let accept = header::Accept::parse(req).ok().filter(|a| !a.is_empty())?;
    // For each media type, the most specific range that names it decides its quality
    // (RFC 9110 §12.5.1): `application/json;q=0, */*` refuses JSON.
    let (kind, _) = media.split_once('/').unwrap_or((media, ""));
    let quality = accept
        .iter()
        .filter_map(|item| {
            let range = &item.item;
            let specificity = if range.essence_str() == media {
                2
            } else if range.type_() == kind && range.subtype() == mime::STAR {
                1
            } else if range.type_() == mime::STAR {
                0
            } else {
                return None;
            };
            Some((specificity, item.quality))
        })
        .max_by_key(|&(specificity, _)| specificity)
        .map_or(header::Quality::ZERO, |(_, quality)| quality);
    (quality == header::Quality::ZERO).then(|| {
        ApiError::NotAcceptable(format!(
            "this resource answers in {media}; accept it (or */*)"
        ))
    })
}
