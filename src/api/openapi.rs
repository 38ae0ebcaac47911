//! The OpenAPI document: collected from the handlers (the same `routes` the server runs), then
//! completed by passes that say once what holds for every operation (authentication, the
//! failures every operation shares, limits the parser enforces, the PATCH bodies derived from
//! the input types).

use utoipa::OpenApi as _;
use utoipa::openapi::OpenApi;
use utoipa_actix_web::AppExt as _;

use crate::api::resource::Resource;
use crate::api::{API_BASE, error, paging, routes};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Betriebsnachbarschaften API",
        description = "System of record for regional skilled-labour networks: projects, regions, \
                       companies, topics, funding sources, organizations and events.",
        contact(name = "Betriebsnachbarschaften API team"),
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    servers((url = "/", description = "The server that serves this document")),
    tags(
        (name = "auth", description = "Tokens (OAuth2-shaped) and the caller"),
        (name = "regions", description = "Project regions (Projekträume)"),
        (name = "topics", description = "Skilled-labour topics"),
        (name = "funding-sources", description = "Who pays for projects"),
        (name = "organizations", description = "Sponsors, chambers, agencies and consultancies"),
        (name = "projects", description = "Projects with their regions, topics and funding"),
        (name = "companies", description = "Participating businesses"),
        (name = "events", description = "Kick-offs, meetings, workshops and closing events"),
        (name = "reports", description = "The funder's report on a project: JSON, CSV or a printable page"),
        (name = "changes", description = "The change feed: every change of the domain records, for partner systems that sync"),
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
                    .description(Some(
                        "An access token from POST /api/v1/auth/token: an EdDSA JWT that lives 15 \
                         minutes by default. Issued and verified as RFC8725 recommends: one pinned \
                         algorithm, key ids, and checked iss, aud, exp and nbf.",
                    ))
                    .build(),
            ),
        );
        let token_url = format!("{API_BASE}/auth/token");
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::with_description([
                Flow::Password(Password::with_refresh_url(token_url.clone(), Scopes::new(), token_url.clone())),
                Flow::ClientCredentials(ClientCredentials::new(token_url, Scopes::new())),
            ],
            "OAuth2 flows at our token endpoint. Access tokens are EdDSA JWTs (RFC8725 practices: \
             pinned algorithm, key ids, checked iss, aud, exp and nbf) that live 15 minutes by \
             default; people also get rotating refresh tokens.",
            )),
        );
        components.add_security_scheme(
            "metricsToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The server's METRICS_TOKEN, when one is configured; only for /metrics.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document of this service, as collected from the handlers and completed by the
/// passes below, as JSON (what is served, printed and committed).
pub fn openapi() -> serde_json::Value {
    let (_, mut doc) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes)
        .split_for_parts();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    document_patches(&mut doc);
    document_authentication(&mut doc);
    document_failures(&mut doc);
    document_limits(doc)
}

/// The PATCH body of a domain resource, derived from its input type.
struct PatchBody {
    /// The path of the PATCH operation.
    path: String,
    input: String,
    name: String,
    description: &'static str,
    notes: &'static [(&'static str, &'static str)],
}

fn patch_body<R: Resource>() -> PatchBody {
    let input = <R::Input as utoipa::ToSchema>::name().into_owned();
    let name = format!("{}Patch", input.strip_suffix("Input").unwrap_or(&input));
    PatchBody {
        path: format!("{API_BASE}/{}/{{id}}", R::KIND),
        input,
        name,
        description: R::PATCH_DOC,
        notes: R::PATCH_NOTES,
    }
}

/// Every domain resource's PATCH body: its input schema as a merge patch, so the writable
/// fields are declared once (in the input type). No field is required and there is no
/// example; the input's field notes describe a whole record and give way to the patch's own.
fn document_patches(doc: &mut OpenApi) {
    use crate::domain::{companies, events, funding_sources, organizations, projects};
    use crate::domain::{regions, topics};
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::{Ref, RefOr};

    fn drop_description(property: &mut RefOr<Schema>) {
        match property {
            RefOr::Ref(r) => r.description = String::new(),
            RefOr::T(Schema::Object(o)) => o.description = None,
            RefOr::T(Schema::Array(a)) => a.description = None,
            RefOr::T(Schema::OneOf(o)) => o.description = None,
            RefOr::T(Schema::AllOf(o)) => o.description = None,
            RefOr::T(Schema::AnyOf(o)) => o.description = None,
            RefOr::T(_) => {}
        }
    }

    let bodies = [
        patch_body::<regions::Regions>(),
        patch_body::<topics::Topics>(),
        patch_body::<funding_sources::FundingSources>(),
        patch_body::<organizations::Organizations>(),
        patch_body::<projects::Projects>(),
        patch_body::<companies::Companies>(),
        patch_body::<events::Events>(),
    ];
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    for body in bodies {
        let Some(RefOr::T(Schema::Object(input))) = components.schemas.get(&body.input) else {
            continue;
        };
        let mut patch = input.clone();
        patch.required.clear();
        patch.example = None;
        patch.examples.clear();
        patch.description = Some(body.description.to_owned());
        for property in patch.properties.values_mut() {
            drop_description(property);
        }
        for (field, note) in body.notes {
            if let Some(RefOr::T(Schema::Object(o))) = patch.properties.get_mut(*field) {
                o.description = Some((*note).to_owned());
            }
        }
        components
            .schemas
            .insert(body.name.clone(), RefOr::T(Schema::Object(patch)));
        let operation = doc
            .paths
            .paths
            .get_mut(&body.path)
            .and_then(|item| item.patch.as_mut());
        let content = match operation.and_then(|o| o.request_body.as_mut()) {
            Some(RefOr::T(body)) => body.content.get_mut("application/merge-patch+json"),
            _ => None,
        };
        if let Some(RefOr::T(content)) = content {
            content.schema = Some(RefOr::Ref(Ref::from_schema_name(body.name)));
        }
    }
}

/// States the limits the service enforces where the schemas can't say them themselves:
/// a view's text fields are as long as the writable field they show (copied from the input
/// schema of the same resource), every list parameter is at most `MAX_PARAM_LEN` long (the
/// parser refuses longer ones), and integers are non-negative 64-bit values.
fn document_limits(doc: OpenApi) -> serde_json::Value {
    use serde_json::Value;
    let mut json = serde_json::to_value(&doc).unwrap_or_default();

    // Views: copy maxLength from the input schema's property of the same name.
    let schemas = json["components"]["schemas"].clone();
    if let Some(all) = json["components"]["schemas"].as_object_mut() {
        for (name, schema) in all.iter_mut() {
            let Some(resource) = name
                .strip_suffix("View")
                .or_else(|| name.strip_suffix("Patch"))
            else {
                continue;
            };
            let input = &schemas[format!("{resource}Input")]["properties"];
            let Some(properties) = schema["properties"].as_object_mut() else {
                continue;
            };
            for (field, property) in properties.iter_mut() {
                if let Some(max) = input[field].get("maxLength")
                    && property.get("maxLength").is_none()
                {
                    property["maxLength"] = max.clone();
                }
            }
        }
    }
    fn walk(value: &mut Value, in_parameter: bool) {
        match value {
            Value::Object(map) => {
                let is_parameter = map.contains_key("in") && map.contains_key("schema");
                let kind = map.get("type").cloned();
                let types: Vec<&str> = match &kind {
                    Some(Value::String(t)) => vec![t.as_str()],
                    Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
                    _ => Vec::new(),
                };
                if types.contains(&"integer") {
                    map.entry("minimum").or_insert(Value::from(0));
                    map.entry("maximum").or_insert(Value::from(i64::MAX));
                }
                let bounded = ["maxLength", "enum", "const"]
                    .iter()
                    .any(|k| map.contains_key(*k));
                if types.contains(&"string") && !bounded {
                    // RFC 3339 with microseconds: 2022-03-28T14:00:00.123456+00:00 is 32.
                    if map.get("format").and_then(Value::as_str) == Some("date-time") {
                        map.insert("maxLength".into(), Value::from(35));
                    } else if map.get("format").and_then(Value::as_str) == Some("date") {
                        map.insert("maxLength".into(), Value::from(10));
                    } else if in_parameter {
                        map.insert("maxLength".into(), Value::from(paging::MAX_PARAM_LEN));
                    }
                }
                // Response headers: a quoted version, a URL of ours, a small number.
                if let Some(Value::Object(headers)) = map.get_mut("headers") {
                    for (name, header) in headers.iter_mut() {
                        let max = if name.eq_ignore_ascii_case("etag") {
                            22
                        } else {
                            200
                        };
                        if header["schema"]["type"] == "string" {
                            header["schema"]["maxLength"] = Value::from(max);
                        }
                    }
                }
                for child in map.values_mut() {
                    walk(child, in_parameter || is_parameter);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, in_parameter)),
            _ => {}
        }
    }
    walk(&mut json, false);
    // Request bodies with unknown fields are refused (422 naming them): say so.
    if let Some(all) = json["components"]["schemas"].as_object_mut() {
        for (name, schema) in all.iter_mut() {
            if name.ends_with("Input") || name.ends_with("Patch") || name == "Funding" {
                schema["additionalProperties"] = Value::Bool(false);
            }
        }
    }
    // Each list's `sort` takes its resource's fields, ascending or descending.
    for (collection, fields) in sort_fields() {
        let parameters = &mut json["paths"][format!("{API_BASE}{collection}")]["get"]["parameters"];
        for parameter in parameters.as_array_mut().into_iter().flatten() {
            if parameter["name"] == "sort" {
                let values: Vec<Value> = fields
                    .iter()
                    .flat_map(|f| [Value::from(*f), Value::from(format!("-{f}"))])
                    .collect();
                parameter["schema"] = serde_json::json!({"type": "string", "enum": values});
            }
        }
    }
    // Public operations say explicitly that they need no credentials: an empty requirement.
    if let Some(paths) = json["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let public = path
                .strip_prefix(API_BASE)
                .is_none_or(|rest| PUBLIC_PATHS.contains(&rest));
            for operation in item
                .as_object_mut()
                .into_iter()
                .flat_map(|m| m.values_mut())
            {
                if public && operation.is_object() && operation.get("security").is_none() {
                    operation["security"] = serde_json::json!([{}]);
                }
            }
        }
    }
    json
}

/// The sortable fields of every list, by collection path.
fn sort_fields() -> Vec<(&'static str, Vec<&'static str>)> {
    use paging::SortField;
    fn names<S: SortField>() -> Vec<&'static str> {
        S::FIELDS.iter().map(|(name, _)| *name).collect()
    }
    vec![
        ("/regions", names::<crate::models::regions::RegionSort>()),
        ("/topics", names::<crate::models::topics::TopicSort>()),
        (
            "/funding-sources",
            names::<crate::models::funding_sources::FundingSourceSort>(),
        ),
        (
            "/organizations",
            names::<crate::models::organizations::OrganizationSort>(),
        ),
        ("/projects", names::<crate::models::projects::ProjectSort>()),
        (
            "/companies",
            names::<crate::models::companies::CompanySort>(),
        ),
        ("/events", names::<crate::models::events::EventSort>()),
        ("/users", names::<crate::models::users::UserSort>()),
        ("/clients", names::<crate::models::clients::ClientSort>()),
    ]
}

/// A response with a problem document.
fn problem(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    problem_response(description).build().into()
}

fn problem_response(description: &str) -> utoipa::openapi::ResponseBuilder {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new().description(description).content(
        error::PROBLEM_JSON,
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build(),
    )
}

/// A 503: every one says when to try again.
fn unavailable(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    let retry_after = utoipa::openapi::HeaderBuilder::new()
        .schema(Some(<u64 as utoipa::PartialSchema>::schema()))
        .description(Some("Seconds to wait"))
        .build();
    problem_response(description)
        .header("Retry-After", retry_after)
        .build()
        .into()
}

/// The operations of a path.
fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.post,
        &mut item.put,
        &mut item.patch,
        &mut item.delete,
    ]
    .into_iter()
    .flatten()
}

/// Every operation can fail with 406 (an `Accept` it can't satisfy), 500 (a bug; the body is
/// opaque) and, where it needs the database, with 503 and 504.
fn document_failures(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let uses_database = ![
            "/health/live",
            "/metrics",
            &format!("{API_BASE}/openapi.json"),
        ]
        .contains(&path.as_str());
        for operation in operations(item) {
            let takes_input = operation.request_body.is_some()
                || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let responses = &mut operation.responses.responses;
            if operation.request_body.is_some() {
                responses
                    .entry("413".into())
                    .or_insert_with(|| problem("The body is larger than the configured limit"));
                responses.entry("415".into()).or_insert_with(|| {
                    problem("The body is not in a media type this operation reads")
                });
            }
            if takes_input {
                responses.entry("400".into()).or_insert_with(|| {
                    problem("A malformed parameter, header or body (the detail names it)")
                });
            }
            responses.entry("406".into()).or_insert_with(|| {
                problem("Accept admits none of the media types this operation answers in")
            });
            responses.entry("500".into()).or_insert_with(|| {
                problem("An unexpected failure; the request id identifies it in the logs")
            });
            if uses_database {
                responses
                    .entry("503".into())
                    .or_insert_with(|| unavailable("The database is unavailable; retry shortly"));
                responses.entry("504".into()).or_insert_with(|| {
                    problem("The database did not answer in time (DB_QUERY_TIMEOUT_SECS)")
                });
            }
        }
    }
    for server in doc.servers.iter_mut().flatten() {
        let extensions = server.extensions.get_or_insert_with(Default::default);
        extensions.insert("x-internal".into(), serde_json::Value::Bool(false));
    }
}

/// Endpoints under the API base that answer without a token.
const PUBLIC_PATHS: &[&str] = &["/auth/token", "/auth/revoke", "/openapi.json"];

/// Every protected operation needs a bearer token and may answer 401 and 403; saying so
/// here, once, keeps each handler's annotation about what is particular to it.
fn document_authentication(doc: &mut OpenApi) {
    use utoipa::openapi::security::SecurityRequirement;

    for (path, item) in doc.paths.paths.iter_mut() {
        let Some(rest) = path.strip_prefix(API_BASE) else {
            continue;
        };
        if PUBLIC_PATHS.contains(&rest) {
            continue;
        }
        for operation in operations(item) {
            operation.security = Some(vec![
                SecurityRequirement::new("bearer", Vec::<String>::new()),
                SecurityRequirement::new("oauth2", Vec::<String>::new()),
            ]);
            let responses = &mut operation.responses.responses;
            responses.entry("401".into()).or_insert_with(|| {
                problem("No, expired or invalid bearer token (see WWW-Authenticate)")
            });
            responses
                .entry("403".into())
                .or_insert_with(|| problem("The caller's role or organization may not do this"));
        }
    }
}
