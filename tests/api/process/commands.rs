//! The subcommands as ops run them: `--help`, `openapi`, `migrate`, the bootstrap commands,
//! `backup`, and the documented signing-key rotation.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::harness::*;

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
