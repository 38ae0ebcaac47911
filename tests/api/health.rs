//! Health probes.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Options, api_test, assert_problem};

api_test!(a_migrated_service_is_live_and_ready, |app| async move {
    let live = app.get("/health/live").await;
    assert_eq!(live.status(), StatusCode::OK);
    assert_eq!(live.json::<Value>().await.unwrap()["status"], "ok");
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), StatusCode::OK);
});

api_test!(
    a_service_with_pending_migrations_is_live_but_not_ready,
    Options {
        migrate_on_start: false,
        ..Default::default()
    },
    |app| async move {
        assert_eq!(app.get("/health/live").await.status(), StatusCode::OK);
        assert_problem(
            app.get("/health/ready").await,
            StatusCode::SERVICE_UNAVAILABLE,
        )
        .await;
    }
);
