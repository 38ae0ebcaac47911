//! The HTTP API: routes, extractor configuration, the fallback for unknown routes, and the
//! endpoint that serves the OpenAPI document (which `openapi` builds from the same routes).

pub mod auth;
pub mod body;
pub mod caller;
pub mod changes;
pub mod clients;
pub mod companies;
pub mod conditional;
pub mod context;
pub mod csv;
pub mod error;
pub mod events;
pub mod export;
pub mod funding_sources;
pub mod health;
pub mod idempotency;
pub mod import;
pub mod metrics;
pub mod negotiation;
pub mod openapi;
pub mod organizations;
pub mod paging;
pub mod peer;
pub mod projects;
pub mod regions;
pub mod reports;
pub mod resource;
pub mod topics;
pub mod users;

use std::sync::Arc;

use actix_web::dev::ResourceDef;
use actix_web::error::{JsonPayloadError, PayloadError};
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, get, web};

use crate::api::error::ApiError;

/// Base path of the versioned API.
pub const API_BASE: &str = "/api/v1";

/// Registers every endpoint; the same function feeds the server and the OpenAPI document, so
/// neither can have a route the other lacks.
pub(crate) fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.configure(health::configure)
        .configure(metrics::configure)
        .service(
            utoipa_actix_web::scope(API_BASE)
                .service(openapi_json)
                .configure(auth::configure)
                .configure(regions::configure)
                .configure(topics::configure)
                .configure(funding_sources::configure)
                .configure(organizations::configure)
                .configure(projects::configure)
                // Before the companies' scope, which would take `/companies/…` for itself
                // (`/{id}` matches `import`): the import, then 405 for its other methods.
                .service(import::import_companies)
                .route("/companies/import", web::route().to(fallback))
                .configure(companies::configure)
                .configure(events::configure)
                .service(reports::project_report)
                .configure(changes::configure)
                .configure(users::configure)
                .configure(clients::configure),
        );
}

/// The pieces of the API that are computed once at start-up and shared by all workers.
#[derive(Clone)]
pub struct ApiState {
    openapi_json: web::Bytes,
    routes: Arc<Vec<(ResourceDef, Vec<Method>)>>,
}

impl ApiState {
    pub fn new() -> anyhow::Result<Self> {
        let doc = openapi::openapi();
        let routes = doc["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(path, item)| {
                let mut methods: Vec<Method> = ["GET", "POST", "PUT", "PATCH", "DELETE"]
                    .into_iter()
                    .filter(|m| item.get(m.to_ascii_lowercase()).is_some())
                    .filter_map(|m| Method::from_bytes(m.as_bytes()).ok())
                    .collect();
                methods.sort_by(|a, b| a.as_str().cmp(b.as_str()));
                (ResourceDef::new(path.as_str()), methods)
            })
            .collect();
        Ok(Self {
            openapi_json: web::Bytes::from(serde_json::to_vec_pretty(&doc)?),
            routes: Arc::new(routes),
        })
    }
}

/// The OpenAPI document.
///
/// This API's OpenAPI 3.1 document, generated from the handlers; needs no token.
#[utoipa::path(
    get, path = "/openapi.json", operation_id = "getOpenApi", tag = "meta",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object))
)]
#[get("/openapi.json")]
async fn openapi_json(state: web::Data<ApiState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi_json.clone())
}

/// Answers every request no route took: 405 with `Allow` when the path exists with other
/// methods, else 404.
async fn fallback(req: HttpRequest, state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let path = req.path();
    Err(
        match state.routes.iter().find(|(def, _)| def.is_match(path)) {
            Some((_, methods)) => ApiError::MethodNotAllowed(methods.clone()),
            None => ApiError::NotFound(format!("no resource at {path}")),
        },
    )
}

/// The interactive viewer at `/docs`: Swagger UI, its assets embedded in the binary (no CDN),
/// reading `/api/v1/openapi.json`. Not an API endpoint, so not in the document.
fn docs(cfg: &mut web::ServiceConfig) {
    let spec_url = format!("{API_BASE}/openapi.json");
    cfg.service(web::redirect("/docs", "/docs/")).service(
        utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}").config(
            utoipa_swagger_ui::Config::new([spec_url])
                .display_operation_id(true)
                .persist_authorization(false),
        ),
    );
}

/// Limits and error answers of actix's extractors, so their failures are problems too.
fn extractor_config(body_limit: usize) -> (web::JsonConfig, web::PathConfig, web::QueryConfig) {
    let json = web::JsonConfig::default()
        .limit(body_limit)
        .error_handler(move |e, _| json_error(e, body_limit).into());
    let path = web::PathConfig::default()
        .error_handler(|e, _| ApiError::bad_request(format!("invalid path parameter: {e}")).into());
    let query = web::QueryConfig::default()
        .error_handler(|e, _| ApiError::bad_request(format!("invalid query: {e}")).into());
    (json, path, query)
}

fn json_error(e: JsonPayloadError, limit: usize) -> ApiError {
    match e {
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => ApiError::PayloadTooLarge(limit),
        JsonPayloadError::Payload(PayloadError::Overflow) => ApiError::PayloadTooLarge(limit),
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType(
            "send the body as application/json (or application/merge-patch+json for PATCH)".into(),
        ),
        JsonPayloadError::Deserialize(e) => ApiError::bad_request(format!("malformed JSON: {e}")),
        other => ApiError::bad_request(format!("unreadable body: {other}")),
    }
}

/// The largest bodies the service reads, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Any JSON body.
    pub body: usize,
    /// A CSV file to import.
    pub import: usize,
}

/// Everything the app needs apart from middleware: state, extractor configuration, routes.
pub fn configure(cfg: &mut web::ServiceConfig, state: ApiState, limits: Limits) {
    let (json, path, query) = extractor_config(limits.body);
    cfg.app_data(web::Data::new(state))
        .app_data(web::Data::new(limits))
        .app_data(json)
        .app_data(path)
        .app_data(query)
        .app_data(web::PayloadConfig::new(limits.body));
    routes(&mut utoipa_actix_web::service_config::ServiceConfig::new(
        cfg,
    ));
    docs(cfg);
    cfg.default_service(web::to(fallback));
}
