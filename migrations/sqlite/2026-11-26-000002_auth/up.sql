-- Organizations (sponsors, chambers, agencies): the resource comes with the domain issue; users
-- and machine clients belong to one already.
CREATE TABLE organizations (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('sponsor', 'chamber_of_crafts', 'chamber_of_commerce',
        'economic_development', 'municipality', 'ministry', 'consultancy', 'association', 'other')),
    city TEXT,
    website TEXT,
    description TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL
);
CREATE UNIQUE INDEX organizations_name_key_key ON organizations (name_key);

-- People. username_key is the lower-cased username: unique case-insensitively.
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    username TEXT NOT NULL,
    username_key TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'partner', 'viewer')),
    organization_id BIGINT REFERENCES organizations (id) ON DELETE RESTRICT,
    display_name TEXT,
    email TEXT,
    disabled BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_username_key_key ON users (username_key);
CREATE INDEX users_organization_id_idx ON users (organization_id);
CREATE INDEX users_created_at_idx ON users (created_at, id);
CREATE INDEX users_updated_at_idx ON users (updated_at, id);

-- Machine clients of partner organizations. client_id is public; only the secret's hash is kept.
CREATE TABLE clients (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    client_id TEXT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'partner', 'viewer')),
    organization_id BIGINT REFERENCES organizations (id) ON DELETE RESTRICT,
    disabled BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL
);
CREATE UNIQUE INDEX clients_client_id_key ON clients (client_id);
CREATE INDEX clients_name_key_idx ON clients (name_key, id);
CREATE INDEX clients_organization_id_idx ON clients (organization_id);
CREATE INDEX clients_created_at_idx ON clients (created_at, id);
CREATE INDEX clients_updated_at_idx ON clients (updated_at, id);

-- Refresh tokens, stored as SHA-256 hashes. A family is one login; reusing a used token
-- revokes the family. `role` is the user's role at issue: a changed role ends the family.
CREATE TABLE refresh_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    token_hash TEXT NOT NULL,
    family TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE UNIQUE INDEX refresh_tokens_token_hash_key ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);

-- Failed sign-ins per (normalized username or client id, peer address), for throttling.
-- In the database so that every replica sees the same count.
CREATE TABLE login_failures (
    throttle_key TEXT PRIMARY KEY NOT NULL,
    failures BIGINT NOT NULL,
    last_failure_at TIMESTAMP NOT NULL
);

-- Who created and last changed a region, and the organization that owns it.
ALTER TABLE regions ADD COLUMN owner_org_id BIGINT REFERENCES organizations (id) ON DELETE RESTRICT;
ALTER TABLE regions ADD COLUMN created_by TEXT;
ALTER TABLE regions ADD COLUMN updated_by TEXT;
CREATE INDEX regions_owner_org_id_idx ON regions (owner_org_id);
