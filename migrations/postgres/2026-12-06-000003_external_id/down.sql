DROP INDEX companies_external_id_key;
ALTER TABLE companies DROP COLUMN external_id;
