-- When the PIN of a version was last shown to a person (SQLite). Its twin is
-- migrations/postgres/0009_revealed.sql. A rotation confirms a new version with none, so
-- health's `pin_revealed` (a current version revealed and not rotated since) clears itself.
ALTER TABLE pin_versions ADD COLUMN revealed_at TEXT;
