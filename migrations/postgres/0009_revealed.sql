-- When the PIN of a version was last shown to a person (PostgreSQL). Its twin is
-- migrations/sqlite/0009_revealed.sql. A rotation confirms a new version with none, so
-- health's `pin_revealed` (a current version revealed and not rotated since) clears itself.
ALTER TABLE pin_versions ADD COLUMN revealed_at TIMESTAMPTZ;
