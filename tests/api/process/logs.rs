//! Logs: JSON lines with the request fields, and never a secret.

use std::time::Duration;

use serde_json::Value;

use super::harness::*;

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
