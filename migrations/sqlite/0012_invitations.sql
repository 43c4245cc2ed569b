-- Invitations to join an org (SQLite). Its twin is migrations/postgres/0012_invitations.sql:
-- same table, columns and constraint names.
--
-- An org admin invites an email with a role (and, for a business admin, its clients); the
-- person joins with a one-time code, with the account they have or a new one they make. The
-- admin is never told whether the email has an account. Only the code's SHA-256 is stored.
-- A row is never deleted: accepted or withdrawn, it stays for the ledger's names.
CREATE TABLE invitations (
    id           TEXT NOT NULL CONSTRAINT invitations_pk PRIMARY KEY,
    org_id       TEXT NOT NULL CONSTRAINT invitations_org_fk REFERENCES orgs (id),
    email        TEXT NOT NULL,
    role         TEXT NOT NULL
                 CONSTRAINT invitations_role_ck CHECK (role IN ('admin', 'ops', 'auditor', 'business_admin')),
    -- A JSON array of client ids (a business admin's); `[]` for any other role.
    clients      TEXT NOT NULL DEFAULT '[]',
    code_hash    TEXT NOT NULL CONSTRAINT invitations_code_hash_uq UNIQUE
                 CONSTRAINT invitations_code_hash_ck CHECK (length(code_hash) = 64),
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    accepted_at  TEXT,
    -- The membership the invitation made (or reactivated).
    member_id    TEXT,
    withdrawn_at TEXT,
    CONSTRAINT invitations_member_fk FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id),
    CONSTRAINT invitations_closed_once_ck CHECK (accepted_at IS NULL OR withdrawn_at IS NULL),
    CONSTRAINT invitations_accepted_member_ck CHECK ((accepted_at IS NULL) = (member_id IS NULL))
);

-- One open invitation per email and org: inviting again withdraws the earlier one.
CREATE UNIQUE INDEX invitations_open_uq ON invitations (org_id, email)
    WHERE accepted_at IS NULL AND withdrawn_at IS NULL;
