DROP INDEX IF EXISTS regions_owner_org_id_idx;
ALTER TABLE regions DROP COLUMN updated_by;
ALTER TABLE regions DROP COLUMN created_by;
ALTER TABLE regions DROP COLUMN owner_org_id;
DROP TABLE login_failures;
DROP TABLE refresh_tokens;
DROP TABLE clients;
DROP TABLE users;
DROP TABLE organizations;
