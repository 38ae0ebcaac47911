//! What probing the service from outside found (issue #16): each finding as the request
//! that broke it, answered as documented on both databases.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection as _;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, api_test, assert_problem, etag_of, field_errors};

/// U+0000 in a text, as JSON carries it.
const NUL_NAME: &str = "Bäckerei\u{0}Meyer";

api_test!(
    a_nul_character_in_a_body_field_is_a_422_naming_the_field,
    |app: TestApp| async move {
        // PostgreSQL's text cannot hold U+0000 (it answered 500); SQLite must not store what
        // a backup could not move to PostgreSQL.
        for (collection, field) in [
            ("/api/v1/topics", "name"),
            ("/api/v1/funding-sources", "name"),
            ("/api/v1/organizations", "name"),
            ("/api/v1/regions", "name"),
            ("/api/v1/companies", "name"),
            ("/api/v1/projects", "name"),
            ("/api/v1/events", "title"),
        ] {
            let response = app.post_json(collection, &json!({field: NUL_NAME})).await;
            let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
            assert_eq!(
                field_errors(&problem),
                [(field.to_owned(), "nul_character".to_owned())],
                "{collection}: {problem}"
            );
        }

        // In a patch, and deep inside a body, the path names it.
        let region = app.create_region(json!({"name": "Goslar"})).await;
        let id = region["id"].as_i64().unwrap();
        let response = app
            .patch_json(
                &format!("/api/v1/regions/{id}"),
                &json!({"district": "Landkreis\u{0}Goslar"}),
            )
            .await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem["errors"][0]["field"], "district");
        let response = app
            .post_json(
                "/api/v1/projects",
                &json!({"name": "P", "funding": [{"funding_source_id": 1, "role": "fund\u{0}ing"}]}),
            )
            .await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem["errors"][0]["field"], "funding[0].role");

        // Nothing was written.
        let regions: Value = app.get("/api/v1/regions").await.json().await.unwrap();
        assert_eq!(regions["items"].as_array().unwrap().len(), 1);
    }
);

api_test!(
    a_nul_character_in_a_query_parameter_is_a_400_naming_it,
    |app: TestApp| async move {
        for (path, name) in [
            ("/api/v1/regions?q=a%00b", "q"),
            ("/api/v1/regions?district=a%00b", "district"),
            ("/api/v1/companies?city=%00", "city"),
            ("/api/v1/companies?external_id=K%001", "external_id"),
            ("/api/v1/changes?resource=%00", "resource"),
            ("/api/v1/reports/projects/1?dialect=%00", "dialect"),
        ] {
            let problem = assert_problem(app.get(path).await, StatusCode::BAD_REQUEST).await;
            let detail = problem["detail"].as_str().unwrap();
            assert!(
                detail.contains(&format!("parameter {name}")) && detail.contains("NUL"),
                "{path}: {detail}"
            );
        }
    }
);

api_test!(
    a_nul_character_in_an_imported_cell_is_an_error_of_its_row,
    |app: TestApp| async move {
        let region = app.create_region(json!({"name": "Peine"})).await["id"].clone();
        let csv = format!("name,region_id,external_id\nA,{region},K\u{0}1\nB,{region},K-2\n");
        let response = app
            .request(Method::POST, "/api/v1/companies/import?mode=upsert")
            .header(header::CONTENT_TYPE, "text/csv")
            .body(csv)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        let row = &problem["report"]["results"][0];
        assert_eq!(
            (row["line"].as_i64(), row["outcome"].as_str()),
            (Some(2), Some("failed"))
        );
        assert_eq!(
            (
                row["errors"][0]["column"].as_str(),
                row["errors"][0]["code"].as_str()
            ),
            (Some("external_id"), Some("nul_character"))
        );
    }
);

api_test!(
    sign_in_forms_are_held_to_their_documented_lengths_and_refuse_nul,
    |app: TestApp| async move {
        let long_hint = "h".repeat(51);
        for (path, form) in [
            (
                "/api/v1/auth/token",
                vec![
                    ("grant_type", "password"),
                    ("username", "ad\u{0}min"),
                    ("password", "x"),
                ],
            ),
            (
                "/api/v1/auth/token",
                vec![
                    ("grant_type", "client_credentials"),
                    ("client_id", "c\u{0}"),
                    ("client_secret", "x"),
                ],
            ),
            (
                "/api/v1/auth/revoke",
                vec![("token", "t"), ("token_type_hint", long_hint.as_str())],
            ),
        ] {
            let response = app
                .anonymous(Method::POST, path)
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{form:?}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], "invalid_request", "{body}");
            let field = form[1].0;
            assert!(
                body["error_description"]
                    .as_str()
                    .is_some_and(|d| d.starts_with(field)),
                "{body}"
            );
        }

        // HTTP Basic credentials with U+0000 are no credentials, not a 500.
        let response = app
            .anonymous(Method::POST, "/api/v1/auth/token")
            .basic_auth("c\u{0}lient", Some("secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{}", response.status());
    }
);

api_test!(
    an_integer_field_takes_a_whole_number_written_with_a_fraction,
    |app: TestApp| async move {
        // JSON Schema counts 64.0 as an integer, and some clients send whole numbers so.
        let region = app.create_region(json!({"name": "Seesen"})).await["id"]
            .as_i64()
            .unwrap();
        let company = app
            .create(
                "/api/v1/companies",
                json!({"name": "Tischlerei", "region_id": region as f64, "employee_count": 64.0}),
            )
            .await;
        assert_eq!(
            (
                company["region_id"].as_i64(),
                company["employee_count"].as_i64()
            ),
            (Some(region), Some(64))
        );

        // A fraction that is not whole stays a type error, naming the field.
        let response = app
            .post_json(
                "/api/v1/companies",
                &json!({"name": "Tischlerei", "region_id": region, "employee_count": 64.5}),
            )
            .await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(
            field_errors(&problem),
            [("employee_count".to_owned(), "type".to_owned())]
        );
    }
);

api_test!(
    a_header_section_over_16_kib_is_a_431_problem,
    |app: TestApp| async move {
        // One header of 64 KiB was answered 200.
        let response = app
            .request(Method::GET, "/api/v1/regions")
            .header("x-padding", "a".repeat(64 * 1024))
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE).await;
        assert_eq!(
            problem["type"],
            "urn:betriebsnachbarschaften:problem:request-headers-too-large"
        );
        assert!(problem["detail"].as_str().unwrap().contains("16384"));

        // Many small ones count together; a large but sane section passes.
        let mut many = app.request(Method::GET, "/api/v1/regions");
        for n in 0..40 {
            many = many.header(format!("x-padding-{n}"), "b".repeat(500));
        }
        let status = many.send().await.unwrap().status();
        assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        let fine = app
            .request(Method::GET, "/api/v1/regions")
            .header("x-padding", "c".repeat(12 * 1024))
            .send()
            .await
            .unwrap();
        assert_eq!(fine.status(), StatusCode::OK);
    }
);

api_test!(
    the_readme_search_example_finds_the_region_and_raw_bytes_get_the_parsers_bare_400,
    |app: TestApp| async move {
        app.create_region(json!({
            "name": "Schöningen/Samtgemeinde Heeseberg",
            "district": "Landkreis Helmstedt",
        }))
        .await;
        // What `curl -G --data-urlencode 'q=schön' --data-urlencode 'district=…'` sends.
        let page: Value = app
            .get("/api/v1/regions?q=sch%C3%B6n&district=Landkreis%20Helmstedt")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            page["items"][0]["name"],
            "Schöningen/Samtgemeinde Heeseberg"
        );

        // The unencoded URL never reaches the service: actix-http's parser answers a bare 400
        // and closes (README, "Errors"). If this ever changes, the README must too.
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let authority = app.address.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
        stream
            .write_all("GET /api/v1/regions?q=schön HTTP/1.1\r\nHost: x\r\n\r\n".as_bytes())
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        assert!(answer.contains("content-length: 0"), "{answer}");
    }
);

api_test!(
    database_work_past_its_deadline_is_a_504_in_time_and_the_service_recovers,
    Options {
        db_query_timeout_secs: 1,
        ..Default::default()
    },
    |app: TestApp| async move {
        let region = app.create_region(json!({"name": "Peine"})).await;
        let path = format!("/api/v1/regions/{}", region["id"]);

        let mut holder = app.lock_regions();

        let started = Instant::now();
        let response = app
            .patch_json(&path, &json!({"district": "Landkreis Peine"}))
            .await;
        let waited = started.elapsed();
        let problem = assert_problem(response, StatusCode::GATEWAY_TIMEOUT).await;
        assert_eq!(
            problem["type"],
            "urn:betriebsnachbarschaften:problem:database-timeout"
        );
        assert!(waited < Duration::from_secs(3), "answered after {waited:?}");
        // Reads of other tables are not held up meanwhile.
        assert_eq!(app.get("/api/v1/topics").await.status(), StatusCode::OK);

        holder.batch_execute("ROLLBACK").unwrap();
        drop(holder);

        // Recovered by itself: a fresh read and a write go through.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let current = app.get(&path).await;
            assert_eq!(current.status(), StatusCode::OK);
            let etag = etag_of(&current);
            let written = app
                .request(Method::PATCH, &path)
                .header(header::IF_MATCH, etag)
                .header(header::CONTENT_TYPE, "application/merge-patch+json")
                .body(json!({"district": "Landkreis Peine"}).to_string())
                .send()
                .await
                .unwrap()
                .status();
            if written == StatusCode::OK {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "still {written} after the lock went"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
);

/// PostgreSQL only: SQLite has no statement timeout.
mod a_statement_postgresql_cancels_is_a_timeout_by_its_code {
    use betriebsnachbarschaften::domain::error::DomainError;
    use diesel::RunQueryDsl as _;
    use diesel::connection::SimpleConnection as _;

    use crate::helpers::{Options, TestApp, on_postgres};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --run-ignored all"]
    async fn postgres() {
        on_postgres(Options::default(), |app: TestApp| async move {
            let mut conn = app.admin();
            conn.batch_execute("SET statement_timeout = '20ms'")
                .unwrap();
            let cancelled = diesel::sql_query("SELECT pg_sleep(1)")
                .execute(&mut conn)
                .unwrap_err();
            // Recognised by SQLSTATE 57014, not by the message (which follows the server's
            // lc_messages): the caller gets a 504, not a 500.
            let error = DomainError::from(cancelled);
            assert!(matches!(error, DomainError::Timeout(_)), "{error:?}");
            conn.batch_execute("RESET statement_timeout").unwrap();
        })
        .await;
    }
}

/// PostgreSQL only: a request whose database work is dropped half-way — past its deadline, or
/// its client gone — must not leave its pooled connection inside the open transaction (the
/// next request on it would run in that transaction, or wait behind its locks). SQLite's work
/// runs to its end on a blocking thread and can't be dropped half-way.
mod work_dropped_half_way_leaves_no_transaction_open {
    use std::time::{Duration, Instant};

    use diesel::RunQueryDsl as _;
    use diesel::connection::SimpleConnection as _;
    use reqwest::StatusCode;
    use serde_json::json;

    use crate::helpers::{Options, TestApp, assert_problem, on_postgres};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --run-ignored all"]
    async fn postgres() {
        let options = Options {
            db_query_timeout_secs: 1,
            db_pool_size: 2,
            ..Default::default()
        };
        on_postgres(options, |app: TestApp| async move {
            // Another session holds the regions table: every insert into it waits, inside the
            // transaction that also writes the change feed.
            let mut holder = app.lock_regions();
            // One request past its deadline (504), one whose client gives up first. (actix
            // keeps serving a request whose client left, so that work, too, ends at its
            // deadline.)
            let started = Instant::now();
            let goslar = json!({"name": "Goslar"});
            let timed_out = app.post_json("/api/v1/regions", &goslar);
            let given_up = app
                .request(reqwest::Method::POST, "/api/v1/regions")
                .json(&json!({"name": "Seesen"}))
                .timeout(Duration::from_millis(300))
                .send();
            let (timed_out, given_up) = tokio::join!(timed_out, given_up);
            assert_problem(timed_out, StatusCode::GATEWAY_TIMEOUT).await;
            assert!(given_up.unwrap_err().is_timeout());
            tokio::time::sleep(Duration::from_millis(1500).saturating_sub(started.elapsed())).await;
            holder.batch_execute("COMMIT").unwrap();

            // Once the lock is gone, no session of the app may still hold the table: a
            // connection left in its transaction would keep its insert's lock until it ended.
            #[derive(diesel::QueryableByName)]
            struct Holders {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let holders = diesel::sql_query(
                    "SELECT count(*) AS n FROM pg_locks \
                     WHERE relation = 'regions'::regclass AND pid <> pg_backend_pid()",
                )
                .get_result::<Holders>(&mut holder)
                .unwrap();
                if holders.n == 0 {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{} session(s) still hold the regions table: a transaction was left open",
                    holders.n
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            // Neither half-written change is stored, and the pool serves writes again.
            let listed = app.get("/api/v1/regions").await;
            let listed: serde_json::Value = listed.json().await.unwrap();
            assert_eq!(listed["items"], json!([]), "{listed}");
            for name in ["Peine", "Salzgitter", "Schöningen/Samtgemeinde Heeseberg"] {
                let created = app
                    .post_json("/api/v1/regions", &json!({ "name": name }))
                    .await;
                assert_eq!(created.status(), StatusCode::CREATED);
            }
        })
        .await;
    }
}
