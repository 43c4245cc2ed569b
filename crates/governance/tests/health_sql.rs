//! The health filter and the overview count in SQL what `health::check` says of each
//! number: compared on numbers varied over every rule and its edges, under the default
//! policy and a stricter one, on SQLite and PostgreSQL; and the list's summaries say what
//! each number's record says.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use common::seed::{caller, now, seeded};
use common::varied::{Revealed, add_varied_numbers};
use governance::Store;
use governance::custody::PinState;
use governance::health::Problem;
use governance::numbers::{self, Filter, PageRequest, Summary};
use governance::overview;
use governance::policies::{self, Policy};
use graph::PhoneNumberId;
use pinward_tests::on_both_databases;

/// Every number `member` sees under `filter`, through as many pages as it takes.
async fn all(store: &Store, member: &str, filter: &Filter) -> (Vec<Summary>, u64) {
    let mut items = Vec::new();
    let mut page = 1;
    loop {
        let found = numbers::list(
            store,
            &caller(member),
            filter,
            PageRequest { page, per_page: 40 },
            now(),
        )
        .await
        .unwrap();
        let done = found.items.is_empty();
        items.extend(found.items);
        if done {
            return (items, found.total);
        }
        page += 1;
    }
}

fn ids<'a>(items: impl IntoIterator<Item = &'a Summary>) -> BTreeSet<&'a str> {
    items
        .into_iter()
        .map(|n| n.phone_number_id.as_str())
        .collect()
}

/// Every filter, the overview and its per-problem counts agree with `health::check` as
/// the unfiltered list reports it for `member`.
async fn sql_and_check_agree(store: &Store, member: &str) {
    let (everything, total) = all(store, member, &Filter::default()).await;
    assert_eq!(everything.len() as u64, total);
    let summary = overview::summary(store, &caller(member), now())
        .await
        .unwrap();
    assert_eq!(summary.numbers, total);
    let mut seen_any = 0;
    for problem in Problem::ALL {
        let filter = Filter {
            problem: Some(problem),
            ..Filter::default()
        };
        let (filtered, filtered_total) = all(store, member, &filter).await;
        let expected = ids(everything.iter().filter(|n| n.health.contains(&problem)));
        assert_eq!(ids(&filtered), expected, "{problem:?}");
        assert_eq!(filtered_total, expected.len() as u64, "{problem:?}");
        let counted = summary
            .problems
            .iter()
            .find(|c| c.key == problem)
            .unwrap()
            .numbers;
        assert_eq!(counted, filtered_total, "overview count of {problem:?}");
        seen_any += usize::from(!expected.is_empty());
    }
    assert!(
        seen_any >= 12,
        "the data exercises most problems ({seen_any})"
    );
    let (unhealthy, unhealthy_total) = all(
        store,
        member,
        &Filter {
            unhealthy: true,
            ..Filter::default()
        },
    )
    .await;
    let expected = ids(everything.iter().filter(|n| !n.health.is_empty()));
    assert_eq!(ids(&unhealthy), expected);
    assert_eq!(summary.with_problems, unhealthy_total);
    assert!(unhealthy_total < total, "some numbers are healthy");
    let escrowed = all(
        store,
        member,
        &Filter {
            pin_state: Some(PinState::Escrowed),
            ..Filter::default()
        },
    )
    .await
    .1;
    assert_eq!(summary.escrowed, escrowed);
    let count = |p| everything.iter().filter(|n| n.health.contains(&p)).count() as u64;
    assert_eq!(summary.unescrowed, count(Problem::PinNotEscrowed));
    assert_eq!(summary.reviews_overdue, count(Problem::ReviewOverdue));
    let released = everything
        .iter()
        .filter(|n| n.pin_state == PinState::Released)
        .count() as u64;
    let aged: u64 = summary.pin_ages.iter().map(|c| c.numbers).sum();
    assert_eq!(
        aged,
        total - released,
        "every number in custody has one PIN age"
    );
    let due: u64 = summary.reviews_due.iter().map(|c| c.numbers).sum();
    assert_eq!(
        due + summary.reviews_later + summary.reviews_overdue,
        total,
        "every number has one review date"
    );
}

/// The numbers flagged `pin_revealed` are exactly those in custody whose current version
/// was revealed, while the policy rotates after a reveal; a revealed older version never
/// counts, and with the policy off nothing does.
async fn only_a_revealed_current_pin_counts(store: &Store, revealed: &Revealed, rotates: bool) {
    let (everything, _) = all(store, "m-ann", &Filter::default()).await;
    let flagged = ids(everything
        .iter()
        .filter(|n| n.health.contains(&Problem::PinRevealed)));
    let in_custody = |n: &&Summary| !matches!(n.pin_state, PinState::Unknown | PinState::Released);
    let expected: BTreeSet<&str> = if rotates {
        ids(everything
            .iter()
            .filter(in_custody)
            .filter(|n| revealed.current.contains(&n.phone_number_id)))
    } else {
        BTreeSet::new()
    };
    assert_eq!(flagged, expected);
    assert!(
        !rotates || !expected.is_empty(),
        "the data reveals some current PINs in custody"
    );
    let older_in_custody = everything
        .iter()
        .filter(in_custody)
        .filter(|n| revealed.older.contains(&n.phone_number_id))
        .count();
    assert!(
        older_in_custody > 0,
        "the data reveals some older PINs of numbers in custody"
    );
    assert!(flagged.iter().all(|id| !revealed.older.contains(*id)));
}

/// Each number on the list reads as its own record does: the page's one-row JSON and the
/// record's plain columns tell the same people, dates, states and health.
async fn list_and_record_agree(store: &Store, member: &str) {
    let (everything, _) = all(store, member, &Filter::default()).await;
    assert!(everything.len() > 100, "{}", everything.len());
    assert!(
        everything
            .iter()
            .any(|n| n.owner.as_ref().is_some_and(|o| !o.active)),
        "some owner is inactive"
    );
    assert!(
        everything.iter().any(|n| n.manager.is_none()),
        "some number has no manager"
    );
    for listed in &everything {
        let phone = PhoneNumberId::parse(&listed.phone_number_id).unwrap();
        let record = numbers::record(store, &caller(member), &phone, now())
            .await
            .unwrap();
        let read = (
            record.meta.display_phone_number.as_str(),
            record.meta.verified_name.as_deref(),
            record.metadata.usage.as_deref(),
            (record.client.id.as_str(), record.client.name.as_str()),
            record.pin_state,
            (&record.owner, &record.manager),
            (record.next_review_due, &record.review_due),
            &record.health,
        );
        let shown = (
            listed.display_phone_number.as_str(),
            listed.verified_name.as_deref(),
            listed.usage.as_deref(),
            (listed.client_id.as_str(), listed.client_name.as_str()),
            listed.pin_state,
            (&listed.owner, &listed.manager),
            (listed.next_review_due, &listed.review_due),
            &listed.health,
        );
        assert_eq!(shown, read, "{}", listed.phone_number_id);
    }
}

on_both_databases! {
    async fn the_sql_health_filter_finds_exactly_the_numbers_health_check_flags(db) {
        let store = seeded(&db).await;
        let revealed = add_varied_numbers(&db, 160, &Policy::default()).await;
        sql_and_check_agree(&store, "m-ann").await;
        sql_and_check_agree(&store, "m-dan").await;
        only_a_revealed_current_pin_counts(&store, &revealed, true).await;
    }

    async fn the_sql_health_filter_follows_the_orgs_own_policy(db) {
        let store = seeded(&db).await;
        let strict = Policy { review_cadence_days: 120, max_pin_age_days: 30, ..Policy::default() };
        policies::set(&store, &caller("m-ann"), strict, now()).await.unwrap();
        add_varied_numbers(&db, 160, &strict).await;
        sql_and_check_agree(&store, "m-ann").await;
    }

    async fn the_sql_health_filter_ignores_revealed_pins_when_the_policy_does_not_rotate_them(db) {
        let store = seeded(&db).await;
        let accepting = Policy { rotate_after_reveal: false, ..Policy::default() };
        policies::set(&store, &caller("m-ann"), accepting, now()).await.unwrap();
        let revealed = add_varied_numbers(&db, 160, &accepting).await;
        sql_and_check_agree(&store, "m-ann").await;
        only_a_revealed_current_pin_counts(&store, &revealed, false).await;
    }

    async fn every_listed_number_reads_as_its_record_does(db) {
        let store = seeded(&db).await;
        add_varied_numbers(&db, 160, &Policy::default()).await;
        list_and_record_agree(&store, "m-ann").await;
    }

    async fn metrics_count_every_orgs_numbers_by_state_and_health(db) {
        let store = seeded(&db).await;
        add_varied_numbers(&db, 60, &Policy::default()).await;
        let (mine, _) = all(&store, "m-ann", &Filter::default()).await;
        let (theirs, _) = all(&store, "m-zed", &Filter::default()).await;
        let every: Vec<&Summary> = mine.iter().chain(&theirs).collect();
        let counted = overview::by_state_and_health(&store, now()).await.unwrap();
        assert_eq!(counted.len(), PinState::ALL.len());
        for entry in &counted {
            let in_state: Vec<&&Summary> = every.iter().filter(|n| n.pin_state == entry.state).collect();
            assert_eq!(entry.numbers, in_state.len() as u64, "{:?}", entry.state);
            assert_eq!(entry.healthy, in_state.iter().filter(|n| n.health.is_empty()).count() as u64);
            for c in &entry.problems {
                let expected = in_state.iter().filter(|n| n.health.contains(&c.key)).count() as u64;
                assert_eq!(c.numbers, expected, "{:?} {:?}", entry.state, c.key);
            }
        }
    }
}
