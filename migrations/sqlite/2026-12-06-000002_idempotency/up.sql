-- Answers of creating POSTs sent with an Idempotency-Key, written in the same transaction as
-- the record they created, so a retry replays the answer instead of creating it twice.
-- Keys are the caller's own (caller = the token's sub); fingerprint = SHA-256 of the request
-- (method, path with query, body). Kept at least IDEMPOTENCY_TTL_SECS.
CREATE TABLE idempotency_keys (
    caller TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    location TEXT,
    etag TEXT,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (caller, key)
);
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
