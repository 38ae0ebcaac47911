//! `kill -9` in the middle of a write burst on SQLite: nothing acknowledged may be lost and
//! the file must be sound, since no shutdown code ran.

use std::time::Duration;

use crate::helpers::DbConnection;
use diesel::RunQueryDsl as _;
use diesel::connection::SimpleConnection as _;
use diesel::sql_types::Text;

use super::*;
use crate::process::harness::{Server, sign_in};

#[derive(diesel::QueryableByName)]
struct Check {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

#[test]
fn kill_9_during_a_sqlite_write_burst_loses_no_acknowledged_write() {
    let (mut server, dir) = serve(None);
    let token = sign_in(&server);

    let (outcomes, ()) = writes_during(server.port, &token, 16, "Crash", || {
        std::thread::sleep(Duration::from_secs(3));
        server.kill9();
    });
    let acknowledged = acknowledged(&outcomes);
    assert!(
        acknowledged.len() > 100,
        "the burst wrote: {:?}",
        tally(&outcomes)
    );

    // The service starts again on the same file (recovering its write-ahead log) and
    // answers a sign-in (which writes)…
    let mut restarted = Server::spawn_with(dir.path(), "text", &[]);
    sign_in(&restarted);

    // …which is sound and holds every write that was acknowledged before the kill.
    let mut conn = open_sqlite(dir.path());
    conn.batch_execute("PRAGMA busy_timeout = 5000").unwrap();
    let checks: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut conn)
        .unwrap();
    let checks: Vec<_> = checks.into_iter().map(|c| c.integrity_check).collect();
    assert_eq!(checks, ["ok"]);
    assert_stored(&mut DbConnection::Sqlite(conn), &acknowledged);

    restarted.sigterm();
    assert!(restarted.wait_exit(Duration::from_secs(10)).success());
}
