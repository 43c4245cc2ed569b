-- Core schema of pinward (PostgreSQL). Its twin is migrations/sqlite/0001_core.sql:
-- same tables, columns and constraint names; only types and trigger syntax differ.
-- Ids are application-generated UUIDv7 strings. Timestamps are timestamptz (text on SQLite).
-- Composite foreign keys (org_id, x_id) keep every row inside its own tenant.

CREATE TABLE orgs (
    id          TEXT NOT NULL CONSTRAINT orgs_pk PRIMARY KEY,
    slug        TEXT NOT NULL CONSTRAINT orgs_slug_uq UNIQUE
                CONSTRAINT orgs_slug_ck CHECK (length(slug) BETWEEN 1 AND 63),
    name        TEXT NOT NULL CONSTRAINT orgs_name_ck CHECK (length(name) BETWEEN 1 AND 200),
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id             TEXT NOT NULL CONSTRAINT users_pk PRIMARY KEY,
    email          TEXT NOT NULL CONSTRAINT users_email_uq UNIQUE
                   CONSTRAINT users_email_ck CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    display_name   TEXT NOT NULL,
    password_hash  TEXT,
    created_at     TIMESTAMPTZ NOT NULL,
    deactivated_at TIMESTAMPTZ
);

CREATE TABLE members (
    id             TEXT NOT NULL CONSTRAINT members_pk PRIMARY KEY,
    org_id         TEXT NOT NULL CONSTRAINT members_org_fk REFERENCES orgs (id),
    user_id        TEXT NOT NULL CONSTRAINT members_user_fk REFERENCES users (id),
    role           TEXT NOT NULL
                   CONSTRAINT members_role_ck CHECK (role IN ('admin', 'ops', 'auditor', 'business_admin')),
    created_at     TIMESTAMPTZ NOT NULL,
    deactivated_at TIMESTAMPTZ,
    CONSTRAINT members_org_user_uq UNIQUE (org_id, user_id),
    CONSTRAINT members_org_id_uq UNIQUE (org_id, id)
);

CREATE TABLE clients (
    id               TEXT NOT NULL CONSTRAINT clients_pk PRIMARY KEY,
    org_id           TEXT NOT NULL CONSTRAINT clients_org_fk REFERENCES orgs (id),
    name             TEXT NOT NULL CONSTRAINT clients_name_ck CHECK (length(name) BETWEEN 1 AND 200),
    meta_business_id TEXT,
    age_recipient    TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    CONSTRAINT clients_org_business_uq UNIQUE (org_id, meta_business_id),
    CONSTRAINT clients_org_id_uq UNIQUE (org_id, id)
);

-- The clients a business_admin member may see.
CREATE TABLE member_clients (
    org_id    TEXT NOT NULL,
    member_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    CONSTRAINT member_clients_pk PRIMARY KEY (member_id, client_id),
    CONSTRAINT member_clients_member_fk FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id),
    CONSTRAINT member_clients_client_fk FOREIGN KEY (org_id, client_id) REFERENCES clients (org_id, id)
);

CREATE TABLE wabas (
    id           TEXT NOT NULL CONSTRAINT wabas_pk PRIMARY KEY,
    org_id       TEXT NOT NULL CONSTRAINT wabas_org_fk REFERENCES orgs (id),
    client_id    TEXT NOT NULL,
    meta_waba_id TEXT NOT NULL,
    name         TEXT NOT NULL,
    ownership    TEXT NOT NULL CONSTRAINT wabas_ownership_ck CHECK (ownership IN ('owned', 'client')),
    currency     TEXT,
    timezone_id  TEXT,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    vanished_at   TIMESTAMPTZ,
    CONSTRAINT wabas_client_fk FOREIGN KEY (org_id, client_id) REFERENCES clients (org_id, id),
    CONSTRAINT wabas_org_meta_uq UNIQUE (org_id, meta_waba_id),
    CONSTRAINT wabas_org_id_uq UNIQUE (org_id, id)
);

CREATE TABLE phone_numbers (
    id                       TEXT NOT NULL CONSTRAINT phone_numbers_pk PRIMARY KEY,
    org_id                   TEXT NOT NULL CONSTRAINT phone_numbers_org_fk REFERENCES orgs (id),
    waba_id                  TEXT NOT NULL,
    -- Meta facts, refreshed by inventory sync.
    meta_phone_number_id     TEXT NOT NULL,
    display_phone_number     TEXT NOT NULL,
    verified_name            TEXT,
    quality_rating           TEXT,
    name_status              TEXT,
    platform_type            TEXT,
    code_verification_status TEXT,
    last_onboarded_at        TIMESTAMPTZ,
    connector                TEXT NOT NULL DEFAULT 'cloud'
                             CONSTRAINT phone_numbers_connector_ck CHECK (connector IN ('cloud', 'on_prem')),
    -- What the team knows about the number.
    usage                    TEXT,
    activation_date          DATE,
    recovery_email           TEXT,
    backup_channels          TEXT NOT NULL DEFAULT '[]',
    main_owner_id            TEXT,
    permission_manager_id    TEXT,
    -- Custody.
    pin_state                TEXT NOT NULL DEFAULT 'unknown'
                             CONSTRAINT phone_numbers_pin_state_ck
                             CHECK (pin_state IN ('unknown', 'escrowed', 'rotating', 'uncertain', 'released')),
    escrow_stale             BOOLEAN NOT NULL DEFAULT FALSE,
    attention_reason         TEXT,
    last_reviewed_at         TIMESTAMPTZ,
    next_review_due          TIMESTAMPTZ,
    first_seen_at            TIMESTAMPTZ NOT NULL,
    last_synced_at           TIMESTAMPTZ NOT NULL,
    vanished_at              TIMESTAMPTZ,
    CONSTRAINT phone_numbers_waba_fk FOREIGN KEY (org_id, waba_id) REFERENCES wabas (org_id, id),
    CONSTRAINT phone_numbers_owner_fk FOREIGN KEY (org_id, main_owner_id) REFERENCES members (org_id, id),
    CONSTRAINT phone_numbers_manager_fk FOREIGN KEY (org_id, permission_manager_id) REFERENCES members (org_id, id),
    CONSTRAINT phone_numbers_two_people_ck CHECK (main_owner_id IS NULL OR permission_manager_id IS NULL
                                                  OR main_owner_id <> permission_manager_id),
    CONSTRAINT phone_numbers_org_meta_uq UNIQUE (org_id, meta_phone_number_id),
    CONSTRAINT phone_numbers_org_id_uq UNIQUE (org_id, id)
);
CREATE INDEX phone_numbers_org_state_ix ON phone_numbers (org_id, pin_state);
CREATE INDEX phone_numbers_waba_ix ON phone_numbers (waba_id);

-- Every PIN pinward ever chose, sealed with age. Never plaintext: `sealed` is an
-- armored age file, `fingerprint` a keyed hash used only to refuse duplicates.
CREATE TABLE pin_versions (
    id              TEXT NOT NULL CONSTRAINT pin_versions_pk PRIMARY KEY,
    org_id          TEXT NOT NULL,
    phone_number_id TEXT NOT NULL,
    version         BIGINT NOT NULL CONSTRAINT pin_versions_version_ck CHECK (version >= 1),
    status          TEXT NOT NULL
                    CONSTRAINT pin_versions_status_ck
                    CHECK (status IN ('pending', 'current', 'previous', 'superseded', 'rejected', 'stale')),
    attempt_id      TEXT NOT NULL CONSTRAINT pin_versions_attempt_uq UNIQUE,
    sealed          TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ,
    confirmed_at    TIMESTAMPTZ,
    ended_at        TIMESTAMPTZ,
    failure_reason  TEXT,
    CONSTRAINT pin_versions_number_fk FOREIGN KEY (org_id, phone_number_id) REFERENCES phone_numbers (org_id, id),
    CONSTRAINT pin_versions_number_version_uq UNIQUE (phone_number_id, version)
);
-- At most one pending and one current version per number.
CREATE UNIQUE INDEX pin_versions_one_live_uq ON pin_versions (phone_number_id, status)
    WHERE status IN ('pending', 'current');
CREATE INDEX pin_versions_org_fingerprint_ix ON pin_versions (org_id, fingerprint);

-- The ledger: one hash chain per org. Columns hold exactly the strings that were
-- hashed (`at` and `details` as text), so an export reproduces every hash.
CREATE TABLE ledger_events (
    org_id  TEXT NOT NULL CONSTRAINT ledger_events_org_fk REFERENCES orgs (id),
    seq     BIGINT NOT NULL CONSTRAINT ledger_events_seq_ck CHECK (seq >= 1),
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    details TEXT NOT NULL,
    prev    TEXT NOT NULL CONSTRAINT ledger_events_prev_ck CHECK (length(prev) = 64),
    hash    TEXT NOT NULL CONSTRAINT ledger_events_hash_ck CHECK (length(hash) = 64),
    CONSTRAINT ledger_events_pk PRIMARY KEY (org_id, seq)
);

-- The head of each org's chain; appends lock this row, so the chain never forks.
CREATE TABLE ledger_heads (
    org_id TEXT NOT NULL CONSTRAINT ledger_heads_pk PRIMARY KEY CONSTRAINT ledger_heads_org_fk REFERENCES orgs (id),
    seq    BIGINT NOT NULL CONSTRAINT ledger_heads_seq_ck CHECK (seq >= 0),
    hash   TEXT NOT NULL CONSTRAINT ledger_heads_hash_ck CHECK (length(hash) = 64)
);

-- Signed checkpoints over a chain head.
CREATE TABLE ledger_checkpoints (
    id        TEXT NOT NULL CONSTRAINT ledger_checkpoints_pk PRIMARY KEY,
    org_id    TEXT NOT NULL CONSTRAINT ledger_checkpoints_org_fk REFERENCES orgs (id),
    seq       BIGINT NOT NULL,
    head      TEXT NOT NULL,
    at        TEXT NOT NULL,
    signature TEXT NOT NULL,
    key       TEXT NOT NULL
);
CREATE INDEX ledger_checkpoints_org_seq_ix ON ledger_checkpoints (org_id, seq);

-- The ledger is append-only: the database itself refuses edits.
CREATE FUNCTION ledger_refuse_edit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_events is append-only' USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER ledger_events_no_update BEFORE UPDATE ON ledger_events
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_edit();
CREATE TRIGGER ledger_events_no_delete BEFORE DELETE ON ledger_events
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_edit();
CREATE TRIGGER ledger_events_no_truncate BEFORE TRUNCATE ON ledger_events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_edit();
