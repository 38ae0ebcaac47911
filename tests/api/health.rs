//! Health probes.

use reqwest::StatusCode;
use serde_json::Value;

use crate::errors::both_backends;
use crate::helpers::{Options, api_test, assert_problem};

api_test!(async fn a_migrated_service_is_live_and_ready(app) {
    let live = app.get("/health/live").await;
    assert_eq!(live.status(), StatusCode::OK);
    assert_eq!(live.json::<Value>().await.unwrap()["status"], "ok");
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), StatusCode::OK);
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_with_pending_migrations_is_live_but_not_ready() {
    for app in both_backends(Options {
        migrate_on_start: false,
        ..Default::default()
    })
    .await
    {
        assert_eq!(app.get("/health/live").await.status(), StatusCode::OK);
        assert_problem(
            app.get("/health/ready").await,
            StatusCode::SERVICE_UNAVAILABLE,
        )
        .await;
    }
}
