//! Regions: create, read, replace, merge-patch, delete, optimistic locking, validation.

use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{api_test, assert_problem, etag_of, field_errors};

const HEESEBERG: &str = "Schöningen/Samtgemeinde Heeseberg";

api_test!(
    a_created_region_is_located_tagged_and_reads_back_exactly,
    |app| async move {
        let response = app
            .post_json(
                "/api/v1/regions",
                &json!({
                    "name": HEESEBERG,
                    "district": "Landkreis Helmstedt",
                    "state": "Niedersachsen",
                    "commercial_area": "Gewerbegebiet Ost",
                    "description": "Bäckerei Müller GmbH & Co. KG und Nachbarn",
                }),
            )
            .await;

        assert_eq!(response.status(), StatusCode::CREATED);
        let location = response.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(etag_of(&response), "\"1\"");
        let created: Value = response.json().await.unwrap();
        assert_eq!(location, format!("/api/v1/regions/{}", created["id"]));
        assert_eq!(created["name"], HEESEBERG);
        assert_eq!(created["version"], 1);
        assert!(created["created_at"].as_str().unwrap().ends_with('Z'));

        let read = app.get(&location).await;
        assert_eq!(read.status(), StatusCode::OK);
        assert_eq!(etag_of(&read), "\"1\"");
        let read: Value = read.json().await.unwrap();
        assert_eq!(read, created);
        assert_eq!(
            read["description"],
            "Bäckerei Müller GmbH & Co. KG und Nachbarn"
        );
    }
);

api_test!(
    a_read_with_the_current_etag_is_not_modified,
    |app| async move {
        let region = app.create_region(json!({"name": "Goslar"})).await;
        let path = format!("/api/v1/regions/{}", region["id"]);

        let unchanged = app
            .request(reqwest::Method::GET, &path)
            .header(header::IF_NONE_MATCH, "\"1\"")
            .send()
            .await
            .unwrap();
        assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(etag_of(&unchanged), "\"1\"");
        assert!(unchanged.bytes().await.unwrap().is_empty());

        let stale = app
            .request(reqwest::Method::GET, &path)
            .header(header::IF_NONE_MATCH, "\"7\", W/\"8\"")
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), StatusCode::OK);
    }
);

api_test!(
    put_replaces_every_field_and_bumps_the_version,
    |app| async move {
        let region = app
            .create_region(json!({
                "name": "Peine", "district": "Landkreis Peine", "state": "Niedersachsen"
            }))
            .await;
        let path = format!("/api/v1/regions/{}", region["id"]);

        let response = app
            .put_json(
                &path,
                &json!({"name": "Peine", "commercial_area": "Gewerbegebiet Stederdorf"}),
            )
            .await;

        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(etag_of(&response), "\"2\"");
        let replaced: Value = response.json().await.unwrap();
        assert_eq!(replaced["version"], 2);
        assert_eq!(
            replaced["district"],
            Value::Null,
            "omitted fields are cleared by PUT"
        );
        assert_eq!(replaced["commercial_area"], "Gewerbegebiet Stederdorf");
        assert_eq!(replaced["created_at"], region["created_at"]);
        assert_ne!(replaced["updated_at"], region["updated_at"]);
    }
);

api_test!(
    patch_merges_changes_and_null_clears_a_field,
    |app| async move {
        let region = app
            .create_region(json!({
                "name": "Seesen", "district": "Landkreis Goslar", "state": "Niedersachsen"
            }))
            .await;
        let path = format!("/api/v1/regions/{}", region["id"]);

        let response = app
            .patch_json(
                &path,
                &json!({"description": "Kick-off 2020", "state": null}),
            )
            .await;

        assert_eq!(response.status(), StatusCode::OK);
        let patched: Value = response.json().await.unwrap();
        assert_eq!(patched["name"], "Seesen");
        assert_eq!(patched["district"], "Landkreis Goslar");
        assert_eq!(patched["state"], Value::Null);
        assert_eq!(patched["description"], "Kick-off 2020");
        assert_eq!(patched["version"], 2);

        // Plain application/json is accepted for PATCH too.
        let plain = app
            .request(reqwest::Method::PATCH, &path)
            .json(&json!({"district": "Landkreis Goslar (Harz)"}))
            .send()
            .await
            .unwrap();
        assert_eq!(plain.status(), StatusCode::OK);
        assert_eq!(plain.json::<Value>().await.unwrap()["version"], 3);
    }
);

api_test!(
    a_stale_if_match_is_refused_on_every_write,
    |app| async move {
        let region = app.create_region(json!({"name": "Salzgitter"})).await;
        let path = format!("/api/v1/regions/{}", region["id"]);
        app.patch_json(&path, &json!({"state": "Niedersachsen"}))
            .await; // now at version 2

        for stale in ["\"1\"", "W/\"2\"", "\"abc\""] {
            let put = app
                .request(reqwest::Method::PUT, &path)
                .header(header::IF_MATCH, stale)
                .json(&json!({"name": "Salzgitter"}))
                .send()
                .await
                .unwrap();
            assert_problem(put, StatusCode::PRECONDITION_FAILED).await;
            let patch = app
                .request(reqwest::Method::PATCH, &path)
                .header(header::IF_MATCH, stale)
                .json(&json!({"district": "x"}))
                .send()
                .await
                .unwrap();
            assert_problem(patch, StatusCode::PRECONDITION_FAILED).await;
            let delete = app
                .request(reqwest::Method::DELETE, &path)
                .header(header::IF_MATCH, stale)
                .send()
                .await
                .unwrap();
            assert_problem(delete, StatusCode::PRECONDITION_FAILED).await;
        }
        let unchanged: Value = app.get(&path).await.json().await.unwrap();
        assert_eq!(unchanged["version"], 2);
        assert_eq!(unchanged["district"], Value::Null);

        let current = app
            .request(reqwest::Method::PATCH, &path)
            .header(header::IF_MATCH, "\"2\"")
            .json(&json!({"district": "Stadt Salzgitter"}))
            .send()
            .await
            .unwrap();
        assert_eq!(current.status(), StatusCode::OK);
        let deleted = app
            .request(reqwest::Method::DELETE, &path)
            .header(header::IF_MATCH, "\"3\"")
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    }
);

api_test!(
    of_two_writers_with_the_same_version_exactly_one_wins,
    |app| async move {
        let region = app.create_region(json!({"name": "Goslar"})).await;
        let path = format!("/api/v1/regions/{}", region["id"]);

        let writes = (0..8).map(|i| {
            app.request(reqwest::Method::PATCH, &path)
                .header(header::IF_MATCH, "\"1\"")
                .json(&json!({"description": format!("writer {i}")}))
                .send()
        });
        let statuses: Vec<StatusCode> = futures_join_all(writes).await;

        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::OK).count(),
            1,
            "{statuses:?}"
        );
        assert!(
            statuses
                .iter()
                .all(|s| *s == StatusCode::OK || *s == StatusCode::PRECONDITION_FAILED)
        );
        let stored: Value = app.get(&path).await.json().await.unwrap();
        assert_eq!(stored["version"], 2);
    }
);

api_test!(
    patches_without_if_match_never_lose_an_update,
    |app| async move {
        let region = app.create_region(json!({"name": "Peine"})).await;
        let path = format!("/api/v1/regions/{}", region["id"]);

        let fields = ["district", "state", "commercial_area", "description"];
        let writes = fields
            .iter()
            .map(|f| app.patch_json_owned(&path, json!({ *f: "set" })));
        let statuses = futures_join_all(writes).await;

        assert!(
            statuses.iter().all(|s| *s == StatusCode::OK),
            "{statuses:?}"
        );
        let stored: Value = app.get(&path).await.json().await.unwrap();
        for field in fields {
            assert_eq!(stored[field], "set", "{field} was lost: {stored}");
        }
        assert_eq!(stored["version"], 5);
    }
);

api_test!(a_deleted_region_is_gone, |app| async move {
    let region = app.create_region(json!({"name": "Goslar"})).await;
    let path = format!("/api/v1/regions/{}", region["id"]);

    let response = app.delete(&path).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let problem = assert_problem(app.get(&path).await, StatusCode::NOT_FOUND).await;
    assert_eq!(
        problem["detail"],
        format!("region {} does not exist", region["id"])
    );
    assert_problem(app.delete(&path).await, StatusCode::NOT_FOUND).await;
    assert_problem(
        app.put_json(&path, &json!({"name": "x"})).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_problem(
        app.patch_json(&path, &json!({"name": "x"})).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // Ids are never reused, so a partner that synced the old id can't confuse it.
    let next = app.create_region(json!({"name": "Goslar"})).await;
    assert!(next["id"].as_i64() > region["id"].as_i64());
});

api_test!(invalid_bodies_name_every_bad_field, |app| async move {
    let cases = [
        (json!({}), vec![("name", "required")]),
        (
            json!({"name": ""}),
            vec![("name", "blank"), ("name", "length")],
        ),
        (json!({"name": "   "}), vec![("name", "blank")]),
        (json!({"name": "x".repeat(201)}), vec![("name", "length")]),
        (
            json!({"name": "ok", "district": "d".repeat(201)}),
            vec![("district", "length")],
        ),
        (json!({"name": 42}), vec![("name", "type")]),
        (
            json!({"name": "ok", "nmae": "typo"}),
            vec![("nmae", "unknown_field")],
        ),
        (
            json!({"name": "ok", "id": 5, "version": 3}),
            vec![("id", "read_only"), ("version", "read_only")],
        ),
        (
            json!({"district": "d".repeat(201)}),
            vec![("district", "length"), ("name", "required")],
        ),
        (json!(["not", "an", "object"]), vec![("", "type")]),
    ];
    for (body, expected) in cases {
        let problem = assert_problem(
            app.post_json("/api/v1/regions", &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let mut got = field_errors(&problem);
        got.sort();
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(f, c)| (f.to_string(), c.to_string()))
            .collect();
        assert_eq!(got, expected, "for {body}");
    }
    let list: Value = app.get("/api/v1/regions").await.json().await.unwrap();
    assert_eq!(list["items"], json!([]), "nothing was written");
});

api_test!(put_and_patch_are_validated_like_create, |app| async move {
    let region = app.create_region(json!({"name": "Goslar"})).await;
    let path = format!("/api/v1/regions/{}", region["id"]);

    let put = assert_problem(
        app.put_json(&path, &json!({"district": "x"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        field_errors(&put),
        [("name".to_owned(), "required".to_owned())]
    );
    let patch = assert_problem(
        app.patch_json(&path, &json!({"name": null})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        field_errors(&patch),
        [("name".to_owned(), "required".to_owned())]
    );
    let read_only = assert_problem(
        app.patch_json(&path, &json!({"updated_at": "2022-03-28T14:00:00Z"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        field_errors(&read_only),
        [("updated_at".to_owned(), "read_only".to_owned())]
    );
    let not_object = assert_problem(
        app.patch_json(&path, &json!("Goslar")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        field_errors(&not_object),
        [("".to_owned(), "type".to_owned())]
    );

    let stored: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(stored, region, "nothing changed");
});

api_test!(names_are_unique_regardless_of_case, |app| async move {
    app.create_region(json!({"name": "Goslar"})).await;
    let other = app.create_region(json!({"name": "Peine"})).await;

    let duplicate = assert_problem(
        app.post_json("/api/v1/regions", &json!({"name": "GOSLAR"}))
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(
        duplicate["detail"].as_str().unwrap().contains("GOSLAR"),
        "{duplicate}"
    );

    let path = format!("/api/v1/regions/{}", other["id"]);
    assert_problem(
        app.put_json(&path, &json!({"name": "goslar"})).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_problem(
        app.patch_json(&path, &json!({"name": "Goslar"})).await,
        StatusCode::CONFLICT,
    )
    .await;
    let stored: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(stored["name"], "Peine");
});

/// Awaits request futures concurrently and returns their statuses.
async fn futures_join_all<F>(requests: impl Iterator<Item = F>) -> Vec<StatusCode>
where
    F: std::future::Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static,
{
    let handles: Vec<_> = requests.map(tokio::spawn).collect();
    let mut statuses = Vec::new();
    for handle in handles {
        statuses.push(handle.await.unwrap().unwrap().status());
    }
    statuses
}
