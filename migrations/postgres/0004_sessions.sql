-- Dashboard sessions (PostgreSQL). Its twin is migrations/sqlite/0004_sessions.sql.
-- One row per browser session; `data` is the session's JSON map. `user_id` copies the
-- signed-in user out of `data` so "sign out everywhere" and deactivation can delete a
-- user's sessions in one statement. No foreign key: a session outlives nothing it needs,
-- and deleting it is always safe. `expires_at` is Unix seconds, compared on every load.

CREATE TABLE sessions (
    id         TEXT NOT NULL CONSTRAINT sessions_pk PRIMARY KEY
               CONSTRAINT sessions_id_ck CHECK (length(id) BETWEEN 16 AND 64),
    user_id    TEXT,
    data       TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user_ix ON sessions (user_id);
CREATE INDEX sessions_expires_ix ON sessions (expires_at);
