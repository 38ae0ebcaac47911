//! 10 000 malformed or hostile requests: mutated valid bodies, deep nesting, huge numbers,
//! invalid UTF-8, overlong strings and headers, junk credentials, queries and framing. None
//! may get a 5xx, panic the service or grow its memory without bound.

use std::collections::BTreeMap;
use std::time::Duration;

use fastrand::Rng;
use serde_json::json;

use super::cluster::Cluster;
use super::http::{Answer, Http, request, request_bytes};
use super::{panicked, serve};
use crate::process::harness::{Server, get_as, sign_in};

const REQUESTS: usize = 10_000;
const SENDERS: usize = 4;

#[test]
fn ten_thousand_hostile_requests_get_no_5xx_on_sqlite() {
    let (server, _dir) = serve(None);
    withstand_hostile_requests(server);
}

#[test]
#[ignore = "needs the PostgreSQL server binaries: run with --run-ignored all (.ci/run installs them)"]
fn ten_thousand_hostile_requests_get_no_5xx_on_postgresql() {
    let cluster = Cluster::start();
    let (server, _dir) = serve(Some(&cluster));
    withstand_hostile_requests(server);
}

fn withstand_hostile_requests(mut server: Server) {
    let token = sign_in(&server);
    // Records for the ids in the bodies to point at, so that some mutations are valid.
    let bearer = format!("Bearer {token}");
    for (path, body) in [
        (
            "/api/v1/organizations",
            json!({"name": "Handwerkskammer", "kind": "chamber_of_crafts"}),
        ),
        ("/api/v1/regions", json!({"name": "Peine"})),
    ] {
        let created = Http::new(server.port)
            .send(&request(
                "POST",
                path,
                &[("Authorization", &bearer)],
                Some(&body),
            ))
            .unwrap();
        assert_eq!(created.status, 201, "{created:?}");
    }

    let mut statuses: BTreeMap<Option<u16>, usize> = BTreeMap::new();
    let mut undocumented = Vec::new();
    let mut rss_half = 0;
    for half in 0..2 {
        std::thread::scope(|s| {
            let senders: Vec<_> = (0..SENDERS)
                .map(|sender| {
                    let (token, port) = (&token, server.port);
                    s.spawn(move || {
                        // Seeded: the same requests every run, so a failure can be replayed.
                        let mut rng = Rng::with_seed((half * SENDERS + sender) as u64);
                        let (mut statuses, mut undocumented) = (Vec::new(), Vec::new());
                        for _ in 0..REQUESTS / SENDERS / 2 {
                            let request = hostile(&mut rng, token);
                            let answer = Http::new(port).send(&request).ok();
                            statuses.push(answer.as_ref().map(|a| a.status));
                            if let Some(answer) = answer.filter(|a| !documented(a, &request)) {
                                // The request's head is enough to tell what it was.
                                let head = &request[..request.len().min(300)];
                                undocumented
                                    .push((answer, String::from_utf8_lossy(head).into_owned()));
                            }
                        }
                        (statuses, undocumented)
                    })
                })
                .collect();
            for sender in senders {
                let (seen, wrong) = sender.join().unwrap();
                for status in seen {
                    *statuses.entry(status).or_default() += 1;
                }
                undocumented.extend(wrong);
            }
        });
        if half == 0 {
            rss_half = server.rss_kib();
        }
    }
    let rss_end = server.rss_kib();

    // No request got a 5xx, and the requests reached every layer that refuses input.
    let server_errors: Vec<_> = statuses
        .iter()
        .filter(|(s, _)| s.is_some_and(|s| s >= 500))
        .collect();
    assert!(server_errors.is_empty(), "5xx: {statuses:?}");
    for status in [400, 401, 404, 405, 413, 415, 422, 431] {
        assert!(
            statuses.contains_key(&Some(status)),
            "no {status}: {statuses:?}"
        );
    }
    eprintln!("statuses: {statuses:?}; RSS {rss_half} KiB after half, {rss_end} KiB after all");

    // Every refusal has the documented shape, so a client can tell what was wrong.
    assert!(
        undocumented.is_empty(),
        "{} answers without the documented error body, e.g. {:?}",
        undocumented.len(),
        &undocumented[..undocumented.len().min(3)]
    );

    // The service is unharmed: it answers as before, nothing panicked, and its memory did
    // not grow with the second 5 000 requests (caches and pools were full after the first).
    assert!(server.running());
    let me = get_as(&server, &token, "/api/v1/me");
    assert!(me.starts_with("HTTP/1.1 200"), "{me}");
    assert_eq!(panicked(&server.drain()), None);
    assert!(
        rss_end <= rss_half + 16 * 1024,
        "memory grew from {rss_half} KiB to {rss_end} KiB"
    );
    assert!(rss_end <= 256 * 1024, "{rss_end} KiB resident");
    server.sigterm();
    assert!(server.wait_exit(Duration::from_secs(10)).success());
}

/// Whether an answer has the shape the README documents for it: a success; a problem
/// (`application/problem+json`); an OAuth error (`application/json` with `error`, RFC 6749)
/// from the sign-in endpoints; or, for bytes actix-http's parser refuses before the service
/// sees them (non-ASCII in the URL, NUL in a header, more than 96 header lines), a bare 400
/// or 431 without a body or request id.
fn documented(answer: &Answer, request: &[u8]) -> bool {
    let content_type = answer.header("content-type").unwrap_or_default();
    let from_parser = answer.header("x-request-id").is_none() && answer.body.is_empty();
    answer.status < 400
        || content_type == "application/problem+json"
        || (request.starts_with(b"POST /api/v1/auth/")
            && content_type == "application/json"
            && answer.json()["error"].is_string())
        || (from_parser && [400, 431].contains(&answer.status))
}

/// Valid requests, the seeds of the mutations: (method, path, body).
const SEEDS: &[(&str, &str, &str)] = &[
    (
        "POST",
        "/api/v1/organizations",
        r#"{"name":"Kreishandwerkerschaft Peine","kind":"chamber_of_crafts","city":"Peine"}"#,
    ),
    (
        "POST",
        "/api/v1/regions",
        r#"{"name":"Goslar","district":"Landkreis Goslar","state":"Niedersachsen"}"#,
    ),
    (
        "POST",
        "/api/v1/topics",
        r#"{"key":"azubimarketing","name":"Azubimarketing","category":"recruiting"}"#,
    ),
    (
        "POST",
        "/api/v1/companies",
        r#"{"name":"Tischlerei","region_id":1,"employee_count":12,"apprentice_count":2,"topic_ids":[1],"external_ids":{"hwk":"A-1"}}"#,
    ),
    (
        "POST",
        "/api/v1/projects",
        r#"{"name":"Betriebsnachbarschaften","status":"active","sponsor_id":1,"region_ids":[1],"funding":[{"funding_source_id":1,"role":"co_funder","amount_cents":100}]}"#,
    ),
    (
        "POST",
        "/api/v1/events",
        r#"{"title":"Nachbarschaftstreffen","kind":"neighbourhood_meeting","project_id":1,"region_id":1,"starts_at":"2021-05-04T16:00:00Z","topic_ids":[1]}"#,
    ),
    (
        "POST",
        "/api/v1/funding-sources",
        r#"{"name":"Europäischer Sozialfonds","kind":"eu_fund"}"#,
    ),
    (
        "PATCH",
        "/api/v1/regions/1",
        r#"{"description":"Schöningen/Samtgemeinde Heeseberg"}"#,
    ),
    (
        "PUT",
        "/api/v1/organizations/1",
        r#"{"name":"Handwerkskammer","kind":"chamber_of_crafts"}"#,
    ),
    (
        "POST",
        "/api/v1/users",
        r#"{"username":"kammer","password":"a-long-password-1","role":"editor"}"#,
    ),
];

const PATHS: &[&str] = &[
    "/api/v1/organizations",
    "/api/v1/regions",
    "/api/v1/topics",
    "/api/v1/companies",
    "/api/v1/projects",
    "/api/v1/events",
    "/api/v1/funding-sources",
    "/api/v1/users",
    "/api/v1/clients",
    "/api/v1/changes",
    "/api/v1/companies/import",
    "/api/v1/reports/projects/1",
    "/api/v1/regions/1",
    "/api/v1/companies/9223372036854775807",
    "/api/v1/me",
    "/api/v1/auth/token",
    "/api/v1/auth/revoke",
    "/openapi.json",
    "/metrics",
    "/health/ready",
    "/nowhere",
];

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "BREW",
];

/// One hostile request, chosen and shaped by the random source.
fn hostile(rng: &mut Rng, token: &str) -> Vec<u8> {
    let bearer = format!("Bearer {token}");
    let (method, path, seed) = *pick(rng, SEEDS);
    let mut headers: Vec<(String, String)> = vec![("Authorization".into(), bearer)];
    let mut content_type = "application/json".to_owned();
    let (method, path, body): (String, String, Vec<u8>) = match rng.usize(..12) {
        // A valid body with a few bytes flipped, inserted, dropped or repeated.
        0..=3 => (method.into(), path.into(), mutate(rng, seed.as_bytes())),
        // Nesting far past any sane document.
        4 => {
            let depth = [64, 129, 1_000, 100_000][rng.usize(..4)];
            let body = format!(r#"{{"name":{}1{}}}"#, "[".repeat(depth), "]".repeat(depth));
            (method.into(), path.into(), body.into_bytes())
        }
        // Numbers no field can hold.
        5 => {
            let number = [
                "1e999999",
                "-1e999999",
                "123456789012345678901234567890123456789",
                "9223372036854775808",
                "-9223372036854775809",
                "1.7976931348623157e309",
                "4.9e-400",
                "-0",
                "18446744073709551616.0",
            ][rng.usize(..9)];
            let field = *pick(
                rng,
                &[
                    "region_id",
                    "employee_count",
                    "sponsor_id",
                    "amount_cents",
                    "topic_ids",
                ],
            );
            let body = seed.replacen('{', &format!(r#"{{"{field}":{number},"#), 1);
            (method.into(), path.into(), body.into_bytes())
        }
        // Invalid UTF-8 in the body, the path, the query or a header.
        6 => {
            const JUNK: &[&[u8]] = &[
                b"\xff\xfe",
                b"\xc3\x28",
                b"\xed\xa0\x80",
                b"\xf4\x90\x80\x80",
                b"\x00",
            ];
            let junk = *pick(rng, JUNK);
            match rng.usize(..4) {
                0 => {
                    let mut body = br#"{"name":""#.to_vec();
                    body.extend_from_slice(junk);
                    body.extend_from_slice(br#"","kind":"chamber_of_crafts"}"#);
                    ("POST".into(), "/api/v1/organizations".into(), body)
                }
                1 => {
                    let mut raw = b"GET /api/v1/regions/".to_vec();
                    raw.extend_from_slice(junk);
                    raw.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                    return raw;
                }
                2 => {
                    let mut raw = b"GET /api/v1/regions?q=".to_vec();
                    raw.extend_from_slice(junk);
                    raw.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                    return raw;
                }
                _ => {
                    let mut raw = format!(
                        "GET /api/v1/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nIf-None-Match: \""
                    )
                    .into_bytes();
                    raw.extend_from_slice(junk);
                    raw.extend_from_slice(b"\"\r\n\r\n");
                    return raw;
                }
            }
        }
        // Strings far past every maxLength, and bodies past the body limit.
        7 => {
            let length = [10_000, 300_000, 1_500_000][rng.usize(..3)];
            let body = format!(
                r#"{{"name":"{}","kind":"chamber_of_crafts"}}"#,
                "ü".repeat(length / 2)
            );
            (
                "POST".into(),
                "/api/v1/organizations".into(),
                body.into_bytes(),
            )
        }
        // Header sections past 16 KiB: one huge header or very many.
        8 => {
            if rng.usize(..2) == 0 {
                headers.push(("X-Padding".into(), "a".repeat(20_000 + rng.usize(..50_000))));
            } else {
                for n in 0..(100 + rng.usize(..400)) {
                    headers.push((format!("X-Many-{n}"), "b".repeat(60)));
                }
            }
            ("GET".into(), "/api/v1/regions".into(), Vec::new())
        }
        // Junk in list queries.
        9 => {
            let query = *pick(
                rng,
                &[
                    "limit=-1",
                    "limit=99999999999999999999",
                    "limit=1e3",
                    "cursor=AAAAAAAAAAAA",
                    "cursor=%FF%FE",
                    "cursor=eyJpZCI6LTEsInYiOiJ4In0",
                    "q=%00",
                    "sort=;DROP TABLE regions",
                    "updated_since=yesterday",
                    "since=-5",
                    "q=",
                    "district=%C3%28",
                    "limit=10&limit=20",
                    "format=xml",
                ],
            );
            let list = *pick(rng, &PATHS[..10]);
            ("GET".into(), format!("{list}?{query}"), Vec::new())
        }
        // Junk credentials and sign-in forms.
        10 => {
            headers.clear();
            let credential = random_text(rng, 1..300);
            match rng.usize(..3) {
                0 => headers.push(("Authorization".into(), format!("Bearer {credential}"))),
                1 => headers.push(("Authorization".into(), format!("Basic {credential}"))),
                _ => {}
            }
            content_type = "application/x-www-form-urlencoded".into();
            let form = format!(
                "grant_type={}&username=admin&password={credential}",
                pick(
                    rng,
                    &["password", "client_credentials", "refresh_token", "x"]
                )
            );
            (
                "POST".into(),
                (*pick(rng, &["/api/v1/auth/token", "/api/v1/auth/revoke"])).into(),
                form.into_bytes(),
            )
        }
        // Any method on any path with junk of any type.
        _ => {
            content_type = (*pick(
                rng,
                &[
                    "text/csv",
                    "application/merge-patch+json",
                    "application/json-patch+json",
                    "multipart/form-data; boundary=x",
                    "text/plain",
                    "application/json; charset=latin1",
                ],
            ))
            .into();
            let mut body = random_text(rng, 0..2_000).into_bytes();
            if rng.usize(..2) == 0 {
                body = mutate(rng, seed.as_bytes());
            }
            (
                (*pick(rng, METHODS)).into(),
                (*pick(rng, PATHS)).into(),
                body,
            )
        }
    };
    headers.push(("Connection".into(), "close".into()));
    if !body.is_empty() {
        headers.push(("Content-Type".into(), content_type));
    }
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    request_bytes(&method, &path, &headers, &body)
}

/// `bytes` with one to eight random edits.
fn mutate(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for _ in 0..1 + rng.usize(..8) {
        let at = rng.usize(..out.len().max(1));
        match rng.usize(..4) {
            0 if !out.is_empty() => out[at] = rng.u8(..),
            1 => out.insert(at.min(out.len()), rng.u8(..)),
            2 if !out.is_empty() => {
                out.remove(at);
            }
            _ => {
                let end = (at + rng.usize(..16)).min(out.len());
                let slice = out[at.min(end)..end].to_vec();
                out.splice(at.min(out.len())..at.min(out.len()), slice);
            }
        }
    }
    out
}

/// Printable junk, with the characters JSON and HTTP treat specially.
fn random_text(rng: &mut Rng, lengths: std::ops::Range<usize>) -> String {
    const ALPHABET: &[u8] = b"abcXYZ019 .,:;\"'\\{}[]%=&+/-_~!$";
    (0..rng.usize(lengths))
        .map(|_| *pick(rng, ALPHABET) as char)
        .collect()
}

fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[rng.usize(..items.len())]
}
