//! Graceful shutdown on SIGTERM.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use super::harness::*;

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

#[test]
fn after_sigterm_a_request_on_an_open_keep_alive_connection_is_still_answered() {
    let (mut server, _dir) = Server::start("text");
    let (mut open, response) = server.keep_alive_request("/health/live");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(!response.contains("connection: close"), "{response}");

    server.sigterm();
    std::thread::sleep(Duration::from_millis(500));

    // Readiness turns 503 at once, so load balancers stop sending new work…
    let ready = server.send("GET /health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(ready.starts_with("HTTP/1.1 503"), "{ready}");
    assert!(ready.contains("retry-after:"), "{ready}");
    assert!(ready.contains("shutting-down"), "{ready}");

    // …while a request a client sent on its open connection is read and answered, as that
    // connection's last (a POST lost here could not be told from one applied).
    write!(open, "GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    open.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = String::new();
    let _ = open.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(answer.contains("connection: close"), "{answer}");

    let status = server.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "exit status {status}");
}
