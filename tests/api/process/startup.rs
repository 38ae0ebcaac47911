//! Start-up and health: `healthcheck`, replicas sharing one database, and waiting for a
//! PostgreSQL that is not there yet.

use std::process::Command;
use std::time::{Duration, Instant};

use super::harness::*;

#[test]
fn healthcheck_exits_0_while_the_server_is_ready_and_1_when_it_is_gone() {
    let (mut server, _dir) = Server::start("text");
    // HOST=0.0.0.0 as in the container: the check asks the loopback address.
    let (healthy, stderr) = healthcheck(server.port);
    assert!(healthy, "{stderr}");
    server.sigterm();
    assert!(server.wait_exit(Duration::from_secs(8)).success());
    let (healthy, stderr) = healthcheck(server.port);
    assert!(!healthy);
    assert!(
        stderr.contains("/health/ready"),
        "says what failed: {stderr}"
    );
}

#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --run-ignored all"]
fn two_replicas_starting_at_once_on_one_postgresql_database_serve_as_one() {
    let schema = crate::helpers::PgSchema::create();
    // One data directory, as a shared volume or a mounted secret would hold the key.
    let dir = tempfile::tempdir().unwrap();
    let env = [("DATABASE_URL", schema.url.as_str())];
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Server::spawn_with(dir.path(), "text", &env));
        let b = s.spawn(|| Server::spawn_with(dir.path(), "text", &env));
        (a.join().unwrap(), b.join().unwrap())
    });
    for server in [&a, &b] {
        assert!(healthcheck(server.port).0);
    }
    // Both migrated the one schema (under the lock) and bootstrapped one admin: signing in
    // works on either, and a token one replica issued is accepted by the other.
    let token = sign_in(&a);
    let region = r#"{"name": "Peine"}"#;
    let created = json_answer(
        &a.send(&format!(
            "POST /api/v1/regions HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\
             Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{region}",
            region.len()
        )),
        201,
    );
    let read = json_answer(
        &get_as(&b, &token, &format!("/api/v1/regions/{}", created["id"])),
        200,
    );
    assert_eq!(read["name"], "Peine");
    let users = json_answer(&get_as(&b, &token, "/api/v1/users?with_total=true"), 200);
    assert_eq!(users["total"], 1, "one bootstrap admin: {users}");
    let keys: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        keys,
        ["jwt-signing-key.pem"],
        "one key, no temporary files left"
    );
    for mut server in [a, b] {
        server.sigterm();
        assert!(server.wait_exit(Duration::from_secs(8)).success());
    }
}

/// The test PostgreSQL server's URL, and the URL and name of a database on it that does not
/// exist yet.
fn database_not_yet_created() -> (String, String, String) {
    let base = crate::helpers::postgres_url();
    let name = format!("bn_wait_{}", uuid::Uuid::new_v4().simple());
    let (server, _) = base.rsplit_once('/').unwrap();
    (format!("{server}/{name}"), name, base)
}

#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --run-ignored all"]
fn the_server_waits_for_a_postgresql_that_is_not_ready_yet() {
    use diesel::{Connection as _, connection::SimpleConnection as _};
    let (url, name, base) = database_not_yet_created();
    let mut admin = diesel::PgConnection::establish(&base).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let server = std::thread::scope(|s| {
        let server =
            s.spawn(|| Server::spawn_with(dir.path(), "text", &[("DATABASE_URL", url.as_str())]));
        // The database appears a while after the service started, as in a compose stack.
        std::thread::sleep(Duration::from_millis(1500));
        assert!(
            !server.is_finished(),
            "the server did not wait for its database"
        );
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        server.join().unwrap()
    });
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert!(
        healthcheck(server.port).0,
        "not ready once the database came"
    );
    let mut server = server;
    server.sigterm();
    assert!(server.wait_exit(Duration::from_secs(8)).success());
    admin
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .unwrap();
}

#[test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --run-ignored all"]
fn without_its_database_the_server_gives_up_after_the_wait_and_says_why() {
    let (url, name, _) = database_not_yet_created();
    let started = Instant::now();
    let output = Command::new(BIN)
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .env("DB_CONNECT_WAIT_SECS", "1")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(started.elapsed() < Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot connect to PostgreSQL") && stderr.contains(&name),
        "{stderr}"
    );
    assert!(
        stderr.contains("does not accept connections yet, retrying"),
        "each failed attempt is logged: {stderr}"
    );
}

/// A host that takes the connection and never answers (a hung proxy, a stopped VM behind a
/// forwarded port) does not hold the start-up forever: an attempt gives up once the wait is
/// over (after five seconds at least), and the command fails saying so.
#[test]
fn a_database_that_never_answers_fails_the_start_after_the_wait() {
    // The kernel completes the handshake for the listen backlog; nothing ever answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut migrate = Command::new(BIN)
        .arg("migrate")
        .env(
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:{port}/silent?sslmode=disable"),
        )
        .env("DB_CONNECT_WAIT_SECS", "1")
        .env("DATA_DIR", dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(status) = migrate.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            migrate.kill().unwrap();
            panic!("migrate still waits for a database that never answers");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut migrate.stderr.take().unwrap(), &mut stderr).unwrap();
    let took = started.elapsed();
    assert!(!status.success());
    assert!(
        stderr.contains("cannot connect to PostgreSQL") && stderr.contains("no answer within"),
        "{stderr}"
    );
    // The one attempt's five seconds, not far more.
    assert!(
        took > Duration::from_millis(4500) && took < Duration::from_secs(15),
        "gave up after {took:?}"
    );
    drop(silent);
}
