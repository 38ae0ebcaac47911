//! The request-context middleware, outermost on every request: it assigns the request id,
//! turns every error answer (ours or actix's) into a problem document carrying that id, sets
//! `X-Request-Id` and the security headers, counts the request in the metrics and writes the
//! one log line per request.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use crate::api::API_BASE;
use crate::api::error::ApiError;
use crate::api::health::Draining;
use crate::api::negotiation;
use crate::metrics::Metrics;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request: echoed from `X-Request-Id` when the client sent a sane one,
/// else a new UUID.
#[derive(Debug, Clone)]
pub struct RequestId(HeaderValue);

impl RequestId {
    fn for_request(req: &ServiceRequest) -> Self {
        req.headers()
            .get(&REQUEST_ID)
            .filter(|v| is_sane(v.as_bytes()))
            .map(|v| Self(v.clone()))
            .unwrap_or_else(|| {
                let id = uuid::Uuid::new_v4().hyphenated().to_string();
                Self(HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("invalid")))
            })
    }

    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

/// A client's id is echoed only when it can't forge log lines or bloat them: 1–128 characters
/// of letters, digits and `-_.:`.
fn is_sane(id: &[u8]) -> bool {
    (1..=128).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

impl FromRequest for RequestId {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let id = req.extensions().get::<RequestId>().cloned();
        std::future::ready(id.ok_or_else(|| ApiError::Internal("no request id".into()).into()))
    }
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = RequestId::for_request(&req);
    req.extensions_mut().insert(request_id.clone());
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let _in_flight = metrics.as_ref().map(|m| m.start_request());
    // Routing turns every handler and extractor error into a response, so an `Err` here only
    // comes from a failing inner middleware; actix renders that one itself.
    let refusal = headers_too_large(&req).or_else(|| negotiation::refuse(&req));
    let mut res = match refusal {
        Some(refusal) => req.error_response(refusal),
        None => next.call(req).await?.map_into_boxed_body(),
    };

    if res.status().is_client_error() || res.status().is_server_error() {
        res = into_problem(res, &request_id);
    }
    if res
        .request()
        .app_data::<web::Data<Draining>>()
        .is_some_and(|d| d.is_on())
    {
        // Shutting down: this answer is the connection's last, so its client sends no more
        // on it (and loses none when the server stops).
        res.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    res.headers_mut().insert(REQUEST_ID, request_id.0.clone());
    add_security_headers(&mut res);
    let route = res.request().match_pattern();
    let seconds = started.elapsed().as_secs_f64();
    log_request(&res, route.as_deref(), &request_id, seconds);
    if let Some(metrics) = metrics {
        let method = res.request().method().as_str();
        metrics.observe(method, route, res.status().as_u16(), seconds);
    }
    Ok(res)
}

/// The most a request's header section may hold (names and values, in bytes). actix's HTTP/1
/// parser takes up to 96 headers of any size; 16 KiB is what common proxies allow (nginx's
/// `large_client_header_buffers` 4 × 8k, 8 KiB per header) and far beyond any token or
/// `If-Match` this service reads.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// 431 for a header section over `MAX_HEADER_BYTES`, answered before anything reads it.
fn headers_too_large(req: &ServiceRequest) -> Option<ApiError> {
    let size: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    (size > MAX_HEADER_BYTES).then_some(ApiError::HeadersTooLarge(MAX_HEADER_BYTES))
}

/// The Swagger UI's page loads only its own scripts and styles (its inline `style` attributes
/// need `'unsafe-inline'` for styles, its icons are `data:` images) and talks only to us.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// `nosniff` everywhere; API answers other than the public document are `no-store` (they are
/// per caller and must not sit in shared or browser caches; `ETag` revalidation still works);
/// the docs page gets a content security policy.
fn add_security_headers(res: &mut ServiceResponse<BoxBody>) {
    let path = res.request().path();
    let api_data = path.starts_with(API_BASE) && !path.ends_with("/openapi.json");
    let docs = path == "/docs" || path.starts_with("/docs/");
    let headers = res.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if api_data && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if docs {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DOCS_CSP),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
}

/// Re-renders an error answer as a problem with request id and path. Headers the error set
/// (`Allow`, `WWW-Authenticate`, `Retry-After`, …) are kept.
fn into_problem(res: ServiceResponse<BoxBody>, request_id: &RequestId) -> ServiceResponse<BoxBody> {
    let status = res.status();
    let error = match res.response().error() {
        Some(e) => match e.as_error::<ApiError>() {
            Some(api_error) => {
                if let ApiError::Internal(cause)
                | ApiError::Unavailable(cause)
                | ApiError::Timeout(cause) = api_error
                {
                    log::error!(request_id = request_id.as_str(); "{api_error}: {cause}");
                }
                api_error.clone()
            }
            None => {
                if status.is_server_error() {
                    log::error!(request_id = request_id.as_str(); "unhandled error: {e}");
                }
                ApiError::Status(status)
            }
        },
        None => ApiError::Status(status),
    };
    let (req, old) = res.into_parts();
    let mut fresh = error.to_response(Some(req.path()), Some(request_id.as_str()));
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fresh.headers_mut().insert(name.clone(), value.clone());
        }
    }
    ServiceResponse::new(req, fresh)
}

fn log_request(
    res: &ServiceResponse<BoxBody>,
    route: Option<&str>,
    request_id: &RequestId,
    seconds: f64,
) {
    let req = res.request();
    // Microsecond resolution is plenty and keeps the number short in every log line.
    let duration_ms = (seconds * 1e6).round() / 1e3;
    log::info!(
        target: "http",
        method = req.method().as_str(),
        route = route.unwrap_or("-"),
        status = res.status().as_u16(),
        duration_ms = duration_ms,
        request_id = request_id.as_str();
        "request"
    );
}
#[cfg(test)]
mod tests {
    use super::is_sane;

    #[test]
    fn only_plain_request_ids_are_echoed() {
        assert!(is_sane(b"abc-123_x.y:z"));
        assert!(!is_sane(b""));
        assert!(!is_sane(b"a b"));
        assert!(!is_sane(b"x\ninjected"));
        assert!(!is_sane(&[b'a'; 129]));
    }
}
