//! Two instances of the service on one PostgreSQL database, many clients racing to change
//! one record with `If-Match`: optimistic locking must lose no update across processes.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;

use super::cluster::Cluster;
use super::http::{Http, request};
use crate::process::harness::{Server, sign_in};

const CLIENTS: usize = 32;

#[test]
#[ignore = "needs the PostgreSQL server binaries: run with --run-ignored all (.ci/run installs them)"]
fn two_instances_racing_if_match_on_one_record_lose_no_update() {
    let cluster = Cluster::start();
    let url = cluster.url("faults");
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // The second instance shares the first one's signing key, as replicas do.
    let key = dir_a.path().join("jwt-signing-key.pem");
    let a = Server::spawn_with(dir_a.path(), "text", &[("DATABASE_URL", &url)]);
    let key = key.to_string_lossy();
    let b = Server::spawn_with(
        dir_b.path(),
        "text",
        &[("DATABASE_URL", &url), ("JWT_KEY_FILE", &key)],
    );
    let token = sign_in(&a);
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];

    let mut http = Http::new(a.port);
    let region = http
        .send(&request(
            "POST",
            "/api/v1/regions",
            &auth,
            Some(&json!({"name": "Peine"})),
        ))
        .unwrap()
        .json();
    let company = http
        .send(&request(
            "POST",
            "/api/v1/companies",
            &auth,
            Some(
                &json!({"name": "Tischlerei Race", "region_id": region["id"], "employee_count": 0}),
            ),
        ))
        .unwrap()
        .json();
    let path = format!("/api/v1/companies/{}", company["id"]);
    let first_version = company["version"].as_i64().unwrap();

    let stop = AtomicBool::new(false);
    let successes = AtomicUsize::new(0);
    let conflicts = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for client in 0..CLIENTS {
            let (path, auth, stop, successes, conflicts) =
                (&path, &auth, &stop, &successes, &conflicts);
            // Each client reads from one instance and writes through the other.
            let (read_port, write_port) = match client % 2 {
                0 => (a.port, b.port),
                _ => (b.port, a.port),
            };
            s.spawn(move || {
                let (mut reader, mut writer) = (Http::new(read_port), Http::new(write_port));
                while !stop.load(Ordering::Relaxed) {
                    let read = reader.send(&request("GET", path, auth, None)).unwrap();
                    assert_eq!(read.status, 200, "{read:?}");
                    let etag = read.header("etag").unwrap().to_owned();
                    let count = read.json()["employee_count"].as_i64().unwrap();
                    let headers = [
                        auth[0],
                        ("If-Match", etag.as_str()),
                        ("Content-Type", "application/merge-patch+json"),
                    ];
                    let patch = request(
                        "PATCH",
                        path,
                        &headers,
                        Some(&json!({"employee_count": count + 1})),
                    );
                    let written = writer.send(&patch).unwrap();
                    match written.status {
                        200 => successes.fetch_add(1, Ordering::Relaxed),
                        412 => conflicts.fetch_add(1, Ordering::Relaxed),
                        other => panic!("{other}: {written:?}"),
                    };
                }
            });
        }
        std::thread::sleep(Duration::from_secs(6));
        stop.store(true, Ordering::Relaxed);
    });

    // Successes = version increase = counter: no update was lost or applied twice.
    // On a new connection: the setup's has been idle past the server's keep-alive.
    let last = Http::new(a.port)
        .send(&request("GET", &path, &auth, None))
        .unwrap();
    assert_eq!(last.status, 200, "{last:?}");
    let last = last.json();
    let successes = successes.into_inner() as i64;
    assert!(successes > 50, "the race ran: {successes}");
    assert!(conflicts.into_inner() > 0, "the clients did race");
    assert_eq!(last["version"].as_i64().unwrap() - first_version, successes);
    assert_eq!(last["employee_count"].as_i64().unwrap(), successes);
}
