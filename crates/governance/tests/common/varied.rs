//! Many numbers whose facts vary over every rule of `health::check`, including each rule's
//! edge (a PIN exactly as old as the policy allows, a review due this very second), for
//! the tests comparing the SQL health filter and the overview with `health::check`.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use governance::policies::Policy;
use pinward_tests::TestDb;

use super::seed::now;
use super::{ORG, sql};

/// A timestamp as sqlx writes it (SQLite compares the text), as an SQL literal.
fn at(t: DateTime<Utc>) -> String {
    format!("'{}'", t.to_rfc3339_opts(SecondsFormat::AutoSi, false))
}

fn pick<T: Clone>(options: &[T], i: usize, stride: usize) -> T {
    options[(i * stride + i / options.len()) % options.len()].clone()
}

/// Which PIN version of a varied number was revealed to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reveal {
    Never,
    /// The current version: the PIN a person saw is still the one Meta holds.
    Current,
    /// Only a version before the current one: a rotation has retired what was seen.
    Older,
}

/// The meta ids of the varied numbers with a current PIN version, by what was revealed.
#[derive(Debug, Default)]
pub struct Revealed {
    /// Their current version was revealed.
    pub current: BTreeSet<String>,
    /// Only an older version was revealed.
    pub older: BTreeSet<String>,
}

/// Adds `count` numbers (meta ids from 5000) to ORG's two clients, with facts varied
/// against `policy`'s edges at [`now`]. Also deactivates Cat's user, so Cat's seats count
/// as departed through the user as Gil's do through the member.
pub async fn add_varied_numbers(db: &TestDb, count: usize, policy: &Policy) -> Revealed {
    let now = now();
    let oldest_allowed = now - policy.max_pin_age();
    let cadence = policy.review_cadence();
    let emails: &[Option<&str>] = &[
        None,
        Some("ops@acme.example"),
        Some("owner@gmail.com"),
        Some("owner@mail.gmail.com"),
        Some("ops@notgmail.com"),
        Some("x@eu.mailinator.com"),
        Some("X@MAILINATOR.COM"),
        Some("ann@yahoo.com"),
        Some("wa@sub.acme.co.uk"),
        Some("wa@gmail.com.acme.example"),
        Some(""),
    ];
    let channels = [
        "[]",
        r#"[{"kind":"email","value":"a@b.example"}]"#,
        r#"[{"kind":"email","value":"a@b.example"},{"kind":"phone","value":"+1 555 0100"}]"#,
        r#"[{"kind":"email","value":"a@b.example"},{"kind":"phone","value":"+1 555 0100"},{"kind":"other","value":"desk"}]"#,
    ];
    let seats: &[(Option<&str>, Option<&str>)] = &[
        (None, None),
        (Some("m-ann"), Some("m-bob")),
        (Some("m-gil"), Some("m-bob")),
        (Some("m-bob"), Some("m-gil")),
        (Some("m-cat"), None),
        (None, Some("m-cat")),
        // Dan is a business admin of client-a only: on waba-b's numbers he can no longer act.
        (Some("m-dan"), Some("m-hal")),
        // Eve is an auditor, seated before she became one.
        (Some("m-eve"), Some("m-dan")),
    ];
    let states = ["unknown", "escrowed", "rotating", "uncertain", "released"];
    // When the current version was confirmed (None: no current version; the flag: the
    // confirmation is missing and only created_at is set).
    let pins: &[Option<(DateTime<Utc>, bool)>] = &[
        None,
        Some((now - Duration::days(3), true)),
        Some((oldest_allowed, true)),
        Some((oldest_allowed - Duration::seconds(1), true)),
        Some((oldest_allowed - Duration::milliseconds(1), false)),
        Some((now - Duration::days(800), true)),
        Some((oldest_allowed + Duration::milliseconds(250), true)),
    ];
    let reviews: &[Option<DateTime<Utc>>] = &[
        None,
        Some(now),
        Some(now - Duration::seconds(1)),
        Some(now + Duration::seconds(1)),
        Some(now + Duration::days(40)),
        Some(now - Duration::days(400)),
        Some(now + Duration::days(500)),
    ];
    let first_seen = [
        now - cadence,
        now - cadence - Duration::seconds(1),
        now - Duration::days(5),
        now - cadence + Duration::milliseconds(1),
    ];
    let reveals = [Reveal::Never, Reveal::Current, Reveal::Older];
    let mut revealed = Revealed::default();
    let mut s = vec![
        "UPDATE users SET deactivated_at = '2026-06-01T00:00:00+00:00' WHERE id = 'u-cat'"
            .to_owned(),
    ];
    for i in 0..count {
        let meta = 5000 + i;
        let waba = if i % 2 == 0 { "waba-a" } else { "waba-b" };
        let state = pick(&states, i, 3);
        let email = pick(emails, i, 5).map_or("NULL".to_owned(), |e| format!("'{e}'"));
        let (owner, manager) = pick(seats, i, 2);
        let quote = |m: Option<&str>| m.map_or("NULL".to_owned(), |m| format!("'{m}'"));
        let review = pick(reviews, i, 4).map_or("NULL".to_owned(), at);
        s.push(format!(
            "INSERT INTO phone_numbers (id, org_id, waba_id, meta_phone_number_id, display_phone_number, verified_name, \
             pin_state, escrow_stale, attention_reason, vanished_at, recovery_email, backup_channels, main_owner_id, \
             permission_manager_id, next_review_due, first_seen_at, last_synced_at) VALUES \
             ('n-{meta}', '{ORG}', '{waba}', '{meta}', '+1 555-020-{meta}', 'Varied {meta}', '{state}', {}, {}, {}, \
             {email}, '{}', {}, {}, {review}, {}, {})",
            if i % 7 == 3 { "TRUE" } else { "FALSE" },
            if i % 11 == 5 { "'Meta did not answer'" } else { "NULL" },
            if i % 13 == 6 { at(now - Duration::days(2)) } else { "NULL".to_owned() },
            pick(&channels, i, 3),
            quote(owner),
            quote(manager),
            at(pick(&first_seen, i, 3)),
            at(now),
        ));
        if let Some((set, confirmed)) = pick(pins, i, 5) {
            let confirmed_at = if confirmed {
                at(set)
            } else {
                "NULL".to_owned()
            };
            let created = if confirmed {
                at(set - Duration::seconds(5))
            } else {
                at(set)
            };
            let reveal = pick(&reveals, i, 2);
            let seen = at(now - Duration::days(1));
            let current_revealed = if reveal == Reveal::Current {
                revealed.current.insert(meta.to_string());
                seen.clone()
            } else {
                "NULL".to_owned()
            };
            if reveal == Reveal::Older {
                revealed.older.insert(meta.to_string());
                s.push(format!(
                    "INSERT INTO pin_versions (id, org_id, phone_number_id, version, status, attempt_id, sealed, fingerprint, \
                     created_by, created_at, confirmed_at, ended_at, revealed_at) VALUES ('v0-{meta}', '{ORG}', 'n-{meta}', 1, \
                     'previous', 'a0-{meta}', 'sealed', 'fp0-{meta}', 'system', {created}, {created}, {created}, {seen})"
                ));
            }
            s.push(format!(
                "INSERT INTO pin_versions (id, org_id, phone_number_id, version, status, attempt_id, sealed, fingerprint, \
                 created_by, created_at, confirmed_at, revealed_at) VALUES ('v-{meta}', '{ORG}', 'n-{meta}', 2, 'current', \
                 'a-{meta}', 'sealed', 'fp-{meta}', 'system', {created}, {confirmed_at}, {current_revealed})"
            ));
        }
    }
    let refs: Vec<&str> = s.iter().map(String::as_str).collect();
    sql(db, &refs).await;
    revealed
}
