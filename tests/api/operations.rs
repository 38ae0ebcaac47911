//! What ops and browsers see around the API: `/metrics`, security headers, CORS.

use reqwest::{Method, StatusCode, header};
use serde_json::json;

use crate::helpers::{Options, TestApp, api_test, assert_problem};

/// The value of the sample whose name and labels are exactly `series`, e.g.
/// `bn_http_requests_total{method="GET",route="/x",status="200"}`.
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

pub async fn scrape(app: &TestApp) -> String {
    let response = app.anonymous(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

api_test!(
    metrics_count_requests_by_route_pattern_method_and_status,
    |app| async move {
        let region = app
            .post_json("/api/v1/regions", &json!({"name": "Seesen"}))
            .await;
        assert_eq!(region.status(), StatusCode::CREATED);
        let id = region.json::<serde_json::Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap();
        for _ in 0..3 {
            assert_eq!(
                app.get(&format!("/api/v1/regions/{id}")).await.status(),
                StatusCode::OK
            );
        }
        assert_eq!(
            app.get("/api/v1/regions/987654321").await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.get("/no/such/page-42").await.status(),
            StatusCode::NOT_FOUND
        );

        let metrics = scrape(&app).await;
        let by_id = r#"route="/api/v1/regions/{id}""#;
        assert_eq!(
            sample(
                &metrics,
                &format!(r#"bn_http_requests_total{{method="GET",{by_id},status="200"}}"#)
            ),
            Some(3.0),
            "{metrics}"
        );
        assert_eq!(
            sample(
                &metrics,
                &format!(r#"bn_http_requests_total{{method="GET",{by_id},status="404"}}"#)
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &metrics,
                r#"bn_http_requests_total{method="POST",route="/api/v1/regions",status="201"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &metrics,
                &format!(
                    r#"bn_http_request_duration_seconds_count{{method="GET",{by_id},status="200"}}"#
                )
            ),
            Some(3.0)
        );
        assert_eq!(
            sample(
                &metrics,
                r#"bn_http_requests_total{method="GET",route="unmatched",status="404"}"#
            ),
            Some(1.0)
        );
        // Raw paths never become labels: ids and unknown URLs would make unbounded series.
        assert!(
            !metrics.contains("/regions/987654321") && !metrics.contains("/no/such"),
            "{metrics}"
        );
        // The scrape itself is in flight while it renders.
        assert_eq!(sample(&metrics, "bn_http_requests_in_flight"), Some(1.0));
        // DB_POOL_SIZE = 4; on PostgreSQL the background tasks have two connections besides.
        let max = if app.on_postgres() { 6.0 } else { 4.0 };
        assert_eq!(sample(&metrics, "bn_db_pool_max_connections"), Some(max));
        let open = sample(&metrics, "bn_db_pool_connections").unwrap();
        let idle = sample(&metrics, "bn_db_pool_idle_connections").unwrap();
        assert!((1.0..=max).contains(&open) && idle <= open, "{metrics}");
        assert_eq!(sample(&metrics, "bn_db_pool_waiting"), Some(0.0));
        assert_eq!(sample(&metrics, "bn_db_pool_timeouts_total"), Some(0.0));
        let version = env!("CARGO_PKG_VERSION");
        assert!(
            metrics.contains(&format!(r#"bn_build_info{{version="{version}",revision=""#)),
            "{metrics}"
        );
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_token_guards_the_scrape() {
    let app = TestApp::spawn_sqlite(Options {
        metrics_token: Some("scrape-secret".into()),
        ..Default::default()
    })
    .await;
    let anonymous = app.anonymous(Method::GET, "/metrics").send().await.unwrap();
    assert!(anonymous.headers().contains_key(header::WWW_AUTHENTICATE));
    assert_problem(anonymous, StatusCode::UNAUTHORIZED).await;
    // An API token is not the metrics token.
    let api_token = app.get("/metrics").await;
    assert_eq!(api_token.status(), StatusCode::UNAUTHORIZED);
    let scraper = app
        .request_as("scrape-secret", Method::GET, "/metrics")
        .send()
        .await
        .unwrap();
    assert_eq!(scraper.status(), StatusCode::OK);
    assert!(
        scraper
            .text()
            .await
            .unwrap()
            .contains("bn_http_requests_total")
    );
}

api_test!(
    metrics_answer_the_classic_text_format_to_whoever_prefers_text_plain,
    |app| async move {
        assert_eq!(app.get("/api/v1/regions").await.status(), StatusCode::OK);
        let classic = app
            .anonymous(Method::GET, "/metrics")
            .header(header::ACCEPT, "text/plain")
            .send()
            .await
            .unwrap();
        assert_eq!(
            classic.headers()[header::CONTENT_TYPE],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        let text = classic.text().await.unwrap();
        // What the classic format lacks is left out; a family is named as its samples are.
        assert!(
            !text.contains("# EOF") && !text.contains("# UNIT"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE bn_http_requests_total counter\n"),
            "{text}"
        );
        assert!(text.contains("# HELP bn_http_requests_total "), "{text}");
        assert!(text.contains("# TYPE bn_build_info gauge\n"), "{text}");
        // Every sample belongs to the family declared before it (a histogram's by its
        // _bucket, _sum and _count), as Prometheus' classic parser requires.
        let mut family = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                family = rest.split(' ').next().unwrap().to_owned();
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .unwrap_or(name);
                assert!(name == family || base == family, "{name} under {family}");
            }
        }
        let requests =
            r#"bn_http_requests_total{method="GET",route="/api/v1/regions",status="200"}"#;
        assert_eq!(sample(&text, requests), Some(1.0), "{text}");

        // What Prometheus sends prefers OpenMetrics, and gets it.
        let prometheus = "application/openmetrics-text;version=1.0.0;q=0.5,\
            text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        let scraped = app
            .anonymous(Method::GET, "/metrics")
            .header(header::ACCEPT, prometheus)
            .send()
            .await
            .unwrap();
        let content_type = scraped.headers()[header::CONTENT_TYPE].to_str().unwrap();
        assert!(content_type.starts_with("application/openmetrics-text"));
    }
);

api_test!(
    every_answer_forbids_sniffing_and_api_data_is_never_cached,
    |app| async move {
        for (path, token) in [
            ("/health/live", false),
            ("/api/v1/regions", true),
            ("/api/v1/nowhere", true),
        ] {
            let response = if token {
                app.get(path).await
            } else {
                app.anonymous(Method::GET, path).send().await.unwrap()
            };
            assert_eq!(
                response.headers()["x-content-type-options"],
                "nosniff",
                "{path}"
            );
            if path.starts_with("/api/v1") {
                assert_eq!(
                    response.headers()[header::CACHE_CONTROL],
                    "no-store",
                    "{path}"
                );
            }
        }
        let unauthorized = app
            .anonymous(Method::GET, "/api/v1/regions")
            .send()
            .await
            .unwrap();
        assert_eq!(unauthorized.headers()[header::CACHE_CONTROL], "no-store");
        // The public document may be cached.
        let document = app
            .anonymous(Method::GET, "/api/v1/openapi.json")
            .send()
            .await
            .unwrap();
        assert!(
            document
                .headers()
                .get(header::CACHE_CONTROL)
                .is_none_or(|v| v != "no-store")
        );
    }
);

api_test!(
    the_docs_page_has_a_content_security_policy_its_own_assets_satisfy,
    |app| async move {
        let page = app.anonymous(Method::GET, "/docs/").send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-eval"), "{csp}");
        let html = page.text().await.unwrap();
        // `script-src 'self'` admits no inline script: every script element must load a file.
        for script in html.split("<script").skip(1) {
            let tag = &script[..script.find('>').unwrap()];
            assert!(
                tag.contains("src="),
                "an inline script the CSP would block: <script{tag}>"
            );
        }
        let initializer = app
            .anonymous(Method::GET, "/docs/swagger-initializer.js")
            .send()
            .await
            .unwrap();
        assert_eq!(initializer.status(), StatusCode::OK);
        assert!(
            initializer
                .text()
                .await
                .unwrap()
                .contains("/api/v1/openapi.json")
        );
    }
);

const FRONTEND: &str = "https://app.example.org";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_frontend_origins_may_call_the_api_from_a_browser() {
    let app = TestApp::spawn_sqlite(Options {
        cors_allowed_origins: vec![FRONTEND.into(), "http://localhost:5173".into()],
        ..Default::default()
    })
    .await;
    let preflight = app
        .anonymous(Method::OPTIONS, "/api/v1/companies")
        .header(header::ORIGIN, FRONTEND)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "PATCH")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization, if-match, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let headers = preflight.headers();
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], FRONTEND);
    let methods = headers[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .unwrap();
    assert!(methods.contains("PATCH"), "{methods}");
    let allowed = headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        allowed.contains("if-match") && allowed.contains("authorization"),
        "{allowed}"
    );
    assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));

    let list = app
        .request(Method::GET, "/api/v1/regions")
        .header(header::ORIGIN, FRONTEND)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    assert_eq!(
        list.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        FRONTEND
    );
    let exposed = list.headers()[header::ACCESS_CONTROL_EXPOSE_HEADERS]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        exposed.contains("etag") && exposed.contains("location"),
        "{exposed}"
    );

    // Another origin gets no CORS headers, so its browser withholds the answer.
    let other = app
        .request(Method::GET, "/api/v1/regions")
        .header(header::ORIGIN, "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(
        !other
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    );
}

api_test!(
    without_configured_origins_no_cross_origin_access_is_granted,
    |app| async move {
        let response = app
            .request(Method::GET, "/api/v1/regions")
            .header(header::ORIGIN, FRONTEND)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            !response
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        );
        let preflight = app
            .anonymous(Method::OPTIONS, "/api/v1/regions")
            .header(header::ORIGIN, FRONTEND)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .send()
            .await
            .unwrap();
        assert!(
            !preflight
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        );
    }
);
