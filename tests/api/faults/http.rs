//! A plain HTTP/1.1 client over one keep-alive connection, and a load of many of them.
//!
//! Written on a bare socket on purpose: a fault test must know whether a request went out and
//! got no answer (a lost request: for a POST the client cannot tell whether it was applied),
//! which a client library's retries would hide, and it sends bytes no library would.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// An answer as it came over the wire.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Whether the server closes the connection after this answer.
    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// Why a request got no answer (the error is read through `Debug`, in failure messages).
#[derive(Debug)]
#[allow(dead_code)]
pub enum Failure {
    /// No connection could be opened: nothing was sent.
    Refused(std::io::Error),
    /// The request went out (at least in part) and no complete answer came back.
    Lost(std::io::Error),
}

/// One keep-alive connection, opened when first needed and again after the server closed it.
pub struct Http {
    port: u16,
    conn: Option<BufReader<TcpStream>>,
    /// How long an answer may take before the request counts as lost.
    pub patience: Duration,
}

impl Http {
    pub fn new(port: u16) -> Self {
        Self {
            port,
            conn: None,
            patience: Duration::from_secs(30),
        }
    }

    /// Whether a connection is open (the next request reuses it).
    pub fn is_open(&self) -> bool {
        self.conn.is_some()
    }

    /// Sends a whole request as given and reads its answer.
    pub fn send(&mut self, request: &[u8]) -> Result<Answer, Failure> {
        if self.conn.is_none() {
            let stream = TcpStream::connect(("127.0.0.1", self.port)).map_err(Failure::Refused)?;
            stream.set_nodelay(true).map_err(Failure::Refused)?;
            self.conn = Some(BufReader::new(stream));
        }
        let conn = self.conn.as_mut().unwrap();
        // A server may answer before it has read the whole request (413, 431) and close the
        // connection under the rest: then the answer is read all the same.
        let written = conn
            .get_mut()
            .set_read_timeout(Some(self.patience))
            .and_then(|()| conn.get_mut().write_all(request));
        let result = read_answer(conn, request.starts_with(b"HEAD "))
            .map_err(|e| written.err().unwrap_or(e));
        match result {
            Ok(answer) => {
                if answer.closes() {
                    self.conn = None;
                }
                Ok(answer)
            }
            Err(e) => {
                self.conn = None;
                Err(Failure::Lost(e))
            }
        }
    }
}

/// Reads one answer (its head only, to a HEAD request).
fn read_answer(conn: &mut BufReader<TcpStream>, head_only: bool) -> std::io::Result<Answer> {
    let broken = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let mut line = String::new();
    if conn.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| broken("status line"))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        if conn.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let Some((name, value)) = line.trim_end().split_once(':') else {
            break;
        };
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut answer = Answer {
        status,
        headers,
        body: Vec::new(),
    };
    if head_only {
        return Ok(answer);
    }
    if let Some(length) = answer.header("content-length") {
        let length: usize = length.parse().map_err(|_| broken("content-length"))?;
        answer.body.resize(length, 0);
        conn.read_exact(&mut answer.body)?;
    } else if answer
        .header("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        read_chunks(conn, &mut answer.body)?;
    } else if answer.closes() {
        conn.read_to_end(&mut answer.body)?;
    }
    Ok(answer)
}

fn read_chunks(conn: &mut BufReader<TcpStream>, body: &mut Vec<u8>) -> std::io::Result<()> {
    let mut line = String::new();
    loop {
        line.clear();
        conn.read_line(&mut line)?;
        let size = usize::from_str_radix(line.trim(), 16)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "chunk size"))?;
        let start = body.len();
        body.resize(start + size, 0);
        conn.read_exact(&mut body[start..])?;
        line.clear();
        conn.read_line(&mut line)?;
        if size == 0 {
            return Ok(());
        }
    }
}

/// A request's bytes: `method path`, the headers given, and a JSON body if any (typed
/// `application/json` unless the headers say otherwise).
pub fn request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Vec<u8> {
    let body = body.map(Value::to_string).unwrap_or_default();
    request_bytes(method, path, headers, body.as_bytes())
}

/// A request's bytes with any body, even one that is not UTF-8 (typed `application/json`
/// unless the headers say otherwise).
pub fn request_bytes(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    let typed = headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
    if !body.is_empty() && !typed {
        out.push_str("Content-Type: application/json\r\n");
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// What one request of a load got, and when.
#[derive(Debug)]
pub struct Outcome {
    /// Which client sent it, and its number in that client's sequence.
    pub client: usize,
    pub n: usize,
    pub sent: Instant,
    pub took: Duration,
    /// Whether it went out on a connection an earlier request had opened.
    pub reused: bool,
    pub result: Result<Answer, Failure>,
}

impl Outcome {
    pub fn status(&self) -> Option<u16> {
        self.result.as_ref().ok().map(|a| a.status)
    }
}

/// `clients` threads, each on its own keep-alive connection, send what `next(client, n)`
/// returns, one after another, until `stop` is set (or a client's connection is refused
/// after the server stopped listening). Returns every outcome in the order sent.
pub fn load(
    port: u16,
    clients: usize,
    stop: &AtomicBool,
    next: impl Fn(usize, usize) -> Vec<u8> + Sync,
) -> Vec<Outcome> {
    let mut outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..clients)
            .map(|client| {
                let next = &next;
                s.spawn(move || {
                    let mut http = Http::new(port);
                    let mut outcomes = Vec::new();
                    for n in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let request = next(client, n);
                        let reused = http.is_open();
                        let sent = Instant::now();
                        let result = http.send(&request);
                        let refused = matches!(result, Err(Failure::Refused(_)));
                        outcomes.push(Outcome {
                            client,
                            n,
                            sent,
                            took: sent.elapsed(),
                            reused,
                            result,
                        });
                        if refused {
                            // Nothing listens any more, or not yet: try again shortly.
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                    outcomes
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    outcomes.sort_by_key(|o| o.sent);
    outcomes
}
