//! The fault suite: the binary as ops run it, under load, while its database restarts or
//! freezes, while it is stopped or killed, raced by a second instance, and fed hostile
//! bytes. Each module proves one guarantee of `docs/operations.md` ("What holds under
//! faults"), over HTTP, from outside the process.
//!
//! The PostgreSQL faults run on a cluster of their own (`cluster`), never on the shared
//! server, and are `#[ignore]`d: without the PostgreSQL server binaries a plain `cargo
//! nextest run` reports them as skipped; `--run-ignored all` (as `.ci/run` does, after
//! installing the binaries) runs them, and without the binaries they fail. The suite's tests
//! run one at a time (`.config/nextest.toml`): their timings must not depend on what the rest
//! of the suite does to the machine's two cores.

pub mod cluster;
mod http;

mod crash;
mod freeze;
mod hostile;
mod race;
mod restart;
mod shutdown;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::helpers::DbConnection;
use diesel::prelude::*;
use serde_json::json;

use self::cluster::Cluster;
use self::http::{Answer, Outcome, load, request};
use crate::process::harness::Server;

/// The service with two workers, as ops run it: on `cluster`'s `faults` database, or on
/// SQLite in the returned data directory.
fn serve(cluster: Option<&Cluster>) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = cluster.map(|c| c.url("faults"));
    let mut env = vec![("WORKERS", "2")];
    env.extend(url.as_deref().map(|url| ("DATABASE_URL", url)));
    (Server::spawn_with(dir.path(), "text", &env), dir)
}

/// The service's SQLite file in its data directory, opened beside it.
fn open_sqlite(dir: &Path) -> SqliteConnection {
    let path = dir.join("betriebsnachbarschaften.sqlite3");
    SqliteConnection::establish(&path.to_string_lossy()).unwrap()
}

/// `clients` writers create organizations named `"{label} {client}-{n}"`, each over its own
/// keep-alive connection, while `fault` runs; they stop when it returns. Every outcome in the
/// order sent, and what `fault` returned.
fn writes_during<R>(
    port: u16,
    token: &str,
    clients: usize,
    label: &str,
    fault: impl FnOnce() -> R,
) -> (Vec<Outcome>, R) {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let writers = s.spawn(|| {
            load(port, clients, &stop, |client, n| {
                create_organization(token, &format!("{label} {client}-{n}"))
            })
        });
        let faulted = fault();
        stop.store(true, Ordering::Relaxed);
        (writers.join().unwrap(), faulted)
    })
}

/// The request that creates an organization named `name`.
fn create_organization(token: &str, name: &str) -> Vec<u8> {
    let bearer = format!("Bearer {token}");
    request(
        "POST",
        "/api/v1/organizations",
        &[("Authorization", &bearer)],
        Some(&json!({"name": name, "kind": "chamber_of_crafts"})),
    )
}

/// The organizations the service acknowledged (201) in a load, by id, with the name sent.
fn acknowledged(outcomes: &[Outcome]) -> BTreeMap<i64, String> {
    outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok())
        .filter(|a| a.status == 201)
        .map(|a| {
            let body = a.json();
            (
                body["id"].as_i64().unwrap(),
                body["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Asserts that every acknowledged organization is stored, under its name.
fn assert_stored(conn: &mut DbConnection, acknowledged: &BTreeMap<i64, String>) {
    use betriebsnachbarschaften::db::schema::organizations::dsl::*;
    let stored: BTreeMap<i64, String> = organizations
        .select((id, name))
        .load::<(i64, String)>(conn)
        .unwrap()
        .into_iter()
        .collect();
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|(i, n)| stored.get(i) != Some(n))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged writes are not stored: {missing:?}",
        missing.len(),
        acknowledged.len()
    );
}

/// Asserts that a load got only answers: each either `expected` or a 503 that says when to
/// retry, with a problem body; none lost.
fn assert_answered_with(outcomes: &[Outcome], expected: &[u16]) {
    for outcome in outcomes {
        match &outcome.result {
            Ok(answer) if expected.contains(&answer.status) => {}
            Ok(answer) if answer.status == 503 => assert_unavailable(answer),
            Ok(answer) => panic!(
                "client {} request {}: {} {}",
                outcome.client,
                outcome.n,
                answer.status,
                String::from_utf8_lossy(&answer.body)
            ),
            Err(failure) => panic!(
                "client {} request {} got no answer after {:?}: {failure:?}",
                outcome.client, outcome.n, outcome.took
            ),
        }
    }
}

/// A 503 as the contract has it: `Retry-After` and a problem body naming the cause.
fn assert_unavailable(answer: &Answer) {
    assert!(
        answer.header("retry-after").is_some(),
        "a 503 without Retry-After: {answer:?}"
    );
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json"),
        "{answer:?}"
    );
    let problem = answer.json();
    assert!(
        problem["type"].is_string() && problem["detail"].is_string(),
        "{problem}"
    );
}

/// How many outcomes have each status (`None`: no answer), for messages.
fn tally(outcomes: &[Outcome]) -> BTreeMap<Option<u16>, usize> {
    let mut tally = BTreeMap::new();
    for outcome in outcomes {
        *tally.entry(outcome.status()).or_default() += 1;
    }
    tally
}

/// Whether the server wrote a panic to its log.
fn panicked(log: &[String]) -> Option<&String> {
    log.iter().find(|line| line.contains("panicked"))
}
