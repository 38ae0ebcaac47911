//! The demo seed: the real project, loaded idempotently and read back through the API.

use serde_json::Value;

use crate::helpers::{TestApp, api_test};

async fn seed(app: &TestApp) -> usize {
    app.db
        .run(betriebsnachbarschaften::seed::demo)
        .await
        .expect("the demo seed loads")
        .created
}

async fn all(app: &TestApp, path: &str) -> Vec<Value> {
    let page: Value = app
        .get(&format!(
            "{path}{}limit=200",
            if path.contains('?') { "&" } else { "?" }
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        page["next_cursor"],
        Value::Null,
        "one page holds all of {path}"
    );
    page["items"].as_array().unwrap().clone()
}

api_test!(
    the_demo_project_loads_once_and_reads_back,
    |app| async move {
        assert_eq!(seed(&app).await, 109);
        let regions_before = all(&app, "/api/v1/regions").await;
        assert_eq!(seed(&app).await, 0, "a second run creates nothing");
        assert_eq!(
            all(&app, "/api/v1/regions").await,
            regions_before,
            "and changes nothing"
        );

        let regions = all(&app, "/api/v1/regions?sort=name").await;
        let names: Vec<&str> = regions
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "Goslar",
                "Peine",
                "Salzgitter",
                "Schöningen/Samtgemeinde Heeseberg",
                "Seesen"
            ]
        );
        let heeseberg = &regions[3];
        assert_eq!(heeseberg["district"], "Landkreis Helmstedt");

        let closing = all(&app, "/api/v1/events?kind=closing_event&sort=starts_at").await;
        let dates: Vec<&str> = closing
            .iter()
            .map(|e| e["starts_at"].as_str().unwrap())
            .collect();
        assert_eq!(
            dates,
            [
                "2022-03-21T00:00:00Z",
                "2022-03-22T00:00:00Z",
                "2022-03-28T00:00:00Z",
                "2022-03-29T00:00:00Z",
                "2022-03-30T00:00:00Z"
            ]
        );
        assert_eq!(closing[2]["region_id"], heeseberg["id"]);
        assert_eq!(closing[2]["location"], "Gründer- und Unternehmerzentrum");
        assert_eq!(
            closing[3]["location"],
            Value::Null,
            "Seesen's venue is not known"
        );

        let projects = all(&app, "/api/v1/projects").await;
        assert_eq!(projects.len(), 1);
        let project = &projects[0];
        assert_eq!(project["name"], "Betriebsnachbarschaften");
        assert_eq!(project["status"], "completed");
        assert_eq!(project["start_date"], "2020-03-01");
        assert_eq!(project["end_date"], "2022-03-31");
        assert_eq!(project["region_ids"].as_array().unwrap().len(), 5);
        let funding = project["funding"].as_array().unwrap();
        let roles = |role: &str| funding.iter().filter(|f| f["role"] == role).count();
        assert_eq!((roles("funding"), roles("co_financing")), (2, 6));
        assert!(
            funding.iter().all(|f| f["amount_cents"].is_null()),
            "amounts are not public"
        );
        let sponsor: Value = app
            .get(&format!("/api/v1/organizations/{}", project["sponsor_id"]))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(sponsor["name"], "Allianz für die Region GmbH");

        let counts = [
            ("Goslar", 15),
            ("Peine", 17),
            ("Salzgitter", 11),
            ("Schöningen/Samtgemeinde Heeseberg", 13),
            ("Seesen", 12),
        ];
        for ((name, count), region) in counts.iter().zip(&regions) {
            assert_eq!(region["name"], *name);
            let companies: Value = app
                .get(&format!(
                    "/api/v1/companies?region_id={}&with_total=true&limit=1",
                    region["id"]
                ))
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(companies["total"], *count, "{name}");
            assert!(
                companies["items"][0]["name"]
                    .as_str()
                    .unwrap()
                    .ends_with("(Demo)")
            );
        }
    }
);

api_test!(
    synthetic_companies_are_real_rows_the_api_lists_sorts_and_pages,
    |app| async move {
        let demo_companies = {
            seed(&app).await;
            all(&app, "/api/v1/companies").await.len()
        };
        let seeded = app
            .db
            .run(async |conn| {
                betriebsnachbarschaften::synthetic::companies(conn, 120)
                    .await
                    .map_err(|e| {
                        betriebsnachbarschaften::db::DbError::Unavailable(format!("{e:#}"))
                    })
            })
            .await
            .expect("synthetic companies load");
        assert_eq!(seeded.companies, 120);
        assert!(seeded.topic_links >= 120, "every company has topics");

        let page: Value = app
            .get("/api/v1/companies?q=benchmark&sort=name&limit=200&with_total=true")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(page["total"], 120);
        let items = page["items"].as_array().unwrap();
        // Sorted by name as the service sorts: "Benchmark-Betrieb 1", "… 10", "… 100", …
        let names: Vec<&str> = items.iter().map(|c| c["name"].as_str().unwrap()).collect();
        let mut sorted = names.clone();
        sorted.sort_by_key(|n| n.to_lowercase());
        assert_eq!(names, sorted);
        for company in items {
            assert!(
                !company["topic_ids"].as_array().unwrap().is_empty(),
                "{company}"
            );
            assert_eq!(
                company["project_ids"].as_array().unwrap().len(),
                1,
                "{company}"
            );
            assert!(
                company["city"].is_string() && company["employee_count"].is_i64(),
                "{company}"
            );
        }
        // Filtered by region and paged by cursor, as the benchmark lists them.
        let region = items[0]["region_id"].as_i64().unwrap();
        let first: Value = app
            .get(&format!(
                "/api/v1/companies?region_id={region}&sort=name&limit=5"
            ))
            .await
            .json()
            .await
            .unwrap();
        let cursor = first["next_cursor"].as_str().unwrap();
        let second: Value = app
            .get(&format!(
                "/api/v1/companies?region_id={region}&sort=name&limit=5&cursor={cursor}"
            ))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(second["items"].as_array().unwrap().len(), 5);
        assert!(second["items"][0]["name"].as_str() > first["items"][4]["name"].as_str());
        assert_eq!(
            all(&app, "/api/v1/companies").await.len(),
            demo_companies + 120,
            "the demo companies stay, the synthetic ones come beside them"
        );
        // Their creates are in the change feed like any other, after the demo's.
        let feed: Value = app
            .get("/api/v1/changes?resource=companies&limit=1000")
            .await
            .json()
            .await
            .unwrap();
        let creates = feed["items"].as_array().unwrap();
        assert_eq!(creates.len(), demo_companies + 120);
        let newest: Vec<i64> = creates[demo_companies..]
            .iter()
            .map(|c| c["resource_id"].as_i64().unwrap())
            .collect();
        let mut ids: Vec<i64> = items.iter().map(|c| c["id"].as_i64().unwrap()).collect();
        ids.sort_unstable();
        assert_eq!(newest, ids);
        assert!(creates.iter().all(|c| c["action"] == "create"));
    }
);

api_test!(
    every_demo_record_passes_the_api_field_rules,
    |app| async move {
        // The seed writes domain values, not request bodies: replacing each record with its
        // own writable fields holds them to every rule a client's PUT meets.
        seed(&app).await;
        for collection in [
            "topics",
            "organizations",
            "funding-sources",
            "regions",
            "projects",
            "companies",
            "events",
        ] {
            for record in all(&app, &format!("/api/v1/{collection}")).await {
                let mut body = record.clone();
                let fields = body.as_object_mut().unwrap();
                for read_only in ["id", "created_at", "updated_at", "version"] {
                    fields.remove(read_only);
                }
                let path = format!("/api/v1/{collection}/{}", record["id"]);
                let response = app.put_json(&path, &body).await;
                let status = response.status();
                let replaced: Value = response.json().await.unwrap();
                assert_eq!(status, reqwest::StatusCode::OK, "{path}: {replaced}");
                assert_eq!(
                    replaced.as_object().unwrap().get("name"),
                    record.as_object().unwrap().get("name"),
                    "{path} reads back the same"
                );
            }
        }
    }
);
