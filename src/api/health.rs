//! Health probes for load balancers and orchestrators, outside `/api/v1`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::error::{ApiError, Problem};
use crate::db::Db;

/// Set when SIGTERM/SIGINT arrived: readiness answers 503 and every answer closes its
/// connection, while requests already sent are still read and answered (`startup`).
#[derive(Debug, Default)]
pub struct Draining(AtomicBool);

impl Draining {
    pub fn start(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_on(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The answer of a passing probe.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthStatus {
    /// Always `ok`.
    #[schema(example = "ok", max_length = 2)]
    pub status: &'static str,
}

/// Liveness.
///
/// Answers 200 while the process runs; needs no token.
#[utoipa::path(
    get, path = "/health/live", operation_id = "getLiveness", tag = "health",
    responses((status = 200, description = "The process runs", body = HealthStatus))
)]
#[get("/health/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(HealthStatus { status: "ok" })
}

/// Readiness.
///
/// Answers 200 when the database answers and every migration is applied, else 503 — and 503
/// from the moment the process is told to stop; needs no token.
#[utoipa::path(
    get, path = "/health/ready", operation_id = "getReadiness", tag = "health",
    responses(
        (status = 200, description = "Ready to serve", body = HealthStatus),
        (status = 503, description = "Database unreachable, migrations pending, or shutting down", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
#[get("/health/ready")]
pub async fn ready(
    db: web::Data<Db>,
    draining: Option<web::Data<Draining>>,
) -> Result<HttpResponse, ApiError> {
    if draining.is_some_and(|d| d.is_on()) {
        return Err(ApiError::ShuttingDown);
    }
    // A frozen database must not hold the probe: it answers 503 within its own deadline.
    let probe = db.check_ready(Duration::from_secs(2));
    tokio::time::timeout(Duration::from_secs(3), probe)
        .await
        .map_err(|_| ApiError::Unavailable("the database did not answer the probe".into()))?
        .map_err(|e| ApiError::Unavailable(format!("{e:#}")))?;
    Ok(HttpResponse::Ok().json(HealthStatus { status: "ok" }))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(live).service(ready);
}
