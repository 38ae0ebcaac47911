//! Health probes for load balancers and orchestrators, outside `/api/v1`.

use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::error::{ApiError, Problem};
use crate::db::Db;

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
/// Answers 200 when the database answers and every migration is applied, else 503; needs no
/// token.
#[utoipa::path(
    get, path = "/health/ready", operation_id = "getReadiness", tag = "health",
    responses(
        (status = 200, description = "Ready to serve", body = HealthStatus),
        (status = 503, description = "Database unreachable or migrations pending", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/health/ready")]
pub async fn ready(db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let db = db.get_ref().clone();
    web::block(move || db.check_ready(Duration::from_secs(2)))
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .map_err(|e| ApiError::Unavailable(format!("{e:#}")))?;
    Ok(HttpResponse::Ok().json(HealthStatus { status: "ok" }))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(live).service(ready);
}
