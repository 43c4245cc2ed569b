//! The overview of an org's numbers: headline counts, PIN ages, reviews per month, scoped
//! to what the caller may see, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::seed::{caller, now, seeded};
use common::{ORG, sql};
use governance::access::Caller;
use governance::overview::{self, PinAge, REVIEW_MONTHS};
use pinward_tests::{TestDb, on_both_databases};

/// Number `meta` of client b in `state`, its current PIN confirmed at `pin`, its next
/// review due at `due`, first seen at `seen`.
fn number(meta: u32, state: &str, pin: Option<&str>, due: Option<&str>, seen: &str) -> Vec<String> {
    let quote = |t: Option<&str>| t.map_or("NULL".to_owned(), |t| format!("'{t}'"));
    let mut s = vec![format!(
        "INSERT INTO phone_numbers (id, org_id, waba_id, meta_phone_number_id, display_phone_number, pin_state, \
         next_review_due, first_seen_at, last_synced_at) VALUES ('n-{meta}', '{ORG}', 'waba-b', '{meta}', \
         '+44 20 7946 {meta}', '{state}', {}, '{seen}', '{seen}')",
        quote(due)
    )];
    if let Some(pin) = pin {
        s.push(format!(
            "INSERT INTO pin_versions (id, org_id, phone_number_id, version, status, attempt_id, sealed, fingerprint, \
             created_by, created_at, confirmed_at) VALUES ('v-{meta}', '{ORG}', 'n-{meta}', 1, 'current', 'a-{meta}', \
             'sealed', 'fp-{meta}', 'system', '{pin}', '{pin}')"
        ));
    }
    s
}

/// The seeded org (1001 and 1003 escrowed on 2026-10-01, 1002 and 1004 never, all four
/// never reviewed since January: overdue) plus six numbers of client b.
async fn org_with_ages_and_reviews(db: &TestDb) -> governance::Store {
    let store = seeded(db).await;
    let seen = "2026-01-01T00:00:00+00:00";
    let mut s = Vec::new();
    s.extend(number(
        2001,
        "escrowed",
        Some("2026-11-10T12:00:00+00:00"),
        Some("2026-11-25T00:00:00+00:00"),
        seen,
    ));
    s.extend(number(
        2002,
        "escrowed",
        Some("2026-08-12T12:00:00+00:00"),
        Some("2026-12-10T00:00:00+00:00"),
        seen,
    ));
    s.extend(number(
        2003,
        "escrowed",
        Some("2026-05-04T12:00:00+00:00"),
        Some("2027-10-31T23:00:00+00:00"),
        seen,
    ));
    s.extend(number(
        2004,
        "rotating",
        Some("2025-10-16T12:00:00+00:00"),
        Some("2027-11-01T00:00:00+00:00"),
        seen,
    ));
    s.extend(number(
        2005,
        "released",
        Some("2026-11-15T12:00:00+00:00"),
        Some("2026-11-20T11:00:00+00:00"),
        seen,
    ));
    // Never reviewed, first seen 2026-10-15: due 90 days later, in January.
    s.extend(number(
        2006,
        "unknown",
        None,
        None,
        "2026-10-15T00:00:00+00:00",
    ));
    let refs: Vec<&str> = s.iter().map(String::as_str).collect();
    sql(db, &refs).await;
    store
}

on_both_databases! {
    async fn the_overview_counts_numbers_escrow_problems_and_overdue_reviews(db) {
        let store = org_with_ages_and_reviews(&db).await;
        let o = overview::summary(&store, &caller("m-eve"), now()).await.unwrap();
        assert_eq!((o.numbers, o.escrowed, o.unescrowed, o.released, o.reviews_overdue), (10, 5, 3, 1, 5));
        assert_eq!(o.with_problems, 10, "nobody holds any seat yet");
    }

    async fn pin_ages_fall_in_the_youngest_bucket_that_holds_them_and_released_numbers_are_left_out(db) {
        let store = org_with_ages_and_reviews(&db).await;
        let o = overview::summary(&store, &caller("m-ann"), now()).await.unwrap();
        let ages: Vec<(PinAge, u64)> = o.pin_ages.iter().map(|c| (c.key, c.numbers)).collect();
        assert_eq!(ages, [
            (PinAge::UpTo30Days, 1),
            (PinAge::UpTo90Days, 2),
            (PinAge::UpTo180Days, 1),
            (PinAge::UpTo365Days, 1),
            (PinAge::OverAYear, 1),
            (PinAge::NoPin, 3),
        ]);
    }

    async fn reviews_are_counted_by_the_month_they_fall_due_with_overdue_and_later_apart(db) {
        let store = org_with_ages_and_reviews(&db).await;
        let o = overview::summary(&store, &caller("m-ann"), now()).await.unwrap();
        assert_eq!(o.reviews_due.len(), REVIEW_MONTHS as usize);
        assert_eq!(o.reviews_due[0].key, "2026-11");
        assert_eq!(o.reviews_due[11].key, "2027-10");
        let due: Vec<(&str, u64)> = o
            .reviews_due
            .iter()
            .filter(|c| c.numbers > 0)
            .map(|c| (c.key.as_str(), c.numbers))
            .collect();
        assert_eq!(due, [("2026-11", 1), ("2026-12", 1), ("2027-01", 1), ("2027-10", 1)]);
        assert_eq!((o.reviews_overdue, o.reviews_later), (5, 1));
    }

    async fn a_business_admin_sees_the_overview_of_its_clients_only_and_no_org_sees_another(db) {
        let store = org_with_ages_and_reviews(&db).await;
        let dan = overview::summary(&store, &caller("m-dan"), now()).await.unwrap();
        assert_eq!((dan.numbers, dan.escrowed, dan.unescrowed), (2, 1, 1));
        let zed = overview::summary(&store, &caller("m-zed"), now()).await.unwrap();
        assert_eq!(zed.numbers, 1);
    }

    async fn an_org_without_numbers_has_an_overview_of_zeros(db) {
        let store = seeded(&db).await;
        sql(&db, &["INSERT INTO orgs (id, slug, name, created_at) VALUES ('org-empty', 'empty', 'Empty', '2026-01-01T00:00:00Z')"]).await;
        let o = overview::summary(&store, &Caller::cli("org-empty"), now()).await.unwrap();
        assert_eq!((o.numbers, o.escrowed, o.unescrowed, o.with_problems, o.reviews_overdue, o.reviews_later), (0, 0, 0, 0, 0, 0));
        assert!(o.pin_ages.iter().all(|c| c.numbers == 0));
        assert!(o.problems.iter().all(|c| c.numbers == 0));
        assert_eq!(o.reviews_due.len(), REVIEW_MONTHS as usize);
        assert!(o.reviews_due.iter().all(|c| c.numbers == 0));
    }
}
