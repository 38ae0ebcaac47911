//! Who may do what: every endpoint × every role, plus anonymous callers.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::api_test;

api_test!(every_endpoint_enforces_its_roles, |app| async move {
    let org = app.create_organization("Handwerkskammer").await;
    let region: Value = app.create_region(json!({"name": "Wolfenbüttel"})).await;
    let region_path = format!("/api/v1/regions/{}", region["id"]);
    let admin = app.token.clone();
    let editor = app.token_for("editor", None).await;
    let partner = app.token_for("partner", Some(org)).await;
    let viewer = app.token_for("viewer", None).await;

    let anyone = ["admin", "editor", "partner", "viewer"];
    let editors = ["admin", "editor"];
    let admins = ["admin"];
    // (method, path, body, roles that may)
    let table: Vec<(Method, String, Option<Value>, &[&str])> = vec![
        (Method::GET, "/api/v1/regions".into(), None, &anyone),
        (Method::GET, region_path.clone(), None, &anyone),
        (
            Method::POST,
            "/api/v1/regions".into(),
            Some(json!({"name": "Peine"})),
            &editors,
        ),
        (
            Method::PUT,
            region_path.clone(),
            Some(json!({"name": "Wolfenbüttel"})),
            &editors,
        ),
        (
            Method::PATCH,
            region_path.clone(),
            Some(json!({"description": "x"})),
            &editors,
        ),
        (Method::GET, "/api/v1/me".into(), None, &anyone),
        (Method::GET, "/api/v1/users".into(), None, &admins),
        (Method::GET, "/api/v1/users/1".into(), None, &admins),
        (
            Method::POST,
            "/api/v1/users".into(),
            Some(json!({})),
            &admins,
        ),
        (
            Method::PATCH,
            "/api/v1/users/1".into(),
            Some(json!({})),
            &admins,
        ),
        (Method::DELETE, "/api/v1/users/999".into(), None, &admins),
        (Method::GET, "/api/v1/clients".into(), None, &admins),
        (
            Method::POST,
            "/api/v1/clients".into(),
            Some(json!({})),
            &admins,
        ),
        (Method::GET, "/api/v1/clients/1".into(), None, &admins),
        (
            Method::PATCH,
            "/api/v1/clients/1".into(),
            Some(json!({})),
            &admins,
        ),
        (Method::DELETE, "/api/v1/clients/1".into(), None, &admins),
        (Method::DELETE, region_path.clone(), None, &editors),
    ];
    // Every domain resource: everyone reads; editors create (partners too for companies and
    // events) and change records made by sponsor staff.
    let fx = crate::conventions::Fixtures::create(&app).await;
    let company = app
        .create(
            "/api/v1/companies",
            json!({"name": "Demo", "region_id": fx.regions[0]}),
        )
        .await;
    let event = app.create("/api/v1/events", json!({"title": "Treffen", "kind": "other", "project_id": fx.project, "starts_at": "2021-01-01T00:00:00Z"})).await;
    let partner_creates = ["admin", "editor", "partner"];
    let resources: Vec<(&str, i64, &[&str])> = vec![
        ("topics", fx.topics[0], &editors),
        ("funding-sources", fx.funding_sources[0], &editors),
        ("organizations", fx.organizations[1], &editors),
        ("projects", fx.project, &editors),
        (
            "companies",
            company["id"].as_i64().unwrap(),
            &partner_creates,
        ),
        ("events", event["id"].as_i64().unwrap(), &partner_creates),
    ];
    let mut table = table;
    for (resource, id, creators) in resources {
        let collection = format!("/api/v1/{resource}");
        let item = format!("{collection}/{id}");
        table.push((Method::GET, collection.clone(), None, &anyone));
        table.push((Method::GET, item.clone(), None, &anyone));
        table.push((Method::POST, collection, Some(json!({})), creators));
        table.push((Method::PUT, item.clone(), Some(json!({})), &editors));
        table.push((Method::PATCH, item.clone(), Some(json!({})), &editors));
        table.push((Method::DELETE, item, None, &editors));
    }
    for (method, path, body, allowed) in &table {
        // Those who may not go first, so a delete by those who may can't hide a denial.
        for (role, token) in [
            ("anonymous", &String::new()),
            ("viewer", &viewer),
            ("partner", &partner),
            ("editor", &editor),
            ("admin", &admin),
        ] {
            let mut request = if token.is_empty() {
                app.anonymous(method.clone(), path)
            } else {
                app.request_as(token, method.clone(), path)
            };
            if let Some(body) = body {
                request = request.json(body);
            }
            let status = request.send().await.unwrap().status();
            let expected_denial = if role == "anonymous" {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::FORBIDDEN
            };
            if allowed.contains(&role) {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{role} {method} {path}: {status}"
                );
            } else {
                assert_eq!(status, expected_denial, "{role} {method} {path}");
            }
        }
    }
});

api_test!(
    the_token_endpoint_docs_and_health_need_no_token,
    |app| async move {
        for path in ["/api/v1/openapi.json", "/health/live", "/health/ready"] {
            assert_eq!(
                app.anonymous(Method::GET, path)
                    .send()
                    .await
                    .unwrap()
                    .status(),
                StatusCode::OK,
                "{path}"
            );
        }
        let token = app
            .anonymous(Method::POST, "/api/v1/auth/token")
            .form(&[("grant_type", "password")])
            .send()
            .await
            .unwrap();
        assert_eq!(
            token.status(),
            StatusCode::BAD_REQUEST,
            "reachable, and asks for credentials"
        );
    }
);

api_test!(
    records_remember_who_created_and_changed_them,
    |app| async move {
        let editor = app.token_for("editor", None).await;
        let region: Value = app
            .request_as(&editor, Method::POST, "/api/v1/regions")
            .json(&json!({"name": "Seesen"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        app.patch_json(
            &format!("/api/v1/regions/{}", region["id"]),
            &json!({"description": "x"}),
        )
        .await;

        let id = region["id"].as_i64().unwrap();
        let (created_by, updated_by) = app
            .with_connection(move |conn| {
                use betriebsnachbarschaften::db::schema::regions;
                use diesel::prelude::*;
                regions::table
                    .find(id)
                    .select((regions::created_by, regions::updated_by))
                    .first::<(Option<String>, Option<String>)>(conn)
            })
            .await
            .unwrap();
        assert!(created_by.unwrap().starts_with("user:"));
        assert_eq!(
            updated_by.unwrap(),
            "user:1",
            "the bootstrap admin changed it last"
        );
    }
);
