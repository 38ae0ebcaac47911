//! PostgreSQL restarts under a write load.

use std::time::{Duration, Instant};

use crate::helpers::DbConnection;

use super::cluster::Cluster;
use super::*;
use crate::process::harness::sign_in;

#[test]
#[ignore = "needs the PostgreSQL server binaries: run with --run-ignored all (.ci/run installs them)"]
fn a_postgresql_restart_under_write_load_costs_503s_while_it_is_down_and_no_acknowledged_write() {
    let cluster = Cluster::start();
    let (mut server, _dir) = serve(Some(&cluster));
    let token = sign_in(&server);

    let (outcomes, accepting) = writes_during(server.port, &token, 16, "Restart", || {
        std::thread::sleep(Duration::from_secs(2));
        cluster.stop();
        std::thread::sleep(Duration::from_secs(3));
        cluster.start_again();
        let accepting = Instant::now();
        std::thread::sleep(Duration::from_secs(8));
        accepting
    });

    // Every request was answered: created, or 503 with Retry-After while PostgreSQL was away.
    assert_answered_with(&outcomes, &[201]);
    let tally = tally(&outcomes);
    assert!(
        tally.get(&Some(503)) > Some(&0),
        "the restart was felt: {tally:?}"
    );

    // Five seconds after PostgreSQL accepts connections again, every write succeeds, without
    // restarting the service.
    let recovered = accepting + Duration::from_secs(5);
    let late: Vec<_> = outcomes.iter().filter(|o| o.sent >= recovered).collect();
    assert!(late.len() > 100, "the load went on: {tally:?}");
    let failed: Vec<_> = late.iter().filter(|o| o.status() != Some(201)).collect();
    assert!(failed.is_empty(), "after recovery: {failed:?}");
    assert!(server.running());

    // Every write the service acknowledged is stored.
    let acknowledged = acknowledged(&outcomes);
    let mut conn = DbConnection::Postgres(cluster.connect("faults"));
    assert_stored(&mut conn, &acknowledged);

    let log = server.drain();
    assert_eq!(panicked(&log), None);
}
