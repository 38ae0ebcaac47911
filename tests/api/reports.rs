//! The funder's project report: checked against the facts of the real project
//! (`../shared/seed/FACTS.md`) on the demo data, and its arithmetic on a small project of
//! its own; as JSON, CSV and a printed page in headless Chromium.

use std::process::Command;

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::csv_export::parse_csv;
use crate::helpers::{TestApp, api_test, assert_problem};

async fn demo_project(app: &TestApp) -> i64 {
    app.db
        .run(betriebsnachbarschaften::seed::demo)
        .await
        .expect("the demo seed loads");
    let projects: Value = app
        .get("/api/v1/projects?q=betriebsnachbarschaften")
        .await
        .json()
        .await
        .unwrap();
    projects["items"][0]["id"].as_i64().unwrap()
}

async fn report(app: &TestApp, id: i64) -> Value {
    let response = app.get(&format!("/api/v1/reports/projects/{id}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// (region, companies, events, first event, last event) per row.
fn rows(report: &Value) -> Vec<(String, i64, i64, String, String)> {
    report["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["region"]["name"].as_str().unwrap_or("-").to_owned(),
                r["companies"].as_i64().unwrap(),
                r["events"].as_i64().unwrap(),
                r["first_event"].as_str().unwrap_or("-").to_owned(),
                r["last_event"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect()
}

fn count_of(counts: &Value, kind: &str) -> i64 {
    counts
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == kind)
        .unwrap()["count"]
        .as_i64()
        .unwrap()
}

api_test!(
    the_demo_report_tells_the_facts_of_the_real_project,
    |app: TestApp| async move {
        let id = demo_project(&app).await;
        let report = report(&app, id).await;
        assert_eq!(report["project"]["name"], "Betriebsnachbarschaften");
        assert_eq!(report["project"]["sponsor"], "Allianz für die Region GmbH");
        assert_eq!(report["project"]["start_date"], "2020-03-01");
        assert_eq!(report["project"]["end_date"], "2022-03-31");
        assert_eq!(report["project"]["status"], "completed");

        // FACTS.md, "Regions": the companies (Salzgitter: "over 10"), the kick-offs where
        // known (Seesen: only the month, stored as its first day) and the closing events.
        let s = |t: &str| t.to_owned();
        assert_eq!(
            rows(&report),
            [
                (s("Goslar"), 15, 1, s("2022-03-21"), s("2022-03-21")),
                (s("Peine"), 17, 1, s("2022-03-22"), s("2022-03-22")),
                (s("Salzgitter"), 11, 1, s("2022-03-30"), s("2022-03-30")),
                (
                    s("Schöningen/Samtgemeinde Heeseberg"),
                    13,
                    2,
                    s("2020-06-24"),
                    s("2022-03-28")
                ),
                (s("Seesen"), 12, 2, s("2020-07-01"), s("2022-03-29")),
            ]
        );
        let schoeningen = &report["regions"][3];
        assert_eq!(schoeningen["region"]["district"], "Landkreis Helmstedt");
        assert_eq!(count_of(&schoeningen["events_by_kind"], "kickoff"), 1);
        assert_eq!(count_of(&schoeningen["events_by_kind"], "closing_event"), 1);
        let topics: Vec<&str> = schoeningen["topics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["key"].as_str().unwrap())
            .collect();
        assert!(
            topics.contains(&"apprentice_marketing") && topics.contains(&"retention"),
            "{topics:?}"
        );
        let goslar: Vec<&str> = report["regions"][0]["topics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["key"].as_str().unwrap())
            .collect();
        assert_eq!(goslar, ["new_recruiting_channels"]);

        let totals = &report["totals"];
        assert_eq!(
            (totals["companies"].as_i64(), totals["events"].as_i64()),
            (Some(68), Some(7))
        );
        assert_eq!(count_of(&totals["events_by_kind"], "closing_event"), 5);
        assert_eq!(count_of(&totals["events_by_kind"], "kickoff"), 2);

        // FACTS.md, "Funding": ESF and the ministry fund, six co-finance; amounts not public.
        let funding = &report["funding"];
        let lines: Vec<(&str, &str)> = funding["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l["role"].as_str().unwrap(), l["kind"].as_str().unwrap()))
            .collect();
        assert_eq!(
            lines.iter().filter(|(role, _)| *role == "funding").count(),
            2
        );
        assert_eq!(
            lines
                .iter()
                .filter(|(role, _)| *role == "co_financing")
                .count(),
            6
        );
        assert_eq!(lines[..2], [("funding", "eu"), ("funding", "state")]);
        for line in funding["lines"].as_array().unwrap() {
            assert!(line["amount_cents"].is_null(), "{line}");
        }
        assert_eq!(
            funding["overall"],
            json!({"lines": 8, "amount_cents": null, "known_amount_cents": null, "unknown_amounts": 8})
        );
    }
);

api_test!(
    funding_totals_keep_unknown_amounts_apart_and_every_region_is_counted,
    |app: TestApp| async move {
        let peine = app.create_region(json!({"name": "Peine"})).await["id"].clone();
        let goslar = app.create_region(json!({"name": "Goslar"})).await["id"].clone();
        let source = |name: &str| json!({"name": name, "kind": "eu"});
        let esf = app.create("/api/v1/funding-sources", source("ESF")).await["id"].clone();
        let land = app.create("/api/v1/funding-sources", source("Land")).await["id"].clone();
        let stadt = app.create("/api/v1/funding-sources", source("Stadt")).await["id"].clone();
        let project = app
            .create(
                "/api/v1/projects",
                json!({
                    "name": "Testprojekt", "status": "active", "region_ids": [peine],
                    "funding": [
                        {"funding_source_id": esf, "role": "funding", "amount_cents": 100_000},
                        {"funding_source_id": land, "role": "funding", "amount_cents": 50_000},
                        {"funding_source_id": stadt, "role": "co_financing"},
                    ],
                }),
            )
            .await["id"]
            .as_i64()
            .unwrap();
        // A company of Goslar takes part, though Goslar is not one of the project's regions;
        // an event has no region at all.
        app.create(
            "/api/v1/companies",
            json!({"name": "A", "region_id": goslar, "project_ids": [project]}),
        )
        .await;
        app.create(
            "/api/v1/companies",
            json!({"name": "B", "region_id": peine, "project_ids": [project]}),
        )
        .await;
        app.create(
            "/api/v1/companies",
            json!({"name": "C", "region_id": peine}),
        )
        .await;
        app.create("/api/v1/events", json!({"title": "Treffen", "kind": "neighbourhood_meeting", "project_id": project, "region_id": peine, "starts_at": "2021-05-04T16:00:00Z"})).await;
        app.create("/api/v1/events", json!({"title": "Online", "kind": "other", "project_id": project, "starts_at": "2021-06-01T10:00:00Z"})).await;

        let report = report(&app, project).await;
        let s = |t: &str| t.to_owned();
        assert_eq!(
            rows(&report),
            [
                (s("Goslar"), 1, 0, s("-"), s("-")),
                (s("Peine"), 1, 1, s("2021-05-04"), s("2021-05-04")),
                (s("-"), 0, 1, s("2021-06-01"), s("2021-06-01")),
            ]
        );
        let funding = &report["funding"];
        assert_eq!(
            funding["funding"],
            json!({"lines": 2, "amount_cents": 150_000, "known_amount_cents": 150_000, "unknown_amounts": 0})
        );
        assert_eq!(
            funding["co_financing"],
            json!({"lines": 1, "amount_cents": null, "known_amount_cents": null, "unknown_amounts": 1})
        );
        assert_eq!(
            funding["overall"],
            json!({"lines": 3, "amount_cents": null, "known_amount_cents": 150_000, "unknown_amounts": 1})
        );

        let missing = app.get("/api/v1/reports/projects/999999").await;
        assert_problem(missing, StatusCode::NOT_FOUND).await;
        let bad = app
            .get(&format!("/api/v1/reports/projects/{project}?format=pdf"))
            .await;
        assert_problem(bad, StatusCode::BAD_REQUEST).await;
        let anonymous = app
            .anonymous(Method::GET, &format!("/api/v1/reports/projects/{project}"))
            .send()
            .await
            .unwrap();
        assert_problem(anonymous, StatusCode::UNAUTHORIZED).await;
    }
);

api_test!(
    the_report_as_csv_is_the_per_region_table_in_either_dialect,
    |app: TestApp| async move {
        let id = demo_project(&app).await;
        let response = app
            .request(Method::GET, &format!("/api/v1/reports/projects/{id}"))
            .header(header::ACCEPT, "text/csv")
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/csv; charset=utf-8; header=present"
        );
        let rows = parse_csv(&response.text().await.unwrap(), b',');
        assert_eq!(rows.len(), 1 + 5);
        let column = |name: &str| rows[0].iter().position(|c| c == name).unwrap();
        assert_eq!(
            rows[4][column("region")],
            "Schöningen/Samtgemeinde Heeseberg"
        );
        assert_eq!(rows[4][column("companies")], "13");
        assert_eq!(rows[4][column("events_kickoff")], "1");
        assert_eq!(rows[4][column("first_event")], "2020-06-24");

        let excel = app
            .get(&format!(
                "/api/v1/reports/projects/{id}?format=csv&dialect=excel"
            ))
            .await;
        let text = excel.text().await.unwrap();
        let rows = parse_csv(text.strip_prefix('\u{feff}').expect("BOM"), b';');
        assert_eq!(rows[4][1], "Schöningen/Samtgemeinde Heeseberg");
    }
);

async fn report_page(app: &TestApp) -> String {
    let id = demo_project(app).await;
    let response = app
        .request(Method::GET, &format!("/api/v1/reports/projects/{id}"))
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    response.text().await.unwrap()
}

api_test!(
    the_printable_page_is_self_contained_html_with_an_svg_chart,
    |app: TestApp| async move {
        let html = report_page(&app).await;
        assert!(!html.contains("<script"), "no scripts");
        assert!(
            !html.contains("https://") && !html.contains("src=") && !html.contains("<link"),
            "no external assets"
        );
        assert_eq!(html.matches("<svg").count(), 1, "the chart is inline SVG");
        // Escaped, not taken as markup.
        assert!(html.contains("Schöningen/Samtgemeinde Heeseberg"));
        assert!(html.contains("Allianz für die Region GmbH"));
    }
);

/// Renders the page in headless Chromium and checks what a reader sees: the five regions
/// in the tables and the chart, on A4 landscape pages.
async fn check_in_chromium(app: TestApp) {
    let html = report_page(&app).await;
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| {
            Command::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("Chromium is installed (.ci/run installs it: apt-get install chromium)");
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).unwrap();
    let url = format!("file://{}", page.display());
    let headless = |args: &[&str]| {
        let output = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
            ])
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join("profile").display()
            ))
            .args(args)
            .arg(&url)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    };
    let dom = String::from_utf8(headless(&["--dump-dom"]).stdout).unwrap();
    for region in [
        "Goslar",
        "Peine",
        "Salzgitter",
        "Schöningen/Samtgemeinde Heeseberg",
        "Seesen",
    ] {
        // The overview, the events by kind, the topics, and the chart.
        assert!(
            dom.matches(&format!(">{region}<")).count() >= 4,
            "{region} in {dom}"
        );
    }
    let pdf = dir.path().join("report.pdf");
    headless(&[
        &format!("--print-to-pdf={}", pdf.display()),
        "--no-pdf-header-footer",
    ]);
    let pdf = std::fs::read(pdf).unwrap();
    let text = String::from_utf8_lossy(&pdf);
    let pages = text.matches("/Type /Page").count() - text.matches("/Type /Pages").count();
    assert!((1..=4).contains(&pages), "{pages} pages");
    // A4 landscape: 297 × 210 mm are 842 × 595 points.
    let media_box = text
        .split("/MediaBox [")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .expect("a MediaBox");
    let size: Vec<f64> = media_box
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(
        (size[2] - 842.0).abs() < 1.0 && (size[3] - 595.0).abs() < 1.0,
        "A4 landscape: {media_box}"
    );
}

/// Needs Chromium, so it is skipped unless ignored tests run (`--run-ignored all`, as in
/// `.ci/run`, which installs Chromium); asked to run without it, it fails.
mod the_printable_page_shows_the_five_regions_in_headless_chromium {
    use crate::helpers::{Options, on_postgres, on_sqlite};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs Chromium: run with --run-ignored all (.ci/run installs it)"]
    async fn sqlite() {
        on_sqlite(Options::default(), super::check_in_chromium).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs Chromium and PostgreSQL: set TEST_DATABASE_URL and run with --run-ignored all"]
    async fn postgres() {
        on_postgres(Options::default(), super::check_in_chromium).await;
    }
}

api_test!(
    the_report_costs_the_same_statements_whatever_the_projects_size,
    |app: TestApp| async move {
        let sponsor = app.create_organization("Allianz (Test)").await;
        let peine = app.create_region(json!({"name": "Peine"})).await["id"].clone();
        let topic = app
            .create(
                "/api/v1/topics",
                json!({"key": "retention", "name": "Mitarbeiterbindung", "category": "retention"}),
            )
            .await["id"]
            .clone();
        let project = app
            .create("/api/v1/projects", json!({"name": "Klein", "status": "active", "sponsor_id": sponsor, "region_ids": [peine]}))
            .await["id"]
            .as_i64()
            .unwrap();
        let path = format!("/api/v1/reports/projects/{project}");
        let statements = async || {
            app.get(&path).await;
            let before = app.db.queries_run();
            let report: Value = app.get(&path).await.json().await.unwrap();
            (app.db.queries_run() - before, report)
        };
        let (small, _) = statements().await;

        for n in 0..12 {
            let region = app
                .create_region(json!({"name": format!("Region {n}")}))
                .await["id"]
                .clone();
            app.create("/api/v1/companies", json!({"name": format!("Betrieb {n}"), "region_id": region, "topic_ids": [topic], "project_ids": [project]})).await;
            app.create("/api/v1/events", json!({"title": format!("Treffen {n}"), "kind": "neighbourhood_meeting", "project_id": project, "region_id": region, "starts_at": "2021-05-04T16:00:00Z", "topic_ids": [topic]})).await;
        }
        let (large, report) = statements().await;
        assert_eq!(report["regions"].as_array().unwrap().len(), 13);
        assert_eq!(small, large, "statements for 1 and for 13 regions");
        assert!(
            large <= 10,
            "{large} statements: nine aggregates and the sponsor's name"
        );
    }
);
