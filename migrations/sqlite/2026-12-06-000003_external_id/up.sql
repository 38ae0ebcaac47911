-- The partner's own key for a company (a chamber's member or craft-register number), so a
-- chamber's import can find the companies it sent before. Unique per owning organization: two
-- chambers may use the same number; the companies of admins and editors (no owning
-- organization) count as one owner, hence COALESCE. The key leads the index, so a lookup by
-- key (the import's upsert, the external_id= filter) uses it too.
ALTER TABLE companies ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX companies_external_id_key
    ON companies (external_id, COALESCE(owner_org_id, 0))
    WHERE external_id IS NOT NULL;
