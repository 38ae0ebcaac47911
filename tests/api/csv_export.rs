//! CSV export of the lists: what a chamber's staff open in Excel and what a partner's system
//! reads — the same filtered, sorted list as the JSON, every record, in either dialect.

use std::collections::HashSet;

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, api_test, assert_problem};

/// A CSV text's rows (the header first), read with `delimiter`.
pub fn parse_csv(text: &str, delimiter: u8) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// GETs `path` with `Accept: text/csv`, checks what every CSV answer has, and returns its
/// headers and body.
pub async fn get_csv(app: &TestApp, path: &str) -> (header::HeaderMap, String) {
    let response = app
        .request(Method::GET, path)
        .header(header::ACCEPT, "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/csv; charset=utf-8; header=present"
    );
    let disposition = response.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"") && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let headers = response.headers().clone();
    (headers, response.text().await.unwrap())
}

/// A company whose cells test the edges: umlauts, a formula, a phone number with `+`, a
/// relation of two ids, and unknown (null) fields.
pub async fn example_company(app: &TestApp) -> Value {
    let region = app.create_region(json!({"name": "Schöningen"})).await["id"].clone();
    let mut topics = Vec::new();
    for (key, name) in [
        ("apprentice_marketing", "Azubimarketing"),
        ("retention", "Mitarbeiterbindung"),
    ] {
        let topic = json!({"key": key, "name": name, "category": key});
        topics.push(app.create("/api/v1/topics", topic).await["id"].clone());
    }
    app.create(
        "/api/v1/companies",
        json!({
            "name": "Bäckerei Größe & Söhne; \"Filiale\"", "external_id": "HWK-4711",
            "region_id": region, "city": "Schöningen", "employee_count": 12,
            "trade": "=HYPERLINK(\"x\")", "phone": "+49 5352 1234", "topic_ids": topics,
        }),
    )
    .await
}

/// The view's field names in the order the served OpenAPI document lists them.
async fn view_columns(app: &TestApp, schema: &str) -> Vec<String> {
    let document: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    document["components"]["schemas"][schema]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

api_test!(
    a_company_list_exports_as_rfc_4180_csv,
    |app: TestApp| async move {
        let company = example_company(&app).await;
        let (_, text) = get_csv(&app, "/api/v1/companies").await;
        assert!(!text.starts_with('\u{feff}'), "no BOM for machines");
        assert!(text.contains("\r\n") && text.ends_with("\r\n"), "CRLF");
        let rows = parse_csv(&text, b',');

        assert_eq!(rows[0], view_columns(&app, "CompanyView").await);
        assert_eq!(rows.len(), 2);
        let cell = |name: &str| {
            let i = rows[0].iter().position(|c| c == name).unwrap();
            rows[1][i].as_str()
        };
        assert_eq!(cell("id"), company["id"].to_string());
        assert_eq!(cell("name"), "Bäckerei Größe & Söhne; \"Filiale\"");
        assert_eq!(cell("city"), "Schöningen");
        assert_eq!(
            cell("trade"),
            "=HYPERLINK(\"x\")",
            "machines get the text as it is"
        );
        assert_eq!(cell("employee_count"), "12");
        assert_eq!(cell("street"), "", "null is an empty cell");
        let topics = company["topic_ids"].as_array().unwrap();
        assert_eq!(cell("topic_ids"), format!("{}|{}", topics[0], topics[1]));
        assert_eq!(cell("created_at"), company["created_at"].as_str().unwrap());
        assert_eq!(cell("version"), "1");
    }
);

api_test!(
    the_excel_dialect_has_a_bom_semicolons_and_no_formulas,
    |app: TestApp| async move {
        example_company(&app).await;
        let (headers, text) = get_csv(&app, "/api/v1/companies?dialect=excel").await;
        let disposition = headers[header::CONTENT_DISPOSITION].to_str().unwrap();
        assert!(
            disposition.contains("filename=\"companies-"),
            "{disposition}"
        );
        let text = text.strip_prefix('\u{feff}').expect("a UTF-8 BOM");
        let rows = parse_csv(text, b';');
        let cell = |name: &str| {
            let i = rows[0].iter().position(|c| c == name).unwrap();
            rows[1][i].as_str()
        };
        assert_eq!(cell("trade"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("phone"), "'+49 5352 1234");
        assert_eq!(cell("employee_count"), "12", "numbers are never altered");
        assert_eq!(cell("name"), "Bäckerei Größe & Söhne; \"Filiale\"");
        assert_eq!(cell("city"), "Schöningen");
    }
);

api_test!(
    format_csv_exports_without_an_accept_header,
    |app: TestApp| async move {
        example_company(&app).await;
        let response = app.get("/api/v1/regions?format=csv").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let rows = parse_csv(&response.text().await.unwrap(), b',');
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1][1], "Schöningen");

        // JSON stays the default, and format=json wins over Accept.
        let json = app.get("/api/v1/regions").await;
        assert_eq!(json.headers()[header::CONTENT_TYPE], "application/json");
        let json = app
            .request(Method::GET, "/api/v1/regions?format=json")
            .header(header::ACCEPT, "text/csv, application/json;q=0.5")
            .send()
            .await
            .unwrap();
        assert_eq!(json.headers()[header::CONTENT_TYPE], "application/json");
    }
);

api_test!(
    every_domain_list_exports_its_view_and_users_are_not_exported,
    |app: TestApp| async move {
        app.db
            .run(betriebsnachbarschaften::seed::demo)
            .await
            .expect("the demo seed loads");
        for (collection, view) in [
            ("regions", "RegionView"),
            ("topics", "TopicView"),
            ("funding-sources", "FundingSourceView"),
            ("organizations", "OrganizationView"),
            ("projects", "ProjectView"),
            ("companies", "CompanyView"),
            ("events", "EventView"),
        ] {
            let path = format!("/api/v1/{collection}");
            let (_, text) = get_csv(&app, &path).await;
            let rows = parse_csv(&text, b',');
            assert_eq!(rows[0], view_columns(&app, view).await, "{collection}");
            let json: Value = app
                .get(&format!("{path}?limit=200"))
                .await
                .json()
                .await
                .unwrap();
            let ids: Vec<String> = json["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].to_string())
                .collect();
            let csv_ids: Vec<String> = rows[1..].iter().map(|r| r[0].clone()).collect();
            assert_eq!(
                csv_ids, ids,
                "{collection}: the same records in the same order"
            );
        }

        let refused = app
            .request(Method::GET, "/api/v1/users")
            .header(header::ACCEPT, "text/csv")
            .send()
            .await
            .unwrap();
        assert_problem(refused, StatusCode::NOT_ACCEPTABLE).await;
        for path in ["/api/v1/users?format=csv", "/api/v1/clients?dialect=excel"] {
            let refused = app.get(path).await;
            let problem = assert_problem(refused, StatusCode::BAD_REQUEST).await;
            assert!(problem["detail"].as_str().unwrap().contains("not exported"));
        }
        let bad = app.get("/api/v1/regions?format=xml").await;
        let problem = assert_problem(bad, StatusCode::BAD_REQUEST).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("format"),
            "{problem}"
        );
    }
);

api_test!(
    without_limit_the_export_is_the_whole_filtered_list_in_order,
    |app: TestApp| async move {
        app.db
            .run(async |conn| {
                betriebsnachbarschaften::synthetic::companies(conn, 2_345)
                    .await
                    .map_err(|e| {
                        betriebsnachbarschaften::db::DbError::Unavailable(format!("{e:#}"))
                    })
            })
            .await
            .expect("synthetic companies load");
        let (_, text) = get_csv(&app, "/api/v1/companies?q=benchmark&sort=-name").await;
        let rows = parse_csv(&text, b',');
        assert_eq!(rows.len(), 1 + 2_345, "every company, in several batches");
        let names: Vec<String> = rows[1..].iter().map(|r| r[1].to_lowercase()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(names, sorted, "sorted as asked");
        let ids: HashSet<&String> = rows[1..].iter().map(|r| &r[0]).collect();
        assert_eq!(ids.len(), 2_345, "each once");

        // A filter holds for the export as for the JSON.
        let (_, text) = get_csv(&app, "/api/v1/companies?q=benchmark&min_employees=200").await;
        let rows = parse_csv(&text, b',');
        let json: Value = app
            .get("/api/v1/companies?q=benchmark&min_employees=200&limit=1&with_total=true")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(rows.len() as i64 - 1, json["total"].as_i64().unwrap());
    }
);

api_test!(
    with_limit_the_export_is_one_page_linking_to_the_next,
    |app: TestApp| async move {
        let region = app.create_region(json!({"name": "Peine"})).await["id"].clone();
        for n in 1..=5 {
            app.create(
                "/api/v1/companies",
                json!({"name": format!("Betrieb {n}"), "region_id": region}),
            )
            .await;
        }
        let mut path = "/api/v1/companies?sort=name&limit=2&dialect=excel".to_owned();
        let mut names = Vec::new();
        let mut pages = 0;
        loop {
            let (headers, text) = get_csv(&app, &path).await;
            pages += 1;
            let rows = parse_csv(text.trim_start_matches('\u{feff}'), b';');
            names.extend(rows[1..].iter().map(|r| r[1].clone()));
            let Some(link) = headers.get(header::LINK) else {
                break;
            };
            let link = link.to_str().unwrap();
            let url = link
                .strip_prefix('<')
                .and_then(|l| l.strip_suffix(">; rel=\"next\""))
                .unwrap_or_else(|| panic!("a next link: {link}"));
            assert!(
                url.contains("dialect=excel") && url.contains("limit=2"),
                "{url}"
            );
            path = url.to_owned();
        }
        assert_eq!(pages, 3);
        assert_eq!(
            names,
            [
                "Betrieb 1",
                "Betrieb 2",
                "Betrieb 3",
                "Betrieb 4",
                "Betrieb 5"
            ]
        );
    }
);
