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

api_test!(async fn the_service_serves_the_generated_document(app) {
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let served: Value = response.json().await.unwrap();
    let generated: Value = serde_json::from_str(&generated()).unwrap();
    assert_eq!(served, generated);
});
