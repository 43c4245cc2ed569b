//! Every difference between SQLite and PostgreSQL that the SQL text cannot hide.
//!
//! Queries are written once, with `$1` binds, which both backends accept. What differs —
//! how a write transaction starts, row locks, and how a broken constraint is reported —
//! is decided here and nowhere else.

use super::Backend;

/// The statement that opens a write transaction.
///
/// SQLite takes the write lock at `BEGIN IMMEDIATE`, so two writers queue on
/// `busy_timeout` instead of failing with `SQLITE_BUSY` when a reader upgrades.
pub(crate) fn begin_write(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    }
}

/// Starts a read-only transaction. SQLite's deferred `BEGIN` takes no write lock, so
/// readers never queue behind writers.
pub(crate) fn begin_read(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "BEGIN",
        Backend::Postgres => "BEGIN READ ONLY",
    }
}

/// Sets the tenant of the current transaction for PostgreSQL's row-level security
/// (`set_config(…, true)` ends with the transaction, so a pooled connection never carries
/// one org's tenant into another's work). SQLite has no row-level security: `None`.
pub(crate) fn set_tenant(backend: Backend) -> Option<&'static str> {
    match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some("SELECT set_config('pinward.org_id', $1, true)"),
    }
}

/// `begin` followed by the tenant's `set_config`, as one simple query: PostgreSQL runs both
/// in one round trip, where binding the org id takes a second. Only an org id that SQL can
/// hold between quotes as it is (ASCII letters, digits, `-`, `_`, `.`, `:`, which every id
/// pinward makes is) qualifies; nothing is escaped. Any other id, and SQLite (no tenant),
/// get `None`: begin, then [`set_tenant`] with the id bound.
pub(crate) fn begin_with_tenant(backend: Backend, begin: &str, org_id: &str) -> Option<String> {
    let plain = !org_id.is_empty()
        && org_id.len() <= 64
        && org_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    match backend {
        Backend::Postgres if plain => Some(format!(
            "{begin}; SELECT set_config('pinward.org_id', '{org_id}', true)"
        )),
        Backend::Postgres | Backend::Sqlite => None,
    }
}

/// A condition: the text `column` holds the text bound as `bind` anywhere in it, taken
/// literally (no `LIKE` wildcards).
pub(crate) fn text_contains(backend: Backend, column: &str, bind: &str) -> String {
    match backend {
        Backend::Sqlite => format!("instr({column}, {bind}) > 0"),
        Backend::Postgres => format!("strpos({column}, {bind}) > 0"),
    }
}

/// Reads an org's ledger head and locks it until the transaction ends.
///
/// SQLite has no row locks and needs none: `BEGIN IMMEDIATE` already holds the database's
/// write lock. PostgreSQL locks the row, so concurrent appends queue on it.
pub(crate) fn select_ledger_head_for_update(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SELECT seq, hash FROM ledger_heads WHERE org_id = $1",
        Backend::Postgres => "SELECT seq, hash FROM ledger_heads WHERE org_id = $1 FOR UPDATE",
    }
}

/// Reads a service secret, sealed and re-sealed, holding its row against change until the
/// transaction ends: a key rotation's re-seal of it waits for the transactions that seal
/// (SQLite: `BEGIN IMMEDIATE` already holds the write lock).
pub(crate) fn select_service_secret_for_share(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SELECT sealed, sealed_next FROM service_secrets WHERE name = $1",
        Backend::Postgres => {
            "SELECT sealed, sealed_next FROM service_secrets WHERE name = $1 FOR SHARE"
        }
    }
}

/// `SELECT` of an invitation's columns, in the order of `invitations::Row`, from the
/// invitations of org `$1` that match `$where` (a literal).
macro_rules! select_invitations {
    ($where:literal) => {
        concat!(
            "SELECT id, email, role, clients, created_by, created_at, expires_at, accepted_at, ",
            "withdrawn_at FROM invitations WHERE org_id = $1 AND ",
            $where
        )
    };
}
pub(crate) use select_invitations;

/// How [`select_invitation_for_update`] finds the invitation: `$2` is its code's hash or its id.
#[derive(Clone, Copy)]
pub(crate) enum InvitationBy {
    Code,
    Id,
}

/// An invitation of org `$1`, held until the transaction ends: an acceptance and a
/// withdrawal (or a second acceptance) of the same invitation run one after the other, and
/// the second sees what the first did. SQLite's write transaction already holds the database.
pub(crate) fn select_invitation_for_update(backend: Backend, by: InvitationBy) -> &'static str {
    match (backend, by) {
        (Backend::Sqlite, InvitationBy::Code) => select_invitations!("code_hash = $2"),
        (Backend::Sqlite, InvitationBy::Id) => select_invitations!("id = $2"),
        (Backend::Postgres, InvitationBy::Code) => {
            select_invitations!("code_hash = $2 FOR UPDATE")
        }
        (Backend::Postgres, InvitationBy::Id) => select_invitations!("id = $2 FOR UPDATE"),
    }
}

/// Reads whether a member of an org is active, and its role, holding the member's and its
/// user's rows against change until the transaction ends: a deactivation or role change
/// racing a seat or handover waits for it, then sees (and withdraws) what it wrote
/// (SQLite: `BEGIN IMMEDIATE` already holds the write lock).
pub(crate) fn select_member_for_share(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "SELECT (m.deactivated_at IS NULL AND u.deactivated_at IS NULL), m.role \
             FROM members m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 AND m.id = $2"
        }
        Backend::Postgres => {
            "SELECT (m.deactivated_at IS NULL AND u.deactivated_at IS NULL), m.role \
             FROM members m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 AND m.id = $2 \
             FOR SHARE"
        }
    }
}

/// Reads one phone number of an org by its Meta id and locks its row until the transaction
/// ends (SQLite: `BEGIN IMMEDIATE` already holds the write lock).
pub(crate) fn select_number_for_update(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => concat!(
            "SELECT id, waba_id, meta_phone_number_id, display_phone_number, pin_state, escrow_stale, ",
            "connector, onprem_base_url, lease_owner, lease_until, send_failures ",
            "FROM phone_numbers WHERE org_id = $1 AND meta_phone_number_id = $2"
        ),
        Backend::Postgres => concat!(
            "SELECT id, waba_id, meta_phone_number_id, display_phone_number, pin_state, escrow_stale, ",
            "connector, onprem_base_url, lease_owner, lease_until, send_failures ",
            "FROM phone_numbers WHERE org_id = $1 AND meta_phone_number_id = $2 FOR UPDATE"
        ),
    }
}

/// A rotation item's number, by row id, locked until the transaction ends: a claim and a
/// reveal (which locks the number first) then follow one another instead of interleaving.
/// SQLite's `BEGIN IMMEDIATE` already holds the write lock.
pub(crate) fn select_item_number_for_update(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "SELECT meta_phone_number_id, pin_state FROM phone_numbers WHERE id = $1"
        }
        Backend::Postgres => {
            "SELECT meta_phone_number_id, pin_state FROM phone_numbers WHERE id = $1 FOR UPDATE"
        }
    }
}

/// Picks the next rotation item a worker may claim: queued, or running under an expired
/// lease. PostgreSQL skips rows another transaction is claiming right now (`FOR UPDATE SKIP
/// LOCKED`), so N instances claim N different items; SQLite's write lock serializes claims.
pub(crate) fn select_claimable_item(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => concat!(
            "SELECT phone_number_id FROM rotation_items WHERE job_id = $1 AND ",
            "(status = 'queued' OR (status = 'running' AND lease_until < $2)) ",
            "ORDER BY status DESC, phone_number_id LIMIT 1"
        ),
        Backend::Postgres => concat!(
            "SELECT phone_number_id FROM rotation_items WHERE job_id = $1 AND ",
            "(status = 'queued' OR (status = 'running' AND lease_until < $2)) ",
            "ORDER BY status DESC, phone_number_id LIMIT 1 FOR UPDATE SKIP LOCKED"
        ),
    }
}

/// Locks a rotation job's row (its status decides whether workers go on).
pub(crate) fn select_job_for_update(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SELECT status FROM rotation_jobs WHERE org_id = $1 AND id = $2",
        Backend::Postgres => {
            "SELECT status FROM rotation_jobs WHERE org_id = $1 AND id = $2 FOR UPDATE"
        }
    }
}

/// How an export reads an org's ledger (`$1`, seqs `$2..=$3`).
pub(crate) enum LedgerRead {
    /// One query per chunk returning one JSON array of
    /// `[seq, at, actor, action, subject, details, prev, hash]` arrays in seq order.
    JsonChunks(&'static str),
    /// One query streaming `seq, at, actor, action, subject, details, prev, hash` rows.
    Rows(&'static str),
}

/// SQLite's driver hands rows over one at a time through a channel between threads, which
/// caps a million-event export near 290,000 rows/s; the same events aggregated into JSON
/// chunks read at ~650,000/s. PostgreSQL's rows stream faster than it builds JSON.
pub(crate) fn ledger_read(backend: Backend) -> LedgerRead {
    match backend {
        Backend::Sqlite => LedgerRead::JsonChunks(concat!(
            "SELECT json_group_array(json_array(seq, at, actor, action, subject, details, prev, hash)) ",
            "FROM (SELECT seq, at, actor, action, subject, details, prev, hash FROM ledger_events ",
            "WHERE org_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq)"
        )),
        Backend::Postgres => LedgerRead::Rows(
            "SELECT seq, at, actor, action, subject, details, prev, hash FROM ledger_events \
             WHERE org_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq",
        ),
    }
}

/// Appended to a subquery whose computed columns the outer query reads more than once:
/// it keeps both planners from inlining the subquery, which would compute each column
/// again at every use (an `OFFSET 0` is a fence to both; SQLite wants a LIMIT before it).
pub(crate) fn materialize_subquery(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => " LIMIT -1 OFFSET 0",
        Backend::Postgres => " OFFSET 0",
    }
}

/// The length of the JSON array stored as text in `column`.
pub(crate) fn json_array_length(backend: Backend, column: &str) -> String {
    match backend {
        Backend::Sqlite => format!("json_array_length({column})"),
        Backend::Postgres => format!("json_array_length(CAST({column} AS json))"),
    }
}

/// What follows the first `@` of the email address `expr`, lowercased (stored addresses
/// have one `@`).
pub(crate) fn email_domain(backend: Backend, expr: &str) -> String {
    match backend {
        Backend::Sqlite => format!("lower(substr({expr}, instr({expr}, '@') + 1))"),
        Backend::Postgres => format!("lower(substr({expr}, strpos({expr}, '@') + 1))"),
    }
}

/// The month (`YYYY-MM`, UTC) a number's next review is due: `n.next_review_due`, or for
/// a never-reviewed number its first sighting plus the review cadence in days bound at `?`
/// (as `health::check` reads it). SQLite stores RFC 3339 UTC text, whose first seven
/// characters are the month; PostgreSQL adds the days to the UTC wall clock, so no session
/// time zone or daylight-saving change moves a due date.
pub(crate) fn review_due_month(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "COALESCE(substr(n.next_review_due, 1, 7), strftime('%Y-%m', n.first_seen_at, '+' || ? || ' days'))"
        }
        Backend::Postgres => concat!(
            "to_char(COALESCE(n.next_review_due AT TIME ZONE 'UTC', ",
            "(n.first_seen_at AT TIME ZONE 'UTC') + make_interval(days => CAST(? AS integer))), 'YYYY-MM')"
        ),
    }
}

/// Keeps only the numbers (`n`) whose client is in the JSON array of client ids bound at `$n`
/// (a business admin's clients); the org is bound at `$1`, which keeps the subquery
/// uncorrelated (run once, not once per number).
pub(crate) fn client_scope(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!(
            "n.waba_id IN (SELECT sw.id FROM wabas sw WHERE sw.org_id = $1 \
             AND sw.client_id IN (SELECT value FROM json_each(${n})))"
        ),
        Backend::Postgres => format!(
            "n.waba_id IN (SELECT sw.id FROM wabas sw WHERE sw.org_id = $1 \
             AND sw.client_id IN (SELECT json_array_elements_text(${n}::json)))"
        ),
    }
}

/// The name of the constraint a failed statement broke, as written in `migrations/`.
///
/// PostgreSQL reports the name. SQLite names CHECK constraints but reports UNIQUE and
/// primary keys by their columns (`UNIQUE constraint failed: orgs.slug`), so those are
/// looked up in [`SQLITE_UNIQUE_COLUMNS`].
pub(crate) fn violated_constraint(error: &sqlx::Error) -> Option<String> {
    let sqlx::Error::Database(db) = error else {
        return None;
    };
    if matches!(db.kind(), sqlx::error::ErrorKind::ForeignKeyViolation) {
        // SQLite does not say which key, so neither backend does; callers check references first.
        return Some("foreign_key".to_owned());
    }
    if let Some(name) = db.constraint() {
        return Some(name.to_owned());
    }
    let message = db.message();
    if let Some(rest) = message.strip_prefix("CHECK constraint failed: ") {
        return Some(rest.trim().to_owned());
    }
    if let Some(columns) = message
        .strip_prefix("UNIQUE constraint failed: ")
        .or_else(|| message.strip_prefix("PRIMARY KEY constraint failed: "))
    {
        return SQLITE_UNIQUE_COLUMNS
            .iter()
            .find(|(cols, _)| *cols == columns.trim())
            .map(|(_, name)| (*name).to_owned());
    }
    if message.starts_with("FOREIGN KEY constraint failed") {
        // SQLite does not say which key; callers check references before writing.
        return Some("foreign_key".to_owned());
    }
    None
}

/// SQLite's column lists of unique constraints and unique indexes, with their names.
/// A test checks that every `_uq` and `_pk` of the SQLite migrations is listed here.
pub(crate) const SQLITE_UNIQUE_COLUMNS: &[(&str, &str)] = &[
    ("orgs.id", "orgs_pk"),
    ("orgs.slug", "orgs_slug_uq"),
    ("users.id", "users_pk"),
    ("users.email", "users_email_uq"),
    ("members.id", "members_pk"),
    ("members.org_id, members.user_id", "members_org_user_uq"),
    ("members.org_id, members.id", "members_org_id_uq"),
    ("clients.id", "clients_pk"),
    (
        "clients.org_id, clients.meta_business_id",
        "clients_org_business_uq",
    ),
    ("clients.org_id, clients.id", "clients_org_id_uq"),
    (
        "member_clients.member_id, member_clients.client_id",
        "member_clients_pk",
    ),
    ("wabas.id", "wabas_pk"),
    ("wabas.org_id, wabas.meta_waba_id", "wabas_org_meta_uq"),
    ("wabas.org_id, wabas.id", "wabas_org_id_uq"),
    ("phone_numbers.id", "phone_numbers_pk"),
    (
        "phone_numbers.org_id, phone_numbers.meta_phone_number_id",
        "phone_numbers_org_meta_uq",
    ),
    (
        "phone_numbers.org_id, phone_numbers.id",
        "phone_numbers_org_id_uq",
    ),
    ("pin_versions.id", "pin_versions_pk"),
    ("pin_versions.attempt_id", "pin_versions_attempt_uq"),
    (
        "pin_versions.phone_number_id, pin_versions.version",
        "pin_versions_number_version_uq",
    ),
    (
        "pin_versions.phone_number_id, pin_versions.status",
        "pin_versions_one_live_uq",
    ),
    (
        "ledger_events.org_id, ledger_events.seq",
        "ledger_events_pk",
    ),
    ("ledger_heads.org_id", "ledger_heads_pk"),
    ("ledger_checkpoints.id", "ledger_checkpoints_pk"),
    ("sessions.id", "sessions_pk"),
    ("service_secrets.name", "service_secrets_pk"),
    ("rotation_jobs.id", "rotation_jobs_pk"),
    (
        "rotation_jobs.org_id, rotation_jobs.id",
        "rotation_jobs_org_id_uq",
    ),
    (
        "rotation_items.job_id, rotation_items.phone_number_id",
        "rotation_items_pk",
    ),
    ("api_tokens.id", "api_tokens_pk"),
    ("api_tokens.secret_hash", "api_tokens_secret_hash_uq"),
    ("api_tokens.org_id, api_tokens.id", "api_tokens_org_id_uq"),
    ("invitations.id", "invitations_pk"),
    ("invitations.code_hash", "invitations_code_hash_uq"),
    (
        "invitations.org_id, invitations.email",
        "invitations_open_uq",
    ),
    ("graph_credentials.org_id", "graph_credentials_pk"),
    ("recovery_recipients.id", "recovery_recipients_pk"),
    (
        "recovery_recipients.org_id, recovery_recipients.recipient",
        "recovery_recipients_org_recipient_uq",
    ),
    ("org_policies.org_id", "org_policies_pk"),
    ("handovers.id", "handovers_pk"),
    ("handovers.org_id, handovers.id", "handovers_org_id_uq"),
    (
        "handovers.phone_number_id, handovers.seat",
        "handovers_one_open_uq",
    ),
];

#[cfg(test)]
mod tests {
    use super::{Backend, SQLITE_UNIQUE_COLUMNS, begin_with_tenant};

    #[test]
    fn a_plain_org_id_is_written_into_the_begin_and_any_other_is_left_to_a_bound_parameter() {
        let id = "0194c2a8-7b3e-7c41-9d2e-5f6a7b8c9d0e";
        assert_eq!(
            begin_with_tenant(Backend::Postgres, "BEGIN READ ONLY", id).as_deref(),
            Some(
                "BEGIN READ ONLY; SELECT set_config('pinward.org_id', '0194c2a8-7b3e-7c41-9d2e-5f6a7b8c9d0e', true)"
            )
        );
        assert!(begin_with_tenant(Backend::Postgres, "BEGIN", "org-acme").is_some());
        for odd in [
            "",
            "o'rg",
            "org\\",
            "org acme",
            "org;",
            "org\u{0}",
            "ör",
            "\"org\"",
            &"x".repeat(65),
        ] {
            assert_eq!(
                begin_with_tenant(Backend::Postgres, "BEGIN", odd),
                None,
                "{odd:?}"
            );
        }
        assert_eq!(
            begin_with_tenant(Backend::Sqlite, "BEGIN", id),
            None,
            "SQLite has no tenant"
        );
    }

    /// Every named unique or primary-key constraint in the SQLite migrations.
    fn unique_names_in_sqlite_migrations() -> Vec<String> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/sqlite");
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.ends_with("_uq") || word.ends_with("_pk") {
                    names.push(word.to_owned());
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }

    #[test]
    fn every_sqlite_unique_constraint_has_its_columns_listed() {
        let listed: Vec<&str> = SQLITE_UNIQUE_COLUMNS
            .iter()
            .map(|(_, name)| *name)
            .collect();
        for name in unique_names_in_sqlite_migrations() {
            assert!(
                listed.contains(&name.as_str()),
                "{name} is missing from SQLITE_UNIQUE_COLUMNS"
            );
        }
    }
}
