//! The harness of the process tests: the release-like binary as a child process, its
//! stderr on a channel, raw HTTP requests to it, and the subcommands it runs.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_betriebsnachbarschaften");
pub const BOOTSTRAP_PASSWORD: &str = "bootstrap-password-42";

/// A server process whose stderr lines arrive on a channel.
pub struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    pub port: u16,
}

impl Server {
    pub fn start(log_format: &str) -> (Self, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (Self::spawn(dir.path(), log_format), dir)
    }

    /// A server on an existing data directory.
    pub fn start_in(dir: &std::path::Path) -> (Self, ()) {
        (Self::spawn(dir, "text"), ())
    }

    pub fn spawn(dir: &std::path::Path, log_format: &str) -> Self {
        Self::spawn_with(dir, log_format, &[])
    }

    /// A server with extra environment variables (`DATABASE_URL` for PostgreSQL).
    pub fn spawn_with(dir: &std::path::Path, log_format: &str, envs: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BIN)
            .env("BOOTSTRAP_ADMIN_PASSWORD", BOOTSTRAP_PASSWORD)
            .env_remove("DATABASE_URL")
            .env("DATA_DIR", dir)
            .env("PORT", "0")
            .env("WORKERS", "1")
            .env("SHUTDOWN_GRACE_SECS", "20")
            .env("LOG_FORMAT", log_format)
            .env("RUST_LOG", "info")
            .envs(envs.iter().copied())
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

    pub fn wait_for_line(&self, needle: &str) -> String {
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
    pub fn keep_alive_request(&self, path: &str) -> (TcpStream, String) {
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
    pub fn send(&self, request: &str) -> String {
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
    pub fn drain(&self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(300)) {
            lines.push(line);
        }
        lines
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Kills the process as the kernel's OOM killer or a power cut would: no chance to
    /// finish anything.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// The resident memory of the process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .unwrap();
        line.trim().trim_end_matches("kB").trim().parse().unwrap()
    }

    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
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

/// A test that ends, passing or failing, without stopping its server leaves no process
/// behind (one would keep retrying a database that is gone, on the machine's two cores).
impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs a subcommand on the data directory and returns its stdout.
pub fn run(
    dir: &std::path::Path,
    args: &[&str],
    envs: &[(&str, &str)],
    stdin: Option<&str>,
) -> String {
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

/// Runs `healthcheck` against a port; returns whether it exited 0, and its stderr.
pub fn healthcheck(port: u16) -> (bool, String) {
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

/// Reads the body of a raw HTTP/1.1 answer as JSON, checking its status.
pub fn json_answer(response: &str, status: u16) -> Value {
    assert!(
        response.starts_with(&format!("HTTP/1.1 {status} ")),
        "expected {status}: {response}"
    );
    let body = response.split_once("\r\n\r\n").unwrap().1;
    serde_json::from_str(body).unwrap()
}

/// Signs in as the bootstrap admin over a raw connection and returns the access token.
pub fn sign_in(server: &Server) -> String {
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
pub fn get_as(server: &Server, token: &str, path: &str) -> String {
    server.send(&format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\r\n"
    ))
}

/// The status `GET /api/v1/me` answers with this token.
pub fn me_status(server: &Server, token: &str) -> u16 {
    get_as(server, token, "/api/v1/me")[9..12].parse().unwrap()
}
