//! The committed OpenAPI document is the generated one (`UPDATE_OPENAPI=1` rewrites it), and
//! the service serves exactly that document.

use serde_json::Value;

use crate::helpers::api_test;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");

fn generated() -> String {
    let mut json = serde_json::to_string_pretty(&betriebsnachbarschaften::openapi()).unwrap();
    json.push('\n');
    json
}

#[test]
fn the_committed_document_is_current() {
    let generated = generated();
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(GOLDEN, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(GOLDEN).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo nextest run openapi` and commit it"
    );
}

#[test]
fn every_documented_503_says_when_to_retry() {
    let document: Value = serde_json::from_str(&generated()).unwrap();
    let mut silent = Vec::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let unavailable = &operation["responses"]["503"];
            if !unavailable.is_null() && unavailable["headers"]["Retry-After"].is_null() {
                silent.push(format!("{method} {path}"));
            }
        }
    }
    assert!(silent.is_empty(), "503 without Retry-After: {silent:#?}");
}

#[test]
fn an_optional_parameter_is_not_a_nullable_one() {
    // An optional header may be left out; it cannot be sent as `null` (Schemathesis sent the
    // literal `null`, and generated clients accepted it).
    let document: Value = serde_json::from_str(&generated()).unwrap();
    let mut nullable = Vec::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let schema = parameter["schema"].to_string();
                if schema.contains("\"null\"") {
                    nullable.push(format!("{method} {path}: {}", parameter["name"]));
                }
            }
        }
    }
    assert!(nullable.is_empty(), "nullable parameters: {nullable:#?}");
}

api_test!(
    the_service_serves_the_generated_document,
    |app| async move {
        let response = app.get("/api/v1/openapi.json").await;
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        let served: Value = response.json().await.unwrap();
        let generated: Value = serde_json::from_str(&generated()).unwrap();
        assert_eq!(served, generated);
    }
);

/// A concrete path for a documented one: `{id}` becomes an id that does not exist.
fn concrete(path: &str) -> String {
    path.replace("{id}", "999999")
}

api_test!(every_documented_operation_is_served, |app| async move {
    let doc = serde_json::to_value(betriebsnachbarschaften::openapi()).unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut request = app.request(method.clone(), &concrete(path));
            if method != reqwest::Method::GET && method != reqwest::Method::DELETE {
                request = request.json(&serde_json::json!({}));
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            let body = response.text().await.unwrap();
            // The fallback answers routes nobody serves: 404 "no resource at …" or 405.
            assert!(
                status != reqwest::StatusCode::METHOD_NOT_ALLOWED
                    && !body.contains("no resource at"),
                "{method} {path} is documented but not served: {status} {body}"
            );
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} operations documented?");
});

/// The server registers routes only through utoipa-actix-web's `service`, which puts each
/// into the document; anything registered around it (`.route(`, `web::resource(`, a plain
/// `web::scope(`) would be served but undocumented. The exceptions are the viewer at /docs
/// and routes to the fallback, which serves nothing but 404 and 405 (the import's other
/// methods, which the companies' `/{id}` would otherwise take).
#[test]
fn no_route_is_registered_around_the_document() {
    let mut offenders = Vec::new();
    for entry in walk(concat!(env!("CARGO_MANIFEST_DIR"), "/src")) {
        let text = std::fs::read_to_string(&entry).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            let registers = [
                ".route(",
                "web::resource(",
                "web::scope(",
                ".default_service(",
                "web::redirect(",
            ]
            .iter()
            .any(|needle| code.contains(needle));
            let allowed = code.contains("utoipa_actix_web::scope(")
                || code.contains("web::redirect(\"/docs\"")
                || code.contains("default_service(web::to(fallback))")
                || code.contains("web::route().to(fallback)");
            if registers && !allowed {
                offenders.push(format!("{}:{}: {}", entry.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "routes registered outside the OpenAPI collection:\n{}",
        offenders.join("\n")
    );
}

fn walk(dir: &str) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(path.to_str().unwrap()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

api_test!(the_viewer_works_offline, |app| async move {
    let redirect = app
        .anonymous(reqwest::Method::GET, "/docs")
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), reqwest::StatusCode::TEMPORARY_REDIRECT);
    let page = app
        .anonymous(reqwest::Method::GET, "/docs/")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("swagger-ui-bundle.js"));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no asset from elsewhere"
    );
    let init = app
        .anonymous(reqwest::Method::GET, "/docs/swagger-initializer.js")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("\"/api/v1/openapi.json\""), "{init}");
    let bundle = app
        .anonymous(reqwest::Method::GET, "/docs/swagger-ui-bundle.js")
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), reqwest::StatusCode::OK);
});
