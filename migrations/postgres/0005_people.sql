-- People and what an org admin keeps for the org (PostgreSQL). Its twin is
-- migrations/sqlite/0005_people.sql: same tables, columns and constraint names.

-- Org-scoped API tokens. Only the SHA-256 of the secret is stored: the secret is shown
-- once at creation, and a database leak reveals no usable token.
CREATE TABLE api_tokens (
    id           TEXT NOT NULL CONSTRAINT api_tokens_pk PRIMARY KEY,
    org_id       TEXT NOT NULL CONSTRAINT api_tokens_org_fk REFERENCES orgs (id),
    name         TEXT NOT NULL CONSTRAINT api_tokens_name_ck CHECK (length(name) BETWEEN 1 AND 100),
    role         TEXT NOT NULL
                 CONSTRAINT api_tokens_role_ck CHECK (role IN ('admin', 'ops', 'auditor')),
    secret_hash  TEXT NOT NULL CONSTRAINT api_tokens_secret_hash_uq UNIQUE
                 CONSTRAINT api_tokens_secret_hash_ck CHECK (length(secret_hash) = 64),
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    CONSTRAINT api_tokens_org_id_uq UNIQUE (org_id, id)
);

-- The org's Graph system-user token, sealed with age to the service identity (never
-- plaintext), and the facts Meta's debug_token gave about it at the last check.
CREATE TABLE graph_credentials (
    org_id          TEXT NOT NULL CONSTRAINT graph_credentials_pk PRIMARY KEY
                    CONSTRAINT graph_credentials_org_fk REFERENCES orgs (id),
    sealed          TEXT NOT NULL,
    -- `keys rotate` writes the copy sealed to the next identity here before swapping it in.
    sealed_next     TEXT,
    is_valid        BOOLEAN,
    app_id          TEXT,
    meta_user_id    TEXT,
    token_type      TEXT,
    scopes          TEXT NOT NULL DEFAULT '[]',
    granular_scopes TEXT NOT NULL DEFAULT '[]',
    expires_at      TIMESTAMPTZ,
    checked_at      TIMESTAMPTZ,
    check_error     TEXT,
    set_by          TEXT NOT NULL,
    set_at          TIMESTAMPTZ NOT NULL
);

-- age public keys of the org's offline break-glass keys: every new PIN version is sealed
-- to them besides the service identity.
CREATE TABLE recovery_recipients (
    id         TEXT NOT NULL CONSTRAINT recovery_recipients_pk PRIMARY KEY,
    org_id     TEXT NOT NULL CONSTRAINT recovery_recipients_org_fk REFERENCES orgs (id),
    recipient  TEXT NOT NULL CONSTRAINT recovery_recipients_recipient_ck CHECK (recipient LIKE 'age1%'),
    label      TEXT NOT NULL CONSTRAINT recovery_recipients_label_ck CHECK (length(label) BETWEEN 1 AND 100),
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT recovery_recipients_org_recipient_uq UNIQUE (org_id, recipient)
);
