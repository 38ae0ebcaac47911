//! `Idempotency-Key`: a retried POST replays the first answer instead of creating a second
//! record, on one instance and across replicas.

use reqwest::{Method, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, api_test, assert_problem};

async fn post_with_key(
    app: &TestApp,
    token: &str,
    path: &str,
    key: &str,
    body: &Value,
) -> Response {
    app.request_as(token, Method::POST, path)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Status, Location, ETag, replayed flag and body of an answer.
async fn answer(response: Response) -> (StatusCode, String, String, bool, Value) {
    let headers = response.headers().clone();
    let text = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (location, etag) = (text("location"), text("etag"));
    let replayed = text("idempotent-replayed") == "true";
    (
        response.status(),
        location,
        etag,
        replayed,
        response.json().await.unwrap(),
    )
}

/// Every answer to simultaneous keyed POSTs is the one record's 201, or a 409 that says when
/// to retry.
async fn assert_one_record(answers: Vec<Response>) {
    let mut locations = Vec::new();
    for response in answers {
        match response.status() {
            StatusCode::CREATED => {
                locations.push(response.headers()["location"].to_str().unwrap().to_owned())
            }
            StatusCode::CONFLICT => assert!(response.headers().contains_key("retry-after")),
            other => panic!("{other}: {}", response.text().await.unwrap()),
        }
    }
    locations.dedup();
    assert_eq!(locations.len(), 1, "{locations:?}");
}

async fn total(app: &TestApp, collection: &str) -> i64 {
    let list: Value = app
        .get(&format!("/api/v1/{collection}?with_total=true"))
        .await
        .json()
        .await
        .unwrap();
    list["total"].as_i64().unwrap()
}

api_test!(
    a_repeated_post_with_the_same_key_replays_the_first_answer,
    |app| async move {
        let body = json!({"name": "Peine", "district": "Landkreis Peine"});
        let first =
            answer(post_with_key(&app, &app.token, "/api/v1/regions", "k-1", &body).await).await;
        assert_eq!(first.0, StatusCode::CREATED);
        assert!(!first.3, "the first answer is no replay");

        // The same members in another order are the same request.
        let reordered = json!({"district": "Landkreis Peine", "name": "Peine"});
        let again =
            answer(post_with_key(&app, &app.token, "/api/v1/regions", "k-1", &reordered).await)
                .await;
        assert_eq!(again.0, StatusCode::CREATED);
        assert_eq!(
            (&again.1, &again.2, &again.4),
            (&first.1, &first.2, &first.4)
        );
        assert!(again.3, "Idempotent-Replayed: true");
        assert_eq!(total(&app, "regions").await, 1);
        let changes: Value = app.get("/api/v1/changes").await.json().await.unwrap();
        assert_eq!(changes["items"].as_array().unwrap().len(), 1, "{changes}");
    }
);

api_test!(
    the_same_key_with_another_request_is_refused,
    |app| async move {
        let key = "4f0c6bb8-a1d6-4b3c-9b8e-7a3a5f6b9c10";
        let created = post_with_key(
            &app,
            &app.token,
            "/api/v1/regions",
            key,
            &json!({"name": "Goslar"}),
        )
        .await;
        assert_eq!(created.status(), StatusCode::CREATED);

        for (path, body) in [
            ("/api/v1/regions", json!({"name": "Seesen"})),
            (
                "/api/v1/topics",
                json!({"key": "retention", "name": "Mitarbeiterbindung", "category": "retention"}),
            ),
            ("/api/v1/regions?x=1", json!({"name": "Goslar"})),
        ] {
            let response = post_with_key(&app, &app.token, path, key, &body).await;
            let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
            assert_eq!(
                problem["type"], "urn:betriebsnachbarschaften:problem:idempotency-key-reused",
                "{path}: {problem}"
            );
        }
        assert_eq!(total(&app, "regions").await, 1);
        assert_eq!(total(&app, "topics").await, 0);
    }
);

api_test!(a_key_is_the_callers_own, |app| async move {
    let goslar = app.create_region(json!({"name": "Goslar"})).await;
    let editor = app.token_for("editor", None).await;
    let body = json!({"name": "Tischlerei Harz", "region_id": goslar["id"]});
    let mine =
        answer(post_with_key(&app, &app.token, "/api/v1/companies", "same", &body).await).await;
    let theirs =
        answer(post_with_key(&app, &editor, "/api/v1/companies", "same", &body).await).await;
    assert_eq!(
        (mine.0, theirs.0),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert!(!theirs.3);
    assert_ne!(mine.1, theirs.1, "two callers, two records");
});

api_test!(
    a_failed_request_is_not_stored_so_a_retry_runs_again,
    |app| async move {
        app.create_region(json!({"name": "Goslar"})).await;
        let taken = post_with_key(
            &app,
            &app.token,
            "/api/v1/regions",
            "retry",
            &json!({"name": "Goslar"}),
        )
        .await;
        assert_eq!(taken.status(), StatusCode::CONFLICT);
        let invalid = post_with_key(
            &app,
            &app.token,
            "/api/v1/regions",
            "retry",
            &json!({"name": ""}),
        )
        .await;
        assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let fixed = post_with_key(
            &app,
            &app.token,
            "/api/v1/regions",
            "retry",
            &json!({"name": "Salzgitter"}),
        )
        .await;
        assert_eq!(fixed.status(), StatusCode::CREATED);
        assert!(fixed.headers().get("idempotent-replayed").is_none());
    }
);

api_test!(
    a_malformed_key_is_a_bad_request_naming_the_header,
    |app| async move {
        let long = "k".repeat(256);
        for key in [
            header::HeaderValue::from_static(""),
            header::HeaderValue::from_str(&long).unwrap(),
            header::HeaderValue::from_bytes("schön".as_bytes()).unwrap(),
            header::HeaderValue::from_static("\"\""),
        ] {
            let response = app
                .request(Method::POST, "/api/v1/regions")
                .header("Idempotency-Key", key.clone())
                .json(&json!({"name": "Peine"}))
                .send()
                .await
                .unwrap();
            let problem = assert_problem(response, StatusCode::BAD_REQUEST).await;
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap()
                    .contains("Idempotency-Key"),
                "{key:?}: {problem}"
            );
        }
        let two = app
            .request(Method::POST, "/api/v1/regions")
            .header("Idempotency-Key", "a")
            .header("Idempotency-Key", "b")
            .json(&json!({"name": "Peine"}))
            .send()
            .await
            .unwrap();
        assert_problem(two, StatusCode::BAD_REQUEST).await;
        // A quoted key (a structured-field string) is the same key as the bare one.
        let bare = post_with_key(
            &app,
            &app.token,
            "/api/v1/regions",
            "q",
            &json!({"name": "Peine"}),
        )
        .await;
        let quoted = post_with_key(
            &app,
            &app.token,
            "/api/v1/regions",
            "\"q\"",
            &json!({"name": "Peine"}),
        )
        .await;
        assert_eq!(
            (bare.status(), quoted.status()),
            (StatusCode::CREATED, StatusCode::CREATED)
        );
        assert_eq!(quoted.headers()["idempotent-replayed"], "true");
        assert_eq!(total(&app, "regions").await, 1);
    }
);

api_test!(
    twenty_simultaneous_identical_posts_with_one_key_create_one_record,
    |app| async move {
        let body = json!({"name": "Seesen", "state": "Niedersachsen"});
        let answers = futures_util::future::join_all(
            (0..20).map(|_| post_with_key(&app, &app.token, "/api/v1/regions", "burst", &body)),
        )
        .await;
        assert_one_record(answers).await;
        assert_eq!(total(&app, "regions").await, 1);
    }
);

/// The keys live in the database, so replicas share them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --run-ignored all"]
async fn simultaneous_identical_posts_through_two_replicas_create_one_record() {
    let a = TestApp::spawn_postgres(Default::default()).await;
    let b = a.replica().await;
    let body = json!({"name": "Schöningen/Samtgemeinde Heeseberg"});
    let answers = futures_util::future::join_all((0..20).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        post_with_key(app, &a.token, "/api/v1/regions", "two-replicas", &body)
    }))
    .await;
    assert_one_record(answers).await;
    assert_eq!(total(&a, "regions").await, 1);
}

api_test!(
    creating_a_user_is_idempotent_but_creating_a_client_is_not,
    |app| async move {
        let user =
            json!({"username": "kammer", "password": "a-long-enough-password", "role": "viewer"});
        let first =
            answer(post_with_key(&app, &app.token, "/api/v1/users", "u", &user).await).await;
        let again =
            answer(post_with_key(&app, &app.token, "/api/v1/users", "u", &user).await).await;
        assert_eq!(
            (first.0, again.0),
            (StatusCode::CREATED, StatusCode::CREATED)
        );
        assert!(again.3);
        assert_eq!(first.4, again.4);
        assert!(first.4.get("password").is_none());

        // A client's answer holds its secret, shown once: a key does not make it replayable.
        let client = json!({"name": "HWK-Sync", "role": "viewer"});
        let one = post_with_key(&app, &app.token, "/api/v1/clients", "c", &client).await;
        let two = post_with_key(&app, &app.token, "/api/v1/clients", "c", &client).await;
        assert_eq!(
            (one.status(), two.status()),
            (StatusCode::CREATED, StatusCode::CREATED)
        );
        assert!(two.headers().get("idempotent-replayed").is_none());
        assert_eq!(total(&app, "clients").await, 2);
    }
);

api_test!(
    an_answer_older_than_the_ttl_is_forgotten_by_the_housekeeping,
    |app| async move {
        let body = json!({"name": "Goslar"});
        let first = post_with_key(&app, &app.token, "/api/v1/regions", "old", &body).await;
        assert_eq!(first.status(), StatusCode::CREATED);
        // The answer ages past a day; the housekeeping's purge forgets it.
        app.with_connection(move |conn| {
            use diesel::RunQueryDsl as _;
            diesel::sql_query("UPDATE idempotency_keys SET created_at = '2001-01-01 00:00:00'")
                .execute(conn)
                .unwrap();
        })
        .await;
        let purged = app
            .db
            .write(async |conn| {
                betriebsnachbarschaften::api::idempotency::purge(conn, 86_400).await
            })
            .await
            .unwrap();
        assert_eq!(purged, 1);
        // The key is free again: the same request runs again (and meets the name it took).
        let again = post_with_key(&app, &app.token, "/api/v1/regions", "old", &body).await;
        assert_problem(again, StatusCode::CONFLICT).await;
    }
);
