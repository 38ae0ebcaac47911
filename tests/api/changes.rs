//! The change feed: every committed change exactly once, in an order a reader can follow
//! with `after` without missing one, even when writers commit out of order and through
//! several replicas.

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use betriebsnachbarschaften::db;
use betriebsnachbarschaften::domain::Actor;
use betriebsnachbarschaften::domain::regions::{NewRegion, Regions};
use betriebsnachbarschaften::domain::resource;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, api_test, assert_problem};

/// One page of the feed as the admin reads it.
async fn feed(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/api/v1/changes?{query}")).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// (resource, id, action, version) of each item.
fn summary(page: &Value) -> Vec<(String, i64, String, i64)> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["resource"].as_str().unwrap().to_owned(),
                c["resource_id"].as_i64().unwrap(),
                c["action"].as_str().unwrap().to_owned(),
                c["version"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn seqs(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["seq"].as_i64().unwrap())
        .collect()
}

fn change(resource: &str, id: &Value, action: &str, version: i64) -> (String, i64, String, i64) {
    (
        resource.to_owned(),
        id.as_i64().unwrap(),
        action.to_owned(),
        version,
    )
}

api_test!(
    every_create_update_and_delete_is_in_the_feed_once_in_the_order_made,
    |app| async move {
        let peine = app.create_region(json!({"name": "Peine"})).await;
        let path = format!("/api/v1/regions/{}", peine["id"]);
        let patched = app
            .patch_json(&path, &json!({"district": "Landkreis Peine"}))
            .await;
        assert_eq!(patched.status(), StatusCode::OK);
        let topic = app
            .create(
                "/api/v1/topics",
                json!({"key": "apprentice_marketing", "name": "Azubimarketing", "category": "apprentice_marketing"}),
            )
            .await;
        assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);

        let page = feed(&app, "after=0").await;
        assert_eq!(
            summary(&page),
            [
                change("regions", &peine["id"], "create", 1),
                change("regions", &peine["id"], "update", 2),
                change("topics", &topic["id"], "create", 1),
                change("regions", &peine["id"], "delete", 2),
            ]
        );
        let seqs = seqs(&page);
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        assert_eq!(page["next_after"], seqs[3]);
        assert_eq!(page["has_more"], false);
        let first = &page["items"][0];
        assert!(
            first["actor"].as_str().unwrap().starts_with("user:"),
            "{first}"
        );
        assert!(first["at"].as_str().unwrap().ends_with('Z'), "{first}");
        assert!(
            first.get("record").is_none(),
            "no record unless asked: {first}"
        );
    }
);

api_test!(
    paging_with_next_after_reads_every_change_exactly_once,
    |app| async move {
        let mut made = Vec::new();
        for town in ["Goslar", "Peine", "Salzgitter", "Seesen", "Schöningen"] {
            made.push(
                app.create_region(json!({"name": town})).await["id"]
                    .as_i64()
                    .unwrap(),
            );
        }
        let mut seen = Vec::new();
        let mut after = 0;
        loop {
            let page = feed(&app, &format!("after={after}&limit=2")).await;
            seen.extend(summary(&page).into_iter().map(|(_, id, _, _)| id));
            after = page["next_after"].as_i64().unwrap();
            if page["has_more"] == false {
                break;
            }
        }
        assert_eq!(seen, made);

        let empty = feed(&app, &format!("after={after}")).await;
        assert_eq!(empty["items"], json!([]));
        assert_eq!(empty["next_after"], after, "an empty page names the head");
        assert_eq!(empty["has_more"], false);
        let beyond = feed(&app, "after=1000000").await;
        assert_eq!(beyond["next_after"], 1_000_000, "never less than after");
    }
);

api_test!(
    an_empty_page_names_where_to_follow_from_after_loading_the_lists,
    |app| async move {
        app.create_region(json!({"name": "Goslar"})).await;
        // A client reads the head first, loads the lists, then follows from the head.
        let head = feed(&app, "after=0&resource=topics").await["next_after"]
            .as_i64()
            .unwrap();
        assert!(head > 0, "the head counts every resource's changes");
        let later = app.create_region(json!({"name": "Seesen"})).await;
        let page = feed(&app, &format!("after={head}")).await;
        assert_eq!(
            summary(&page),
            [change("regions", &later["id"], "create", 1)]
        );
    }
);

api_test!(
    the_resource_filter_takes_collection_names_as_in_the_urls,
    |app| async move {
        app.create_region(json!({"name": "Goslar"})).await;
        let source = app
            .create(
                "/api/v1/funding-sources",
                json!({"name": "Europäischer Sozialfonds", "kind": "eu"}),
            )
            .await;
        let page = feed(&app, "resource=funding-sources,topics").await;
        assert_eq!(
            summary(&page),
            [change("funding-sources", &source["id"], "create", 1)]
        );

        for (query, names) in [
            ("resource=users", "resource"),
            ("resource=companies,clients", "resource"),
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("after=-1", "after"),
            ("wait=31", "wait"),
            ("include=everything", "include"),
            ("after=abc", "after"),
            ("since=0", "since"),
        ] {
            let response = app.get(&format!("/api/v1/changes?{query}")).await;
            let problem = assert_problem(response, StatusCode::BAD_REQUEST).await;
            assert!(
                problem["detail"].as_str().unwrap().contains(names),
                "{query}: {problem}"
            );
        }
    }
);

api_test!(
    include_record_adds_the_current_view_or_null_once_deleted,
    |app| async move {
        let goslar = app.create_region(json!({"name": "Goslar"})).await;
        let company = app
            .create(
                "/api/v1/companies",
                json!({"name": "Tischlerei Harz", "region_id": goslar["id"]}),
            )
            .await;
        let company_path = format!("/api/v1/companies/{}", company["id"]);
        app.patch_json(&company_path, &json!({"city": "Goslar"}))
            .await;
        let seesen = app.create_region(json!({"name": "Seesen"})).await;
        app.delete(&format!("/api/v1/regions/{}", seesen["id"]))
            .await;

        let page = feed(&app, "include=record").await;
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 5);
        let current: Value = app.get(&company_path).await.json().await.unwrap();
        for item in items {
            let expected =
                if item["resource_id"] == company["id"] && item["resource"] == "companies" {
                    current.clone()
                } else if item["resource_id"] == seesen["id"] && item["resource"] == "regions" {
                    Value::Null
                } else {
                    app.get(&format!(
                        "/api/v1/{}/{}",
                        item["resource"].as_str().unwrap(),
                        item["resource_id"]
                    ))
                    .await
                    .json()
                    .await
                    .unwrap()
                };
            assert_eq!(item["record"], expected, "{item}");
        }
    }
);

api_test!(
    include_record_costs_a_fixed_number_of_statements_per_page,
    |app| async move {
        let region = app.create_region(json!({"name": "Goslar"})).await;
        let statements = async |app: &TestApp| {
            feed(app, "include=record&limit=1000").await;
            let before = app.db.queries_run();
            let page = feed(app, "include=record&limit=1000").await;
            (
                app.db.queries_run() - before,
                page["items"].as_array().unwrap().len(),
            )
        };
        for i in 0..3 {
            app.create(
                "/api/v1/companies",
                json!({"name": format!("Betrieb {i}"), "region_id": region["id"]}),
            )
            .await;
        }
        let (few, n) = statements(&app).await;
        assert_eq!(n, 4);
        for i in 3..30 {
            app.create(
                "/api/v1/companies",
                json!({"name": format!("Betrieb {i}"), "region_id": region["id"]}),
            )
            .await;
        }
        let (many, n) = statements(&app).await;
        assert_eq!(n, 31);
        assert_eq!(few, many, "statements for 4 and for 31 changes");
    }
);

api_test!(a_change_that_fails_never_appears, |app| async move {
    let goslar = app.create_region(json!({"name": "Goslar"})).await;
    let head = feed(&app, "after=0").await["next_after"].clone();
    // A duplicate name fails inside the write's transaction, after the checks.
    let duplicate = app
        .post_json("/api/v1/regions", &json!({"name": "goslar"}))
        .await;
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);
    let unknown_topic = app
        .post_json(
            "/api/v1/companies",
            &json!({"name": "Malerbetrieb Oker", "region_id": goslar["id"], "topic_ids": [999]}),
        )
        .await;
    assert_eq!(unknown_topic.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let stale = app
        .request(Method::PATCH, &format!("/api/v1/regions/{}", goslar["id"]))
        .header("If-Match", "\"7\"")
        .json(&json!({"district": "Landkreis Goslar"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);

    let page = feed(&app, &format!("after={head}")).await;
    assert_eq!(page["items"], json!([]));
});

api_test!(
    every_role_may_read_the_feed_but_not_without_a_token,
    |app| async move {
        app.create_region(json!({"name": "Goslar"})).await;
        let viewer = app.token_for("viewer", None).await;
        let response = app
            .request_as(&viewer, Method::GET, "/api/v1/changes")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let response = app
            .anonymous(Method::GET, "/api/v1/changes")
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::UNAUTHORIZED).await;
    }
);

api_test!(
    a_long_poll_answers_as_soon_as_a_change_is_made,
    |app| async move {
        let head = feed(&app, "after=0").await["next_after"].as_i64().unwrap();
        let started = Instant::now();
        let poll = app
            .request(
                Method::GET,
                &format!("/api/v1/changes?after={head}&wait=20"),
            )
            .send();
        let write = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            app.create_region(json!({"name": "Salzgitter"})).await
        };
        let (answer, region) = tokio::join!(poll, write);
        let page: Value = answer.unwrap().json().await.unwrap();
        assert_eq!(
            summary(&page),
            [change("regions", &region["id"], "create", 1)]
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "answered before the wait ran out"
        );

        // Nothing new: an empty page once the wait is over.
        let after = page["next_after"].as_i64().unwrap();
        let started = Instant::now();
        let empty = feed(&app, &format!("after={after}&wait=1")).await;
        assert_eq!(empty["items"], json!([]));
        assert_eq!(empty["next_after"], after);
        assert!(started.elapsed() >= Duration::from_secs(1));
    }
);

/// The trap the feed's design avoids: a transaction that took its place in the write order
/// earlier but commits later than another. Only PostgreSQL lets two writers overlap (SQLite
/// runs one write at a time, so there the interleaving cannot happen).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --run-ignored all"]
async fn a_writer_that_commits_late_is_seen_by_a_reader_that_paged_past_later_changes() {
    let app = TestApp::spawn_postgres(Default::default()).await;
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (commit_tx, commit_rx) = tokio::sync::oneshot::channel::<()>();
    let db = app.db.clone();
    let late = tokio::spawn(async move {
        // The region is created inside a transaction that stays open until the test says.
        let open = async |conn: &mut db::Conn<'_>| {
            let region = resource::create::<Regions>(
                conn,
                &Actor::command_line("late-writer"),
                NewRegion {
                    name: "Schöningen/Samtgemeinde Heeseberg".into(),
                    district: Some("Landkreis Helmstedt".into()),
                    state: None,
                    commercial_area: None,
                    description: None,
                },
            )
            .await?;
            started_tx.send(region.id.0).unwrap();
            commit_rx.await.unwrap();
            Ok::<_, betriebsnachbarschaften::domain::DomainError>(region.id.0)
        };
        db.write(async move |conn| db::transaction(conn, open).await)
            .await
            .unwrap()
    });
    let late_id = started_rx.await.unwrap();

    // Another writer commits while the first is still open; the reader pages past it.
    let goslar = app.create_region(json!({"name": "Goslar"})).await;
    let page = feed(&app, "after=0").await;
    assert_eq!(
        summary(&page),
        [change("regions", &goslar["id"], "create", 1)]
    );
    let after = page["next_after"].as_i64().unwrap();

    commit_tx.send(()).unwrap();
    assert_eq!(late.await.unwrap(), late_id);
    let page = feed(&app, &format!("after={after}")).await;
    assert_eq!(
        summary(&page),
        [change("regions", &json!(late_id), "create", 1)],
        "the late commit comes after what the reader has seen"
    );
    assert_eq!(page["items"][0]["actor"], "late-writer");
}

/// Writers on two replicas of one PostgreSQL database, and a reader that follows the feed
/// through both the whole time: it sees every change exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --run-ignored all"]
async fn a_reader_following_two_replicas_sees_every_concurrent_change_exactly_once() {
    const WRITERS: usize = 4;
    const WRITES: usize = 15;
    let a = TestApp::spawn_postgres(Default::default()).await;
    let b = a.replica().await;
    let replicas = [&a, &b];

    let write = async |writer: usize| {
        let app = replicas[writer % 2];
        let mut made = Vec::new();
        for i in 0..WRITES {
            let region = app
                .create_region(json!({"name": format!("Region {writer}-{i}")}))
                .await;
            made.push(change("regions", &region["id"], "create", 1));
            if i % 3 == 0 {
                let path = format!("/api/v1/regions/{}", region["id"]);
                let patched = app
                    .patch_json(&path, &json!({"state": "Niedersachsen"}))
                    .await;
                assert_eq!(patched.status(), StatusCode::OK);
                made.push(change("regions", &region["id"], "update", 2));
            }
        }
        made
    };
    let expected_count = WRITERS * (WRITES + WRITES.div_ceil(3));
    let read = async {
        let mut seen = Vec::new();
        let mut after = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut turn = 0;
        while seen.len() < expected_count && Instant::now() < deadline {
            let page = feed(replicas[turn % 2], &format!("after={after}&limit=7&wait=1")).await;
            turn += 1;
            let page_seqs = seqs(&page);
            assert!(
                page_seqs.iter().all(|&s| s > after),
                "{page_seqs:?} after {after}"
            );
            seen.extend(summary(&page));
            after = page["next_after"].as_i64().unwrap();
        }
        seen
    };
    let (seen, made) = tokio::join!(read, async {
        let (w0, w1, w2, w3) = tokio::join!(write(0), write(1), write(2), write(3));
        [w0, w1, w2, w3].concat()
    });

    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no change twice");
    let seen: BTreeSet<_> = seen.into_iter().collect();
    let made: BTreeSet<_> = made.into_iter().collect();
    assert_eq!(seen.len(), expected_count);
    assert_eq!(seen, made);
}

api_test!(
    a_position_older_than_the_kept_history_is_gone,
    |app| async move {
        app.create_region(json!({"name": "Goslar"})).await;
        app.create_region(json!({"name": "Peine"})).await;
        let page = feed(&app, "after=0").await;
        let [first, second] = seqs(&page)[..] else {
            panic!("two changes: {page}")
        };
        // The first change ages past a 30-day retention; the ticker's purge removes it.
        app.with_connection(move |conn| {
            use diesel::RunQueryDsl as _;
            diesel::sql_query(format!(
                "UPDATE changes SET at = '2001-01-01 00:00:00' WHERE seq = {first}"
            ))
            .execute(conn)
            .unwrap();
        })
        .await;
        app.db
            .write(async |conn| betriebsnachbarschaften::domain::changes::purge(conn, 30).await)
            .await
            .unwrap();

        let gone = app.get("/api/v1/changes?after=0").await;
        let problem = assert_problem(gone, StatusCode::GONE).await;
        assert_eq!(
            problem["type"],
            "urn:betriebsnachbarschaften:problem:feed-position-gone"
        );
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("load the lists again"),
            "{problem}"
        );
        let page = feed(&app, &format!("after={first}")).await;
        assert_eq!(seqs(&page), [second], "a reader at the edge keeps going");
        let page = feed(&app, "limit=1").await;
        assert_eq!(seqs(&page), [second], "without after: from the oldest kept");
        assert_eq!(page["head"], second);
    }
);

api_test!(
    every_page_names_the_head_to_follow_from_after_loading_the_lists,
    |app| async move {
        let empty = feed(&app, "limit=1").await;
        assert_eq!(empty["head"], 0);
        app.create_region(json!({"name": "Goslar"})).await;
        app.create_region(json!({"name": "Peine"})).await;
        let first = feed(&app, "limit=1").await;
        assert_eq!(first["items"].as_array().unwrap().len(), 1);
        let head = first["head"].as_i64().unwrap();
        assert_eq!(
            Some(head),
            seqs(&feed(&app, "after=0").await).last().copied()
        );
        let later = app.create_region(json!({"name": "Seesen"})).await;
        assert_eq!(
            summary(&feed(&app, &format!("after={head}")).await),
            [change("regions", &later["id"], "create", 1)]
        );
    }
);

api_test!(
    long_polls_hold_no_database_connection_while_they_wait,
    crate::helpers::Options {
        db_pool_size: 1,
        ..Default::default()
    },
    |app| async move {
        let head = feed(&app, "limit=1").await["head"].as_i64().unwrap();
        let path = format!("/api/v1/changes?after={head}&wait=10");
        let polls =
            futures_util::future::join_all((0..4).map(|_| app.request(Method::GET, &path).send()));
        let write = async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            // With one connection, a write gets through only if no waiting poll holds it.
            app.create_region(json!({"name": "Salzgitter"})).await
        };
        let (answers, region) = tokio::join!(polls, write);
        for answer in answers {
            let page: Value = answer.unwrap().json().await.unwrap();
            assert_eq!(
                summary(&page),
                [change("regions", &region["id"], "create", 1)]
            );
        }
    }
);

/// A long poll on one replica wakes for a write through another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --run-ignored all"]
async fn a_long_poll_on_one_replica_answers_a_write_through_another() {
    let a = TestApp::spawn_postgres(Default::default()).await;
    let b = a.replica().await;
    let head = feed(&b, "limit=1").await["head"].as_i64().unwrap();
    let poll = b
        .request_as(
            &a.token,
            Method::GET,
            &format!("/api/v1/changes?after={head}&wait=20"),
        )
        .send();
    let write = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        a.create_region(json!({"name": "Seesen"})).await
    };
    let started = Instant::now();
    let (answer, region) = tokio::join!(poll, write);
    let page: Value = answer.unwrap().json().await.unwrap();
    assert_eq!(
        summary(&page),
        [change("regions", &region["id"], "create", 1)]
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "woken, not timed out"
    );
}

api_test!(
    a_transaction_whose_last_step_fails_before_it_sends_keeps_nothing,
    |app| async move {
        // `last` fails on this side, before any statement of it reaches the database: the
        // transaction is rolled back, never committed without it.
        let write = async |conn: &mut db::Conn<'_>| {
            db::transaction_ending_with(
                conn,
                async |conn| {
                    resource::create::<Regions>(
                        conn,
                        &Actor::command_line("test"),
                        NewRegion {
                            name: "Seesen".into(),
                            district: Some("Landkreis Goslar".into()),
                            state: None,
                            commercial_area: None,
                            description: None,
                        },
                    )
                    .await
                },
                async |_, _| {
                    Err(betriebsnachbarschaften::domain::DomainError::Internal(
                        "refused before sending".into(),
                    ))
                },
            )
            .await
        };
        let written = app.db.write(async move |conn| write(conn).await).await;
        assert!(written.is_err(), "the last step's error is returned");
        let regions: Value = app.get("/api/v1/regions").await.json().await.unwrap();
        assert_eq!(regions["items"], json!([]));
        // The connection serves on.
        app.create_region(json!({"name": "Seesen"})).await;
    }
);
