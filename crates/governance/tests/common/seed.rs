//! People, clients, WABAs and numbers for the numbers tests, written with raw SQL until the
//! org/user/member use cases of the "people" branch reach main: swap this one helper for
//! those calls then.

use chrono::{DateTime, TimeZone, Utc};
use governance::access::{Caller, Role, Via};
use governance::{DatabaseTarget, Store};
use graph::PhoneNumberId;
use pinward_tests::TestDb;

use super::{ORG, sql};

/// Another tenant, with a number of its own.
pub const OTHER_ORG: &str = "org-other";

/// The moment the tests act at.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

/// `(member, user, name, role, clients, org, active)` of a seeded member.
type SeededMember = (
    &'static str,
    &'static str,
    &'static str,
    Role,
    &'static [&'static str],
    &'static str,
    bool,
);

const MEMBERS: &[SeededMember] = &[
    ("m-ann", "u-ann", "Ann Admin", Role::Admin, &[], ORG, true),
    ("m-bob", "u-bob", "Bob Ops", Role::Ops, &[], ORG, true),
    ("m-cat", "u-cat", "Cat Ops", Role::Ops, &[], ORG, true),
    (
        "m-dan",
        "u-dan",
        "Dan Business",
        Role::BusinessAdmin,
        &["client-a"],
        ORG,
        true,
    ),
    (
        "m-eve",
        "u-eve",
        "Eve Auditor",
        Role::Auditor,
        &[],
        ORG,
        true,
    ),
    ("m-gil", "u-gil", "Gil Gone", Role::Ops, &[], ORG, false),
    (
        "m-hal",
        "u-hal",
        "Hal Business",
        Role::BusinessAdmin,
        &["client-b"],
        ORG,
        true,
    ),
    (
        "m-zed",
        "u-zed",
        "Zed Other",
        Role::Admin,
        &[],
        OTHER_ORG,
        true,
    ),
];

/// `(meta id, display, verified name, waba, escrowed)` of every seeded number.
const NUMBERS: &[(&str, &str, &str, &str, bool)] = &[
    ("1001", "+1 555-010-1001", "Alpha Sales", "waba-a", true),
    ("1002", "+1 555-010-1002", "Alpha Support", "waba-a", false),
    ("1003", "+44 20 7946 1003", "Beta Bookings", "waba-b", true),
    ("1004", "+44 20 7946 1004", "Beta Care", "waba-b", false),
    ("9001", "+33 1 23 45 90 01", "Zeta", "waba-z", true),
];

/// The caller acting as a seeded member (`"m-ann"`, …).
pub fn caller(member: &str) -> Caller {
    let (id, user, _, role, clients, org, _) =
        MEMBERS.iter().find(|m| m.0 == member).copied().unwrap();
    Caller {
        org_id: org.to_owned(),
        user_id: Some(user.to_owned()),
        member_id: Some(id.to_owned()),
        role,
        clients: clients.iter().map(|c| (*c).to_owned()).collect(),
        via: Via::Session,
    }
}

pub fn phone(id: &str) -> PhoneNumberId {
    PhoneNumberId::parse(id).unwrap()
}

/// A migrated store holding two orgs: ORG with two clients (a, b), two numbers each
/// (1001 and 1003 escrowed, 1002 and 1004 not), seven members (one deactivated); OTHER_ORG
/// with one number (9001).
pub async fn seeded(db: &TestDb) -> Store {
    let store = Store::connect(&DatabaseTarget::parse(db.url()).unwrap())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let t = "'2026-01-01T00:00:00Z'";
    let mut s: Vec<String> = Vec::new();
    for org in [ORG, OTHER_ORG] {
        s.push(format!(
            "INSERT INTO orgs (id, slug, name, created_at) VALUES ('{org}', '{org}', '{org}', {t})"
        ));
    }
    for (client, org, name) in [
        ("client-a", ORG, "Alpha Foods"),
        ("client-b", ORG, "Beta Travel"),
        ("client-z", OTHER_ORG, "Zeta"),
    ] {
        s.push(format!(
            "INSERT INTO clients (id, org_id, name, created_at) VALUES ('{client}', '{org}', '{name}', {t})"
        ));
    }
    for (waba, org, client) in [
        ("waba-a", ORG, "client-a"),
        ("waba-b", ORG, "client-b"),
        ("waba-z", OTHER_ORG, "client-z"),
    ] {
        s.push(format!(
            "INSERT INTO wabas (id, org_id, client_id, meta_waba_id, name, ownership, first_seen_at, last_seen_at) \
             VALUES ('{waba}', '{org}', '{client}', 'meta-{waba}', '{waba} WABA', 'client', {t}, {t})"
        ));
    }
    s.extend(member_statements(true));
    for (meta, display, name, waba, escrowed) in NUMBERS {
        let org = if waba == &"waba-z" { OTHER_ORG } else { ORG };
        let state = if *escrowed { "escrowed" } else { "unknown" };
        s.push(format!(
            "INSERT INTO phone_numbers (id, org_id, waba_id, meta_phone_number_id, display_phone_number, verified_name, \
             pin_state, first_seen_at, last_synced_at) \
             VALUES ('n-{meta}', '{org}', '{waba}', '{meta}', '{display}', '{name}', '{state}', {t}, {t})"
        ));
        if *escrowed {
            s.push(format!(
                "INSERT INTO pin_versions (id, org_id, phone_number_id, version, status, attempt_id, sealed, fingerprint, \
                 created_by, created_at, confirmed_at) VALUES ('v-{meta}', '{org}', 'n-{meta}', 1, 'current', \
                 'a-{meta}', 'sealed', 'fp-{meta}', 'system', '2026-10-01T00:00:00Z', '2026-10-01T00:00:05Z')"
            ));
        }
    }
    let refs: Vec<&str> = s.iter().map(String::as_str).collect();
    sql(db, &refs).await;
    store
}

/// Users and members of every seeded org; `with_clients` links business admins to their
/// clients (which must exist).
fn member_statements(with_clients: bool) -> Vec<String> {
    let t = "'2026-01-01T00:00:00Z'";
    let mut s = Vec::new();
    for (member, user, name, role, clients, org, active) in MEMBERS {
        let gone = if *active {
            "NULL".to_owned()
        } else {
            "'2026-06-01T00:00:00Z'".to_owned()
        };
        s.push(format!(
            "INSERT INTO users (id, email, display_name, created_at) VALUES ('{user}', '{user}@example.com', '{name}', {t})"
        ));
        s.push(format!(
            "INSERT INTO members (id, org_id, user_id, role, created_at, deactivated_at) \
             VALUES ('{member}', '{org}', '{user}', '{}', {t}, {gone})",
            role.as_str()
        ));
        for client in clients.iter().filter(|_| with_clients) {
            s.push(format!(
                "INSERT INTO member_clients (org_id, member_id, client_id) VALUES ('{org}', '{member}', '{client}')"
            ));
        }
    }
    s
}

/// The members of ORG (and the other org) beside an inventory synced from the sandbox,
/// whose clients are not the seeded ones: business admins get no client.
pub async fn members_beside_sync(db: &TestDb) {
    sql(
        db,
        &[&format!(
            "INSERT INTO orgs (id, slug, name, created_at) VALUES ('{OTHER_ORG}', '{OTHER_ORG}', 'Other', '2026-01-01T00:00:00Z')"
        )],
    )
    .await;
    let s = member_statements(false);
    let refs: Vec<&str> = s.iter().map(String::as_str).collect();
    sql(db, &refs).await;
}
