//! The binary as ops run it: `--help`, JSON logs, graceful shutdown on SIGTERM.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_betriebsnachbarschaften");
const BOOTSTRAP_PASSWORD: &str = "bootstrap-password-42";

#[test]
fn help_lists_every_setting_with_its_environment_variable() {
    let output = Command::new(BIN).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for var in [
        "DATABASE_URL",
        "DATA_DIR",
        "HOST",
        "PORT",
        "WORKERS",
        "DB_POOL_SIZE",
        "DB_POOL_TIMEOUT_SECS",
        "DB_CONNECT_WAIT_SECS",
        "SQLITE_SYNCHRONOUS",
        "MIGRATE_ON_START",
        "BODY_LIMIT_BYTES",
        "SHUTDOWN_GRACE_SECS",
        "LOG_FORMAT",
        "CORS_ALLOWED_ORIGINS",
        "METRICS_TOKEN",
    ] {
        assert!(
            help.contains(&format!("[env: {var}=")) || help.contains(&format!("[env: {var}]")),
            "--help lacks {var}:\n{help}"
        );
    }
    for command in ["serve", "migrate", "openapi", "healthcheck"] {
        assert!(help.contains(command), "--help lacks {command}");
    }
}

#[test]
fn openapi_prints_the_document() {
    let output = Command::new(BIN).arg("openapi").output().unwrap();
    assert!(output.status.success());
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/regions"].is_object());
}

#[test]
fn migrate_creates_the_sqlite_file_and_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("nested/data");
    let output = Command::new(BIN)
        .arg("migrate")
        .env_remove("DATABASE_URL")
        .env("DATA_DIR", &data_dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(data_dir.join("betriebsnachbarschaften.sqlite3").exists());
}

/// A server process whose stderr lines arrive on a channel.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    port: u16,
}

impl Server {
    fn start(log_format: &str) -> (Self, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (Self::spawn(dir.path(), log_format), dir)
    }

    /// A server on an existing data directory.
    fn start_in(dir: &std::path::Path) -> (Self, ()) {
        (Self::spawn(dir, "text"), ())
    }

    fn spawn(dir: &std::path::Path, log_format: &str) -> Self {
        Self::spawn_with(dir, log_format, &[])
    }

    /// A server with extra environment variables (`DATABASE_URL` for PostgreSQL).
    fn spawn_with(dir: &std::path::Path, log_format: &str, envs: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BIN)
            .env("BOOTSTRAP_ADMIN_PASSWORD", BOOTSTRAP_PASSWORD)
            .env_remove("DATABASE_URL")
            .envs(envs.iter().copied())
            .env("DATA_DIR", dir)
            .env("PORT", "0")
            .env("WORKERS", "1")
            .env("SHUTDOWN_GRACE_SECS", "20")
            .env("LOG_FORMAT", log_format)
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut server = Self {
            child,
            lines,
            port: 0,
        };
        let serving = server.wait_for_line("serving on http://");
        let after = serving.split("serving on http://").nth(1).unwrap();
        let addr = after.split_whitespace().next().unwrap();
        server.port = addr
            .rsplit(':')
            .next()
            .unwrap()
            .trim_end_matches('"')
            .parse()
            .unwrap();
        server
    }

    fn wait_for_line(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100))
                && line.contains(needle)
            {
                return line;
            }
        }
        panic!("the server never logged {needle:?}");
    }

    /// Sends one keep-alive request on a new connection and leaves the connection open.
    fn keep_alive_request(&self, path: &str) -> (TcpStream, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: logged-42\r\n\r\n"
        )
        .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).unwrap();
        (stream, String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// Sends a raw HTTP/1.1 request on a new connection and returns the response text.
    fn send(&self, request: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response
    }

    /// Every line logged so far (waiting briefly for stragglers).
    fn drain(&self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(300)) {
            lines.push(line);
        }
        lines
    }

    fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the server did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn sigterm_stops_promptly_with_exit_0_despite_idle_keep_alive_connections() {
    let (mut server, _dir) = Server::start("text");
    let (_idle, response) = server.keep_alive_request("/health/live");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    server.sigterm();

    // The grace period is 20 s; an idle connection must not make shutdown wait for it.
    let status = server.wait_exit(Duration::from_secs(8));
    assert!(status.success(), "exit status {status}");
}

#[test]
fn json_logs_are_one_object_per_line_with_the_request_fields() {
    let (mut server, _dir) = Server::start("json");
    let (_conn, response) = server.keep_alive_request("/health/ready");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    let line = server.wait_for_line("logged-42");
    let entry: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(entry["method"], "GET");
    assert_eq!(entry["route"], "/health/ready");
    assert_eq!(entry["status"], 200);
    assert_eq!(entry["request_id"], "logged-42");
    assert!(entry["duration_ms"].is_number());
    assert_eq!(entry["level"], "INFO");
    assert_eq!(entry["target"], "http");
    assert_eq!(entry["message"], "request");
    assert!(
        entry["ts"].as_str().is_some_and(|ts| ts.ends_with('Z')),
        "{line}"
    );

    server.sigterm();
    assert!(server.wait_exit(Duration::from_secs(8)).success());
}

#[test]
fn no_log_line_contains_a_password_a_hash_or_a_token() {
    let (mut server, _dir) = Server::start("json");
    let form = format!("grant_type=password&username=admin&password={BOOTSTRAP_PASSWORD}");
    let response = server.send(&format!(
        "POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    ));
    let body = response.split("\r\n\r\n").nth(1).unwrap();
    let tokens: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"));
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let me = server.send(&format!(
        "GET /api/v1/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {access}\r\n\r\n"
    ));
    assert!(me.starts_with("HTTP/1.1 200"), "{me}");
    let wrong = "grant_type=password&username=admin&password=wrong-guess-123";
    server.send(&format!(
        "POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{wrong}",
        wrong.len()
    ));

    let lines = server.drain();
    assert!(
        lines.iter().any(|l| l.contains("/api/v1/me")),
        "the requests were logged: {lines:#?}"
    );
    for line in &lines {
        for secret in [
            BOOTSTRAP_PASSWORD,
            "wrong-guess-123",
            access,
            refresh,
            "$argon2",
        ] {
            assert!(!line.contains(secret), "a log line shows a secret: {line}");
        }
    }
    server.sigterm();
    assert!(server.wait_exit(Duration::from_secs(8)).success());
}

/// Runs a subcommand on the data directory and returns its stdout.
fn run(dir: &std::path::Path, args: &[&str], envs: &[(&str, &str)], stdin: Option<&str>) -> String {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env("DATA_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_bootstrap_commands_create_accounts_that_can_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let created = run(
        dir.path(),
        &[
            "organization",
            "create",
            "--name",
            "IHK Braunschweig",
            "--kind",
            "chamber_of_commerce",
        ],
        &[],
        None,
    );
    assert!(created.contains("created organization"), "{created}");
    run(
        dir.path(),
        &["user", "create", "--username", "anna", "--role", "editor"],
        &[],
        Some("anna-password-123\n"),
    );
    run(
        dir.path(),
        &[
            "user",
            "create",
            "--username",
            "kammer",
            "--role",
            "partner",
            "--organization",
            "ihk braunschweig",
        ],
        &[("BN_PASSWORD", "kammer-password-1")],
        None,
    );
    let client = run(
        dir.path(),
        &[
            "client",
            "create",
            "--name",
            "IHK sync",
            "--organization",
            "IHK Braunschweig",
        ],
        &[],
        None,
    );
    let value = |key: &str| {
        client
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap()
            .to_owned()
    };
    let (client_id, secret) = (value("client_id"), value("client_secret"));

    // A short password and a partner without organization are refused.
    let short = Command::new(BIN)
        .args(["user", "create", "--username", "x", "--role", "viewer"])
        .env("DATA_DIR", dir.path())
        .env("BN_PASSWORD", "short")
        .output()
        .unwrap();
    assert!(!short.status.success());

    let (mut server, _) = Server::start_in(dir.path());
    for form in [
        "grant_type=password&username=anna&password=anna-password-123".to_owned(),
        "grant_type=password&username=kammer&password=kammer-password-1".to_owned(),
        format!("grant_type=client_credentials&client_id={client_id}&client_secret={secret}"),
    ] {
        let response = server.send(&format!(
            "POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        ));
        assert!(response.starts_with("HTTP/1.1 200"), "{form}: {response}");
    }
    server.sigterm();
    assert!(server.wait_exit(Duration::from_secs(8)).success());
}

#[test]
fn sigterm_lets_a_request_in_flight_finish() {
    let (mut server, _dir) = Server::start("text");
    let form = "grant_type=password&username=admin&password=wrong-password-42";
    let (head, tail) = form.split_at(10);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    write!(
        stream,
        "POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{head}",
        form.len()
    )
    .unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    // The request is being read when the signal arrives; it still gets its answer.
    server.sigterm();
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(tail.as_bytes()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    assert!(
        response.starts_with("HTTP/1.1 400"),
        "the in-flight request was answered: {response:?}"
    );
    assert!(response.contains("invalid_grant"), "{response}");

    assert!(server.wait_exit(Duration::from_secs(8)).success());
}

/// Runs `healthcheck` against a port; returns whether it exited 0, and its stderr.
fn healthcheck(port: u16) -> (bool, String) {
    let output = Command::new(BIN)
        .arg("healthcheck")
        .env("PORT", port.to_string())
        .env("HOST", "0.0.0.0")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

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

/// Reads the body of a raw HTTP/1.1 answer as JSON, checking its status.
fn json_answer(response: &str, status: u16) -> Value {
    assert!(
        response.starts_with(&format!("HTTP/1.1 {status} ")),
        "expected {status}: {response}"
    );
    let body = response.split_once("\r\n\r\n").unwrap().1;
    serde_json::from_str(body).unwrap()
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

#[test]
fn backup_copies_the_sqlite_database_while_the_server_runs() {
    use diesel::{Connection as _, RunQueryDsl as _, SqliteConnection, sql_types::BigInt};

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), &["seed", "--demo"], &[], None);
    let (mut server, ()) = Server::start_in(dir.path());
    let backup = dir.path().join("backups/today.sqlite3");
    std::fs::create_dir_all(backup.parent().unwrap()).unwrap();
    let printed = run(
        dir.path(),
        &["backup", "--to", backup.to_str().unwrap()],
        &[],
        None,
    );
    assert!(printed.contains("backed up"), "{printed}");

    // The copy is a complete database on its own: the demo's five regions, no -wal needed.
    let mut copy = SqliteConnection::establish(backup.to_str().unwrap()).unwrap();
    let regions: Count = diesel::sql_query("SELECT count(*) AS n FROM regions")
        .get_result(&mut copy)
        .unwrap();
    assert_eq!(regions.n, 5);
    assert!(!dir.path().join("backups/today.sqlite3-wal").exists());

    // A backup never overwrites a file.
    let again = Command::new(BIN)
        .args(["backup", "--to", backup.to_str().unwrap()])
        .env_remove("DATABASE_URL")
        .env("DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"));
    server.sigterm();
    assert!(server.wait_exit(Duration::from_secs(8)).success());
}

/// Signs in as the bootstrap admin over a raw connection and returns the access token.
fn sign_in(server: &Server) -> String {
    let form = format!("grant_type=password&username=admin&password={BOOTSTRAP_PASSWORD}");
    json_answer(
        &server.send(&format!(
            "POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        )),
        200,
    )["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The raw answer to a GET with this token.
fn get_as(server: &Server, token: &str, path: &str) -> String {
    server.send(&format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\r\n"
    ))
}

/// The status `GET /api/v1/me` answers with this token.
fn me_status(server: &Server, token: &str) -> u16 {
    get_as(server, token, "/api/v1/me")[9..12].parse().unwrap()
}

#[test]
fn the_documented_key_rotation_keeps_issued_tokens_valid() {
    let dir = tempfile::tempdir().unwrap();
    let (mut old_server, ()) = Server::start_in(dir.path());
    let old_token = sign_in(&old_server);
    old_server.sigterm();
    assert!(old_server.wait_exit(Duration::from_secs(8)).success());

    // docs/operations.md: write a new key, move the old one to the verification directory,
    // sign with the new one.
    let new_key = dir.path().join("keys/signing-2.pem");
    std::fs::create_dir_all(new_key.parent().unwrap()).unwrap();
    let printed = run(
        dir.path(),
        &["keygen", "--to", new_key.to_str().unwrap()],
        &[],
        None,
    );
    assert!(printed.contains("wrote a new signing key"), "{printed}");
    let verify_dir = dir.path().join("keys/verify");
    std::fs::create_dir_all(&verify_dir).unwrap();
    std::fs::rename(
        dir.path().join("jwt-signing-key.pem"),
        verify_dir.join("signing-1.pem"),
    )
    .unwrap();
    let mut rotated = Server::spawn_with(
        dir.path(),
        "text",
        &[
            ("JWT_KEY_FILE", new_key.to_str().unwrap()),
            ("JWT_VERIFY_KEYS_DIR", verify_dir.to_str().unwrap()),
        ],
    );
    assert_eq!(
        me_status(&rotated, &old_token),
        200,
        "a token signed by the old key"
    );
    let new_token = sign_in(&rotated);
    assert_ne!(new_token, old_token);
    assert_eq!(me_status(&rotated, &new_token), 200);
    rotated.sigterm();
    assert!(rotated.wait_exit(Duration::from_secs(8)).success());

    // Once the old tokens have expired the old key is removed, and its tokens are refused.
    std::fs::remove_file(verify_dir.join("signing-1.pem")).unwrap();
    let mut without_old = Server::spawn_with(
        dir.path(),
        "text",
        &[
            ("JWT_KEY_FILE", new_key.to_str().unwrap()),
            ("JWT_VERIFY_KEYS_DIR", verify_dir.to_str().unwrap()),
        ],
    );
    assert_eq!(me_status(&without_old, &old_token), 401);
    assert_eq!(me_status(&without_old, &new_token), 200);
    without_old.sigterm();
    assert!(without_old.wait_exit(Duration::from_secs(8)).success());

    // keygen never overwrites a key.
    let again = Command::new(BIN)
        .args(["keygen", "--to", new_key.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!again.status.success());
}
