-- The domain resources. Every record remembers the organization that owns it (partners
-- change only their own) and who created and last changed it. Join tables cascade from the
-- record that lists the ids and restrict the record listed, so deleting a referenced record
-- fails (409) instead of silently shrinking someone else's list.

ALTER TABLE organizations ADD COLUMN owner_org_id BIGINT REFERENCES organizations (id) ON DELETE RESTRICT;
ALTER TABLE organizations ADD COLUMN created_by TEXT;
ALTER TABLE organizations ADD COLUMN updated_by TEXT;
CREATE INDEX organizations_kind_idx ON organizations (kind, id);
CREATE INDEX organizations_created_at_idx ON organizations (created_at, id);
CREATE INDEX organizations_updated_at_idx ON organizations (updated_at, id);

CREATE TABLE topics (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    category TEXT NOT NULL CHECK (category IN ('recruitment', 'apprentice_marketing', 'retention',
        'qualification', 'employer_attractiveness', 'other')),
    description TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL,
    owner_org_id BIGINT REFERENCES organizations (id) ON DELETE RESTRICT,
    created_by TEXT,
    updated_by TEXT
);
CREATE UNIQUE INDEX topics_key_key ON topics (key);
CREATE INDEX topics_name_key_idx ON topics (name_key, id);
CREATE INDEX topics_category_idx ON topics (category, id);
CREATE INDEX topics_created_at_idx ON topics (created_at, id);
CREATE INDEX topics_updated_at_idx ON topics (updated_at, id);

CREATE TABLE funding_sources (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('eu', 'federal', 'state', 'district', 'municipality', 'private', 'other')),
    provider TEXT,
    programme TEXT,
    website TEXT,
    description TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL,
    owner_org_id BIGINT REFERENCES organizations (id) ON DELETE RESTRICT,
    created_by TEXT,
    updated_by TEXT
);
CREATE UNIQUE INDEX funding_sources_name_key_key ON funding_sources (name_key);
CREATE INDEX funding_sources_kind_idx ON funding_sources (kind, id);
CREATE INDEX funding_sources_created_at_idx ON funding_sources (created_at, id);
CREATE INDEX funding_sources_updated_at_idx ON funding_sources (updated_at, id);

-- start_sort/end_sort: the dates with unknown ones as 0001-01-01 / 9999-12-31, so that keyset
-- paging sorts by a NOT NULL column (unknown starts first, open ends last).
CREATE TABLE projects (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    description TEXT,
    sponsor_id BIGINT REFERENCES organizations (id) ON DELETE RESTRICT,
    programme TEXT,
    status TEXT NOT NULL CHECK (status IN ('planned', 'active', 'completed', 'cancelled')),
    start_date DATE,
    end_date DATE,
    start_sort DATE NOT NULL,
    end_sort DATE NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL,
    owner_org_id BIGINT REFERENCES organizations (id) ON DELETE RESTRICT,
    created_by TEXT,
    updated_by TEXT
);
CREATE INDEX projects_name_key_idx ON projects (name_key, id);
CREATE INDEX projects_status_idx ON projects (status, id);
CREATE INDEX projects_sponsor_id_idx ON projects (sponsor_id);
CREATE INDEX projects_start_sort_idx ON projects (start_sort, id);
CREATE INDEX projects_end_sort_idx ON projects (end_sort, id);
CREATE INDEX projects_created_at_idx ON projects (created_at, id);
CREATE INDEX projects_updated_at_idx ON projects (updated_at, id);

CREATE TABLE project_regions (
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    region_id BIGINT NOT NULL REFERENCES regions (id) ON DELETE RESTRICT,
    PRIMARY KEY (project_id, region_id)
);
CREATE INDEX project_regions_region_id_idx ON project_regions (region_id, project_id);

CREATE TABLE project_topics (
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    topic_id BIGINT NOT NULL REFERENCES topics (id) ON DELETE RESTRICT,
    PRIMARY KEY (project_id, topic_id)
);
CREATE INDEX project_topics_topic_id_idx ON project_topics (topic_id, project_id);

CREATE TABLE project_funding (
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    funding_source_id BIGINT NOT NULL REFERENCES funding_sources (id) ON DELETE RESTRICT,
    role TEXT NOT NULL CHECK (role IN ('funding', 'co_financing')),
    amount_cents BIGINT CHECK (amount_cents >= 0),
    PRIMARY KEY (project_id, funding_source_id, role)
);
CREATE INDEX project_funding_funding_source_id_idx ON project_funding (funding_source_id, project_id);

-- city_key: the lower-cased city ('' when unknown); employee_sort: employee_count, -1 when
-- unknown. Both NOT NULL so that keyset paging can sort by them.
CREATE TABLE companies (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    legal_form TEXT,
    sector TEXT,
    trade TEXT,
    region_id BIGINT NOT NULL REFERENCES regions (id) ON DELETE RESTRICT,
    street TEXT,
    postal_code TEXT,
    city TEXT,
    city_key TEXT NOT NULL,
    employee_count BIGINT CHECK (employee_count >= 0),
    apprentice_count BIGINT CHECK (apprentice_count >= 0),
    employee_sort BIGINT NOT NULL,
    website TEXT,
    email TEXT,
    phone TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL,
    owner_org_id BIGINT REFERENCES organizations (id) ON DELETE RESTRICT,
    created_by TEXT,
    updated_by TEXT
);
CREATE INDEX companies_name_key_idx ON companies (name_key, id);
CREATE INDEX companies_region_id_name_key_idx ON companies (region_id, name_key, id);
CREATE INDEX companies_city_key_idx ON companies (city_key, id);
CREATE INDEX companies_postal_code_idx ON companies (postal_code, id);
CREATE INDEX companies_sector_idx ON companies (sector, id);
CREATE INDEX companies_employee_sort_idx ON companies (employee_sort, id);
CREATE INDEX companies_created_at_idx ON companies (created_at, id);
CREATE INDEX companies_updated_at_idx ON companies (updated_at, id);
CREATE INDEX companies_owner_org_id_idx ON companies (owner_org_id);

CREATE TABLE company_topics (
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    topic_id BIGINT NOT NULL REFERENCES topics (id) ON DELETE RESTRICT,
    PRIMARY KEY (company_id, topic_id)
);
CREATE INDEX company_topics_topic_id_idx ON company_topics (topic_id, company_id);

CREATE TABLE company_projects (
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE RESTRICT,
    PRIMARY KEY (company_id, project_id)
);
CREATE INDEX company_projects_project_id_idx ON company_projects (project_id, company_id);

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    title TEXT NOT NULL,
    title_key TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('kickoff', 'needs_assessment', 'neighbourhood_meeting',
        'company_workshop', 'information_session', 'closing_event', 'other')),
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE RESTRICT,
    region_id BIGINT REFERENCES regions (id) ON DELETE RESTRICT,
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP,
    location TEXT,
    format TEXT CHECK (format IN ('in_person', 'online', 'hybrid')),
    notes TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL,
    owner_org_id BIGINT REFERENCES organizations (id) ON DELETE RESTRICT,
    created_by TEXT,
    updated_by TEXT
);
CREATE INDEX events_starts_at_idx ON events (starts_at, id);
CREATE INDEX events_title_key_idx ON events (title_key, id);
CREATE INDEX events_kind_idx ON events (kind, starts_at, id);
CREATE INDEX events_project_id_idx ON events (project_id, starts_at, id);
CREATE INDEX events_region_id_idx ON events (region_id, starts_at, id);
CREATE INDEX events_created_at_idx ON events (created_at, id);
CREATE INDEX events_updated_at_idx ON events (updated_at, id);
CREATE INDEX events_owner_org_id_idx ON events (owner_org_id);

CREATE TABLE event_topics (
    event_id BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    topic_id BIGINT NOT NULL REFERENCES topics (id) ON DELETE RESTRICT,
    PRIMARY KEY (event_id, topic_id)
);
CREATE INDEX event_topics_topic_id_idx ON event_topics (topic_id, event_id);

CREATE TABLE event_organizations (
    event_id BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE RESTRICT,
    PRIMARY KEY (event_id, organization_id)
);
CREATE INDEX event_organizations_organization_id_idx ON event_organizations (organization_id, event_id);

CREATE TABLE event_companies (
    event_id BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE RESTRICT,
    PRIMARY KEY (event_id, company_id)
);
CREATE INDEX event_companies_company_id_idx ON event_companies (company_id, event_id);

