//! Chamber keys: a company's `external_id` is the partner's own key, unique per owning
//! organization, so two chambers may both use their member number 4711.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, api_test, assert_problem};

async fn region(app: &TestApp) -> i64 {
    app.create_region(json!({"name": "Peine"})).await["id"]
        .as_i64()
        .unwrap()
}

async fn create_as(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.request_as(token, Method::POST, "/api/v1/companies")
        .json(&body)
        .send()
        .await
        .unwrap()
}

api_test!(
    an_external_id_is_unique_per_organization,
    |app: TestApp| async move {
        let region = region(&app).await;
        let hwk = app.create_organization("HWK").await;
        let ihk = app.create_organization("IHK").await;
        let hwk_partner = app.token_for("partner", Some(hwk)).await;
        let ihk_partner = app.token_for("partner", Some(ihk)).await;
        let company =
            |name: &str| json!({"name": name, "region_id": region, "external_id": "4711"});

        // Both chambers may use member number 4711, and so may the admins' own records.
        let first = create_as(&app, &hwk_partner, company("Tischlerei A")).await;
        assert_eq!(first.status(), StatusCode::CREATED);
        let first: Value = first.json().await.unwrap();
        assert_eq!(first["external_id"], "4711");
        let other = create_as(&app, &ihk_partner, company("Tischlerei B")).await;
        assert_eq!(other.status(), StatusCode::CREATED);
        app.create("/api/v1/companies", company("Tischlerei C"))
            .await;

        // Within one owner, the key is taken: for a partner and for the owner-less records.
        let again = create_as(&app, &hwk_partner, company("Tischlerei D")).await;
        let problem = assert_problem(again, StatusCode::CONFLICT).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("4711"),
            "{problem}"
        );
        let again = app
            .post_json("/api/v1/companies", &company("Tischlerei E"))
            .await;
        assert_problem(again, StatusCode::CONFLICT).await;

        // A change to a taken key is refused the same way, and nothing changes.
        let second = create_as(
            &app,
            &hwk_partner,
            json!({"name": "Tischlerei F", "region_id": region, "external_id": "4712"}),
        )
        .await;
        let second: Value = second.json().await.unwrap();
        let path = format!("/api/v1/companies/{}", second["id"]);
        let taken = app
            .request_as(&hwk_partner, Method::PATCH, &path)
            .header("content-type", "application/merge-patch+json")
            .body(r#"{"external_id": "4711"}"#)
            .send()
            .await
            .unwrap();
        assert_problem(taken, StatusCode::CONFLICT).await;
        let unchanged: Value = app.get(&path).await.json().await.unwrap();
        assert_eq!(unchanged["external_id"], "4712");
        assert_eq!(unchanged["version"], 1);

        // The filter finds every company with the key, whoever owns it.
        let found: Value = app
            .get("/api/v1/companies?external_id=4711&sort=name")
            .await
            .json()
            .await
            .unwrap();
        let names: Vec<&str> = found["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Tischlerei A", "Tischlerei B", "Tischlerei C"]);
    }
);

api_test!(
    an_external_id_is_one_to_a_hundred_characters,
    |app: TestApp| async move {
        let region = region(&app).await;
        for bad in [json!(""), json!("   "), json!("x".repeat(101)), json!(12)] {
            let response = app
                .post_json(
                    "/api/v1/companies",
                    &json!({"name": "Bäckerei", "region_id": region, "external_id": bad}),
                )
                .await;
            let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
            assert_eq!(
                problem["errors"][0]["field"], "external_id",
                "{bad}: {problem}"
            );
        }
        let longest = "x".repeat(100);
        let created = app
            .create(
                "/api/v1/companies",
                json!({"name": "Bäckerei", "region_id": region, "external_id": longest}),
            )
            .await;
        assert_eq!(created["external_id"], longest.as_str());
    }
);
