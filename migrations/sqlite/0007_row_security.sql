-- Row-level security is PostgreSQL's (migrations/postgres/0007_row_security.sql); SQLite
-- has none. This file keeps the two folders' versions in step. On SQLite, tenant scoping
-- rests on every query's `org_id = $1`, which the same code runs on both databases.
SELECT 1;
