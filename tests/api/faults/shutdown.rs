//! SIGTERM under a keep-alive write load, as a rolling deploy sends it.

use std::time::{Duration, Instant};

use crate::helpers::DbConnection;

use super::http::Failure;
use super::*;
use crate::process::harness::sign_in;

/// The service's `SHUTDOWN_DRAIN_SECS` (3, the default) plus the harness's
/// `SHUTDOWN_GRACE_SECS` (20): the longest a stop may take.
const DRAIN_AND_GRACE: Duration = Duration::from_secs(23);

#[test]
fn sigterm_under_keep_alive_write_load_answers_every_request_sent_before_it() {
    let (mut server, dir) = serve(None);
    let token = sign_in(&server);

    let (outcomes, (signalled, stopped_after)) =
        writes_during(server.port, &token, 32, "Shutdown", || {
            std::thread::sleep(Duration::from_secs(2));
            let signalled = Instant::now();
            server.sigterm();
            let status = server.wait_exit(DRAIN_AND_GRACE);
            assert!(status.success(), "exit status {status}");
            (signalled, signalled.elapsed())
        });

    // Every request sent before the signal was answered (none lost: for a POST the client
    // could not tell whether it was applied).
    let before: Vec<_> = outcomes.iter().filter(|o| o.sent < signalled).collect();
    assert!(before.len() > 100, "the load ran: {}", before.len());
    let unanswered: Vec<_> = before.iter().filter(|o| o.result.is_err()).collect();
    assert!(unanswered.is_empty(), "lost: {unanswered:?}");
    assert_answered_with(&outcomes[..before.len()], &[201]);

    // After the signal, the answers tell clients to go elsewhere (Connection: close), and no
    // request sent on a connection that was open is lost, until nothing listens any more.
    let after = &outcomes[before.len()..];
    let answered_after: Vec<_> = after
        .iter()
        .filter_map(|o| o.result.as_ref().ok())
        .collect();
    assert!(!answered_after.is_empty(), "the drain answered requests");
    assert!(
        answered_after.iter().all(|a| a.closes()),
        "Connection: close"
    );
    let lost_on_open: Vec<_> = after
        .iter()
        .filter(|o| o.reused && matches!(o.result, Err(Failure::Lost(_))))
        .collect();
    assert!(
        lost_on_open.is_empty(),
        "lost on open connections: {lost_on_open:?}"
    );
    // A connection opened in the instant the drain ends may be reset with its request (the
    // listener closes under it): the drain exists so that load balancers, told by readiness,
    // send nothing new by then. Counted for the log, not failed.
    let lost_on_new = after
        .iter()
        .filter(|o| !o.reused && matches!(o.result, Err(Failure::Lost(_))))
        .count();
    eprintln!(
        "stopped {stopped_after:?} after SIGTERM; after it: {} answered, {lost_on_new} reset \
         on connections opened at the drain's end",
        answered_after.len()
    );

    // Everything acknowledged is in the database file.
    let mut conn = DbConnection::Sqlite(open_sqlite(dir.path()));
    assert_stored(&mut conn, &acknowledged(&outcomes));
    assert_eq!(panicked(&server.drain()), None);
}
