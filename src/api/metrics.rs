//! `GET /metrics`: the Prometheus scrape endpoint, outside `/api/v1` like the health probes.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::api::error::{ApiError, Problem};
use crate::api::negotiation;
use crate::metrics::{CLASSIC_CONTENT_TYPE, CONTENT_TYPE, Metrics};

/// The scrape's text (its schema for the document; the handler writes the text directly).
/// Its size is bounded: labels are route patterns, methods and statuses, never raw input.
pub struct MetricsText;

impl utoipa::PartialSchema for MetricsText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(16 * 1024 * 1024))
            .examples(["bn_http_requests_in_flight 1"])
            .into()
    }
}

impl utoipa::ToSchema for MetricsText {}

/// The token `/metrics` requires, if one is configured (`METRICS_TOKEN`).
#[derive(Clone, Default)]
pub struct MetricsToken(Option<[u8; 32]>);

impl MetricsToken {
    /// An empty token (an empty `METRICS_TOKEN=`) means none.
    pub fn new(token: Option<&str>) -> Self {
        Self(
            token
                .filter(|t| !t.is_empty())
                .map(|t| Sha256::digest(t.as_bytes()).into()),
        )
    }

    /// Compares digests in constant time, so timing tells nothing about how much of a guess
    /// matches.
    fn admits(&self, req: &HttpRequest) -> bool {
        let Some(expected) = &self.0 else {
            return true;
        };
        let offered = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        offered.is_some_and(|t| Sha256::digest(t.as_bytes()).ct_eq(expected).into())
    }
}

/// Metrics.
///
/// Request counts and latency by method, route pattern and status; requests in flight; the
/// database pool; build info. In the OpenMetrics text format Prometheus scrapes, or the
/// classic Prometheus text format to a client that prefers `text/plain`. Open unless
/// the server has a `METRICS_TOKEN`, then that token is the bearer credential.
#[utoipa::path(
    get, path = "/metrics", operation_id = "getMetrics", tag = "health",
    security((), ("metricsToken" = [])),
    responses(
        (status = 200, description = "The metrics: OpenMetrics text, or the classic Prometheus text format (0.0.4) to `Accept: text/plain`", content(
            (MetricsText = "application/openmetrics-text"),
            (MetricsText = "text/plain"),
        )),
        (status = 401, description = "A METRICS_TOKEN is configured and the request lacks it", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/metrics")]
pub async fn metrics(
    req: HttpRequest,
    metrics: web::Data<Metrics>,
    token: web::Data<MetricsToken>,
) -> Result<HttpResponse, ApiError> {
    if !token.admits(&req) {
        return Err(ApiError::Unauthorized(Some(
            "/metrics needs the configured metrics token".into(),
        )));
    }
    let (body, content_type) = match negotiation::preferred(&req, negotiation::METRICS) {
        negotiation::PLAIN_TEXT => (metrics.render_classic(), CLASSIC_CONTENT_TYPE),
        _ => (metrics.render(), CONTENT_TYPE),
    };
    let body = body.map_err(|e| ApiError::Internal(format!("cannot encode the metrics: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(metrics);
}
