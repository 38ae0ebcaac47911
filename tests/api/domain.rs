//! The domain resources: the shared contract for each, then what is particular to each
//! (filters, relations, validation, references, partner rules, queries per page).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use betriebsnachbarschaften::db;

use betriebsnachbarschaften::domain::companies::Companies;
use betriebsnachbarschaften::domain::resource;
use betriebsnachbarschaften::domain::values::FundingRole;
use betriebsnachbarschaften::domain::{
    CompanyId, DomainError, FundingSourceId, ProjectId, TopicId,
};
use betriebsnachbarschaften::models::Owner;
use betriebsnachbarschaften::models::companies::{CompanyFilter, CompanySort};
use betriebsnachbarschaften::models::links::company_topics;
use betriebsnachbarschaften::models::page::{DEFAULT_LIMIT, PageRequest, Sort};
use betriebsnachbarschaften::models::projects::{self, FundingLine};

use crate::conventions::{self, Fixtures, Spec};
use crate::helpers::{TestApp, api_test, assert_problem, field_errors};

api_test!(regions_follow_the_conventions, |app| async move {
    conventions::run(&app, &Spec {
        collection: "/api/v1/regions",
        sorts: &["name", "created_at", "updated_at"],
        body: |_, i| json!({"name": (["Salzgitter", "Seesen", "Schöningen/Samtgemeinde Heeseberg"][i]), "state": "Niedersachsen"}),
        patch: |_| (json!({"district": "Landkreis Helmstedt"}), "district", json!("Landkreis Helmstedt")),
    }).await;
});

api_test!(topics_follow_the_conventions, |app| async move {
    conventions::run(&app, &Spec {
        collection: "/api/v1/topics",
        sorts: &["key", "name", "created_at", "updated_at"],
        body: |_, i| json!({"key": (["retention", "qualification", "employer_attractiveness"][i]), "name": (["Mitarbeiterbindung", "Qualifizierung", "Arbeitgeberattraktivität"][i]), "category": (["retention", "qualification", "employer_attractiveness"][i])}),
        patch: |_| (json!({"description": "Wie Betriebe Fachkräfte halten"}), "description", json!("Wie Betriebe Fachkräfte halten")),
    }).await;
});

api_test!(funding_sources_follow_the_conventions, |app| async move {
    conventions::run(&app, &Spec {
        collection: "/api/v1/funding-sources",
        sorts: &["name", "kind", "created_at", "updated_at"],
        body: |_, i| json!({"name": (["Landkreis Helmstedt", "Stadt Seesen", "Niedersächsisches Ministerium für Wirtschaft, Arbeit, Verkehr und Digitalisierung"][i]), "kind": (["district", "municipality", "state"][i])}),
        patch: |_| (json!({"website": "https://www.esf.de"}), "website", json!("https://www.esf.de")),
    }).await;
});

api_test!(organizations_follow_the_conventions, |app| async move {
    conventions::run(&app, &Spec {
        collection: "/api/v1/organizations",
        sorts: &["name", "kind", "created_at", "updated_at"],
        body: |_, i| json!({"name": (["Handwerkskammer Braunschweig-Lüneburg-Stade", "RKW Kompetenzzentrum Nord", "Wirtschaftsförderung Goslar"][i]), "kind": (["chamber_of_crafts", "consultancy", "economic_development"][i])}),
        patch: |_| (json!({"city": "Braunschweig"}), "city", json!("Braunschweig")),
    }).await;
});

api_test!(projects_follow_the_conventions, |app| async move {
    conventions::run(&app, &Spec {
        collection: "/api/v1/projects",
        sorts: &["name", "start_date", "end_date", "created_at", "updated_at"],
        body: |fx, i| json!({
            "name": format!("Projekt {i}"), "status": "active", "sponsor_id": fx.organizations[0],
            "start_date": format!("2020-0{}-01", i + 1), "end_date": if i == 2 { Value::Null } else { json!("2022-03-31") },
            "region_ids": fx.regions, "topic_ids": [fx.topics[i % 2]],
            "funding": [{"funding_source_id": fx.funding_sources[0], "role": "funding", "amount_cents": null}],
        }),
        patch: |_| (json!({"status": "completed"}), "status", json!("completed")),
    }).await;
});

api_test!(companies_follow_the_conventions, |app| async move {
    conventions::run(
        &app,
        &Spec {
            collection: "/api/v1/companies",
            sorts: &["name", "city", "employee_count", "created_at", "updated_at"],
            body: |fx, i| {
                json!({
                    "name": format!("Beispielbetrieb {i} (fiktiv)"), "region_id": fx.regions[i % 2],
                    "city": if i == 1 { Value::Null } else { json!((["Goslar", "", "Peine"][i])) },
                    "employee_count": if i == 0 { Value::Null } else { json!(i * 10) },
                    "topic_ids": fx.topics, "project_ids": [fx.project],
                })
            },
            patch: |_| {
                (
                    json!({"postal_code": "38640"}),
                    "postal_code",
                    json!("38640"),
                )
            },
        },
    )
    .await;
});

api_test!(events_follow_the_conventions, |app| async move {
    conventions::run(&app, &Spec {
        collection: "/api/v1/events",
        sorts: &["starts_at", "title", "created_at", "updated_at"],
        body: |fx, i| json!({
            "title": format!("Nachbarschaftstreffen {i}"), "kind": "neighbourhood_meeting", "project_id": fx.project,
            "region_id": fx.regions[0], "starts_at": format!("2021-0{}-15T16:00:00Z", i + 1),
            "organization_ids": [fx.organizations[1]], "topic_ids": [fx.topics[0]],
        }),
        patch: |_| (json!({"format": "online"}), "format", json!("online")),
    }).await;
});

api_test!(
    id_arrays_are_sets_and_unknown_ids_are_named,
    |app| async move {
        let fx = Fixtures::create(&app).await;
        let company = app.create("/api/v1/companies", json!({
        "name": "Tischlerei (fiktiv)", "region_id": fx.regions[0],
        "topic_ids": [fx.topics[1], fx.topics[0], fx.topics[1]], "project_ids": [fx.project],
    })).await;
        let mut sorted = fx.topics.clone();
        sorted.sort();
        assert_eq!(company["topic_ids"], json!(sorted));

        let bad = app.post_json("/api/v1/companies", &json!({
        "name": "x", "region_id": 9999, "topic_ids": [fx.topics[0], 8888], "project_ids": [7777],
    })).await;
        let problem = assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(
            field_errors(&problem),
            [
                ("region_id".to_owned(), "not_found".to_owned()),
                ("topic_ids[1]".to_owned(), "not_found".to_owned()),
                ("project_ids[0]".to_owned(), "not_found".to_owned()),
            ]
        );
        assert!(
            problem["errors"][1]["message"]
                .as_str()
                .unwrap()
                .contains("topic 8888")
        );

        // Replacing an array replaces the set.
        let path = format!("/api/v1/companies/{}", company["id"]);
        let patched: Value = app
            .patch_json(&path, &json!({"topic_ids": [fx.topics[1]]}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(patched["topic_ids"], json!([fx.topics[1]]));
        assert_eq!(
            patched["project_ids"],
            json!([fx.project]),
            "untouched arrays stay"
        );
        let cleared: Value = app
            .patch_json(&path, &json!({"topic_ids": null}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(cleared["topic_ids"], json!([]));
    }
);

api_test!(
    deleting_a_referenced_record_says_what_references_it,
    |app| async move {
        let fx = Fixtures::create(&app).await;
        for i in 0..2 {
            app.create("/api/v1/companies", json!({"name": format!("Betrieb {i}"), "region_id": fx.regions[0], "project_ids": [fx.project]})).await;
        }
        let region = format!("/api/v1/regions/{}", fx.regions[0]);
        let problem = assert_problem(app.delete(&region).await, StatusCode::CONFLICT).await;
        assert_eq!(
            problem["detail"],
            format!(
                "region {} is used by 2 companies and 1 project; remove those references first",
                fx.regions[0]
            )
        );
        let project = assert_problem(
            app.delete(&format!("/api/v1/projects/{}", fx.project))
                .await,
            StatusCode::CONFLICT,
        )
        .await;
        assert!(
            project["detail"].as_str().unwrap().contains("2 companies"),
            "{project}"
        );
        let topic_free = app
            .delete(&format!("/api/v1/topics/{}", fx.topics[0]))
            .await;
        assert_eq!(
            topic_free.status(),
            StatusCode::NO_CONTENT,
            "an unreferenced topic goes"
        );
        assert_eq!(
            app.get(&region).await.status(),
            StatusCode::OK,
            "nothing was deleted"
        );
    }
);

api_test!(domain_values_are_validated_by_field, |app| async move {
    let fx = Fixtures::create(&app).await;
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "/api/v1/companies",
            json!({"name": "x", "region_id": fx.regions[0], "postal_code": "3835"}),
            "postal_code",
            "pattern",
        ),
        (
            "/api/v1/companies",
            json!({"name": "x", "region_id": fx.regions[0], "employee_count": -1}),
            "employee_count",
            "range",
        ),
        (
            "/api/v1/companies",
            json!({"name": "x", "region_id": fx.regions[0], "website": "not a url"}),
            "website",
            "url",
        ),
        (
            "/api/v1/companies",
            json!({"name": "x", "region_id": fx.regions[0], "email": "nobody"}),
            "email",
            "email",
        ),
        (
            "/api/v1/companies",
            json!({"name": "x"}),
            "region_id",
            "required",
        ),
        (
            "/api/v1/topics",
            json!({"key": "Azubi-Marketing", "name": "x", "category": "recruitment"}),
            "key",
            "pattern",
        ),
        (
            "/api/v1/topics",
            json!({"key": "x", "name": "x", "category": "marketing"}),
            "category",
            "type",
        ),
        (
            "/api/v1/projects",
            json!({"name": "x", "status": "active", "start_date": "2022-03-31", "end_date": "2020-03-01"}),
            "end_date",
            "range",
        ),
        (
            "/api/v1/projects",
            json!({"name": "x", "status": "done"}),
            "status",
            "type",
        ),
        (
            "/api/v1/projects",
            json!({"name": "x", "status": "active", "funding": [{"funding_source_id": fx.funding_sources[0], "role": "funding", "amount_cents": -5}]}),
            "funding[0].amount_cents",
            "range",
        ),
        (
            "/api/v1/projects",
            json!({"name": "x", "status": "active", "start_date": "31.03.2022"}),
            "start_date",
            "type",
        ),
        (
            "/api/v1/events",
            json!({"title": "x", "kind": "closing_event", "project_id": fx.project, "starts_at": "2022-03-28T10:00:00Z", "ends_at": "2022-03-28T09:00:00Z"}),
            "ends_at",
            "range",
        ),
        (
            "/api/v1/events",
            json!({"title": "x", "kind": "party", "project_id": fx.project, "starts_at": "2022-03-28T10:00:00Z"}),
            "kind",
            "type",
        ),
        (
            "/api/v1/events",
            json!({"title": "x", "kind": "other", "project_id": fx.project}),
            "starts_at",
            "required",
        ),
        (
            "/api/v1/funding-sources",
            json!({"name": "x", "kind": "eu", "website": "ftp://esf.de"}),
            "website",
            "url",
        ),
        (
            "/api/v1/organizations",
            json!({"name": "x", "kind": "chamber"}),
            "kind",
            "type",
        ),
    ];
    for (collection, body, field, code) in cases {
        let problem = assert_problem(
            app.post_json(collection, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(
            field_errors(&problem).contains(&(field.to_owned(), code.to_owned())),
            "{collection} {body}: expected {field}/{code}, got {problem}"
        );
    }
    let duplicate = app
        .post_json(
            "/api/v1/topics",
            &json!({"key": "recruitment", "name": "x", "category": "other"}),
        )
        .await;
    assert_problem(duplicate, StatusCode::CONFLICT).await;
});

/// Companies in two regions with topics and projects for the filter tests.
async fn companies_for_filters(app: &TestApp, fx: &Fixtures) -> Vec<Value> {
    let rows = [
        (
            "Bäckerei Müller GmbH & Co. KG (fiktiv)",
            0,
            "Goslar",
            "38640",
            "Handwerk",
            4,
            vec![fx.topics[0]],
        ),
        (
            "Elektro Schmidt (fiktiv)",
            0,
            "Goslar",
            "38644",
            "Handwerk",
            25,
            vec![fx.topics[1]],
        ),
        (
            "Kanzlei Meyer (fiktiv)",
            1,
            "Peine",
            "31224",
            "Dienstleistung",
            9,
            vec![],
        ),
    ];
    let mut out = Vec::new();
    for (name, region, city, postal_code, sector, employees, topics) in rows {
        out.push(app.create("/api/v1/companies", json!({
            "name": name, "region_id": fx.regions[region], "city": city, "postal_code": postal_code,
            "sector": sector, "employee_count": employees, "topic_ids": topics,
            "project_ids": if region == 0 { json!([fx.project]) } else { json!([]) },
        })).await);
    }
    out
}

async fn names(app: &TestApp, query: &str) -> Vec<String> {
    let response = app
        .get(&format!("/api/v1/companies?sort=name&{query}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    let page: Value = response.json().await.unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

api_test!(company_filters_narrow_the_list, |app| async move {
    let fx = Fixtures::create(&app).await;
    companies_for_filters(&app, &fx).await;
    let (baker, electric, lawyer) = (
        "Bäckerei Müller GmbH & Co. KG (fiktiv)",
        "Elektro Schmidt (fiktiv)",
        "Kanzlei Meyer (fiktiv)",
    );

    assert_eq!(names(&app, "q=MÜLLER").await, [baker]);
    assert_eq!(
        names(&app, &format!("region_id={}", fx.regions[1])).await,
        [lawyer]
    );
    assert_eq!(
        names(&app, &format!("topic_id={}", fx.topics[1])).await,
        [electric]
    );
    assert_eq!(
        names(&app, &format!("project_id={}", fx.project)).await,
        [baker, electric]
    );
    assert_eq!(names(&app, "city=goslar").await, [baker, electric]);
    assert_eq!(names(&app, "postal_code=31224").await, [lawyer]);
    assert_eq!(names(&app, "sector=Handwerk").await, [baker, electric]);
    assert_eq!(names(&app, "min_employees=5").await, [electric, lawyer]);
    assert_eq!(names(&app, "max_employees=9").await, [baker, lawyer]);
    assert_eq!(
        names(
            &app,
            "min_employees=5&max_employees=10&sector=Dienstleistung"
        )
        .await,
        [lawyer]
    );
    let by_size: Value = app
        .get("/api/v1/companies?sort=-employee_count")
        .await
        .json()
        .await
        .unwrap();
    let sizes: Vec<i64> = by_size["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["employee_count"].as_i64().unwrap())
        .collect();
    assert_eq!(sizes, [25, 9, 4]);
    assert_problem(
        app.get("/api/v1/companies?min_employees=many").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
});

api_test!(
    project_and_event_filters_narrow_the_lists,
    |app| async move {
        let fx = Fixtures::create(&app).await;
        let other = app.create("/api/v1/projects", json!({
        "name": "Fachkräfte-Dialog", "status": "planned", "start_date": "2023-01-01",
        "topic_ids": [fx.topics[0]], "funding": [{"funding_source_id": fx.funding_sources[1], "role": "co_financing"}],
    })).await;
        let project_names = |page: Value| -> Vec<String> {
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect()
        };
        let get = |q: String| {
            let app = &app;
            async move {
                app.get(&format!("/api/v1/projects?sort=name&{q}"))
                    .await
                    .json::<Value>()
                    .await
                    .unwrap()
            }
        };
        assert_eq!(
            project_names(get("status=planned".into()).await),
            ["Fachkräfte-Dialog"]
        );
        assert_eq!(
            project_names(get(format!("region_id={}", fx.regions[0])).await),
            ["Betriebsnachbarschaften"]
        );
        assert_eq!(
            project_names(get(format!("topic_id={}", fx.topics[0])).await),
            ["Fachkräfte-Dialog"]
        );
        assert_eq!(
            project_names(get(format!("funding_source_id={}", fx.funding_sources[1])).await),
            ["Fachkräfte-Dialog"]
        );
        assert_eq!(
            project_names(get("active_on=2022-06-01".into()).await),
            ["Betriebsnachbarschaften"],
            "unknown dates count as open"
        );
        assert_eq!(
            project_names(get("active_on=2024-06-01".into()).await),
            ["Betriebsnachbarschaften", "Fachkräfte-Dialog"]
        );
        assert_eq!(other["funding"][0]["amount_cents"], Value::Null);

        for (title, kind, when) in [
            ("Kick-off", "kickoff", "2020-09-01T15:00:00Z"),
            ("Abschluss", "closing_event", "2022-03-28T10:00:00Z"),
        ] {
            app.create("/api/v1/events", json!({"title": title, "kind": kind, "project_id": fx.project, "region_id": fx.regions[0], "starts_at": when, "topic_ids": [fx.topics[1]]})).await;
        }
        let titles = |page: Value| -> Vec<String> {
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["title"].as_str().unwrap().to_owned())
                .collect()
        };
        let events = |q: &str| {
            let app = &app;
            let q = q.to_owned();
            async move {
                app.get(&format!("/api/v1/events?{q}"))
                    .await
                    .json::<Value>()
                    .await
                    .unwrap()
            }
        };
        assert_eq!(titles(events("kind=closing_event").await), ["Abschluss"]);
        assert_eq!(
            titles(events("from=2021-01-01T00:00:00Z").await),
            ["Abschluss"]
        );
        assert_eq!(
            titles(events("to=2021-01-01T00:00:00Z").await),
            ["Kick-off"]
        );
        assert_eq!(
            titles(events(&format!("topic_id={}&sort=-starts_at", fx.topics[1])).await),
            ["Abschluss", "Kick-off"]
        );
        assert_eq!(
            titles(
                events(&format!(
                    "project_id={}&region_id={}&q=KICK",
                    fx.project, fx.regions[0]
                ))
                .await
            ),
            ["Kick-off"]
        );
    }
);

api_test!(
    partners_create_companies_and_events_and_change_only_their_own,
    |app| async move {
        let fx = Fixtures::create(&app).await;
        let hwk = app
            .create_organization("Handwerkskammer Braunschweig-Lüneburg-Stade")
            .await;
        let ihk = fx.organizations[1];
        let hwk_partner = app.token_for("partner", Some(hwk)).await;
        let ihk_partner = app.token_for("partner", Some(ihk)).await;

        let created = app
            .request_as(&hwk_partner, Method::POST, "/api/v1/companies")
            .json(&json!({"name": "Dachdecker (fiktiv)", "region_id": fx.regions[0]}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        let company: Value = created.json().await.unwrap();
        let path = format!("/api/v1/companies/{}", company["id"]);

        // Its own record: the partner may change and delete it.
        let own = app
            .request_as(&hwk_partner, Method::PATCH, &path)
            .json(&json!({"city": "Goslar"}))
            .send()
            .await
            .unwrap();
        assert_eq!(own.status(), StatusCode::OK);
        // Another chamber's partner may read it but not change it.
        assert_eq!(
            app.request_as(&ihk_partner, Method::GET, &path)
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
        for method in [Method::PATCH, Method::PUT, Method::DELETE] {
            let mut request = app.request_as(&ihk_partner, method.clone(), &path);
            if method != Method::DELETE {
                request = request.json(&json!({"name": "Übernommen", "region_id": fx.regions[0]}));
            }
            let response = request.send().await.unwrap();
            assert_problem(response, StatusCode::FORBIDDEN).await;
        }
        // Records made by sponsor staff are not the partner's either; regions are not theirs to create.
        let project = format!("/api/v1/projects/{}", fx.project);
        assert_problem(
            app.request_as(&hwk_partner, Method::PATCH, &project)
                .json(&json!({"status": "active"}))
                .send()
                .await
                .unwrap(),
            StatusCode::FORBIDDEN,
        )
        .await;
        assert_problem(
            app.request_as(&hwk_partner, Method::POST, "/api/v1/regions")
                .json(&json!({"name": "Wolfsburg"}))
                .send()
                .await
                .unwrap(),
            StatusCode::FORBIDDEN,
        )
        .await;

        let event = app.request_as(&ihk_partner, Method::POST, "/api/v1/events")
        .json(&json!({"title": "IHK-Sprechtag", "kind": "information_session", "project_id": fx.project, "starts_at": "2021-05-05T09:00:00Z", "organization_ids": [ihk]}))
        .send().await.unwrap();
        assert_eq!(event.status(), StatusCode::CREATED);
        let event: Value = event.json().await.unwrap();
        let event_path = format!("/api/v1/events/{}", event["id"]);
        assert_problem(
            app.request_as(&hwk_partner, Method::DELETE, &event_path)
                .send()
                .await
                .unwrap(),
            StatusCode::FORBIDDEN,
        )
        .await;
        assert_eq!(
            app.request_as(&ihk_partner, Method::DELETE, &event_path)
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::NO_CONTENT
        );

        // A machine client of the chamber acts for the chamber.
        let client: Value = app
            .create(
                "/api/v1/clients",
                json!({"name": "HWK sync", "organization_id": hwk}),
            )
            .await;
        let token: Value = app
            .token_request(&[
                ("grant_type", "client_credentials"),
                ("client_id", client["client_id"].as_str().unwrap()),
                ("client_secret", client["client_secret"].as_str().unwrap()),
            ])
            .await
            .json()
            .await
            .unwrap();
        let machine = token["access_token"].as_str().unwrap();
        assert_eq!(
            app.request_as(machine, Method::PATCH, &path)
                .json(&json!({"trade": "Dachdeckerei"}))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
        let foreign = app
            .create(
                "/api/v1/companies",
                json!({"name": "Sponsor-Betrieb", "region_id": fx.regions[0]}),
            )
            .await;
        assert_problem(
            app.request_as(
                machine,
                Method::PATCH,
                &format!("/api/v1/companies/{}", foreign["id"]),
            )
            .json(&json!({"trade": "x"}))
            .send()
            .await
            .unwrap(),
            StatusCode::FORBIDDEN,
        )
        .await;
        assert_eq!(
            app.request_as(&hwk_partner, Method::DELETE, &path)
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::NO_CONTENT
        );
    }
);

api_test!(
    a_list_page_costs_the_same_queries_whatever_its_size,
    |app| async move {
        let fx = Fixtures::create(&app).await;
        for i in 0..60 {
            app.create("/api/v1/companies", json!({"name": format!("Betrieb {i:02}"), "region_id": fx.regions[i % 2], "topic_ids": fx.topics, "project_ids": [fx.project]})).await;
        }
        let mut costs = Vec::new();
        for limit in [1, 5, 50] {
            // Twice, so the pool is warm and no new connection's setup is counted.
            app.get(&format!("/api/v1/companies?limit={limit}")).await;
            let before = app.db.queries_run();
            let page: Value = app
                .get(&format!("/api/v1/companies?limit={limit}&sort=name"))
                .await
                .json()
                .await
                .unwrap();
            costs.push(app.db.queries_run() - before);
            assert_eq!(page["items"].as_array().unwrap().len(), limit);
            assert_eq!(page["items"][0]["topic_ids"].as_array().unwrap().len(), 2);
        }
        assert!(
            costs.iter().all(|c| *c == costs[0]),
            "queries per page by size 1, 5, 50: {costs:?}"
        );
        assert_eq!(costs[0], 1, "the rows with their relation ids: {costs:?}");
    }
);

/// Statements the app runs for one GET (after a first one warmed the pool).
async fn statements_for(app: &TestApp, path: &str) -> (u64, Value) {
    app.get(path).await;
    let before = app.db.queries_run();
    let read: Value = app.get(path).await.json().await.unwrap();
    (app.db.queries_run() - before, read)
}

api_test!(
    a_record_and_its_relation_ids_are_read_in_one_statement,
    |app| async move {
        let fx = Fixtures::create(&app).await;
        let company = app.create("/api/v1/companies", json!({"name": "Tischlerei Harz", "region_id": fx.regions[0], "topic_ids": [fx.topics[1], fx.topics[0]], "project_ids": [fx.project]})).await;
        let bare = app
            .create(
                "/api/v1/companies",
                json!({"name": "Malerbetrieb Oker", "region_id": fx.regions[0]}),
            )
            .await;
        let event = app.create("/api/v1/events", json!({"title": "Nachbarschaftstreffen Goslar", "kind": "neighbourhood_meeting", "project_id": fx.project, "starts_at": "2021-06-01T16:00:00Z", "topic_ids": [fx.topics[1], fx.topics[0]], "organization_ids": fx.organizations, "company_ids": [company["id"], bare["id"]]})).await;
        let mut topics = fx.topics.clone();
        topics.sort();
        let mut organizations = fx.organizations.clone();
        organizations.sort();

        // The relation ids come in the row's own statement, sorted as everywhere.
        let (cost, read) =
            statements_for(&app, &format!("/api/v1/companies/{}", company["id"])).await;
        assert_eq!(
            (read["topic_ids"].clone(), read["project_ids"].clone()),
            (json!(topics), json!([fx.project]))
        );
        assert_eq!(cost, 1, "statements for one company");
        let (_, read) = statements_for(&app, &format!("/api/v1/companies/{}", bare["id"])).await;
        assert_eq!(
            (read["topic_ids"].clone(), read["project_ids"].clone()),
            (json!([]), json!([]))
        );

        let (cost, read) = statements_for(&app, &format!("/api/v1/events/{}", event["id"])).await;
        assert_eq!(read["topic_ids"], json!(topics));
        assert_eq!(read["organization_ids"], json!(organizations));
        assert_eq!(read["company_ids"], json!([company["id"], bare["id"]]));
        assert_eq!(cost, 1, "statements for one event");

        // A project's funding lines are rows of their own: a second statement, sent with the
        // first on PostgreSQL.
        let project = app.create("/api/v1/projects", json!({"name": "Fachkräfte Harz", "status": "active", "region_ids": [fx.regions[1], fx.regions[0]], "topic_ids": [fx.topics[1]], "funding": [{"funding_source_id": fx.funding_sources[0], "role": "co_financing", "amount_cents": 500000}]})).await;
        let (cost, read) =
            statements_for(&app, &format!("/api/v1/projects/{}", project["id"])).await;
        let mut regions = fx.regions.clone();
        regions.sort();
        assert_eq!(read["region_ids"], json!(regions));
        assert_eq!(read["topic_ids"], json!([fx.topics[1]]));
        assert_eq!(read["funding"][0]["amount_cents"], 500000);
        assert_eq!(cost, 2, "statements for one project");
    }
);

/// Round trips and statements the app costs for one request.
async fn rounds_for(
    app: &TestApp,
    request: impl Future<Output = reqwest::Response>,
) -> (u64, u64, reqwest::Response) {
    let (rounds, statements) = (app.db.round_trips_run(), app.db.queries_run());
    let response = request.await;
    (
        app.db.round_trips_run() - rounds,
        app.db.queries_run() - statements,
        response,
    )
}

api_test!(a_write_sends_what_it_can_at_once, |app| async move {
    let fx = Fixtures::create(&app).await;
    // A first write, so the pool is warm and no new connection's setup is counted.
    app.create(
        "/api/v1/companies",
        json!({"name": "Dachdecker Peine", "region_id": fx.regions[0]}),
    )
    .await;

    let plain = json!({"name": "Malerbetrieb Oker", "region_id": fx.regions[0]});
    let (rounds, statements, response) =
        rounds_for(&app, app.post_json("/api/v1/companies", &plain)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let full = json!({"name": "Tischlerei Harz", "region_id": fx.regions[1], "topic_ids": fx.topics, "project_ids": [fx.project]});
    let (full_rounds, full_statements, response) =
        rounds_for(&app, app.post_json("/api/v1/companies", &full)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let path = format!(
        "/api/v1/companies/{}",
        response.json::<Value>().await.unwrap()["id"]
    );
    let (put_rounds, put_statements, response) = rounds_for(&app, app.put_json(&path, &full)).await;
    assert_eq!(response.status(), StatusCode::OK);
    if app.on_postgres() {
        // BEGIN | the region lookup and the INSERT | the feed entry and the COMMIT.
        assert_eq!(
            rounds, 3,
            "round trips of a company without relations ({statements} statements)"
        );
        // BEGIN | three lookups and the INSERT | the links | the feed entry and the COMMIT.
        assert_eq!(
            full_rounds, 4,
            "round trips of a company with relations ({full_statements} statements)"
        );
        // BEGIN | lookups and the UPDATE | old links out, new links in | feed and COMMIT.
        assert_eq!(
            put_rounds, 4,
            "round trips of a replace ({put_statements} statements)"
        );
    } else {
        // SQLite runs in the process: every statement is a round of its own.
        assert_eq!(
            (rounds, full_rounds, put_rounds),
            (statements, full_statements, put_statements)
        );
    }
    assert!(statements < full_statements && full_statements < put_statements);

    // Lookups and writes that went out together leave nothing when a lookup fails (on
    // PostgreSQL the INSERT ran and is rolled back), and the connection serves on.
    let before: Value = app
        .get("/api/v1/companies?limit=100")
        .await
        .json()
        .await
        .unwrap();
    let bad = app
        .post_json(
            "/api/v1/companies",
            &json!({"name": "Phantom GmbH", "region_id": 9999, "topic_ids": [8888]}),
        )
        .await;
    let problem = assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(
        field_errors(&problem),
        [
            ("region_id".to_owned(), "not_found".to_owned()),
            ("topic_ids[0]".to_owned(), "not_found".to_owned())
        ]
    );
    let after: Value = app
        .get("/api/v1/companies?limit=100")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["items"], before["items"]);
    app.create(
        "/api/v1/companies",
        json!({"name": "Elektro Salzgitter", "region_id": fx.regions[1]}),
    )
    .await;
});

api_test!(
    a_link_set_goes_in_as_one_statement_prepared_once,
    |app| async move {
        let fx = Fixtures::create(&app).await;
        // Link sets and funding lines of different lengths, one after another, each read back.
        let company = app
            .create(
                "/api/v1/companies",
                json!({"name": "Tischlerei Harz", "region_id": fx.regions[0], "topic_ids": [fx.topics[0]], "project_ids": [fx.project]}),
            )
            .await;
        let path = format!("/api/v1/companies/{}", company["id"]);
        let replaced = app
            .put_json(
                &path,
                &json!({"name": "Tischlerei Harz", "region_id": fx.regions[0], "topic_ids": fx.topics}),
            )
            .await;
        assert_eq!(replaced.status(), StatusCode::OK);
        let read: Value = app.get(&path).await.json().await.unwrap();
        assert_eq!(
            (&read["topic_ids"], &read["project_ids"]),
            (&json!(fx.topics), &json!([]))
        );
        let lines = |n: usize| -> Value {
            [
                json!({"funding_source_id": fx.funding_sources[0], "role": "funding", "amount_cents": 500000}),
                json!({"funding_source_id": fx.funding_sources[1], "role": "co_financing", "amount_cents": null}),
                json!({"funding_source_id": fx.funding_sources[0], "role": "co_financing", "amount_cents": 0}),
            ][..n]
                .into()
        };
        let project = app
            .create(
                "/api/v1/projects",
                json!({"name": "Betriebsnachbarschaften", "status": "completed", "funding": lines(1)}),
            )
            .await;
        let path = format!("/api/v1/projects/{}", project["id"]);
        let replaced = app
            .put_json(
                &path,
                &json!({"name": "Betriebsnachbarschaften", "status": "completed", "funding": lines(3)}),
            )
            .await;
        assert_eq!(replaced.status(), StatusCode::OK);
        let read: Value = app.get(&path).await.json().await.unwrap();
        let mut funding = read["funding"].as_array().unwrap().clone();
        let mut expected = lines(3).as_array().unwrap().clone();
        let key = |line: &Value| line.to_string();
        funding.sort_by_key(key);
        expected.sort_by_key(key);
        assert_eq!(funding, expected);

        if app.on_postgres() {
            // On one connection, sets of different lengths go in by one statement each, prepared
            // once: a `VALUES` list per length would be a new statement every time, which
            // diesel does not cache, and each write would pay a round trip to prepare it.
            let (company, project) = (
                CompanyId(company["id"].as_i64().unwrap()),
                ProjectId(project["id"].as_i64().unwrap()),
            );
            let topics: Vec<TopicId> = fx.topics.iter().copied().map(TopicId).collect();
            let line = |source: usize, role| FundingLine {
                funding_source_id: FundingSourceId(fx.funding_sources[source]),
                role,
                amount_cents: None,
            };
            let funding = [
                line(0, FundingRole::Funding),
                line(1, FundingRole::CoFinancing),
            ];
            let (before, after) = app
                .db
                .write(async move |conn| {
                    let before = prepared(conn).await?;
                    for n in [1, 2] {
                        company_topics::replace(conn, company, &topics[..n], Owner::Existing)
                            .await?;
                        projects::replace_funding(conn, project, &funding[..n], Owner::Existing)
                            .await?;
                    }
                    Ok::<_, db::DbError>((before, prepared(conn).await?))
                })
                .await
                .unwrap();
            for table in ["company_topics", "project_funding"] {
                let inserts = |statements: &[Prepared]| -> Vec<i64> {
                    statements
                        .iter()
                        .filter(|p| p.statement.starts_with(&format!("INSERT INTO \"{table}\"")))
                        .map(|p| p.executions)
                        .collect()
                };
                let (was, is) = (inserts(&before), inserts(&after));
                assert_eq!(is.len(), 1, "prepared inserts into {table}: {after:#?}");
                // One execution per set: not one per row.
                assert_eq!(is[0] - was.first().unwrap_or(&0), 2, "inserts into {table}");
            }
        }
    }
);

api_test!(
    a_page_of_a_usual_size_is_planned_once_per_connection,
    |app| async move {
        let fx = Fixtures::create(&app).await;
        for name in ["Bäckerei Goslar", "Dachdeckerei Goslar", "Elektro Goslar"] {
            app.create(
                "/api/v1/companies",
                json!({"name": name, "region_id": fx.regions[0]}),
            )
            .await;
        }
        let region = fx.regions[0];
        let names = move |limit: i64| {
            let page = PageRequest {
                sort: Sort {
                    field: CompanySort::Name,
                    descending: false,
                },
                limit,
                after: None,
                with_total: false,
            };
            async move |conn: &mut db::Conn<'_>| -> Result<Vec<String>, DomainError> {
                let filter = CompanyFilter {
                    region_id: Some(region),
                    ..CompanyFilter::default()
                };
                let page = resource::list::<Companies>(conn, &filter, &page).await?;
                Ok(page.items.into_iter().map(|c| c.company.name).collect())
            }
        };
        // Pages of the default size, and of a size nobody asks for, on one connection: the
        // same rows either way.
        let on_postgres = app.on_postgres();
        let (usual, other, statements) = app
            .db
            .write(async move |conn| {
                let mut usual = Vec::new();
                for _ in 0..8 {
                    usual = names(DEFAULT_LIMIT)(conn).await?;
                }
                let mut other = Vec::new();
                for _ in 0..3 {
                    other = names(2)(conn).await?;
                }
                let statements = if on_postgres {
                    prepared(conn).await?
                } else {
                    Vec::new()
                };
                Ok::<_, DomainError>((usual, other, statements))
            })
            .await
            .unwrap();
        assert_eq!(
            usual,
            ["Bäckerei Goslar", "Dachdeckerei Goslar", "Elektro Goslar"]
        );
        assert_eq!(other, usual[..2]);

        if on_postgres {
            // The LIMIT is in the statement's text, so PostgreSQL costs the page's generic plan
            // right and keeps it after the first five executions: with `LIMIT $n` it planned
            // every execution afresh. A page of another size keeps its LIMIT bound, one
            // statement for every such size, so sizes can't pile up statements on a connection.
            // The prepared pages whose LIMIT passes `limit`.
            let pages = |limit: &dyn Fn(&str) -> bool| -> Vec<&Prepared> {
                statements
                    .iter()
                    .filter(|p| p.statement.contains("FROM \"companies\" WHERE"))
                    .filter(|p| {
                        p.statement
                            .rsplit_once(" LIMIT ")
                            .is_some_and(|(_, l)| limit(l))
                    })
                    .collect()
            };
            let usual = pages(&|l| l == (DEFAULT_LIMIT + 1).to_string());
            assert_eq!(usual.len(), 1, "{statements:#?}");
            assert_eq!(
                (usual[0].executions, usual[0].generic_plans),
                (8, 3),
                "planned for the first five, then the generic plan: {usual:#?}"
            );
            // The benchmark's ceiling for lists runs this very statement in pgbench.
            let bench = std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/list_ceiling.sql"),
            )
            .unwrap();
            let named = usual[0]
                .statement
                .replace("$1)", ":one)")
                .replace("$2)", ":one)")
                .replace("= $3)", "= :region)");
            assert_eq!(
                bench.lines().find(|l| !l.starts_with("--")),
                Some(format!("{named};").as_str()),
                "bench/list_ceiling.sql is not the statement of a list of companies by region"
            );
            assert_eq!(pages(&|l| l == "3").len(), 0, "{statements:#?}");
            let other = pages(&|l| l.starts_with('$'));
            assert_eq!(other.len(), 1, "{statements:#?}");
            assert_eq!(other[0].executions, 3);
        }
    }
);

/// A statement the connection has prepared, and how often it ran (PostgreSQL 14 and later).
#[derive(Debug, diesel::QueryableByName)]
struct Prepared {
    #[diesel(sql_type = diesel::sql_types::Text)]
    statement: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    executions: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    generic_plans: i64,
}

/// The statements a PostgreSQL connection has prepared (`pg_prepared_statements`).
async fn prepared(conn: &mut db::Conn<'_>) -> Result<Vec<Prepared>, db::DbError> {
    let db::Conn::Postgres(pg) = conn else {
        unreachable!("on PostgreSQL")
    };
    diesel_async::RunQueryDsl::load(
        diesel::sql_query(
            "SELECT statement, generic_plans + custom_plans AS executions, generic_plans \
             FROM pg_prepared_statements",
        ),
        &mut pg.shared(),
    )
    .await
    .map_err(db::DbError::from)
}

/// `db::transaction` on PostgreSQL, seen from another session: what the work wrote stays
/// inside the open transaction until the COMMIT; a transaction that fails after writing,
/// before its first statement, or beside the writes sent with its COMMIT, is rolled back;
/// none leaves a session in a transaction (a pooled connection left so would hold its locks
/// for whoever gets it next).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --run-ignored all"]
async fn a_transaction_holds_its_writes_until_it_commits_and_leaves_nothing_open() {
    use crate::helpers::{Options, TestApp};
    // The writer waits inside its transaction while the test looks: no deadline meanwhile.
    let options = Options {
        db_query_timeout_secs: 60,
        ..Options::default()
    };
    let app = TestApp::spawn_postgres(options).await;
    let fx = Fixtures::create(&app).await;
    let company = app
        .create(
            "/api/v1/companies",
            json!({"name": "Malerbetrieb Oker", "region_id": fx.regions[0]}),
        )
        .await;
    let id = CompanyId(company["id"].as_i64().unwrap());
    let topics: Vec<TopicId> = fx.topics.iter().copied().map(TopicId).collect();
    let links = topics.len() as i64;
    assert!(links > 0, "the fixtures have topics to link");

    let (written, seen) = (
        tokio::sync::oneshot::channel(),
        tokio::sync::oneshot::channel(),
    );
    let (db, (tell, hold), (go, wait)) = (app.db.clone(), written, seen);
    let writer = tokio::spawn(async move {
        db.write(async move |conn| {
            db::transaction(conn, async |c| {
                company_topics::replace(c, id, &topics, Owner::Existing).await?;
                tell.send(()).unwrap();
                wait.await.unwrap();
                Ok::<_, db::DbError>(())
            })
            .await
        })
        .await
    });
    if hold.await.is_err() {
        panic!("the writer ended before it wrote: {:?}", writer.await);
    }
    assert_eq!(
        sessions_and_links(&app, id).await,
        (vec!["idle in transaction".to_owned()], 0),
        "the links written, not yet committed"
    );
    go.send(()).unwrap();
    writer.await.unwrap().unwrap();
    assert_eq!(sessions_and_links(&app, id).await, (vec![], links));

    let failed_after_writing = app
        .db
        .write(async move |conn| {
            db::transaction(conn, async |c| {
                company_topics::replace(c, id, &[], Owner::Existing).await?;
                Err::<(), _>(db::DbError::Unavailable("on purpose".into()))
            })
            .await
        })
        .await;
    assert!(failed_after_writing.is_err());
    let failed_before_anything = app
        .db
        .write(async |conn| {
            db::transaction(conn, async |_| {
                Err::<(), _>(db::DbError::Unavailable("on purpose".into()))
            })
            .await
        })
        .await;
    assert!(failed_before_anything.is_err());
    assert_eq!(
        sessions_and_links(&app, id).await,
        (vec![], links),
        "rolled back"
    );
    // A write sent together with the COMMIT beside a piece that failed on this side before it
    // sent anything, so that the server never saw the failure: rolled back all the same,
    // whichever piece goes first.
    for failing_first in [false, true] {
        let sent_beside_a_failure = app
            .db
            .write(async move |conn| {
                db::transaction_ending_with(
                    conn,
                    async |_| Ok::<_, db::DbError>(()),
                    async |c, _| {
                        let write = async |c: &mut db::Conn<'_>| {
                            Ok(company_topics::replace(c, id, &[], Owner::Existing).await?)
                        };
                        let fail = async |_: &mut db::Conn<'_>| {
                            Err::<(), _>(db::DbError::Unavailable("on purpose".into()))
                        };
                        if failing_first {
                            db::both(c, fail, write).await.map(drop)
                        } else {
                            db::both(c, write, fail).await.map(drop)
                        }
                    },
                )
                .await
            })
            .await;
        assert!(
            matches!(&sent_beside_a_failure, Err(db::DbError::Unavailable(m)) if m == "on purpose"),
            "the piece's own error: {sent_beside_a_failure:?}"
        );
        assert_eq!(
            sessions_and_links(&app, id).await,
            (vec![], links),
            "not committed (the failing piece first: {failing_first})"
        );
    }
    // The pool's connections serve on (two, the pool of `app.db`, one after the other: a
    // write waits for the one before it).
    for _ in 0..2 {
        app.db
            .write(async move |conn| {
                db::transaction(conn, async |c| {
                    company_topics::replace(c, id, &[], Owner::Existing).await
                })
                .await
                .map_err(db::DbError::from)
            })
            .await
            .unwrap();
    }
    assert_eq!(sessions_and_links(&app, id).await, (vec![], 0));
}

/// Seen from a session of the test's own: the app's sessions that are inside a transaction
/// (their state), and how many topic links company `id` has.
async fn sessions_and_links(app: &TestApp, id: CompanyId) -> (Vec<String>, i64) {
    use diesel::RunQueryDsl as _;
    #[derive(diesel::QueryableByName)]
    struct State {
        #[diesel(sql_type = diesel::sql_types::Text)]
        state: String,
    }
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let schema = app.postgres_schema().to_owned();
    app.with_connection(move |conn| {
        let states = diesel::sql_query(
            "SELECT state FROM pg_stat_activity WHERE application_name = $1 \
             AND state LIKE 'idle in transaction%'",
        )
        .bind::<diesel::sql_types::Text, _>(&schema)
        .load::<State>(conn)
        .unwrap();
        let links = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM {schema}.company_topics WHERE company_id = {}",
            id.0
        ))
        .get_result::<Count>(conn)
        .unwrap();
        (states.into_iter().map(|s| s.state).collect(), links.n)
    })
    .await
}

api_test!(
    a_write_whose_feed_entry_fails_leaves_nothing_behind,
    |app| async move {
        let fx = Fixtures::create(&app).await;
        let company = app
            .create(
                "/api/v1/companies",
                json!({"name": "Malerbetrieb Oker", "region_id": fx.regions[0]}),
            )
            .await;
        let path = format!("/api/v1/companies/{}", company["id"]);
        let feed_before: Value = app.get("/api/v1/changes").await.json().await.unwrap();
        // The feed entry is the transaction's last statement, sent with the COMMIT: make it fail.
        let refuse = if app.on_postgres() {
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'the feed refuses'; END $$; \
             CREATE TRIGGER refuse BEFORE INSERT ON changes FOR EACH ROW EXECUTE FUNCTION refuse();"
        } else {
            "CREATE TRIGGER refuse BEFORE INSERT ON changes BEGIN SELECT RAISE(ABORT, 'the feed refuses'); END;"
        };
        diesel::connection::SimpleConnection::batch_execute(&mut app.admin(), refuse).unwrap();

        let created = app.post_json("/api/v1/companies", &json!({"name": "Phantom GmbH", "region_id": fx.regions[0], "topic_ids": fx.topics})).await;
        assert_problem(created, StatusCode::INTERNAL_SERVER_ERROR).await;
        let replaced = app
            .put_json(
                &path,
                &json!({"name": "Umbenannt", "region_id": fx.regions[1], "topic_ids": fx.topics}),
            )
            .await;
        assert_problem(replaced, StatusCode::INTERNAL_SERVER_ERROR).await;
        let deleted = app.delete(&path).await;
        assert_problem(deleted, StatusCode::INTERNAL_SERVER_ERROR).await;

        let allow = if app.on_postgres() {
            "DROP TRIGGER refuse ON changes"
        } else {
            "DROP TRIGGER refuse"
        };
        diesel::connection::SimpleConnection::batch_execute(&mut app.admin(), allow).unwrap();
        // Nothing of the three writes was kept, and every connection is usable again.
        let list: Value = app.get("/api/v1/companies").await.json().await.unwrap();
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        let read: Value = app.get(&path).await.json().await.unwrap();
        assert_eq!(
            (
                read["name"].clone(),
                read["version"].clone(),
                read["topic_ids"].clone()
            ),
            (json!("Malerbetrieb Oker"), json!(1), json!([]))
        );
        let feed_after: Value = app.get("/api/v1/changes").await.json().await.unwrap();
        assert_eq!(feed_after["items"], feed_before["items"]);
        for i in 0..4 {
            app.create(
                "/api/v1/companies",
                json!({"name": format!("Betrieb {i}"), "region_id": fx.regions[0]}),
            )
            .await;
        }
    }
);

api_test!(
    topic_funding_and_organization_filters_narrow_the_lists,
    |app| async move {
        Fixtures::create(&app).await;
        let names = |page: Value, field: &str| -> Vec<String> {
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i[field].as_str().unwrap().to_owned())
                .collect()
        };
        let get = |path: &str| {
            let app = &app;
            let path = path.to_owned();
            async move { app.get(&path).await.json::<Value>().await.unwrap() }
        };
        assert_eq!(
            names(
                get("/api/v1/topics?category=apprentice_marketing").await,
                "key"
            ),
            ["apprentice_marketing"]
        );
        assert_eq!(
            names(get("/api/v1/topics?q=azubi").await, "key"),
            ["apprentice_marketing"]
        );
        assert_eq!(
            names(
                get("/api/v1/funding-sources?kind=municipality").await,
                "name"
            ),
            ["Stadt Goslar"]
        );
        assert_eq!(
            names(get("/api/v1/funding-sources?q=sozialfonds").await, "name"),
            ["Europäischer Sozialfonds (ESF)"]
        );
        assert_eq!(
            names(
                get("/api/v1/organizations?kind=chamber_of_commerce").await,
                "name"
            ),
            ["IHK Braunschweig"]
        );
        assert_eq!(
            names(
                get("/api/v1/organizations?q=REGION&sort=-name").await,
                "name"
            ),
            ["Allianz für die Region GmbH"]
        );
        assert_problem(
            app.get("/api/v1/topics?category=marketing").await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
);

api_test!(
    concurrent_writers_all_succeed_without_database_is_locked,
    |app| async move {
        let fx = Fixtures::create(&app).await;
        // SQLite admits one writer at a time: the service queues its writers instead of letting
        // them fail or sleep inside SQLite's busy handler.
        let writes = (0..48).map(|i| {
        let body = json!({"name": format!("Gleichzeitig {i}"), "region_id": fx.regions[i % 2], "topic_ids": fx.topics});
        let app = &app;
        async move { app.post_json("/api/v1/companies", &body).await.status() }
    });
        let statuses = futures_util::future::join_all(writes).await;
        assert!(
            statuses.iter().all(|s| *s == StatusCode::CREATED),
            "{statuses:?}"
        );
        let page: Value = app
            .get("/api/v1/companies?q=gleichzeitig&with_total=true")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(page["total"], 48);
    }
);

api_test!(
    a_stored_value_the_code_does_not_know_is_an_error_not_another_value,
    |app| async move {
        let topic = app
            .create(
                "/api/v1/topics",
                json!({"key": "retention", "name": "Mitarbeiterbindung", "category": "retention"}),
            )
            .await;
        // A row written behind the service's back (an old version, a hand-made fix) with a
        // category this version does not know.
        let on_postgres = app.on_postgres();
        app.with_connection(move |conn| {
            use diesel::connection::SimpleConnection as _;
            let bypass = if on_postgres {
                "ALTER TABLE topics DROP CONSTRAINT topics_category_check;"
            } else {
                "PRAGMA ignore_check_constraints = ON;"
            };
            conn.batch_execute(&format!(
                "{bypass} UPDATE topics SET category = 'future_category';"
            ))
        })
        .await
        .unwrap();

        let read = app.get(&format!("/api/v1/topics/{}", topic["id"])).await;
        let problem = assert_problem(read, StatusCode::INTERNAL_SERVER_ERROR).await;
        assert!(
            !problem["detail"]
                .as_str()
                .unwrap()
                .contains("future_category"),
            "the cause goes to the log, not to the client: {problem}"
        );
        let list = app.get("/api/v1/topics").await;
        assert_problem(list, StatusCode::INTERNAL_SERVER_ERROR).await;
    }
);
