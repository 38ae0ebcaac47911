//! The HTTP API: routes, extractor configuration, the fallback for unknown routes, and the
//! OpenAPI document collected from the handlers.

pub mod auth;
pub mod body;
pub mod clients;
pub mod companies;
pub mod conditional;
pub mod context;
pub mod error;
pub mod events;
pub mod funding_sources;
pub mod health;
pub mod organizations;
pub mod paging;
pub mod projects;
pub mod regions;
pub mod relations;
pub mod resource;
pub mod topics;
pub mod users;

use std::sync::Arc;

use actix_web::dev::ResourceDef;
use actix_web::error::{JsonPayloadError, PayloadError};
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, get, web};
use utoipa::OpenApi as _;
use utoipa::openapi::OpenApi;
use utoipa_actix_web::AppExt as _;

use crate::api::error::ApiError;

/// Base path of the versioned API.
pub const API_BASE: &str = "/api/v1";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Betriebsnachbarschaften API",
        description = "System of record for regional skilled-labour networks: projects, regions, \
                       companies, topics, funding sources, organizations and events.",
        contact(name = "Betriebsnachbarschaften API team"),
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    servers((url = "http://127.0.0.1:8080", description = "Local default (cargo run --release)")),
    tags(
        (name = "auth", description = "Tokens (OAuth2-shaped) and the caller"),
        (name = "regions", description = "Project regions (Projekträume)"),
        (name = "topics", description = "Skilled-labour topics"),
        (name = "funding-sources", description = "Who pays for projects"),
        (name = "organizations", description = "Sponsors, chambers, agencies and consultancies"),
        (name = "projects", description = "Projects with their regions, topics and funding"),
        (name = "companies", description = "Participating businesses"),
        (name = "events", description = "Kick-offs, meetings, workshops and closing events"),
        (name = "users", description = "People who sign in (admins only)"),
        (name = "clients", description = "Machine clients of partner organizations (admins only)"),
        (name = "health", description = "Probes for load balancers and orchestrators"),
        (name = "meta", description = "This document"),
    ),
    components(schemas(error::Problem, error::FieldError)),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

/// Bearer JWTs, and the OAuth2 flows that issue them at our token endpoint.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, doc: &mut OpenApi) {
        use utoipa::openapi::security::{
            ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes,
            SecurityScheme,
        };
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from POST /api/v1/auth/token"))
                    .build(),
            ),
        );
        let token_url = format!("{API_BASE}/auth/token");
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::new([
                Flow::Password(Password::new(token_url.clone(), Scopes::new())),
                Flow::ClientCredentials(ClientCredentials::new(token_url, Scopes::new())),
            ])),
        );
    }
}

/// Registers every endpoint; the same function feeds the server and the OpenAPI document, so
/// neither can have a route the other lacks.
fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.configure(health::configure).service(
        utoipa_actix_web::scope(API_BASE)
            .service(openapi_json)
            .configure(auth::configure)
            .configure(regions::configure)
            .configure(topics::configure)
            .configure(funding_sources::configure)
            .configure(organizations::configure)
            .configure(projects::configure)
            .configure(companies::configure)
            .configure(events::configure)
            .configure(users::configure)
            .configure(clients::configure),
    );
}

/// The OpenAPI document of this service, as collected from the handlers.
pub fn openapi() -> OpenApi {
    let (_, mut doc) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes)
        .split_for_parts();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    document_authentication(&mut doc);
    doc
}

/// Endpoints under the API base that answer without a token.
const PUBLIC_PATHS: &[&str] = &["/auth/token", "/auth/revoke", "/openapi.json"];

/// Every protected operation needs a bearer token and may answer 401 and 403; saying so
/// here, once, keeps each handler's annotation about what is particular to it.
fn document_authentication(doc: &mut OpenApi) {
    use utoipa::openapi::security::SecurityRequirement;
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};

    let problem = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                error::PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build()
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let Some(rest) = path.strip_prefix(API_BASE) else {
            continue;
        };
        if PUBLIC_PATHS.contains(&rest) {
            continue;
        }
        for operation in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            operation.security = Some(vec![
                SecurityRequirement::new("bearer", Vec::<String>::new()),
                SecurityRequirement::new("oauth2", Vec::<String>::new()),
            ]);
            let responses = &mut operation.responses.responses;
            responses.entry("401".into()).or_insert_with(|| {
                problem("No, expired or invalid bearer token (see WWW-Authenticate)").into()
            });
            responses.entry("403".into()).or_insert_with(|| {
                problem("The caller's role or organization may not do this").into()
            });
        }
    }
}

/// The pieces of the API that are computed once at start-up and shared by all workers.
#[derive(Clone)]
pub struct ApiState {
    openapi_json: web::Bytes,
    routes: Arc<Vec<(ResourceDef, Vec<Method>)>>,
}

impl ApiState {
    pub fn new() -> anyhow::Result<Self> {
        let doc = openapi();
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let mut methods: Vec<Method> = [
                    (item.get.is_some(), Method::GET),
                    (item.post.is_some(), Method::POST),
                    (item.put.is_some(), Method::PUT),
                    (item.patch.is_some(), Method::PATCH),
                    (item.delete.is_some(), Method::DELETE),
                ]
                .into_iter()
                .filter_map(|(present, method)| present.then_some(method))
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

/// The OpenAPI 3.1 document of this API.
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

/// Everything the app needs apart from middleware: state, extractor configuration, routes.
pub fn configure(cfg: &mut web::ServiceConfig, state: ApiState, body_limit: usize) {
    let (json, path, query) = extractor_config(body_limit);
    cfg.app_data(web::Data::new(state))
        .app_data(json)
        .app_data(path)
        .app_data(query)
        .app_data(web::PayloadConfig::new(body_limit));
    routes(&mut utoipa_actix_web::service_config::ServiceConfig::new(
        cfg,
    ));
    docs(cfg);
    cfg.default_service(web::to(fallback));
}
