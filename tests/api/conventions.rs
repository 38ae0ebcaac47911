//! The contract every resource shares, as one suite that each resource's test runs:
//! create/read/304/PATCH/412/PUT/list with every sort both ways/422 for unknown and read-only
//! fields/DELETE.

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, etag_of, field_errors};

/// Records the other resources point at.
pub struct Fixtures {
    pub regions: Vec<i64>,
    pub topics: Vec<i64>,
    pub organizations: Vec<i64>,
    pub funding_sources: Vec<i64>,
    pub project: i64,
}

impl Fixtures {
    pub async fn create(app: &TestApp) -> Self {
        let mut regions = Vec::new();
        for name in ["Goslar", "Peine"] {
            regions.push(
                app.create(
                    "/api/v1/regions",
                    json!({"name": name, "state": "Niedersachsen"}),
                )
                .await["id"]
                    .as_i64()
                    .unwrap(),
            );
        }
        let mut topics = Vec::new();
        for (key, name, category) in [
            ("recruitment", "Neue Rekrutierungswege", "recruitment"),
            (
                "apprentice_marketing",
                "Azubimarketing",
                "apprentice_marketing",
            ),
        ] {
            topics.push(
                app.create(
                    "/api/v1/topics",
                    json!({"key": key, "name": name, "category": category}),
                )
                .await["id"]
                    .as_i64()
                    .unwrap(),
            );
        }
        let mut organizations = Vec::new();
        for (name, kind) in [
            ("Allianz für die Region GmbH", "sponsor"),
            ("IHK Braunschweig", "chamber_of_commerce"),
        ] {
            organizations.push(
                app.create("/api/v1/organizations", json!({"name": name, "kind": kind}))
                    .await["id"]
                    .as_i64()
                    .unwrap(),
            );
        }
        let mut funding_sources = Vec::new();
        for (name, kind) in [
            ("Europäischer Sozialfonds (ESF)", "eu"),
            ("Stadt Goslar", "municipality"),
        ] {
            funding_sources.push(
                app.create(
                    "/api/v1/funding-sources",
                    json!({"name": name, "kind": kind}),
                )
                .await["id"]
                    .as_i64()
                    .unwrap(),
            );
        }
        let project = app
            .create("/api/v1/projects", json!({"name": "Betriebsnachbarschaften", "status": "completed", "region_ids": regions}))
            .await["id"]
            .as_i64()
            .unwrap();
        Self {
            regions,
            topics,
            organizations,
            funding_sources,
            project,
        }
    }
}

/// What the suite needs to know about a resource.
pub struct Spec {
    pub collection: &'static str,
    /// Every documented sort field.
    pub sorts: &'static [&'static str],
    /// A valid body for the i-th record (i < 3); bodies must differ in unique fields.
    pub body: fn(&Fixtures, usize) -> Value,
    /// A merge patch changing one field, the field, and its value afterwards.
    pub patch: fn(&Fixtures) -> (Value, &'static str, Value),
}

async fn list(app: &TestApp, collection: &str, query: &str) -> Value {
    let response = app.get(&format!("{collection}?{query}")).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "GET {collection}?{query}"
    );
    response.json().await.unwrap()
}

/// Follows the cursor and returns the ids in page order.
async fn all_ids(app: &TestApp, collection: &str, query: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("{query}&cursor={c}"),
            None => query.to_owned(),
        };
        let page = list(app, collection, &q).await;
        ids.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_i64().unwrap()),
        );
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            return ids;
        }
    }
}

pub async fn run(app: &TestApp, spec: &Spec) {
    let fx = Fixtures::create(app).await;
    let c = spec.collection;
    let before: Vec<i64> = all_ids(app, c, "limit=200").await;

    // Create: 201, Location, ETag, and the body reads back the same.
    let mut created = Vec::new();
    for i in 0..3 {
        let response = app.post_json(c, &(spec.body)(&fx, i)).await;
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|l| l.to_str().unwrap().to_owned());
        let etag = response
            .headers()
            .get(header::ETAG)
            .map(|e| e.to_str().unwrap().to_owned());
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(location.unwrap(), format!("{c}/{}", body["id"]));
        assert_eq!(etag.as_deref(), Some("\"1\""));
        assert_eq!(body["version"], 1);
        let read: Value = app
            .get(&format!("{c}/{}", body["id"]))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(read, body);
        created.push(body);
    }
    let first = format!("{c}/{}", created[0]["id"]);

    // 304 while current.
    let cached = app
        .request(Method::GET, &first)
        .header(header::IF_NONE_MATCH, "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);

    // PATCH changes one field; a stale If-Match is refused.
    let (patch, field, value) = (spec.patch)(&fx);
    let patched = app
        .request(Method::PATCH, &first)
        .header(header::IF_MATCH, "\"1\"")
        .json(&patch)
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::OK);
    assert_eq!(etag_of(&patched), "\"2\"");
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched[field], value, "{patched}");
    let stale = app
        .request(Method::PATCH, &first)
        .header(header::IF_MATCH, "\"1\"")
        .json(&patch)
        .send()
        .await
        .unwrap();
    assert_problem(stale, StatusCode::PRECONDITION_FAILED).await;

    // PUT replaces, and bumps the version again.
    let replaced = app
        .request(Method::PUT, &first)
        .header(header::IF_MATCH, "\"2\"")
        .json(&(spec.body)(&fx, 0))
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), StatusCode::OK);
    assert_eq!(replaced.json::<Value>().await.unwrap()["version"], 3);

    // Lists: paging, totals, every sort both ways.
    let mut expected: Vec<i64> = before.clone();
    expected.extend(created.iter().map(|b| b["id"].as_i64().unwrap()));
    expected.sort_unstable();
    let total = list(app, c, "limit=1&with_total=true").await;
    assert_eq!(total["total"], expected.len());
    assert_eq!(total["items"].as_array().unwrap().len(), 1);
    for sort in spec.sorts {
        for order in [sort.to_string(), format!("-{sort}")] {
            let mut ids = all_ids(app, c, &format!("limit=2&sort={order}")).await;
            let in_order = ids.clone();
            ids.sort_unstable();
            assert_eq!(
                ids, expected,
                "sort={order} pages through every record once"
            );
            let mut reversed = all_ids(
                app,
                c,
                &format!(
                    "limit=200&sort={}",
                    if order.starts_with('-') {
                        sort.to_string()
                    } else {
                        format!("-{sort}")
                    }
                ),
            )
            .await;
            reversed.reverse();
            if !in_order.is_empty() && in_order.len() == reversed.len() {
                // Ties are broken by id in the same direction, so the orders mirror exactly.
                assert_eq!(in_order, reversed, "sort={order} mirrors its opposite");
            }
        }
    }
    let unknown_sort = app.get(&format!("{c}?sort=nope")).await;
    assert_problem(unknown_sort, StatusCode::BAD_REQUEST).await;

    // Unknown and read-only fields are named.
    let mut bad = (spec.body)(&fx, 0);
    bad["no_such_field"] = json!(1);
    bad["version"] = json!(9);
    let problem = assert_problem(
        app.post_json(c, &bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let mut fields = field_errors(&problem);
    fields.sort();
    assert_eq!(
        fields,
        [
            ("no_such_field".to_owned(), "unknown_field".to_owned()),
            ("version".to_owned(), "read_only".to_owned())
        ]
    );

    // Delete.
    let deleted = app
        .request(Method::DELETE, &first)
        .header(header::IF_MATCH, "\"3\"")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&first).await, StatusCode::NOT_FOUND).await;
}
