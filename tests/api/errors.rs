//! Every error the service answers is a problem document with the request id, including
//! the ones actix produces itself.

use reqwest::{Method, StatusCode, header};
use serde_json::json;

use crate::helpers::{Options, TestApp, api_test, assert_problem};

api_test!(an_unknown_route_is_a_404_problem, |app| async move {
    for path in [
        "/nope",
        "/api/v1/nope",
        "/api/v2/regions",
        "/api/v1/regions/1/extra",
    ] {
        let problem = assert_problem(app.get(path).await, StatusCode::NOT_FOUND).await;
        assert_eq!(problem["instance"], path);
    }
});

api_test!(
    a_wrong_method_is_a_405_that_lists_the_allowed_ones,
    |app| async move {
        let response = app
            .request(Method::DELETE, "/api/v1/regions")
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()[header::ALLOW], "GET, POST");
        assert_problem(response, StatusCode::METHOD_NOT_ALLOWED).await;

        let response = app
            .request(Method::POST, "/api/v1/regions/1")
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()[header::ALLOW], "DELETE, GET, PATCH, PUT");
        assert_problem(response, StatusCode::METHOD_NOT_ALLOWED).await;

        let response = app
            .request(Method::POST, "/health/live")
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()[header::ALLOW], "GET");
        assert_problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
    }
);

api_test!(malformed_json_is_a_400, |app| async move {
    for body in ["{\"name\": ", "not json", "", "{\"name\": \"a\"} trailing"] {
        let response = app
            .request(Method::POST, "/api/v1/regions")
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, StatusCode::BAD_REQUEST).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("JSON"),
            "{problem}"
        );
    }
});

api_test!(a_body_in_another_media_type_is_a_415, |app| async move {
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = app
            .request(Method::POST, "/api/v1/regions")
            .body("{\"name\": \"Goslar\"}");
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        assert_problem(
            request.send().await.unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        )
        .await;
    }
});

api_test!(a_bad_path_parameter_is_a_400, |app| async move {
    for path in [
        "/api/v1/regions/abc",
        "/api/v1/regions/1.5",
        "/api/v1/regions/99999999999999999999",
    ] {
        let problem = assert_problem(app.get(path).await, StatusCode::BAD_REQUEST).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("path"),
            "{problem}"
        );
    }
});

api_test!(a_bad_if_match_is_a_400, |app| async move {
    let region = app.create_region(json!({"name": "Goslar"})).await;
    let response = app
        .request(Method::PUT, &format!("/api/v1/regions/{}", region["id"]))
        .header(header::IF_MATCH, "\"1\", \"2\"")
        .json(&json!({"name": "Goslar"}))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::BAD_REQUEST).await;
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_a_413() {
    let app = TestApp::spawn_sqlite(Options {
        body_limit_bytes: 1024,
        ..Default::default()
    })
    .await;
    let big = json!({"name": "Goslar", "description": "x".repeat(2000)});

    let problem = assert_problem(
        app.post_json("/api/v1/regions", &big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("1024"),
        "{problem}"
    );

    // Also when the length is not announced up front (chunked).
    let stream = futures_stream(big.to_string().into_bytes());
    let response = app
        .request(Method::POST, "/api/v1/regions")
        .header(header::CONTENT_TYPE, "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE).await;
}

fn futures_stream(
    bytes: Vec<u8>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(256).map(|c| Ok(c.to_vec())).collect();
    futures_util::stream::iter(chunks)
}

api_test!(
    the_request_id_is_echoed_when_sane_and_made_up_otherwise,
    |app| async move {
        let echoed = app
            .request(Method::GET, "/health/live")
            .header("x-request-id", "partner-sync-42")
            .send()
            .await
            .unwrap();
        assert_eq!(echoed.headers()["x-request-id"], "partner-sync-42");

        let replaced = app
            .request(Method::GET, "/health/live")
            .header("x-request-id", "bad id with spaces")
            .send()
            .await
            .unwrap();
        let id = replaced.headers()["x-request-id"].to_str().unwrap();
        assert_eq!(id.len(), 36, "a UUID: {id}");

        let problem = app
            .request(Method::GET, "/api/v1/regions/404")
            .header("x-request-id", "trace-me")
            .send()
            .await
            .unwrap();
        assert_eq!(
            assert_problem(problem, StatusCode::NOT_FOUND).await["request_id"],
            "trace-me"
        );
    }
);

/// A write that holds the app's one pooled connection: it waits for a lock another session
/// holds, until `release`.
struct Held {
    holder: crate::helpers::DbConnection,
    write: tokio::task::JoinHandle<reqwest::Response>,
}

async fn hold_the_one_connection(app: &TestApp) -> Held {
    let holder = app.lock_regions();
    let write = app
        .request(reqwest::Method::POST, "/api/v1/regions")
        .json(&serde_json::json!({"name": "Peine"}));
    let write = tokio::spawn(async move { write.send().await.unwrap() });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    Held { holder, write }
}

impl Held {
    /// Lets the write finish (201).
    async fn release(mut self) {
        use diesel::connection::SimpleConnection as _;
        self.holder.batch_execute("COMMIT").unwrap();
        assert_eq!(self.write.await.unwrap().status(), StatusCode::CREATED);
    }
}

api_test!(
    an_exhausted_pool_answers_503_quickly_instead_of_hanging,
    Options {
        db_pool_size: 1,
        db_pool_timeout_secs: 1,
        ..Default::default()
    },
    |app| async move {
        let held = hold_the_one_connection(&app).await;

        let started = std::time::Instant::now();
        let problem = assert_problem(
            app.get("/api/v1/regions").await,
            StatusCode::SERVICE_UNAVAILABLE,
        )
        .await;
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert!(
            !problem["detail"].as_str().unwrap().contains("r2d2"),
            "no internals: {problem}"
        );
        let metrics = crate::operations::scrape(&app).await;
        assert_eq!(
            crate::operations::sample(&metrics, "bn_db_pool_timeouts_total"),
            Some(1.0),
            "the timeout is counted for alerting"
        );
        assert_problem(
            app.get("/health/ready").await,
            StatusCode::SERVICE_UNAVAILABLE,
        )
        .await;

        held.release().await;
        assert_eq!(app.get("/api/v1/regions").await.status(), StatusCode::OK);
    }
);

api_test!(
    requests_beyond_the_pool_queue_for_a_connection_and_get_503_when_none_comes_in_time,
    Options {
        db_pool_size: 1,
        db_pool_timeout_secs: 1,
        ..Default::default()
    },
    |app| async move {
        let slow = hold_the_one_connection(&app).await;

        let started = std::time::Instant::now();
        let queued = app.get("/api/v1/regions");
        let scrape = async {
            tokio::time::sleep(std::time::Duration::from_millis(400)).await;
            crate::operations::scrape(&app).await
        };
        let (queued, metrics) = tokio::join!(queued, scrape);
        assert_eq!(
            crate::operations::sample(&metrics, "bn_db_pool_waiting"),
            Some(1.0),
            "the queued request shows as waiting"
        );
        assert_problem(queued, StatusCode::SERVICE_UNAVAILABLE).await;
        let waited = started.elapsed();
        assert!(
            waited >= std::time::Duration::from_millis(900)
                && waited < std::time::Duration::from_secs(2),
            "answered after the pool timeout, not before and not after the slow work: {waited:?}"
        );
        let metrics = crate::operations::scrape(&app).await;
        assert_eq!(
            crate::operations::sample(&metrics, "bn_db_pool_timeouts_total"),
            Some(1.0)
        );
        assert_eq!(
            crate::operations::sample(&metrics, "bn_db_pool_waiting"),
            Some(0.0)
        );

        slow.release().await;
        assert_eq!(app.get("/api/v1/regions").await.status(), StatusCode::OK);
    }
);

/// PostgreSQL only: a worker's point reads share connections of their own, their statements
/// pipelined (docs/database.md); a pool whose every connection is busy writing does not stop
/// them, and neither does the server ending those shared connections.
mod point_reads_go_on_while_every_pooled_connection_is_busy {
    use reqwest::StatusCode;
    use serde_json::json;

    use super::hold_the_one_connection;
    use crate::helpers::{Options, TestApp, on_postgres};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --run-ignored all"]
    async fn postgres() {
        let options = Options {
            db_pool_size: 1,
            db_pool_timeout_secs: 1,
            ..Default::default()
        };
        on_postgres(options, |app: TestApp| async move {
            let goslar = app.create_region(json!({"name": "Goslar"})).await;
            let path = format!("/api/v1/regions/{}", goslar["id"]);
            let held = hold_the_one_connection(&app).await;

            // Many reads at once, while the one pooled connection waits inside a write.
            let reads = (0..40).map(|_| app.get(&path));
            for read in futures_util::future::join_all(reads).await {
                assert_eq!(read.status(), StatusCode::OK);
                let region: serde_json::Value = read.json().await.unwrap();
                assert_eq!(region["name"], "Goslar");
            }
            held.release().await;

            // The server ends every session of the app (a restart, an administrator): the
            // next reads find the shared connections gone and open others; they do not fail
            // on the dead ones.
            assert!(app.end_its_postgres_sessions().await >= 2);
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            for _ in 0..4 {
                let after = app.get(&path).await;
                assert_eq!(after.status(), StatusCode::OK, "{:?}", after.text().await);
            }
        })
        .await;
    }
}

api_test!(
    an_accept_header_that_admits_nothing_the_endpoint_answers_in_is_a_406,
    |app| async move {
        for accept in [
            "application/xml",
            "text/html",
            "application/json;q=0",
            "text/csv, application/xml;q=0.5",
            "application/json;q=0, text/*",
        ] {
            let response = get_accepting(&app, "/api/v1/regions/1", accept).await;
            let problem = assert_problem(response, StatusCode::NOT_ACCEPTABLE).await;
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap()
                    .contains("application/json"),
                "{accept}: {problem}"
            );
        }
        for accept in [
            "application/json",
            "*/*",
            "application/*",
            "text/html, application/xhtml+xml;q=0.9, */*;q=0.8",
            "application/json; charset=utf-8",
        ] {
            let response = get_accepting(&app, "/api/v1/regions", accept).await;
            assert_eq!(response.status(), StatusCode::OK, "{accept}");
            assert_eq!(
                response.headers()["content-type"],
                "application/json",
                "{accept}"
            );
        }
        // A list also answers CSV: asked for it, or when JSON is refused and anything goes.
        for accept in [
            "text/csv, application/xml;q=0.5",
            "application/json;q=0, */*",
        ] {
            let response = get_accepting(&app, "/api/v1/regions", accept).await;
            assert_eq!(response.status(), StatusCode::OK, "{accept}");
            let content_type = response.headers()["content-type"].to_str().unwrap();
            assert!(
                content_type.starts_with("text/csv"),
                "{accept}: {content_type}"
            );
        }
        let refused = get_accepting(&app, "/api/v1/regions", "application/xml").await;
        let problem = assert_problem(refused, StatusCode::NOT_ACCEPTABLE).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("text/csv"),
            "{problem}"
        );
        let probe = get_accepting(&app, "/health/live", "application/xml").await;
        assert_problem(probe, StatusCode::NOT_ACCEPTABLE).await;
        // What a Prometheus server sends.
        let scrape = get_accepting(
            &app,
            "/metrics",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )
        .await;
        assert_eq!(scrape.status(), StatusCode::OK);
        let docs = get_accepting(&app, "/docs/", "text/html").await;
        assert_eq!(docs.status(), StatusCode::OK);
    }
);

async fn get_accepting(app: &TestApp, path: &str, accept: &str) -> reqwest::Response {
    app.request(Method::GET, path)
        .header(header::ACCEPT, accept)
        .send()
        .await
        .unwrap()
}
