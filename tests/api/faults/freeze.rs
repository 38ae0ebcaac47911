//! PostgreSQL frozen (SIGSTOP) for 15 s under a write load: the database neither answers
//! nor closes anything, the hardest case for a client.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::helpers::DbConnection;

use super::cluster::Cluster;
use super::http::{Http, request};
use super::*;
use crate::process::harness::sign_in;

/// Past the query deadline (5 s) plus the wait for a connection (3 s), with room to spare.
const LONGEST_WAIT: Duration = Duration::from_secs(10);

#[test]
#[ignore = "needs the PostgreSQL server binaries: run with --run-ignored all (.ci/run installs them)"]
fn a_frozen_postgresql_holds_no_request_past_its_deadline_and_never_slows_liveness() {
    let mut cluster = Cluster::start();
    let (mut server, _dir) = serve(Some(&cluster));
    let token = sign_in(&server);
    let port = server.port;

    let (writes, (live, ready, frozen, thawed)) = writes_during(port, &token, 8, "Freeze", || {
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            let probe = |path: &'static str, every: Duration| {
                let stop = &stop;
                s.spawn(move || {
                    let mut http = Http::new(port);
                    let mut seen = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let sent = Instant::now();
                        let status = http
                            .send(&request("GET", path, &[], None))
                            .map(|a| a.status)
                            .ok();
                        seen.push((sent, sent.elapsed(), status));
                        std::thread::sleep(every);
                    }
                    seen
                })
            };
            let live = probe("/health/live", Duration::from_millis(100));
            let ready = probe("/health/ready", Duration::from_millis(250));

            std::thread::sleep(Duration::from_secs(2));
            cluster.freeze();
            let frozen = Instant::now();
            std::thread::sleep(Duration::from_secs(15));
            cluster.thaw();
            let thawed = Instant::now();
            std::thread::sleep(Duration::from_secs(8));
            stop.store(true, Ordering::Relaxed);
            (live.join().unwrap(), ready.join().unwrap(), frozen, thawed)
        })
    });

    // Liveness does not touch the database: fast throughout, so nothing restarts the pod.
    for (_, took, status) in &live {
        assert_eq!(*status, Some(200));
        assert!(
            *took <= Duration::from_millis(500),
            "liveness took {took:?}"
        );
    }
    assert!(
        live.len() > 150,
        "liveness was asked throughout: {}",
        live.len()
    );

    // Readiness turns 503 while the database is frozen (each answer given before the thaw),
    // and 200 again after.
    let ready_while_frozen = ready.iter().filter(|(sent, took, _)| {
        *sent > frozen + Duration::from_secs(4) && *sent + *took < thawed
    });
    assert!(
        ready_while_frozen.clone().count() > 0
            && ready_while_frozen.clone().all(|(_, _, s)| *s == Some(503)),
        "readiness while frozen: {ready:?}"
    );
    assert_eq!(ready.last().unwrap().2, Some(200));

    // No write waits longer than its deadline and the wait for a connection: it is created,
    // or answered 504 (deadline) or 503 (no connection) in time.
    assert_answered_with(&writes, &[201, 504]);
    let slowest = writes.iter().map(|o| o.took).max().unwrap();
    assert!(slowest <= LONGEST_WAIT, "a request waited {slowest:?}");
    let tally = tally(&writes);
    assert!(
        tally.get(&Some(504)).or(tally.get(&Some(503))).is_some(),
        "the freeze was felt: {tally:?}"
    );

    // Five seconds after the database resumes, every write succeeds again.
    let late: Vec<_> = writes
        .iter()
        .filter(|o| o.sent >= thawed + Duration::from_secs(5))
        .collect();
    assert!(late.len() > 50, "the load went on: {tally:?}");
    let failed: Vec<_> = late.iter().filter(|o| o.status() != Some(201)).collect();
    assert!(failed.is_empty(), "after the database resumed: {failed:?}");
    assert!(server.running());

    let acknowledged = acknowledged(&writes);
    assert_stored(
        &mut DbConnection::Postgres(cluster.connect("faults")),
        &acknowledged,
    );
    assert_eq!(panicked(&server.drain()), None);
}
