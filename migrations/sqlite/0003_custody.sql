-- PIN custody (SQLite). Its twin is migrations/postgres/0003_custody.sql.
--
-- Leases: a number's custody attempt is driven by one worker at a time. The worker holds
-- `lease_owner` until `lease_until`; another takes over only after that moment, and taking
-- over gives the pending version a fresh attempt_id, so the old worker's TX2 (guarded by
-- attempt_id and status = 'pending') matches nothing.

ALTER TABLE phone_numbers ADD COLUMN lease_owner TEXT;
ALTER TABLE phone_numbers ADD COLUMN lease_until TEXT;
-- Sends of the pending version whose outcome was not a confirmation or a rejection.
ALTER TABLE phone_numbers ADD COLUMN send_failures INTEGER NOT NULL DEFAULT 0;
-- Where the On-Premises API deployment of an `on_prem` number listens.
ALTER TABLE phone_numbers ADD COLUMN onprem_base_url TEXT;
CREATE INDEX phone_numbers_lease_ix ON phone_numbers (org_id, lease_until);

-- The org recovery recipients (age1…, one per line) a version was sealed to besides the
-- service identity, so `keys rotate` re-seals to exactly the same recovery keys.
ALTER TABLE pin_versions ADD COLUMN recovery_recipients TEXT NOT NULL DEFAULT '';
-- `keys rotate` writes the copy sealed to the next identity here before swapping it in.
ALTER TABLE pin_versions ADD COLUMN sealed_next TEXT;

-- Small secrets of the service itself, sealed to the service identity (the PIN
-- fingerprint key).
CREATE TABLE service_secrets (
    name        TEXT NOT NULL CONSTRAINT service_secrets_pk PRIMARY KEY,
    sealed      TEXT NOT NULL,
    sealed_next TEXT,
    created_at  TEXT NOT NULL
);

-- Bulk rotations: a job over selected numbers, and one item per number.
CREATE TABLE rotation_jobs (
    id          TEXT NOT NULL CONSTRAINT rotation_jobs_pk PRIMARY KEY,
    org_id      TEXT NOT NULL CONSTRAINT rotation_jobs_org_fk REFERENCES orgs (id),
    status      TEXT NOT NULL
                CONSTRAINT rotation_jobs_status_ck CHECK (status IN ('running', 'paused', 'cancelled', 'done')),
    concurrency INTEGER NOT NULL CONSTRAINT rotation_jobs_concurrency_ck CHECK (concurrency BETWEEN 1 AND 64),
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    finished_at TEXT,
    CONSTRAINT rotation_jobs_org_id_uq UNIQUE (org_id, id)
);
CREATE INDEX rotation_jobs_org_status_ix ON rotation_jobs (org_id, status);

CREATE TABLE rotation_items (
    job_id          TEXT NOT NULL,
    org_id          TEXT NOT NULL,
    phone_number_id TEXT NOT NULL,
    status          TEXT NOT NULL
                    CONSTRAINT rotation_items_status_ck
                    CHECK (status IN ('queued', 'running', 'done', 'failed', 'skipped')),
    lease_owner     TEXT,
    lease_until     TEXT,
    outcome         TEXT,
    updated_at      TEXT NOT NULL,
    CONSTRAINT rotation_items_pk PRIMARY KEY (job_id, phone_number_id),
    CONSTRAINT rotation_items_job_fk FOREIGN KEY (org_id, job_id) REFERENCES rotation_jobs (org_id, id),
    CONSTRAINT rotation_items_number_fk FOREIGN KEY (org_id, phone_number_id) REFERENCES phone_numbers (org_id, id)
);
CREATE INDEX rotation_items_job_status_ix ON rotation_items (job_id, status);
