-- Two PostgreSQL roles for a pinward deployment (see README "Running on PostgreSQL").
--
-- pinward_owner owns the schema and runs `pinward migrate`; pinward_app runs `pinward
-- serve` and every other command. The app role may read and write the domain tables but
-- may only INSERT and SELECT the ledger: even with the triggers dropped by someone holding
-- the owner role, the service's own credentials cannot edit or erase history.
--
-- 1. As a superuser, once:
--      CREATE ROLE pinward_owner LOGIN PASSWORD '…';
--      CREATE ROLE pinward_app LOGIN PASSWORD '…';
--      CREATE DATABASE pinward OWNER pinward_owner;
-- 2. PINWARD_DATABASE_URL=postgres://pinward_owner:…@HOST/pinward pinward migrate
-- 3. As pinward_owner, after every `pinward migrate` (psql -f deploy/postgres-roles.sql):

GRANT USAGE ON SCHEMA public TO pinward_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO pinward_app;
-- `serve` checks for pending migrations at start; it must read the history, never write it.
REVOKE INSERT, UPDATE, DELETE ON _sqlx_migrations FROM pinward_app;
-- The ledger: append and read only.
REVOKE UPDATE, DELETE, TRUNCATE ON ledger_events, ledger_checkpoints FROM pinward_app;
