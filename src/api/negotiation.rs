//! Content negotiation: every endpoint answers in one media type (JSON for the API and the
//! probes, problem+json for errors, OpenMetrics or Prometheus text for `/metrics`, HTML for
//! `/docs`). A request whose `Accept` admits none of them gets 406 with a problem body (RFC
//! 9110 lets an error answer ignore `Accept`), instead of JSON it did not ask for. No
//! `Accept`, `*/*`, or a header that does not parse (RFC 9110 §12.5.1: may be ignored) take
//! the default.

use actix_web::dev::ServiceRequest;
use actix_web::http::header::{self, Header as _};
use actix_web::mime;

use crate::api::error::ApiError;

/// The media types a path answers with (the first is its own), or `None` where this does not
/// negotiate (the docs viewer serves HTML, scripts and styles).
fn produced(path: &str) -> Option<&'static [&'static str]> {
    if path == "/docs" || path.starts_with("/docs/") {
        None
    } else if path == "/metrics" {
        Some(&["application/openmetrics-text", "text/plain"])
    } else {
        Some(&["application/json", "application/problem+json"])
    }
}

/// The 406 for a request that accepts nothing its path produces.
pub fn refuse(req: &ServiceRequest) -> Option<ApiError> {
    let produced = produced(req.path())?;
    if !req.headers().contains_key(header::ACCEPT) {
        return None;
    }
    let accept = header::Accept::parse(req).ok().filter(|a| !a.is_empty())?;
    let admits = |range: &mime::Mime, media: &str| {
        let (kind, _) = media.split_once('/').unwrap_or((media, ""));
        range.type_() == mime::STAR
            || (range.type_() == kind && range.subtype() == mime::STAR)
            || range.essence_str() == media
    };
    let acceptable = accept.iter().any(|item| {
        item.quality > header::Quality::ZERO
            && produced.iter().any(|media| admits(&item.item, media))
    });
    (!acceptable).then(|| {
        ApiError::NotAcceptable(format!(
            "this resource answers in {}; accept it (or */*)",
            produced.join(" or ")
        ))
    })
}
