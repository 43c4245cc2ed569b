-- Number governance (SQLite). Its twin is migrations/postgres/0006_numbers.sql.
--
-- Policies per org (a missing row means the defaults of governance::policies), two-sided
-- handovers of a number's seats, and the indexes that keep the numbers list and a number's
-- page fast for orgs with tens of thousands of numbers.

CREATE TABLE org_policies (
    org_id              TEXT NOT NULL CONSTRAINT org_policies_pk PRIMARY KEY
                        CONSTRAINT org_policies_org_fk REFERENCES orgs (id),
    review_cadence_days INTEGER NOT NULL
                        CONSTRAINT org_policies_cadence_ck CHECK (review_cadence_days BETWEEN 90 AND 183),
    max_pin_age_days    INTEGER NOT NULL
                        CONSTRAINT org_policies_pin_age_ck CHECK (max_pin_age_days BETWEEN 7 AND 730),
    rotate_after_reveal BOOLEAN NOT NULL,
    rotate_on_handover  BOOLEAN NOT NULL,
    updated_at          TEXT NOT NULL,
    updated_by          TEXT NOT NULL
);

-- A seat (main owner or permission manager) moving from one member to another: proposed
-- by the outgoing holder (or an admin), accepted or declined by the incoming member.
CREATE TABLE handovers (
    id              TEXT NOT NULL CONSTRAINT handovers_pk PRIMARY KEY,
    org_id          TEXT NOT NULL,
    phone_number_id TEXT NOT NULL,
    seat            TEXT NOT NULL CONSTRAINT handovers_seat_ck CHECK (seat IN ('owner', 'manager')),
    from_member_id  TEXT,
    to_member_id    TEXT NOT NULL,
    note            TEXT NOT NULL,
    status          TEXT NOT NULL
                    CONSTRAINT handovers_status_ck CHECK (status IN ('proposed', 'accepted', 'declined', 'cancelled')),
    proposed_by     TEXT NOT NULL,
    proposed_at     TEXT NOT NULL,
    decided_by      TEXT,
    decided_at      TEXT,
    -- The incoming member's checklist at acceptance (JSON object of booleans).
    checklist       TEXT,
    rotate          BOOLEAN NOT NULL DEFAULT FALSE,
    CONSTRAINT handovers_number_fk FOREIGN KEY (org_id, phone_number_id) REFERENCES phone_numbers (org_id, id),
    CONSTRAINT handovers_from_fk FOREIGN KEY (org_id, from_member_id) REFERENCES members (org_id, id),
    CONSTRAINT handovers_to_fk FOREIGN KEY (org_id, to_member_id) REFERENCES members (org_id, id),
    CONSTRAINT handovers_org_id_uq UNIQUE (org_id, id)
);
-- At most one open handover per seat of a number.
CREATE UNIQUE INDEX handovers_one_open_uq ON handovers (phone_number_id, seat) WHERE status = 'proposed';
CREATE INDEX handovers_org_number_ix ON handovers (org_id, phone_number_id);

CREATE INDEX phone_numbers_org_display_ix ON phone_numbers (org_id, display_phone_number);
CREATE INDEX phone_numbers_org_review_ix ON phone_numbers (org_id, next_review_due);
CREATE INDEX phone_numbers_org_owner_ix ON phone_numbers (org_id, main_owner_id);
CREATE INDEX phone_numbers_org_manager_ix ON phone_numbers (org_id, permission_manager_id);
CREATE INDEX wabas_org_client_ix ON wabas (org_id, client_id);
-- A number's page lists its ledger events.
CREATE INDEX ledger_events_org_subject_ix ON ledger_events (org_id, subject, seq);
