//! TLS to PostgreSQL keeps libpq's `sslmode` meaning, against a cluster that accepts only TLS
//! connections over TCP and presents a certificate for `localhost` from a CA of its own.
//! libpq (from the tests) and the service (rustls, through its `migrate`) must agree on each
//! case.

use std::process::Command;

use crate::faults::cluster::Cluster;
use crate::process::harness::BIN;

/// The URL of the cluster's `faults` database at `host`, with these parameters.
fn url(cluster: &Cluster, host: &str, parameters: &str) -> String {
    format!(
        "postgres://postgres@{host}:{}/faults?{parameters}",
        cluster.port
    )
}

/// Runs `migrate` against the cluster with this URL; whether it connected, and its stderr.
fn migrate(cluster: &Cluster, host: &str, parameters: &str) -> (bool, String) {
    let output = Command::new(BIN)
        .arg("migrate")
        .env("DATABASE_URL", url(cluster, host, parameters))
        .env("DB_CONNECT_WAIT_SECS", "0")
        .env("DATA_DIR", cluster.dir())
        .output()
        .unwrap();
    (
        output.status.success(),
        format!(
            "{}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// A host, the URL's parameters, and `None` if it connects, else why libpq refuses and why the
/// service's own asynchronous connection (`db::postgres::Connector`, rustls) refuses.
type Case = (&'static str, String, Option<(&'static str, &'static str)>);

fn cases(cluster: &Cluster) -> Vec<Case> {
    let ca = cluster.dir().join("ca.pem");
    let ca = ca.to_string_lossy();
    let stranger = cluster.dir().join("server.pem"); // not the CA that signed the server
    let stranger = stranger.to_string_lossy();
    let verify = |mode: &str, root: &str| format!("sslmode={mode}&sslrootcert={root}");
    let unknown_issuer = ("certificate verify failed", "UnknownIssuer");
    vec![
        // verify-full: the chain and the name are checked.
        ("localhost", verify("verify-full", &ca), None),
        (
            "127.0.0.1",
            verify("verify-full", &ca),
            Some(("does not match host name", "not valid for name")),
        ),
        (
            "localhost",
            verify("verify-full", &stranger),
            Some(unknown_issuer),
        ),
        // verify-ca: the chain only.
        ("127.0.0.1", verify("verify-ca", &ca), None),
        (
            "127.0.0.1",
            verify("verify-ca", &stranger),
            Some(unknown_issuer),
        ),
        // require and prefer (the default) encrypt without checking; disable is refused by a
        // server that wants TLS.
        ("127.0.0.1", "sslmode=require".into(), None),
        ("127.0.0.1", "sslmode=prefer".into(), None),
        ("127.0.0.1", String::new(), None),
        (
            "127.0.0.1",
            "sslmode=disable".into(),
            Some(("no encryption", "no encryption")),
        ),
    ]
}

/// The cases are libpq's meaning: libpq itself (the tests' blocking connection) connects or
/// refuses as each case says.
#[test]
#[ignore = "needs the PostgreSQL server binaries: run with --run-ignored all (.ci/run installs them)"]
fn sslmode_keeps_its_libpq_meaning() {
    use diesel::Connection as _;
    use diesel::connection::SimpleConnection as _;
    let cluster = Cluster::start_with_tls();
    for (host, parameters, refusal) in cases(&cluster) {
        let url = url(&cluster, host, &parameters);
        let connected = diesel::PgConnection::establish(&url)
            .map_err(|e| e.to_string())
            .and_then(|mut conn| conn.batch_execute("SELECT 1").map_err(|e| e.to_string()));
        match (refusal, connected) {
            (None, Ok(())) => {}
            (Some((why, _)), Err(e)) if e.contains(why) => {}
            (expected, got) => panic!("{url}: expected {expected:?}, got {got:?}"),
        }
    }
}

/// The service reaches PostgreSQL over tokio-postgres with rustls, not libpq — its pools, the
/// start-up wait and migrations alike (`db::postgres::Connector`): the same URLs mean the
/// same there. Driven through the binary's `migrate`, which connects and runs statements.
#[test]
#[ignore = "needs the PostgreSQL server binaries: run with --run-ignored all (.ci/run installs them)"]
fn the_service_keeps_the_same_meaning() {
    let cluster = Cluster::start_with_tls();
    for (host, parameters, refusal) in cases(&cluster) {
        let (ok, log) = migrate(&cluster, host, &parameters);
        match refusal {
            None => assert!(ok, "{host}?{parameters}: {log}"),
            Some((_, why)) => assert!(!ok && log.contains(why), "{host}?{parameters}: {log}"),
        }
    }
}

/// One exit in five crashed (SIGSEGV in OpenSSL's `atexit` teardown while a pool thread was
/// opening a libpq TLS connection) while the binary linked libpq; it links neither now, and a
/// command over TLS must keep exiting cleanly.
#[test]
#[ignore = "needs the PostgreSQL server binaries: run with --run-ignored all (.ci/run installs them)"]
fn a_command_over_tls_exits_cleanly_every_time() {
    let cluster = Cluster::start_with_tls();
    for attempt in 0..20 {
        let (ok, log) = migrate(&cluster, "127.0.0.1", "sslmode=require");
        assert!(ok, "attempt {attempt}: {log}");
    }
}
