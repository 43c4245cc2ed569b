-- A number's rotation items, found without reading every job's (PostgreSQL). Its twin is
-- migrations/sqlite/0010_rotation_retry.sql. A reveal looks for the open job that
-- already holds its number, and `pinward serve` counts the rotations that failed since a
-- reveal to decide when to try again; a bulk job has an item per number.
CREATE INDEX rotation_items_number_ix ON rotation_items (org_id, phone_number_id, status);
