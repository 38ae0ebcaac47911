-- The change feed. Every write transaction of a domain record adds one row with seq NULL; a
-- sequencer numbers committed rows afterwards, one run at a time (the lock is the row of
-- change_feed), so a reader paging by seq never sees a number before every smaller one is
-- visible (see src/domain/changes.rs). id is the write order, never shown.
CREATE TABLE changes (
    id INTEGER PRIMARY KEY NOT NULL,
    seq BIGINT,
    resource TEXT NOT NULL CHECK (resource IN ('regions', 'topics', 'funding-sources',
        'organizations', 'projects', 'companies', 'events')),
    resource_id BIGINT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete')),
    version BIGINT NOT NULL,
    at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL
);
CREATE UNIQUE INDEX changes_seq_key ON changes (seq);
CREATE INDEX changes_pending_idx ON changes (id) WHERE seq IS NULL;

-- One row: the newest seq handed out, and the newest seq removed by retention (a reader
-- behind it has missed changes and must start over).
CREATE TABLE change_feed (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    last_seq BIGINT NOT NULL,
    purged_through BIGINT NOT NULL
);
INSERT INTO change_feed (id, last_seq, purged_through) VALUES (1, 0, 0);
