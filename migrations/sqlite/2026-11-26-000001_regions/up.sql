-- Project regions (Projekträume). AUTOINCREMENT so that an id is never reused after a delete:
-- partner systems that sync by id must never see one id name two regions.
CREATE TABLE regions (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name TEXT NOT NULL,
    -- lower-cased name: case-insensitive uniqueness, search (`q`) and sort
    name_key TEXT NOT NULL,
    district TEXT,
    state TEXT,
    commercial_area TEXT,
    description TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL
);
CREATE UNIQUE INDEX regions_name_key_key ON regions (name_key);
CREATE INDEX regions_district_idx ON regions (district, id);
CREATE INDEX regions_state_idx ON regions (state, id);
CREATE INDEX regions_created_at_idx ON regions (created_at, id);
CREATE INDEX regions_updated_at_idx ON regions (updated_at, id);
