//! Content negotiation: each path answers in the media types it offers (JSON for the API and
//! the probes, also CSV for the lists and the project report, also HTML for the report,
//! problem+json for errors, OpenMetrics text for `/metrics`, HTML for `/docs`). A request
//! whose `Accept` admits none of them gets 406 with a problem body (RFC 9110 lets an error
//! answer ignore `Accept`), instead of JSON it did not ask for. No `Accept`, `*/*`, or a header
//! that does not parse (RFC 9110 §12.5.1: may be ignored) take the path's first type.

use actix_web::dev::ServiceRequest;
use actix_web::http::Method;
use actix_web::http::header::{self, Accept, Header as _, Quality};
use actix_web::mime;
use actix_web::{HttpMessage, HttpRequest};

use crate::api::API_BASE;
use crate::api::error::ApiError;
use crate::domain::values::ResourceKind;

pub const JSON: &str = "application/json";
pub const CSV: &str = "text/csv";
pub const HTML: &str = "text/html";

const JSON_ONLY: &[&str] = &[JSON];
/// What a domain list answers in (`GET /api/v1/{collection}`).
pub const LIST: &[&str] = &[JSON, CSV];
/// The classic Prometheus text format's media type.
pub const PLAIN_TEXT: &str = "text/plain";
/// What `/metrics` answers in: OpenMetrics first (what Prometheus prefers), the classic
/// format to whoever prefers `text/plain`.
pub const METRICS: &[&str] = &["application/openmetrics-text", PLAIN_TEXT];
/// What a report answers in (`GET /api/v1/reports/…`).
pub const REPORT: &[&str] = &[JSON, CSV, HTML];

/// The media types a request's path answers in, the server's preference first, or `None`
/// where this does not negotiate (the docs viewer serves HTML, scripts and styles). Errors
/// are problem+json whatever was asked.
fn offered(method: &Method, path: &str) -> Option<&'static [&'static str]> {
    if path == "/docs" || path.starts_with("/docs/") {
        return None;
    }
    if path == "/metrics" {
        return Some(METRICS);
    }
    let Some(rest) = path
        .strip_prefix(API_BASE)
        .and_then(|p| p.strip_prefix('/'))
    else {
        return Some(JSON_ONLY);
    };
    if *method == Method::GET && rest.parse::<ResourceKind>().is_ok() {
        Some(LIST)
    } else if *method == Method::GET && rest.starts_with("reports/") {
        Some(REPORT)
    } else {
        Some(JSON_ONLY)
    }
}

/// How much `accept` wants `media`: the most specific range that names it decides
/// (RFC 9110 §12.5.1: `application/json;q=0, */*` refuses JSON).
fn quality(accept: &Accept, media: &str) -> Quality {
    let (kind, _) = media.split_once('/').unwrap_or((media, ""));
    accept
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
        .map_or(Quality::ZERO, |(_, quality)| quality)
}

/// The offered type the request wants most (ties go to the server's preference), `None`
/// when it accepts none of them.
fn choose(message: &impl HttpMessage, offered: &[&'static str]) -> Option<&'static str> {
    let first = offered.first().copied();
    if !message.headers().contains_key(header::ACCEPT) {
        return first;
    }
    let Some(accept) = Accept::parse(message).ok().filter(|a| !a.is_empty()) else {
        return first;
    };
    let mut best: Option<(&'static str, Quality)> = None;
    for &media in offered {
        let q = quality(&accept, media);
        if q > Quality::ZERO && best.is_none_or(|(_, b)| q > b) {
            best = Some((media, q));
        }
    }
    best.map(|(media, _)| media)
}

/// The media type a handler that offers several answers in (`offered` in its preference).
pub fn preferred(req: &HttpRequest, offered: &[&'static str]) -> &'static str {
    choose(req, offered)
        .or_else(|| offered.first().copied())
        .unwrap_or(JSON)
}

/// The 406 for a request that accepts nothing its path produces.
pub fn refuse(req: &ServiceRequest) -> Option<ApiError> {
    let offered = offered(req.method(), req.path())?;
    if choose(req, offered).is_some() {
        return None;
    }
    Some(ApiError::NotAcceptable(format!(
        "this resource answers in {}; accept one of them (or */*)",
        offered.join(", ")
    )))
}
