-- Row-level security (PostgreSQL): a backstop under the org scoping every query already
-- does. Its twin migrations/sqlite/0008_row_security.sql is empty: SQLite has no RLS.
--
-- Every table with an `org_id` column shows and accepts only rows of the tenant set for
-- the current transaction (`Store::begin_for` / `read_for` run
-- `set_config('pinward.org_id', org, true)`). Without a tenant, `current_setting(…, true)`
-- is NULL or '' and no row matches: a query that forgot its org sees nothing and can write
-- nothing, instead of another org's rows. FORCE makes it apply to the table owner too;
-- only superusers and BYPASSRLS roles skip it, so run pinward as neither
-- (deploy/postgres-roles.sql).
--
-- The loop covers every table with `org_id` that exists when this migration runs and has
-- no `<table>_tenant` policy yet (0006 gave its own tables theirs); a later migration adding
-- such a table must add the same policy for it.
DO $$
DECLARE
    t text;
BEGIN
    FOR t IN
        SELECT c.table_name FROM information_schema.columns c
        JOIN information_schema.tables s
          ON s.table_schema = c.table_schema AND s.table_name = c.table_name
        WHERE c.table_schema = current_schema() AND c.column_name = 'org_id'
          AND s.table_type = 'BASE TABLE'
          AND NOT EXISTS (SELECT 1 FROM pg_policies p
                          WHERE p.schemaname = c.table_schema AND p.tablename = c.table_name
                            AND p.policyname = c.table_name || '_tenant')
        ORDER BY c.table_name
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY %I ON %I USING (org_id = current_setting(''pinward.org_id'', true)) '
            'WITH CHECK (org_id = current_setting(''pinward.org_id'', true))',
            t || '_tenant', t);
    END LOOP;
END
$$;

-- Meta said the org's Graph token never expires (`expires_at` 0); a NULL `expires_at`
-- alone means Meta did not say.
ALTER TABLE graph_credentials ADD COLUMN never_expires BOOLEAN NOT NULL DEFAULT FALSE;
