-- Row-level security is PostgreSQL's (migrations/postgres/0008_row_security.sql); SQLite
-- has none: on SQLite, tenant scoping rests on every query's `org_id = $1`, which the same
-- code runs on both databases.

-- Meta said the org's Graph token never expires (`expires_at` 0); a NULL `expires_at`
-- alone means Meta did not say.
ALTER TABLE graph_credentials ADD COLUMN never_expires BOOLEAN NOT NULL DEFAULT FALSE;
