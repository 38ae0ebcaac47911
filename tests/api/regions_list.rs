//! The region list: keyset paging, sorting, filters, totals and bad parameters.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, api_test, assert_problem};

const REGIONS: [(&str, &str); 5] = [
    ("Goslar", "Landkreis Goslar"),
    ("Peine", "Landkreis Peine"),
    ("Salzgitter", "Stadt Salzgitter"),
    ("Schöningen/Samtgemeinde Heeseberg", "Landkreis Helmstedt"),
    ("Seesen", "Landkreis Goslar"),
];

async fn create_all(app: &TestApp) -> Vec<Value> {
    let mut created = Vec::new();
    for (name, district) in REGIONS {
        created.push(
            app.create_region(
                json!({"name": name, "district": district, "state": "Niedersachsen"}),
            )
            .await,
        );
    }
    created
}

async fn list(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/api/v1/regions{query}")).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "GET /api/v1/regions{query}"
    );
    response.json().await.unwrap()
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Follows `next_cursor` from the first page to the last.
async fn all_pages(app: &TestApp, query: &str) -> Vec<String> {
    pages_from(app, query, None).await
}

/// Follows `next_cursor` from the page at `cursor` (or the first) to the last.
async fn pages_from(app: &TestApp, query: &str, mut cursor: Option<String>) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let page = match &cursor {
            Some(cursor) => list(app, &format!("{query}&cursor={cursor}")).await,
            None => list(app, query).await,
        };
        seen.extend(names(&page));
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            return seen;
        }
    }
}

api_test!(pages_follow_the_cursor_to_the_end, |app| async move {
    create_all(&app).await;

    let first = list(&app, "?limit=2&sort=name").await;
    assert_eq!(names(&first), ["Goslar", "Peine"]);
    assert!(first.get("total").is_none(), "total only when asked");

    let all = all_pages(&app, "?limit=2&sort=name").await;
    assert_eq!(all, REGIONS.map(|(n, _)| n.to_owned()));
    let default_page = list(&app, "").await;
    assert_eq!(default_page["items"].as_array().unwrap().len(), 5);
    assert_eq!(default_page["next_cursor"], Value::Null);
});

api_test!(
    the_cursor_is_stable_when_rows_are_inserted_between_pages,
    |app| async move {
        create_all(&app).await;
        let first = list(&app, "?limit=2&sort=name").await;
        let cursor = first["next_cursor"].as_str().unwrap().to_owned();

        // One region sorts before the cursor, one after it.
        app.create_region(json!({"name": "Braunschweig"})).await;
        app.create_region(json!({"name": "Wolfenbüttel"})).await;

        let second = list(&app, &format!("?limit=2&sort=name&cursor={cursor}")).await;
        assert_eq!(
            names(&second),
            ["Salzgitter", "Schöningen/Samtgemeinde Heeseberg"]
        );
        let rest = pages_from(&app, "?limit=2&sort=name", Some(cursor)).await;
        assert_eq!(
            rest,
            [
                "Salzgitter",
                "Schöningen/Samtgemeinde Heeseberg",
                "Seesen",
                "Wolfenbüttel"
            ]
        );
    }
);

api_test!(every_documented_sort_works_both_ways, |app| async move {
    create_all(&app).await;
    let by_name: Vec<String> = REGIONS.map(|(n, _)| n.to_owned()).to_vec();
    let mut by_name_desc = by_name.clone();
    by_name_desc.reverse();

    assert_eq!(all_pages(&app, "?limit=2&sort=name").await, by_name);
    assert_eq!(all_pages(&app, "?limit=2&sort=-name").await, by_name_desc);
    assert_eq!(
        all_pages(&app, "?limit=2&sort=created_at").await,
        by_name,
        "created in this order"
    );
    assert_eq!(
        all_pages(&app, "?limit=2&sort=-created_at").await,
        by_name_desc
    );
    assert_eq!(
        all_pages(&app, "?limit=3&sort=%2Bname").await,
        by_name,
        "+ is ascending"
    );

    // Touch Goslar: it becomes the most recently updated.
    let goslar = &list(&app, "?q=goslar").await["items"][0];
    app.patch_json(
        &format!("/api/v1/regions/{}", goslar["id"]),
        &json!({"description": "x"}),
    )
    .await;
    let recent = all_pages(&app, "?limit=2&sort=-updated_at").await;
    assert_eq!(recent[0], "Goslar");
    assert_eq!(
        all_pages(&app, "?limit=2&sort=updated_at")
            .await
            .last()
            .unwrap(),
        "Goslar"
    );
});

api_test!(filters_narrow_the_list, |app| async move {
    create_all(&app).await;

    assert_eq!(
        names(&list(&app, "?q=SCHÖN&sort=name").await),
        ["Schöningen/Samtgemeinde Heeseberg"]
    );
    assert_eq!(names(&list(&app, "?q=see&sort=name").await), ["Seesen"]);
    assert_eq!(
        names(&list(&app, "?q=%25").await),
        Vec::<String>::new(),
        "% is literal"
    );
    assert_eq!(
        names(&list(&app, "?district=Landkreis%20Goslar&sort=name").await),
        ["Goslar", "Seesen"]
    );
    assert_eq!(
        list(&app, "?state=Niedersachsen&with_total=true").await["total"],
        5
    );
    assert_eq!(
        list(&app, "?state=Bayern&with_total=true").await["total"],
        0
    );

    let total = list(&app, "?district=Landkreis%20Goslar&limit=1&with_total=true").await;
    assert_eq!(total["total"], 2);
    assert_eq!(total["items"].as_array().unwrap().len(), 1);
});

api_test!(updated_since_returns_only_later_changes, |app| async move {
    let created = create_all(&app).await;
    let cutoff = created.last().unwrap()["updated_at"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let peine = &created[1];
    app.patch_json(
        &format!("/api/v1/regions/{}", peine["id"]),
        &json!({"description": "changed"}),
    )
    .await;

    let changed = list(&app, &format!("?updated_since={cutoff}&sort=name")).await;
    assert_eq!(
        names(&changed),
        ["Peine", "Seesen"],
        "Seesen was written at the cutoff itself"
    );
    let future = list(&app, "?updated_since=2999-01-01T00:00:00Z").await;
    assert_eq!(names(&future), Vec::<String>::new());
});

api_test!(bad_list_parameters_are_rejected_by_name, |app| async move {
    create_all(&app).await;
    let other_sort_cursor = list(&app, "?limit=1&sort=name").await["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();

    let cases = [
        ("?limit=0", "limit"),
        ("?limit=201", "limit"),
        ("?limit=abc", "limit"),
        ("?sort=district", "sort"),
        ("?sort=-", "sort"),
        ("?cursor=not-a-cursor", "cursor"),
        (
            &format!("?sort=-name&cursor={other_sort_cursor}") as &str,
            "cursor",
        ),
        ("?with_total=maybe", "with_total"),
        ("?updated_since=yesterday", "updated_since"),
        ("?distrcit=Goslar", "distrcit"),
    ];
    for (query, named) in cases {
        let problem = assert_problem(
            app.get(&format!("/api/v1/regions{query}")).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(
            problem["detail"].as_str().unwrap().contains(named),
            "{query}: {problem}"
        );
    }
});
