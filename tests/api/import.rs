//! Importing companies from CSV: what a chamber's staff send from Excel or their member
//! database — created or matched, all or nothing, reported line by line.

use reqwest::{Method, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::csv_export::{example_company, get_csv, parse_csv};
use crate::helpers::{Options, TestApp, api_test, assert_problem};

/// POSTs a CSV file to the import as `token` with the query `query`.
async fn import_as(app: &TestApp, token: &str, query: &str, csv: impl Into<Vec<u8>>) -> Response {
    app.request_as(
        token,
        Method::POST,
        &format!("/api/v1/companies/import?{query}"),
    )
    .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
    .body(csv.into())
    .send()
    .await
    .unwrap()
}

async fn import(app: &TestApp, query: &str, csv: impl Into<Vec<u8>>) -> Response {
    import_as(app, &app.token, query, csv).await
}

/// The report of a successful import.
async fn report(response: Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// How many companies there are, and the newest change in the feed.
async fn state(app: &TestApp) -> (i64, i64) {
    let page: Value = app
        .get("/api/v1/companies?limit=1&with_total=true")
        .await
        .json()
        .await
        .unwrap();
    let feed: Value = app
        .get("/api/v1/changes?limit=1")
        .await
        .json()
        .await
        .unwrap();
    (
        page["total"].as_i64().unwrap(),
        feed["head"].as_i64().unwrap(),
    )
}

/// The company a report's row names, as `GET` shows it.
async fn company_of(app: &TestApp, row: &Value) -> Value {
    let id = row["id"].as_i64().expect("the row names a company");
    app.get(&format!("/api/v1/companies/{id}"))
        .await
        .json()
        .await
        .unwrap()
}

async fn region(app: &TestApp, name: &str) -> i64 {
    app.create_region(json!({"name": name})).await["id"]
        .as_i64()
        .unwrap()
}

api_test!(
    an_export_imported_with_upsert_changes_nothing,
    |app: TestApp| async move {
        example_company(&app).await;
        app.db
            .run(betriebsnachbarschaften::seed::demo)
            .await
            .expect("the demo seed loads");
        let before = state(&app).await;
        for dialect in ["rfc4180", "excel"] {
            let (_, exported) =
                get_csv(&app, &format!("/api/v1/companies?dialect={dialect}")).await;
            let report = report(import(&app, "mode=upsert", exported).await).await;
            assert_eq!(report["dialect"], dialect);
            assert_eq!(report["rows"].as_i64().unwrap(), before.0);
            assert_eq!(report["unchanged"], report["rows"], "{report}");
            assert_eq!(
                (report["created"].as_i64(), report["updated"].as_i64()),
                (Some(0), Some(0))
            );
            assert_eq!(state(&app).await, before, "no write, no feed entry");
        }
        // The formula came back as the text it was, not as `'=…`.
        let found: Value = app
            .get("/api/v1/companies?external_id=HWK-4711")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(found["items"][0]["trade"], "=HYPERLINK(\"x\")");
        assert_eq!(found["items"][0]["version"], 1);
    }
);

api_test!(
    a_file_creates_companies_with_umlauts_relations_and_feed_entries,
    |app: TestApp| async move {
        let peine = region(&app, "Peine").await;
        let topic = app
            .create(
                "/api/v1/topics",
                json!({"key": "retention", "name": "Mitarbeiterbindung", "category": "retention"}),
            )
            .await["id"]
            .as_i64()
            .unwrap();
        let (_, head) = state(&app).await;
        // Columns in another order than the export's, a quoted field over two lines, ids
        // separated by commas, version/created_at ignored, id ignored in create mode.
        let csv = format!(
            "external_id,name,region_id,topic_ids,city,employee_count,version,id\r\n\
             W-1,Bäckerei Größe,{peine},\"{topic}\",Peine,7,3,999\r\n\
             W-2,\"Tischlerei\r\nam Öhrsen\",{peine},,Vöhrum,,,\r\n"
        );
        let report = report(import(&app, "", csv).await).await;
        assert_eq!(report["mode"], "create");
        assert_eq!(
            (report["created"].as_i64(), report["failed"].as_i64()),
            (Some(2), Some(0))
        );
        assert_eq!(report["written"], true);
        let lines: Vec<i64> = report["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["line"].as_i64().unwrap())
            .collect();
        assert_eq!(lines, [2, 3]);

        let company = company_of(&app, &report["results"][0]).await;
        let id = company["id"].as_i64().unwrap();
        assert_eq!(company["name"], "Bäckerei Größe");
        assert_eq!(company["external_id"], "W-1");
        assert_eq!(company["topic_ids"], json!([topic]));
        assert_eq!(company["employee_count"], 7);
        assert_eq!(company["version"], 1);
        let second = report["results"][1]["id"].as_i64().unwrap();
        let company: Value = app
            .get(&format!("/api/v1/companies/{second}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(company["name"], "Tischlerei\r\nam Öhrsen");
        assert_eq!(
            company["employee_count"],
            Value::Null,
            "an empty cell is null"
        );

        let feed: Value = app
            .get(&format!("/api/v1/changes?after={head}"))
            .await
            .json()
            .await
            .unwrap();
        let created: Vec<(i64, &str)> = feed["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["resource_id"].as_i64().unwrap(),
                    c["action"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            created,
            [(id, "create"), (second, "create")],
            "one entry per company"
        );
    }
);

api_test!(
    a_bad_row_is_reported_at_its_line_and_nothing_is_written,
    |app: TestApp| async move {
        let peine = region(&app, "Peine").await;
        let before = state(&app).await;
        // Line 2 spans lines 2–4 (a quoted field with two line breaks), so the bad row
        // after it starts on line 5; line 6 is fine, line 7 names a region that does not
        // exist, line 8 has a cell too few, line 9 repeats line 6's external_id.
        let csv = format!(
            "name;region_id;street;employee_count;external_id\n\
             Gut;{peine};\"Hof 1\nHinterhaus\nOben\";3;A\n\
             ;{peine};;zwölf;B\n\
             Auch gut;{peine};;;C\n\
             Falsch;999999;;;D\n\
             Kurz;{peine}\n\
             Doppelt;{peine};;;C\n"
        );
        let response = import(&app, "", csv.clone()).await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(
            problem["type"],
            "urn:betriebsnachbarschaften:problem:import-rejected"
        );
        let report = &problem["report"];
        assert_eq!(report["written"], false);
        assert_eq!(
            (
                report["rows"].as_i64(),
                report["failed"].as_i64(),
                report["created"].as_i64()
            ),
            (Some(6), Some(4), Some(2))
        );
        let errors: Vec<(i64, Option<&str>, &str)> = report["results"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["errors"].as_array().unwrap())
            .map(|e| {
                (
                    e["line"].as_i64().unwrap(),
                    e["column"].as_str(),
                    e["code"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            errors,
            [
                (5, Some("employee_count"), "type"),
                (7, Some("region_id"), "not_found"),
                (8, None, "cells"),
                (9, Some("external_id"), "duplicate"),
            ],
            "{report}"
        );
        let bad = &report["results"][1];
        assert_eq!(
            (bad["line"].as_i64(), bad["outcome"].as_str()),
            (Some(5), Some("failed"))
        );
        assert!(
            report["results"][0]["id"].is_null(),
            "nothing was created, so no id"
        );
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("line 5, 7, 8, 9"),
            "{problem}"
        );
        assert_eq!(state(&app).await, before, "no company, no feed entry");

        // The same file as a dry run: the same report, 200, still nothing written.
        let dry = report_of_dry_run(&app, csv).await;
        assert_eq!(dry["failed"], 4);
        assert_eq!(dry["dry_run"], true);
        assert_eq!(state(&app).await, before);
    }
);

async fn report_of_dry_run(app: &TestApp, csv: String) -> Value {
    report(import(app, "dry_run=true", csv).await).await
}

api_test!(
    a_dry_run_of_a_good_file_writes_nothing,
    |app: TestApp| async move {
        let peine = region(&app, "Peine").await;
        let before = state(&app).await;
        let dry = report_of_dry_run(&app, format!("name,region_id\nA,{peine}\nB,{peine}\n")).await;
        assert_eq!(
            (dry["created"].as_i64(), dry["written"].as_bool()),
            (Some(2), Some(false))
        );
        assert!(dry["results"][0]["id"].is_null());
        assert_eq!(state(&app).await, before);
    }
);

api_test!(
    upsert_matches_by_id_or_by_external_id_in_the_callers_scope,
    |app: TestApp| async move {
        let peine = region(&app, "Peine").await;
        let hwk = app.create_organization("HWK").await;
        let ihk = app.create_organization("IHK").await;
        let hwk_partner = app.token_for("partner", Some(hwk)).await;
        let ihk_partner = app.token_for("partner", Some(ihk)).await;
        let created = report(
            import_as(&app, &hwk_partner, "", format!("name,region_id,external_id,city\nBau A,{peine},4711,Peine\nBau B,{peine},4712,Peine\n")).await,
        )
        .await;
        let a = created["results"][0]["id"].as_i64().unwrap();
        let b = created["results"][1]["id"].as_i64().unwrap();

        // The HWK's own file: 4711 matched by its key (only the present columns change),
        // B by its id, and 4713 is new.
        let rejected = import_as(
            &app,
            &hwk_partner,
            "mode=upsert",
            format!("id,external_id,employee_count\n,4711,12\n{b},4712,\n,4713,\n"),
        )
        .await;
        let problem = assert_problem(rejected, StatusCode::UNPROCESSABLE_ENTITY).await;
        let upsert = &problem["report"];
        // 4713 has no name or region: a new company needs them.
        assert_eq!(upsert["failed"], 1, "{upsert}");
        assert_eq!(
            (upsert["updated"].as_i64(), upsert["unchanged"].as_i64()),
            (Some(1), Some(1))
        );
        let missing: Vec<&str> = upsert["results"][2]["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["column"].as_str().unwrap())
            .collect();
        assert_eq!(missing, ["name", "region_id"]);

        let upsert = report(
            import_as(
                &app,
                &hwk_partner,
                "mode=upsert",
                format!("id,external_id,employee_count,name,region_id\n,4711,12,Bau A,{peine}\n{b},4712,,Bau B,{peine}\n,4713,,Bau C,{peine}\n"),
            )
            .await,
        )
        .await;
        let outcomes: Vec<(&str, Option<i64>)> = upsert["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["outcome"].as_str().unwrap(), r["id"].as_i64()))
            .collect();
        assert_eq!(
            outcomes[..2],
            [("updated", Some(a)), ("unchanged", Some(b))]
        );
        assert_eq!(outcomes[2].0, "created");
        let company: Value = app
            .get(&format!("/api/v1/companies/{a}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            (
                company["employee_count"].as_i64(),
                company["city"].as_str(),
                company["version"].as_i64()
            ),
            (Some(12), Some("Peine"), Some(2))
        );

        // The IHK's 4711 is another company: its file creates its own.
        let ihk_file = format!("external_id,name,region_id\n4711,IHK-Betrieb,{peine}\n");
        let theirs = report(import_as(&app, &ihk_partner, "mode=upsert", ihk_file).await).await;
        assert_eq!(theirs["created"], 1);
        // Naming the HWK's company by id: unchanged is fine, a change is not theirs to make.
        let same = report(
            import_as(
                &app,
                &ihk_partner,
                "mode=upsert",
                format!("id,employee_count\n{a},12\n"),
            )
            .await,
        )
        .await;
        assert_eq!(same["unchanged"], 1);
        let change = import_as(
            &app,
            &ihk_partner,
            "mode=upsert",
            format!("id,employee_count\n{a},13\n"),
        )
        .await;
        let problem = assert_problem(change, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(
            problem["report"]["results"][0]["errors"][0]["code"],
            "forbidden"
        );
        let unknown = import(&app, "mode=upsert", "id,name\n999999,X\n").await;
        let problem = assert_problem(unknown, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem["report"]["results"][0]["errors"][0]["column"], "id");
    }
);

api_test!(
    what_cannot_be_read_is_refused_whole,
    Options {
        import_limit_bytes: 4096,
        ..Options::default()
    },
    |app: TestApp| async move {
        let unknown = import(&app, "", "name,region_id,colour\nA,1,blau\n").await;
        let problem = assert_problem(unknown, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem["errors"][0]["field"], "colour");
        assert!(problem["detail"].as_str().unwrap().contains("colour"));

        let latin1 = b"name,region_id,city\nA,1,G\xf6ttingen\n".to_vec();
        let problem = assert_problem(
            import(&app, "", latin1).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("line 2"),
            "{problem}"
        );

        let empty = import(&app, "", "").await;
        assert_problem(empty, StatusCode::UNPROCESSABLE_ENTITY).await;

        let big = format!("name,region_id\n{}", "A,1\n".repeat(2000));
        assert_problem(import(&app, "", big).await, StatusCode::PAYLOAD_TOO_LARGE).await;

        let json = app
            .post_json("/api/v1/companies/import", &json!({"name": "A"}))
            .await;
        assert_problem(json, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
        let bad_mode = import(&app, "mode=merge", "name\nA\n").await;
        assert_problem(bad_mode, StatusCode::BAD_REQUEST).await;
        let bad_param = import(&app, "dryrun=true", "name\nA\n").await;
        assert_problem(bad_param, StatusCode::BAD_REQUEST).await;

        let viewer = app.token_for("viewer", None).await;
        let refused = import_as(&app, &viewer, "", "name\nA\n").await;
        assert_problem(refused, StatusCode::FORBIDDEN).await;
        let anonymous = app
            .anonymous(Method::POST, "/api/v1/companies/import")
            .header(header::CONTENT_TYPE, "text/csv")
            .body("name\nA\n")
            .send()
            .await
            .unwrap();
        assert_problem(anonymous, StatusCode::UNAUTHORIZED).await;
    }
);

api_test!(
    an_import_with_an_idempotency_key_runs_once,
    |app: TestApp| async move {
        let peine = region(&app, "Peine").await;
        let csv = format!("name,region_id\nA,{peine}\n");
        let send = |csv: String| {
            app.request(Method::POST, "/api/v1/companies/import")
                .header(header::CONTENT_TYPE, "text/csv")
                .header("Idempotency-Key", "import-2026-12-06")
                .body(csv)
                .send()
        };
        let first = report(send(csv.clone()).await.unwrap()).await;
        let again = send(csv).await.unwrap();
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(report(again).await, first);
        let (total, _) = state(&app).await;
        assert_eq!(total, 1);
        let other = send(format!("name,region_id\nB,{peine}\n")).await.unwrap();
        assert_problem(other, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
);

api_test!(
    an_export_reads_back_into_another_database,
    |app: TestApp| async move {
        // What a chamber does: export from one installation, create in another.
        let company = example_company(&app).await;
        let (_, exported) = get_csv(&app, "/api/v1/companies?dialect=excel").await;
        let rows = parse_csv(exported.trim_start_matches('\u{feff}'), b';');
        assert_eq!(rows.len(), 2);
        app.delete(&format!("/api/v1/companies/{}", company["id"]))
            .await;
        let report = report(import(&app, "mode=create", exported).await).await;
        assert_eq!(report["created"], 1, "{report}");
        let copy = company_of(&app, &report["results"][0]).await;
        for field in [
            "name",
            "external_id",
            "trade",
            "phone",
            "city",
            "topic_ids",
            "employee_count",
        ] {
            assert_eq!(copy[field], company[field], "{field}");
        }
    }
);

api_test!(
    a_taken_external_id_is_an_error_of_its_row,
    |app: TestApp| async move {
        let peine = region(&app, "Peine").await;
        app.create(
            "/api/v1/companies",
            json!({"name": "Alt", "region_id": peine, "external_id": "K-1"}),
        )
        .await;
        let csv = format!("name,region_id,external_id\nNeu,{peine},K-1\nAuch neu,{peine},K-2\n");
        let problem = assert_problem(
            import(&app, "", csv).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let errors = &problem["report"]["results"][0]["errors"];
        assert_eq!(
            (errors[0]["column"].as_str(), errors[0]["code"].as_str()),
            (Some("external_id"), Some("taken"))
        );
        assert_eq!(problem["report"]["results"][1]["outcome"], "created");
    }
);

api_test!(
    each_row_of_a_full_batch_gets_its_own_company_and_a_taken_key_only_fails_its_row,
    |app: TestApp| async move {
        // 501 rows: a full batch of new companies (one statement, prepared once) and one more.
        let peine = region(&app, "Peine").await;
        let mut topics = Vec::new();
        for (key, name, category) in [
            ("apprentices", "Azubimarketing", "apprentice_marketing"),
            ("retention", "Mitarbeiterbindung", "retention"),
        ] {
            let topic = json!({"key": key, "name": name, "category": category});
            topics.push(app.create("/api/v1/topics", topic).await["id"].clone());
        }
        let topics_of = |n: usize| {
            if n.is_multiple_of(2) {
                format!("{}|{}", topics[0], topics[1])
            } else {
                topics[1].to_string()
            }
        };
        let mut csv = String::from("name,region_id,external_id,topic_ids\n");
        for n in 1..=501 {
            csv.push_str(&format!("Betrieb {n},{peine},E-{n},{}\n", topics_of(n)));
        }
        let done = report(import(&app, "", csv.clone()).await).await;
        assert_eq!(done["created"], 501);
        for n in [1, 2, 250, 500, 501] {
            let row = &done["results"][n - 1];
            assert_eq!(row["line"], n + 1);
            let company = company_of(&app, row).await;
            assert_eq!(company["name"], format!("Betrieb {n}"));
            assert_eq!(company["external_id"], format!("E-{n}"));
            let expected: Vec<String> = topics_of(n).split('|').map(String::from).collect();
            let listed: Vec<String> = company["topic_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(Value::to_string)
                .collect();
            assert_eq!(listed, expected, "topics of row {n}");
        }

        // The same keys again, one of them (row 250, in the full batch) taken: only its row
        // fails; a dry run shows the other 500 would be created.
        let again = csv.replace("E-", "F-").replace("F-250,", "E-250,");
        let dry = report(import(&app, "dry_run=true", again).await).await;
        assert_eq!(
            (dry["created"].as_i64(), dry["failed"].as_i64()),
            (Some(500), Some(1))
        );
        let failed = &dry["results"][249];
        assert_eq!(
            (failed["line"].as_i64(), failed["outcome"].as_str()),
            (Some(251), Some("failed"))
        );
        assert_eq!(failed["errors"][0]["code"], "taken");
        assert_eq!(dry["results"][250]["outcome"], "created");
    }
);

api_test!(
    a_large_file_reports_only_its_failed_rows_at_their_lines,
    |app: TestApp| async move {
        let peine = region(&app, "Peine").await;
        let before = state(&app).await;
        // 10 001 rows over many chunks; row 7 000 (line 7 001) names no region.
        let mut csv = String::from("name,region_id,external_id\n");
        for n in 1..=10_001 {
            let region = if n == 7_000 {
                String::new()
            } else {
                peine.to_string()
            };
            csv.push_str(&format!("Betrieb {n},{region},E-{n}\n"));
        }
        let problem = assert_problem(
            import(&app, "", csv.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let rejected = &problem["report"];
        assert_eq!(
            (rejected["rows"].as_i64(), rejected["failed"].as_i64()),
            (Some(10_001), Some(1))
        );
        assert_eq!(rejected["failed_rows_only"], true);
        assert_eq!(rejected["results"].as_array().unwrap().len(), 1);
        assert_eq!(rejected["results"][0]["line"], 7_001);
        assert_eq!(rejected["results"][0]["errors"][0]["column"], "region_id");
        assert_eq!(state(&app).await, before);

        // Fixed, the same file creates all of them, each once in the feed.
        let fixed = csv.replace("Betrieb 7000,,", &format!("Betrieb 7000,{peine},"));
        let done = report(import(&app, "", fixed).await).await;
        assert_eq!(done["created"], 10_001);
        let (total, head) = state(&app).await;
        assert_eq!((total, head), (before.0 + 10_001, before.1 + 10_001));
    }
);

api_test!(
    other_methods_on_the_import_are_405_not_a_company_id,
    |app: TestApp| async move {
        for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
            let response = app
                .request(method.clone(), "/api/v1/companies/import")
                .send()
                .await
                .unwrap();
            assert_eq!(response.headers()[header::ALLOW], "POST", "{method}");
            assert_problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
        }
    }
);
