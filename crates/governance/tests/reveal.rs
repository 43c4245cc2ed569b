//! Who may reveal a PIN, and the rotate-after-reveal policy, through the public API, on
//! SQLite and PostgreSQL against the Graph sandbox.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use audit::Actor;
use chrono::{TimeDelta, Utc};
use common::seed::{caller, members_beside_sync, now};
use common::{ORG, ledger, quick, world};
use governance::access::Role;
use governance::custody::{Outcome, reveal_as};
use governance::health::Problem;
use governance::numbers::{self, Filter, PageRequest};
use governance::policies::{self, Policy};
use governance::{Error, jobs};
use graph::PinSecret;
use graph::sandbox::{Fault, FaultPlan, FaultRule, Route};
use pinward_tests::on_both_databases;

/// A synced world whose first Cloud API number is escrowed, owned by Bob (ops) and managed
/// by Eve (an auditor in a seat, seated while she was ops).
async fn escrowed_and_staffed(db: &pinward_tests::TestDb) -> (common::World, graph::PhoneNumberId) {
    let w = world(db, 3).await;
    members_beside_sync(db).await;
    w.sync().await;
    let number = w.cloud_number();
    let taken = w
        .custodian(quick())
        .take(ORG, &Actor::system(), &number, &[])
        .await
        .unwrap();
    assert_eq!(taken, Outcome::Confirmed { version: 1 });
    // Eve was ops when seated and is an auditor now: no one can seat an auditor, but a
    // seat holder's role may change after.
    let admin = caller("m-ann");
    governance::members::change_role(&w.store, &admin, "m-eve", Role::Ops, &[])
        .await
        .unwrap();
    governance::numbers::assign(&w.store, &admin, &number, "m-bob", "m-eve", now())
        .await
        .unwrap();
    governance::members::change_role(&w.store, &admin, "m-eve", Role::Auditor, &[])
        .await
        .unwrap();
    (w, number)
}

fn meta_holds(w: &common::World, number: &graph::PhoneNumberId, pin: &str) -> bool {
    w.sandbox.pin_matches(number, &PinSecret::new(pin).unwrap()) == Some(true)
}

/// The health the number's record shows `member`.
async fn health(w: &common::World, member: &str, number: &graph::PhoneNumberId) -> Vec<Problem> {
    numbers::record(&w.store, &caller(member), number, now())
        .await
        .unwrap()
        .health
}

/// The numbers `member`'s list shows under the `pin_revealed` filter.
async fn listed_as_revealed(w: &common::World, member: &str) -> Vec<String> {
    let filter = Filter {
        problem: Some(Problem::PinRevealed),
        ..Filter::default()
    };
    let page = numbers::list(
        &w.store,
        &caller(member),
        &filter,
        PageRequest::default(),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(page.total, page.items.len() as u64);
    page.items.into_iter().map(|n| n.phone_number_id).collect()
}

on_both_databases! {
    async fn a_revealed_pin_is_a_health_problem_until_a_rotation_retires_it(db) {
        let (w, number) = escrowed_and_staffed(&db).await;
        assert!(!health(&w, "m-eve", &number).await.contains(&Problem::PinRevealed));
        let revealed = reveal_as(&w.store, w.escrow.identity(), &caller("m-bob"), &number, "re-registering").await.unwrap();
        let job = revealed.rotation_job.expect("the default policy rotates after a reveal");

        assert!(health(&w, "m-eve", &number).await.contains(&Problem::PinRevealed), "an auditor sees it");
        assert_eq!(listed_as_revealed(&w, "m-eve").await, [number.as_str()]);
        let counted = |o: governance::overview::Overview| o.problems.into_iter().find(|c| c.key == Problem::PinRevealed).unwrap().numbers;
        assert_eq!(counted(governance::overview::summary(&w.store, &caller("m-ann"), now()).await.unwrap()), 1);
        assert!(listed_as_revealed(&w, "m-zed").await.is_empty(), "another org sees nothing of it");
        assert_eq!(counted(governance::overview::summary(&w.store, &caller("m-zed"), now()).await.unwrap()), 0);
        let reviewed = governance::reviews::complete(&w.store, &caller("m-ann"), &number, "", now()).await.unwrap();
        assert!(reviewed.problems.iter().any(|p| p == "pin_revealed"), "a review records it: {:?}", reviewed.problems);

        governance::jobs::run(&w.custodian(quick()), ORG, &Actor::system(), &job, &[], &|_, _| {}).await.unwrap();
        assert_eq!(w.statuses(&number).await, ["previous", "current"]);
        assert!(!health(&w, "m-eve", &number).await.contains(&Problem::PinRevealed), "the new PIN was never revealed");
        assert!(listed_as_revealed(&w, "m-eve").await.is_empty());
    }

    async fn every_reveal_stamps_the_current_version_with_its_time_and_a_rotation_leaves_the_stamp_behind(db) {
        let (w, number) = escrowed_and_staffed(&db).await;
        let id = w.escrow.identity();
        let last_reveal = |record: &numbers::Record| {
            let at = &record.events.iter().find(|e| e.action == "pin.revealed").unwrap().at;
            chrono::DateTime::parse_from_rfc3339(at).unwrap().to_utc()
        };
        let micros = |t: chrono::DateTime<chrono::Utc>| chrono::DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap();
        let record = numbers::record(&w.store, &caller("m-eve"), &number, now()).await.unwrap();
        assert_eq!(record.versions[0].revealed_at, None, "a PIN taken into custody was never revealed");

        let first = reveal_as(&w.store, id, &caller("m-bob"), &number, "re-registering").await.unwrap();
        let record = numbers::record(&w.store, &caller("m-eve"), &number, now()).await.unwrap();
        let stamped = record.versions[0].revealed_at.expect("the reveal stamps the version");
        assert_eq!(micros(stamped), last_reveal(&record), "as the ledger dates the reveal");
        reveal_as(&w.store, id, &caller("m-ann"), &number, "checking the escrow").await.unwrap();
        let record = numbers::record(&w.store, &caller("m-eve"), &number, now()).await.unwrap();
        let restamped = record.versions[0].revealed_at.unwrap();
        assert_eq!(micros(restamped), last_reveal(&record), "the latest reveal's time");
        assert_eq!(record.events.iter().filter(|e| e.action == "pin.revealed").count(), 2);

        let job = first.rotation_job.unwrap();
        governance::jobs::run(&w.custodian(quick()), ORG, &Actor::system(), &job, &[], &|_, _| {}).await.unwrap();
        let record = numbers::record(&w.store, &caller("m-eve"), &number, now()).await.unwrap();
        let stamps: Vec<_> = record.versions.iter().map(|v| (v.status.as_str(), v.revealed_at)).collect();
        assert_eq!(stamps, [("previous", Some(restamped)), ("current", None)]);
    }

    async fn a_revealed_pin_whose_rotation_meta_rejected_stays_a_problem(db) {
        let (w, number) = escrowed_and_staffed(&db).await;
        let revealed = reveal_as(&w.store, w.escrow.identity(), &caller("m-bob"), &number, "re-registering").await.unwrap();
        let job = revealed.rotation_job.expect("the default policy rotates after a reveal");
        w.sandbox.set_faults(FaultPlan::single(
            FaultRule::always(Route::SetPin, Fault::MetaError { code: 133006 }).for_number(number.as_str()),
        ));
        governance::jobs::run(&w.custodian(quick()), ORG, &Actor::system(), &job, &[], &|_, _| {}).await.unwrap();
        assert!(meta_holds(&w, &number, revealed.pin.expose()), "the revealed PIN is still the live one");
        assert!(health(&w, "m-eve", &number).await.contains(&Problem::PinRevealed));
        assert_eq!(listed_as_revealed(&w, "m-eve").await, [number.as_str()]);
    }

    async fn only_the_numbers_owner_manager_or_an_admin_may_reveal_and_a_refusal_changes_nothing(db) {
        let (w, number) = escrowed_and_staffed(&db).await;
        let before = ledger(&w.store).await.len();
        let id = w.escrow.identity();
        let reason = "re-registering on a new phone";
        for (member, expected) in [("m-cat", "forbidden"), ("m-eve", "forbidden"), ("m-dan", "not found"), ("m-zed", "not found")] {
            let err = reveal_as(&w.store, id, &caller(member), &number, reason).await.unwrap_err();
            match (expected, &err) {
                ("forbidden", Error::Forbidden { needed: "pin:reveal" }) | ("not found", Error::NotFound { .. }) => {}
                _ => panic!("{member}: expected {expected}, got {err}"),
            }
        }
        for bad in ["", "  ", "the pin was 123456"] {
            let err = reveal_as(&w.store, id, &caller("m-bob"), &number, bad).await.unwrap_err();
            assert!(matches!(err, Error::Invalid { field: "reason", .. }), "{err}");
        }
        assert_eq!(ledger(&w.store).await.len(), before, "refused reveals change nothing");

        for member in ["m-bob", "m-ann"] {
            let revealed = reveal_as(&w.store, id, &caller(member), &number, reason).await.unwrap();
            assert!(meta_holds(&w, &number, revealed.pin.expose()), "{member} sees the PIN Meta holds");
        }
        let revealed: Vec<_> = ledger(&w.store).await.into_iter().filter(|(a, _)| a == "pin.revealed").collect();
        assert_eq!(revealed.len(), 2);
    }

    async fn under_the_rotate_after_reveal_policy_a_reveal_queues_one_rotation_that_retires_the_revealed_pin(db) {
        let (w, number) = escrowed_and_staffed(&db).await;
        let id = w.escrow.identity();
        let first = reveal_as(&w.store, id, &caller("m-bob"), &number, "re-registering").await.unwrap();
        let job = first.rotation_job.clone().expect("the default policy rotates after a reveal");
        let second = reveal_as(&w.store, id, &caller("m-ann"), &number, "checking the escrow").await.unwrap();
        assert_eq!(second.rotation_job.as_deref(), Some(job.as_str()), "a queued rotation is reused");
        assert_eq!(w.statuses(&number).await, ["current"], "nothing rotates before the job runs");
        assert!(meta_holds(&w, &number, first.pin.expose()), "the revealed PIN stays valid until then");

        let events = ledger(&w.store).await;
        let started: Vec<_> = events.iter().filter(|(a, _)| a == "rotation.job.started").collect();
        assert_eq!(started.len(), 1);
        assert!(started[0].1.contains(r#""cause":"pin.revealed""#), "{}", started[0].1);
        let (action, details) = events.iter().rev().find(|(a, _)| a == "pin.revealed").unwrap();
        assert_eq!(action, "pin.revealed");
        assert!(details.contains(&format!(r#""rotation_job":"{job}""#)), "{details}");

        let queued = governance::jobs::queued_for(&w.store, &caller("m-cat"), &number).await.unwrap();
        assert_eq!(queued.as_deref(), Some(job.as_str()), "the record can offer to run it");
        let hidden = governance::jobs::queued_for(&w.store, &caller("m-zed"), &number).await.unwrap_err();
        assert!(matches!(hidden, Error::NotFound { .. }), "{hidden}");
        let status = governance::jobs::run(&w.custodian(quick()), ORG, &Actor::system(), &job, &[], &|_, _| {}).await.unwrap();
        assert_eq!((status.status.as_str(), status.done), ("done", 1));
        assert_eq!(w.statuses(&number).await, ["previous", "current"]);
        assert!(!meta_holds(&w, &number, first.pin.expose()), "the revealed PIN is retired");
        assert!(w.meta_holds_escrowed_pin(&number).await);
        assert_eq!(governance::jobs::queued_for(&w.store, &caller("m-cat"), &number).await.unwrap(), None);

        let third = reveal_as(&w.store, id, &caller("m-bob"), &number, "again").await.unwrap();
        assert!(third.rotation_job.is_some_and(|j| j != job), "a finished job is not reused");
    }

    async fn a_rotation_a_reveal_queued_is_moot_once_the_pin_rotated_by_other_means(db) {
        let (w, number) = escrowed_and_staffed(&db).await;
        let id = w.escrow.identity();
        let revealed = reveal_as(&w.store, id, &caller("m-bob"), &number, "re-registering").await.unwrap();
        let job = revealed.rotation_job.expect("the default policy rotates after a reveal");
        // A handover's rotation, or one an operator started: the revealed PIN is retired.
        let rotated = w.custodian(quick()).rotate(ORG, &Actor::system(), &number, &[]).await.unwrap();
        assert_eq!(rotated, Outcome::Confirmed { version: 2 });
        assert!(!meta_holds(&w, &number, revealed.pin.expose()));
        assert_eq!(jobs::queued_for(&w.store, &caller("m-cat"), &number).await.unwrap(), None, "no rotation waits any more");
        assert!(!health(&w, "m-ann", &number).await.contains(&Problem::PinRevealed));

        // Serve still finds the job, and running it rotates nothing: the item is skipped.
        assert_eq!(jobs::waiting_since(&w.store, ORG, chrono::Utc::now()).await.unwrap(), vec![job.clone()]);
        let status = jobs::run(&w.custodian(quick()), ORG, &Actor::system(), &job, &[], &|_, _| {}).await.unwrap();
        assert_eq!((status.status.as_str(), status.done, status.skipped), ("done", 0, 1));
        assert_eq!(w.statuses(&number).await, ["previous", "current"], "no third version");

        // A PIN revealed after the other rotation is retired, whatever the clocks say: a
        // revealed current PIN never makes its rotation moot. Here the reveal reuses the
        // rotation still queued from before the other rotation.
        let again = reveal_as(&w.store, id, &caller("m-bob"), &number, "re-registering again").await.unwrap();
        let job = again.rotation_job.expect("a new rotation");
        w.custodian(quick()).rotate(ORG, &Actor::system(), &number, &[]).await.unwrap();
        let last = reveal_as(&w.store, id, &caller("m-bob"), &number, "and again").await.unwrap();
        assert_eq!(last.rotation_job.as_deref(), Some(job.as_str()), "the queued rotation is reused");
        common::sql(&db, &[&format!("UPDATE rotation_jobs SET updated_at = '2020-01-01T00:00:00Z' WHERE id = '{job}'")]).await;
        assert_eq!(jobs::queued_for(&w.store, &caller("m-cat"), &number).await.unwrap().as_deref(), Some(job.as_str()));
        let (done, failed) = run_job(&w, &job).await;
        assert_eq!((done, failed), (1, 0));
        assert!(!meta_holds(&w, &number, last.pin.expose()), "the PIN revealed last is retired");
    }

    async fn a_rotation_a_reveal_queued_waits_out_its_grace_and_is_not_offered_again_once_run(db) {
        let (w, number) = escrowed_and_staffed(&db).await;
        let revealed = reveal_as(&w.store, w.escrow.identity(), &caller("m-bob"), &number, "re-registering").await.unwrap();
        let job = revealed.rotation_job.expect("the default policy rotates after a reveal");
        let grace_ago = chrono::Utc::now() - governance::jobs::REVEAL_GRACE;
        assert!(governance::jobs::waiting_since(&w.store, ORG, grace_ago).await.unwrap().is_empty(), "still in its grace");
        let now = chrono::Utc::now();
        assert_eq!(governance::jobs::waiting_since(&w.store, ORG, now).await.unwrap(), vec![job.clone()]);
        assert!(governance::jobs::waiting_since(&w.store, "another-org", now).await.unwrap().is_empty());

        governance::jobs::run(&w.custodian(quick()), ORG, &Actor::system(), &job, &[], &|_, _| {}).await.unwrap();
        assert!(!meta_holds(&w, &number, revealed.pin.expose()), "the revealed PIN is retired");
        assert!(governance::jobs::waiting_since(&w.store, ORG, chrono::Utc::now()).await.unwrap().is_empty());
    }

    async fn a_second_reveal_gives_the_pin_it_revealed_the_whole_grace_before_the_rotation(db) {
        let (w, number) = escrowed_and_staffed(&db).await;
        let first = reveal_as(&w.store, w.escrow.identity(), &caller("m-bob"), &number, "re-registering").await.unwrap();
        let job = first.rotation_job.expect("the default policy rotates after a reveal");
        common::sql(&db, &[&format!(
            "UPDATE rotation_jobs SET created_at = '2020-01-01T00:00:00Z', updated_at = '2020-01-01T00:00:00Z' WHERE id = '{job}'"
        )]).await;
        let grace_ago = || chrono::Utc::now() - governance::jobs::REVEAL_GRACE;
        assert_eq!(governance::jobs::waiting_since(&w.store, ORG, grace_ago()).await.unwrap(), vec![job.clone()], "due");

        let second = reveal_as(&w.store, w.escrow.identity(), &caller("m-ann"), &number, "re-registering again").await.unwrap();
        assert_eq!(second.rotation_job.as_deref(), Some(job.as_str()), "the queued rotation is reused");
        assert!(
            governance::jobs::waiting_since(&w.store, ORG, grace_ago()).await.unwrap().is_empty(),
            "the PIN just revealed stays valid for a whole grace"
        );
        assert_eq!(governance::jobs::waiting_since(&w.store, ORG, chrono::Utc::now()).await.unwrap(), vec![job]);
    }

    async fn the_record_offers_the_rotation_a_dead_worker_left_but_a_new_reveal_gets_its_own(db) {
        let (w, number) = escrowed_and_staffed(&db).await;
        let first = reveal_as(&w.store, w.escrow.identity(), &caller("m-bob"), &number, "re-registering").await.unwrap();
        let job = first.rotation_job.expect("the default policy rotates after a reveal");
        common::sql(&db, &[&format!(
            "UPDATE rotation_items SET status = 'running', lease_owner = 'worker-gone', \
             lease_until = '2020-01-01T00:00:00Z' WHERE job_id = '{job}'"
        )]).await;
        let offered = governance::jobs::queued_for(&w.store, &caller("m-cat"), &number).await.unwrap();
        assert_eq!(offered.as_deref(), Some(job.as_str()), "the record offers to run it, not a second rotation");
        // Leases are not renewed: the worker may still be sending, and may already have
        // made current the PIN this reveal shows, so it gets a rotation of its own.
        let second = reveal_as(&w.store, w.escrow.identity(), &caller("m-ann"), &number, "re-registering again").await.unwrap();
        let own = second.rotation_job.expect("the default policy rotates after a reveal");
        assert_ne!(own, job);
        let third = reveal_as(&w.store, w.escrow.identity(), &caller("m-ann"), &number, "and again").await.unwrap();
        assert_eq!(third.rotation_job, Some(own), "a queued rotation is reused");
    }

    async fn a_rotation_whose_worker_died_waits_again_once_the_workers_lease_ran_out(db) {
        let (w, number) = escrowed_and_staffed(&db).await;
        let revealed = reveal_as(&w.store, w.escrow.identity(), &caller("m-bob"), &number, "re-registering").await.unwrap();
        let job = revealed.rotation_job.expect("the default policy rotates after a reveal");
        let leased_until = |until: &str| {
            format!(
                "UPDATE rotation_items SET status = 'running', lease_owner = 'worker-gone', \
                 lease_until = '{until}' WHERE job_id = '{job}'"
            )
        };
        common::sql(&db, &[&leased_until("2999-01-01T00:00:00Z")]).await;
        let now = chrono::Utc::now();
        assert!(governance::jobs::waiting_since(&w.store, ORG, now).await.unwrap().is_empty(), "a worker holds it");

        common::sql(&db, &[&leased_until("2020-01-01T00:00:00Z")]).await;
        assert_eq!(
            governance::jobs::waiting_since(&w.store, ORG, now).await.unwrap(),
            vec![job.clone()],
            "nobody works on it any more"
        );
        let status = governance::jobs::run(&w.custodian(quick()), ORG, &Actor::system(), &job, &[], &|_, _| {}).await.unwrap();
        assert_eq!((status.status.as_str(), status.done), ("done", 1));
        assert!(!meta_holds(&w, &number, revealed.pin.expose()), "the revealed PIN is retired");
    }

    async fn without_the_rotate_after_reveal_policy_a_reveal_queues_nothing(db) {
        let (w, number) = escrowed_and_staffed(&db).await;
        let policy = Policy { rotate_after_reveal: false, ..Policy::default() };
        policies::set(&w.store, &caller("m-ann"), policy, now()).await.unwrap();
        let revealed = reveal_as(&w.store, w.escrow.identity(), &caller("m-bob"), &number, "re-registering").await.unwrap();
        assert!(revealed.rotation_job.is_none());
        let events = ledger(&w.store).await;
        assert!(!events.iter().any(|(a, _)| a == "rotation.job.started"));
        assert!(!events.last().unwrap().1.contains("rotation_job"));
        assert!(!health(&w, "m-ann", &number).await.contains(&Problem::PinRevealed), "the org accepted revealed PINs");
        assert!(listed_as_revealed(&w, "m-ann").await.is_empty());

        policies::set(&w.store, &caller("m-ann"), Policy::default(), now()).await.unwrap();
        assert!(
            health(&w, "m-ann", &number).await.contains(&Problem::PinRevealed),
            "turned back on, the policy sees the PIN revealed while it was off"
        );
    }
}

/// What [`governance::jobs::failed_after_reveal`] lists at `at` for reveals made by
/// `revealed_by`.
async fn due_again(
    w: &common::World,
    revealed_by: chrono::DateTime<chrono::Utc>,
    at: chrono::DateTime<chrono::Utc>,
) -> Vec<graph::PhoneNumberId> {
    jobs::failed_after_reveal(&w.store, ORG, revealed_by, at)
        .await
        .unwrap()
}

/// Runs `job` as `system` against the sandbox; returns its `(done, failed)` items.
async fn run_job(w: &common::World, job: &str) -> (i64, i64) {
    let status = jobs::run(
        &w.custodian(quick()),
        ORG,
        &Actor::system(),
        job,
        &[],
        &|_, _| {},
    )
    .await
    .unwrap();
    (status.done, status.failed)
}

/// Makes Meta refuse every new PIN for `number`.
fn meta_refuses_new_pins(w: &common::World, number: &graph::PhoneNumberId) {
    w.sandbox.set_faults(FaultPlan::single(
        FaultRule::always(Route::SetPin, Fault::MetaError { code: 133006 })
            .for_number(number.as_str()),
    ));
}

#[test]
fn the_wait_before_a_retry_doubles_from_an_hour_with_each_failure_up_to_a_day() {
    let hours: Vec<i64> = [1, 2, 3, 4, 5, 6, 7, 1000]
        .into_iter()
        .map(|f| jobs::retry_after(f).num_hours())
        .collect();
    assert_eq!(hours, [1, 2, 4, 8, 16, 24, 24, 24]);
    assert_eq!(jobs::retry_after(1), jobs::RETRY_FIRST);
    assert_eq!(jobs::retry_after(u32::MAX), jobs::RETRY_LONGEST);
}

on_both_databases! {
    async fn a_revealed_pin_whose_rotation_failed_is_due_again_after_a_wait_that_doubles_with_each_failure(db) {
        let (w, number) = escrowed_and_staffed(&db).await;
        let before_reveal = Utc::now();
        let revealed = reveal_as(&w.store, w.escrow.identity(), &caller("m-bob"), &number, "re-registering").await.unwrap();
        let grace_over = Utc::now();
        meta_refuses_new_pins(&w, &number);
        assert_eq!(run_job(&w, &revealed.rotation_job.unwrap()).await, (0, 1));
        let failed_at = Utc::now();
        let minutes = |m: i64| TimeDelta::minutes(m);

        assert!(due_again(&w, before_reveal, failed_at + TimeDelta::days(9)).await.is_empty(), "not while the reveal's grace lasts");
        assert!(due_again(&w, grace_over, failed_at + minutes(59)).await.is_empty(), "not within an hour of the failure");
        assert_eq!(due_again(&w, grace_over, failed_at + minutes(61)).await, std::slice::from_ref(&number));

        let retried = jobs::retry_rotation(&w.store, ORG, &number, grace_over, failed_at + minutes(61)).await.unwrap().expect("queued");
        assert_eq!(jobs::retry_rotation(&w.store, ORG, &number, grace_over, failed_at + minutes(61)).await.unwrap(), None, "an open retry is not queued twice");
        assert!(due_again(&w, grace_over, failed_at + TimeDelta::days(9)).await.is_empty(), "the open retry holds the number");
        let (_, started) = ledger(&w.store).await.into_iter().rfind(|(action, _)| action == "rotation.job.started").unwrap();
        assert!(started.contains(r#""cause":"pin.rotation.failed""#), "the ledger says why: {started}");

        assert_eq!(run_job(&w, &retried).await, (0, 1), "Meta still refuses");
        let failed_again_at = Utc::now();
        assert!(due_again(&w, grace_over, failed_again_at + minutes(119)).await.is_empty(), "two failures wait two hours");
        assert_eq!(due_again(&w, grace_over, failed_again_at + minutes(121)).await, std::slice::from_ref(&number));

        w.sandbox.set_faults(FaultPlan::none());
        let retried = jobs::retry_rotation(&w.store, ORG, &number, grace_over, failed_again_at + minutes(121)).await.unwrap().expect("queued");
        assert_eq!(run_job(&w, &retried).await, (1, 0));
        assert!(!meta_holds(&w, &number, revealed.pin.expose()), "the revealed PIN is retired");
        assert!(due_again(&w, Utc::now(), Utc::now() + TimeDelta::days(9)).await.is_empty(), "the new PIN was never revealed");
        assert!(!health(&w, "m-eve", &number).await.contains(&Problem::PinRevealed));
    }

    async fn no_retry_overrules_a_cancelled_rotation_a_paused_job_or_a_policy_that_keeps_revealed_pins(db) {
        let (w, number) = escrowed_and_staffed(&db).await;
        let far = || Utc::now() + TimeDelta::days(9);
        let revealed = reveal_as(&w.store, w.escrow.identity(), &caller("m-bob"), &number, "re-registering").await.unwrap();
        jobs::control(&w.store, ORG, &Actor::system(), &revealed.rotation_job.unwrap(), jobs::Command::Cancel).await.unwrap();
        assert!(due_again(&w, Utc::now(), far()).await.is_empty(), "a person cancelled the rotation");

        let revealed = reveal_as(&w.store, w.escrow.identity(), &caller("m-bob"), &number, "re-registering").await.unwrap();
        meta_refuses_new_pins(&w, &number);
        assert_eq!(run_job(&w, &revealed.rotation_job.unwrap()).await, (0, 1));
        assert_eq!(due_again(&w, Utc::now(), far()).await, std::slice::from_ref(&number));

        let bulk = jobs::start(&w.store, ORG, &Actor::system(), &jobs::Selection::Numbers(vec![number.clone()]), 1).await.unwrap();
        jobs::control(&w.store, ORG, &Actor::system(), &bulk, jobs::Command::Pause).await.unwrap();
        assert!(due_again(&w, Utc::now(), far()).await.is_empty(), "a paused job holds the number");
        assert_eq!(jobs::retry_rotation(&w.store, ORG, &number, Utc::now(), far()).await.unwrap(), None);
        jobs::control(&w.store, ORG, &Actor::system(), &bulk, jobs::Command::Cancel).await.unwrap();
        assert_eq!(due_again(&w, Utc::now(), far()).await, std::slice::from_ref(&number), "cancelling that job leaves the failure");

        let keeps = Policy { rotate_after_reveal: false, ..policies::get(&w.store, &caller("m-ann")).await.unwrap() };
        policies::set(&w.store, &caller("m-ann"), keeps, now()).await.unwrap();
        assert!(due_again(&w, Utc::now(), far()).await.is_empty(), "the org accepts revealed PINs");
        assert!(meta_holds(&w, &number, revealed.pin.expose()));
    }

    async fn a_rotation_found_waiting_is_not_run_when_a_reveal_touched_it_since(db) {
        let (w, number) = escrowed_and_staffed(&db).await;
        let first = reveal_as(&w.store, w.escrow.identity(), &caller("m-bob"), &number, "re-registering").await.unwrap();
        let job = first.rotation_job.unwrap();
        // Serve finds the job waiting at this moment; a reveal comes before its claim.
        let found_at = Utc::now();
        let second = reveal_as(&w.store, w.escrow.identity(), &caller("m-ann"), &number, "re-registering again").await.unwrap();
        assert_eq!(second.rotation_job.as_deref(), Some(job.as_str()), "the reveal joined the waiting job");

        let custodian = w.custodian(quick());
        let status = jobs::run_waiting(&custodian, ORG, &Actor::system(), &job, found_at, &[], &|_, _| {}).await.unwrap();
        assert_eq!((status.status.as_str(), status.queued, status.done), ("running", 1, 0), "{status:?}");
        assert!(meta_holds(&w, &number, second.pin.expose()), "the PIN just shown still re-registers the number");

        let status = jobs::run_waiting(&custodian, ORG, &Actor::system(), &job, Utc::now(), &[], &|_, _| {}).await.unwrap();
        assert_eq!((status.status.as_str(), status.done), ("done", 1), "{status:?}");
        assert!(!meta_holds(&w, &number, second.pin.expose()), "the revealed PIN is retired");
    }
}
