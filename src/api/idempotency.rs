//! `Idempotency-Key` on creating POSTs (draft-ietf-httpapi-idempotency-key-header): a client
//! that retries a POST after a timeout gets the first answer again instead of a second record.
//!
//! - The key is the caller's own (scoped to the token's `sub`), 1–255 printable ASCII
//!   characters, sent bare or as a quoted structured-field string (`"abc"` = `abc`).
//! - A request is identified by method, path with query, and the body *as JSON*: the same
//!   members in another order or with other whitespace are the same request.
//! - The answer is stored in the same transaction as the record it created, so a stored key
//!   always has its record and a rolled-back or failed request (4xx, 5xx) leaves no key: a
//!   retry runs again.
//! - A repeat while the first still runs waits for it (the database holds the key's row
//!   until the first commits) and then replays its answer; never a second record.
//! - Not `POST /clients`: its answer holds a secret shown only once, which a replay would have
//!   to keep stored.

use std::future::{Ready, ready};

use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::api::error::ApiError;
use crate::auth::Caller;
use crate::db::{self, Conn};
use crate::domain::now;
use crate::models::idempotency::{self, StoredAnswer};

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";
pub const MAX_KEY_LEN: usize = 255;

/// The header as the OpenAPI document describes it on every creating POST.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // documents the header; `IdempotencyKey` reads it
pub struct IdempotencyKeyParam {
    /// A key of the client's choosing (e.g. a UUID) that makes retries of this request safe:
    /// the same key with the same request replays the first answer, for at least 24 hours.
    /// 1 to 255 printable ASCII characters, bare or quoted.
    #[param(
        rename = "Idempotency-Key",
        nullable = false,
        min_length = 1,
        max_length = 255,
        pattern = r"^[!-~]([ -~]{0,253}[!-~])?$",
        example = "6f1c2a52-2f0b-4c1e-9a59-3d1f0d2e8b11"
    )]
    idempotency_key: Option<String>,
}

/// The `Idempotency-Key` of a request (if it has one) and what identifies the request.
/// `default()` is no key: the work runs as it would without one.
#[derive(Debug, Clone, Default)]
pub struct IdempotencyKey(Option<Keyed>);

#[derive(Debug, Clone)]
struct Keyed {
    key: String,
    /// `POST /api/v1/regions?…`
    request: String,
}

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(parse(req).map(Self))
    }
}

fn parse(req: &HttpRequest) -> Result<Option<Keyed>, ApiError> {
    let mut values = req.headers().get_all(IDEMPOTENCY_KEY);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::bad_request(format!(
            "the Idempotency-Key header must be one value of 1 to {MAX_KEY_LEN} printable \
             ASCII characters"
        ))
    };
    if values.next().is_some() {
        return Err(invalid());
    }
    let text = value.to_str().map_err(|_| invalid())?;
    let key = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| (0x20..=0x7e).contains(&b))
    {
        return Err(invalid());
    }
    let request = match req.uri().path_and_query() {
        Some(path) => format!("{} {path}", req.method()),
        None => format!("{} {}", req.method(), req.path()),
    };
    Ok(Some(Keyed {
        key: key.to_owned(),
        request,
    }))
}

/// An answer to a creating request, as given and as replayed.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub etag: Option<String>,
    /// The JSON body.
    pub body: String,
    replayed: bool,
}

impl Answer {
    /// 201 with the record's URL and version.
    pub fn created(location: String, etag: String, body: String) -> Self {
        Self {
            status: StatusCode::CREATED,
            location: Some(location),
            etag: Some(etag),
            body,
            replayed: false,
        }
    }

    /// 200 with a JSON body.
    pub fn ok(body: String) -> Self {
        Self {
            status: StatusCode::OK,
            location: None,
            etag: None,
            body,
            replayed: false,
        }
    }

    pub fn into_response(self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.content_type("application/json");
        if let Some(location) = self.location {
            response.insert_header((header::LOCATION, location));
        }
        if let Some(etag) = self.etag {
            response.insert_header((header::ETAG, etag));
        }
        if self.replayed {
            response.insert_header((IDEMPOTENT_REPLAYED, "true"));
        }
        response.body(self.body)
    }

    fn replay(stored: StoredAnswer) -> Result<Self, ApiError> {
        Ok(Self {
            status: u16::try_from(stored.status)
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .ok_or_else(|| ApiError::Internal(format!("stored status {}", stored.status)))?,
            location: stored.location,
            etag: stored.etag,
            body: stored.body,
            replayed: true,
        })
    }
}

/// A keyed request ready to run once: the caller's key and the request's fingerprint.
pub struct Once(Option<StoredAnswer>);

impl IdempotencyKey {
    /// Binds the key to its caller and to the request's body.
    pub fn of(self, caller: &Caller, body: &Value) -> Once {
        self.bound(caller, |request| fingerprint(request, body))
    }

    /// Binds the key to its caller and to a body that is not JSON (a CSV file), byte for byte.
    pub fn of_bytes(self, caller: &Caller, body: &[u8]) -> Once {
        self.bound(caller, |request| {
            let mut hash = Sha256::new();
            hash.update(request.as_bytes());
            hash.update([0]);
            hash.update(body);
            hex::encode(hash.finalize())
        })
    }

    fn bound(self, caller: &Caller, fingerprint: impl FnOnce(&str) -> String) -> Once {
        Once(self.0.map(|keyed| StoredAnswer {
            caller: caller.subject.to_claim(),
            fingerprint: fingerprint(&keyed.request),
            key: keyed.key,
            status: 0,
            location: None,
            etag: None,
            body: String::new(),
            created_at: now(),
        }))
    }
}

impl Once {
    /// Runs `work` (inside one transaction with the stored answer), or replays the answer
    /// stored under the key. The same key with another request is a 422 of its own type.
    pub async fn run(
        self,
        conn: &mut Conn<'_>,
        work: impl AsyncFnOnce(&mut Conn<'_>) -> Result<Answer, ApiError>,
    ) -> Result<Answer, ApiError> {
        let Some(mut row) = self.0 else {
            return work(conn).await;
        };
        db::transaction(conn, async |conn| {
            if let Some(stored) = idempotency::claim(conn, &row).await? {
                if stored.fingerprint != row.fingerprint {
                    return Err(ApiError::IdempotencyKeyReused(format!(
                        "the Idempotency-Key {:?} was used for another request; use a new key \
                         for a new request",
                        row.key
                    )));
                }
                return Answer::replay(stored);
            }
            let answer = work(conn).await?;
            row.status = i32::from(answer.status.as_u16());
            row.location.clone_from(&answer.location);
            row.etag.clone_from(&answer.etag);
            row.body.clone_from(&answer.body);
            idempotency::complete(conn, &row).await?;
            Ok(answer)
        })
        .await
    }
}

/// SHA-256 of the request line and the body as canonical JSON (members sorted by name).
fn fingerprint(request: &str, body: &Value) -> String {
    let mut hash = Sha256::new();
    hash.update(request.as_bytes());
    hash.update([0]);
    canonical(body, &mut hash);
    hex::encode(hash.finalize())
}

fn canonical(value: &Value, hash: &mut Sha256) {
    match value {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_unstable_by(|a, b| a.0.cmp(b.0));
            hash.update(b"{");
            for (name, value) in members {
                hash.update(Value::String(name.clone()).to_string().as_bytes());
                hash.update(b":");
                canonical(value, hash);
                hash.update(b",");
            }
            hash.update(b"}");
        }
        Value::Array(items) => {
            hash.update(b"[");
            for item in items {
                canonical(item, hash);
                hash.update(b",");
            }
            hash.update(b"]");
        }
        scalar => hash.update(scalar.to_string().as_bytes()),
    }
}

/// Forgets answers older than `ttl_secs`.
pub async fn purge(conn: &mut Conn<'_>, ttl_secs: u64) -> Result<usize, ApiError> {
    let ttl = chrono::Duration::seconds(i64::try_from(ttl_secs).unwrap_or(i64::MAX / 1000));
    Ok(idempotency::purge(conn, now() - ttl).await?)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::fingerprint;

    #[test]
    fn the_same_json_in_another_order_is_the_same_request_and_other_json_is_not() {
        let a = fingerprint(
            "POST /api/v1/regions",
            &json!({"name": "Peine", "state": null}),
        );
        let b = fingerprint(
            "POST /api/v1/regions",
            &json!({"state": null, "name": "Peine"}),
        );
        let c = fingerprint("POST /api/v1/regions", &json!({"name": "Peine"}));
        let d = fingerprint(
            "POST /api/v1/topics",
            &json!({"name": "Peine", "state": null}),
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }
}
