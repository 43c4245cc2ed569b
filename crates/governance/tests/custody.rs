//! Inventory sync and the custody protocol through the public API, on SQLite and PostgreSQL,
//! against the Graph sandbox.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};

use audit::Actor;
use common::{ORG, ledger, quick, sql, world};
use governance::Error;
use governance::custody::{Outcome, PinSource, Purpose};
use graph::sandbox::{Fault, FaultPlan, FaultRule, Route};
use graph::{PhoneNumberId, PinSecret};
use pinward_tests::on_both_databases;
use vault::Pin;

/// Hands out the given PINs, then random ones.
struct Scripted(Mutex<Vec<&'static str>>);

impl PinSource for Scripted {
    fn next_pin(&self) -> Pin {
        let mut queue = self.0.lock().unwrap();
        if queue.is_empty() {
            vault::generate()
        } else {
            Pin::parse(queue.remove(0)).unwrap()
        }
    }
}

/// A synced Cloud API number pinward took custody of, then released to its client (whose
/// age recipient is set for it), and the custodian that took it.
async fn released(
    db: &pinward_tests::TestDb,
    w: &common::World,
) -> (PhoneNumberId, governance::custody::Custodian) {
    w.sync().await;
    let number = w.cloud_number();
    let c = w.custodian(quick());
    c.take(ORG, &Actor::system(), &number, &[]).await.unwrap();
    let client_key = vault::Identity::generate();
    sql(
        db,
        &[&format!(
            "UPDATE clients SET age_recipient = '{}'",
            client_key.recipient()
        )],
    )
    .await;
    governance::custody::release(
        &w.store,
        w.escrow.identity(),
        ORG,
        &Actor::system(),
        &number,
    )
    .await
    .unwrap();
    (number, c)
}

fn holds(w: &common::World, number: &PhoneNumberId, pin: &str) -> bool {
    w.sandbox.pin_matches(number, &PinSecret::new(pin).unwrap()) == Some(true)
}

on_both_databases! {
    async fn sync_puts_new_numbers_in_the_take_custody_queue_and_a_second_run_changes_nothing(db) {
        let w = world(&db, 20).await;
        let first = w.sync().await;
        assert_eq!(first.numbers_discovered, 20);
        assert_eq!(first.numbers_seen, 20);
        assert!(first.wabas_discovered >= 1);
        assert_eq!(first.clients_created, 1);
        let all = governance::custody::status(&w.store, ORG, None).await.unwrap();
        assert_eq!(all.len(), 20);
        assert!(all.iter().all(|n| n.pin_state == "unknown" && n.versions.is_empty()));
        let on_prem = all.iter().filter(|n| n.connector == "on_prem").count();
        let expected = w.sandbox.numbers().iter().filter(|n| n.onprem && n.registered).count();
        assert_eq!(on_prem, expected);
        let events = ledger(&w.store).await.len();
        assert_eq!(events, first.changes());

        let second = w.sync().await;
        assert_eq!(second.changes(), 0, "{second:?}");
        assert_eq!(ledger(&w.store).await.len(), events, "an unchanged inventory writes no event");
        assert_eq!(governance::custody::status(&w.store, ORG, None).await.unwrap(), all);

        // Without businesses, sync reads the ones the org was synced with before.
        let remembered = governance::sync::run(
            &w.store,
            ORG,
            &Actor::system(),
            &w.meta,
            &[],
            &governance::sync::SyncOptions { on_prem_url_template: Some(w.onprem_template()) },
            &mut |_| {},
        )
        .await
        .unwrap();
        assert_eq!(remembered.businesses, w.businesses.len());
        assert_eq!(remembered.numbers_seen, 20);
        assert_eq!(remembered.changes(), 0, "{remembered:?}");
    }

    async fn a_first_sync_without_businesses_is_refused_naming_the_field(db) {
        let w = world(&db, 4).await;
        let refused = governance::sync::run(
            &w.store,
            ORG,
            &Actor::system(),
            &w.meta,
            &[],
            &governance::sync::SyncOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap_err();
        assert!(matches!(refused, governance::Error::Invalid { field: "businesses", .. }), "{refused}");
        assert!(governance::custody::status(&w.store, ORG, None).await.unwrap().is_empty(), "nothing was written");
    }

    async fn a_business_meta_does_not_know_is_the_callers_mistake_not_metas_failure(db) {
        let w = world(&db, 4).await;
        let sync = |businesses: Vec<graph::BusinessId>| {
            let w = &w;
            async move {
                governance::sync::run(&w.store, ORG, &Actor::system(), &w.meta, &businesses,
                    &governance::sync::SyncOptions::default(), &mut |_| {}).await
            }
        };
        let unknown = graph::BusinessId::parse("999999999999999").unwrap();
        let refused = sync(vec![w.businesses[0].clone(), unknown]).await.unwrap_err();
        let Error::Invalid { field: "businesses", problem } = &refused else {
            panic!("not a refusal of the named businesses: {refused}");
        };
        assert!(problem.contains("no business 999999999999999") && problem.contains("check the id"), "{problem}");
        assert!(governance::custody::status(&w.store, ORG, None).await.unwrap().is_empty(), "nothing was written");

        // A business of an earlier sync that Meta no longer lets the credential read: the
        // caller gave no ids, so the remedy is to name the ones to sync.
        w.sync().await;
        sql(&db, &["UPDATE clients SET meta_business_id = '999999999999999'"]).await;
        let events = ledger(&w.store).await.len();
        let refused = sync(vec![]).await.unwrap_err();
        let Error::Invalid { field: "businesses", problem } = &refused else {
            panic!("not a refusal of the remembered businesses: {refused}");
        };
        assert!(problem.contains("synced with it before; name the businesses"), "{problem}");
        assert_eq!(ledger(&w.store).await.len(), events, "nothing was written");
    }

    async fn numbers_meta_no_longer_returns_are_flagged_not_deleted_and_come_back(db) {
        let w = world(&db, 8).await;
        w.sync().await;
        let known = w.cloud_number();
        // A number pinward knew that Meta no longer lists, and one that had vanished before.
        sql(&db, &[
            &format!("INSERT INTO phone_numbers (id, org_id, waba_id, meta_phone_number_id, display_phone_number, \
                      first_seen_at, last_synced_at) SELECT 'gone', org_id, waba_id, '999', '+1 555 0999', \
                      first_seen_at, last_synced_at FROM phone_numbers WHERE meta_phone_number_id = '{known}'"),
            &format!("UPDATE phone_numbers SET vanished_at = last_synced_at WHERE meta_phone_number_id = '{known}'"),
        ]).await;
        let report = w.sync().await;
        assert_eq!((report.numbers_vanished, report.numbers_reappeared), (1, 1));
        let gone = w.number(&PhoneNumberId::parse("999").unwrap()).await;
        assert!(gone.vanished);
        assert!(!w.number(&known).await.vanished);
        let actions: Vec<String> = ledger(&w.store).await.into_iter().map(|(a, _)| a).collect();
        assert!(actions.contains(&"number.vanished".to_owned()));
        assert!(actions.contains(&"number.reappeared".to_owned()));
        assert_eq!(w.sync().await.changes(), 0);
    }

    async fn taking_custody_sets_a_fresh_pin_that_decrypts_from_escrow_without_any_register_call(db) {
        let w = world(&db, 8).await;
        w.sync().await;
        let number = w.cloud_number();
        let outcome = w.custodian(quick()).take(ORG, &Actor::system(), &number, &[]).await.unwrap();
        assert_eq!(outcome, Outcome::Confirmed { version: 1 });
        let status = w.number(&number).await;
        assert_eq!(status.pin_state, "escrowed");
        assert_eq!(w.statuses(&number).await, ["current"]);
        assert!(w.meta_holds_escrowed_pin(&number).await);
        assert_eq!(w.sandbox.counters().route(Route::Register), 0);
        let events = ledger(&w.store).await;
        let actions: Vec<&str> = events.iter().map(|(a, _)| a.as_str()).collect();
        let tail = &actions[actions.len() - 3..];
        assert_eq!(tail, ["pin.rotation.started", "pin.rotated", "pin.revealed"]);
        // One send: the outcome names the attempt the start announced.
        let attempt = |action: &str| {
            let (_, details) = events.iter().rev().find(|(a, _)| a == action).unwrap();
            serde_json::from_str::<serde_json::Value>(details).unwrap()["attempt"].clone()
        };
        assert!(attempt("pin.rotated").is_string());
        assert_eq!(attempt("pin.rotation.started"), attempt("pin.rotated"));
    }

    async fn rotating_moves_the_old_current_to_previous_and_the_older_one_to_superseded(db) {
        let w = world(&db, 8).await;
        w.sync().await;
        let number = w.cloud_number();
        let c = w.custodian(quick());
        let actor = Actor::user("ops-1").unwrap();
        c.take(ORG, &actor, &number, &[]).await.unwrap();
        assert_eq!(c.rotate(ORG, &actor, &number, &[]).await.unwrap(), Outcome::Confirmed { version: 2 });
        assert_eq!(c.rotate(ORG, &actor, &number, &[]).await.unwrap(), Outcome::Confirmed { version: 3 });
        assert_eq!(w.statuses(&number).await, ["superseded", "previous", "current"]);
        assert!(w.meta_holds_escrowed_pin(&number).await);
    }

    async fn the_wrong_starting_state_is_refused_and_changes_nothing(db) {
        let w = world(&db, 8).await;
        w.sync().await;
        let number = w.cloud_number();
        let c = w.custodian(quick());
        let before = ledger(&w.store).await.len();
        let err = c.rotate(ORG, &Actor::system(), &number, &[]).await.unwrap_err();
        assert!(matches!(err, Error::PinState { state: "unknown", .. }), "{err}");
        let err = c.take(ORG, &Actor::system(), &PhoneNumberId::parse("12345").unwrap(), &[]).await.unwrap_err();
        assert!(matches!(err, Error::NotFound { what: "phone number" }), "{err}");
        let err = c.take("another-org", &Actor::system(), &number, &[]).await.unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "another org's number is not found: {err}");
        assert_eq!(ledger(&w.store).await.len(), before);
        assert!(w.statuses(&number).await.is_empty());

        c.take(ORG, &Actor::system(), &number, &[]).await.unwrap();
        let err = c.take(ORG, &Actor::system(), &number, &[]).await.unwrap_err();
        assert!(matches!(err, Error::PinState { state: "escrowed", .. }), "{err}");
    }

    async fn a_new_pin_never_equals_another_current_pin_of_the_org(db) {
        let w = world(&db, 8).await;
        w.sync().await;
        let numbers = w.cloud_numbers();
        let (a, b) = (&numbers[0], &numbers[1]);
        let c = w.custodian(quick()).with_pin_source(Arc::new(Scripted(Mutex::new(vec!["480213", "480213", "593017"]))));
        c.take(ORG, &Actor::system(), a, &[]).await.unwrap();
        assert!(holds(&w, a, "480213"));
        c.take(ORG, &Actor::system(), b, &[]).await.unwrap();
        assert!(holds(&w, b, "593017"), "the colliding PIN was skipped");
        assert!(w.meta_holds_escrowed_pin(b).await);
    }

    async fn a_definitive_rejection_marks_the_version_rejected_and_keeps_the_old_pin(db) {
        let w = world(&db, 8).await;
        w.sync().await;
        let number = w.cloud_number();
        let c = w.custodian(quick());
        c.take(ORG, &Actor::system(), &number, &[]).await.unwrap();
        w.sandbox.set_faults(FaultPlan::single(
            FaultRule::always(Route::SetPin, Fault::MetaError { code: 133006 }).for_number(number.as_str()),
        ));
        let outcome = c.rotate(ORG, &Actor::system(), &number, &[]).await.unwrap();
        assert_eq!(outcome, Outcome::Rejected { version: 2, code: Some(133006) });
        let status = w.number(&number).await;
        assert_eq!(status.pin_state, "escrowed");
        assert!(status.attention_reason.is_some());
        assert_eq!(w.statuses(&number).await, ["current", "rejected"]);
        w.sandbox.set_faults(FaultPlan::none());
        assert!(w.meta_holds_escrowed_pin(&number).await, "Meta still holds the escrowed version 1");
        assert_eq!(c.rotate(ORG, &Actor::system(), &number, &[]).await.unwrap(), Outcome::Confirmed { version: 3 });
    }

    async fn a_rejected_take_leaves_the_number_unknown(db) {
        let w = world(&db, 8).await;
        w.sync().await;
        let number = w.cloud_number();
        w.sandbox.set_faults(FaultPlan::single(FaultRule::always(Route::SetPin, Fault::MetaError { code: 133010 })));
        let outcome = w.custodian(quick()).take(ORG, &Actor::system(), &number, &[]).await.unwrap();
        assert!(matches!(outcome, Outcome::Rejected { version: 1, .. }));
        assert_eq!(w.number(&number).await.pin_state, "unknown");
    }

    async fn a_refused_credential_sends_nothing_so_the_number_keeps_its_pin(db) {
        let w = world(&db, 8).await;
        w.sync().await;
        let number = w.cloud_number();
        let c = w.custodian(quick());
        c.take(ORG, &Actor::system(), &number, &[]).await.unwrap();
        assert!(w.sandbox.revoke_token(&w.meta.token));
        let outcome = c.rotate(ORG, &Actor::system(), &number, &[]).await.unwrap();
        assert_eq!(outcome, Outcome::Rejected { version: 2, code: Some(190) });
        let status = w.number(&number).await;
        assert_eq!(status.pin_state, "escrowed");
        let attention = status.attention_reason.unwrap();
        assert!(attention.starts_with("a new PIN was not sent, the number keeps its PIN: Meta refused the credential"), "{attention}");
        assert_eq!(w.statuses(&number).await, ["current", "rejected"]);
        assert!(w.meta_holds_escrowed_pin(&number).await, "Meta still holds version 1");
        let revealed = governance::custody::reveal(&w.store, w.escrow.identity(), ORG, &Actor::system(), &number, "still here").await;
        assert!(revealed.is_ok(), "the kept PIN can be revealed: {:?}", revealed.err());
        let actions: Vec<String> = ledger(&w.store).await.into_iter().map(|(a, _)| a).collect();
        assert!(actions.contains(&"pin.rotation.rejected".to_owned()), "{actions:?}");
        assert!(!actions.contains(&"pin.rotation.uncertain".to_owned()), "{actions:?}");
    }

    async fn a_refused_credential_after_a_send_that_may_have_landed_stays_uncertain(db) {
        let w = world(&db, 8).await;
        w.sync().await;
        let number = w.cloud_number();
        let mut settings = quick();
        settings.max_sends = 1;
        let c = w.custodian(settings);
        c.take(ORG, &Actor::system(), &number, &[]).await.unwrap();
        // Applied, then its answer lost: Meta may hold version 2 now.
        w.sandbox.set_faults(FaultPlan::single(FaultRule::always(Route::SetPin, Fault::Reset).apply_first().times(1)));
        assert!(matches!(c.rotate(ORG, &Actor::system(), &number, &[]).await.unwrap(), Outcome::Uncertain { version: 2, .. }));
        w.sandbox.set_faults(FaultPlan::none());
        assert!(w.sandbox.revoke_token(&w.meta.token));
        let outcome = c.resume(ORG, &Actor::system(), &number).await.unwrap();
        assert!(matches!(outcome, Outcome::Uncertain { version: 2, needs_attention: true, .. }), "{outcome:?}");
        assert_eq!(w.number(&number).await.pin_state, "uncertain");
        assert_eq!(w.statuses(&number).await, ["current", "pending"], "the version Meta may hold is kept");
    }

    async fn an_on_premises_number_without_a_login_is_refused_and_keeps_its_state(db) {
        let w = world(&db, 40).await;
        w.sync().await;
        let number = w.sandbox.numbers().into_iter().find(|n| n.onprem && n.registered).expect("a seeded on-prem number").id;
        let no_login = Arc::new(governance::custody::MetaAccess {
            graph: w.meta.graph.clone(),
            token: w.meta.token.clone(),
            on_prem: None,
        });
        let c = governance::custody::Custodian::new(w.store.clone(), w.escrow.clone(), no_login, quick());
        let outcome = c.take(ORG, &Actor::system(), &number, &[]).await.unwrap();
        assert_eq!(outcome, Outcome::Rejected { version: 1, code: None });
        let status = w.number(&number).await;
        assert_eq!(status.pin_state, "unknown");
        assert!(status.attention_reason.unwrap().contains("no On-Premises admin login is configured"));
        assert_eq!(w.sandbox.counters().route(Route::OnpremSetPin), 0);
        // With the login, custody is taken as usual.
        assert_eq!(w.custodian(quick()).take(ORG, &Actor::system(), &number, &[]).await.unwrap(), Outcome::Confirmed { version: 2 });
    }

    async fn an_unknown_outcome_keeps_both_versions_and_resending_the_same_pin_settles_it(db) {
        let w = world(&db, 8).await;
        w.sync().await;
        let number = w.cloud_number();
        let c = w.custodian(quick());
        c.take(ORG, &Actor::system(), &number, &[]).await.unwrap();
        let old = governance::custody::reveal(&w.store, w.escrow.identity(), ORG, &Actor::system(), &number, "before").await.unwrap();
        // Every send is applied, then its answer is lost or a 5xx.
        w.sandbox.set_faults(FaultPlan { seed: 1, rules: vec![
            FaultRule::always(Route::SetPin, Fault::Reset).apply_first().times(2),
            FaultRule::always(Route::SetPin, Fault::ServerError).apply_first(),
        ]});
        let outcome = c.rotate(ORG, &Actor::system(), &number, &[]).await.unwrap();
        assert_eq!(outcome, Outcome::Uncertain { version: 2, failures: 3, needs_attention: true });
        let status = w.number(&number).await;
        assert_eq!(status.pin_state, "uncertain");
        assert!(status.attention_reason.unwrap().contains("not confirmed"));
        assert_eq!(w.statuses(&number).await, ["current", "pending"]);
        assert!(!holds(&w, &number, old.expose()), "Meta holds the pending PIN");
        let err = c.rotate(ORG, &Actor::system(), &number, &[]).await.unwrap_err();
        assert!(matches!(err, Error::PinState { state: "uncertain", .. }), "no new PIN while one is pending");
        let err = governance::custody::reveal(&w.store, w.escrow.identity(), ORG, &Actor::system(), &number, "x").await.err().unwrap();
        assert!(matches!(err, Error::PinState { .. }));

        w.sandbox.set_faults(FaultPlan::none());
        assert_eq!(c.resume(ORG, &Actor::system(), &number).await.unwrap(), Outcome::Confirmed { version: 2 });
        assert_eq!(w.statuses(&number).await, ["previous", "current"]);
        assert!(w.number(&number).await.attention_reason.is_none());
        assert!(w.meta_holds_escrowed_pin(&number).await);
        let actions: Vec<String> = ledger(&w.store).await.into_iter().map(|(a, _)| a).collect();
        assert_eq!(actions.iter().filter(|a| *a == "pin.rotation.uncertain").count(), 3);
        assert_eq!(w.sandbox.counters().route(Route::Register), 0);
    }

    async fn a_timeout_is_uncertain_not_failed(db) {
        let w = world(&db, 8).await;
        w.sync().await;
        let number = w.cloud_number();
        w.sandbox.set_faults(FaultPlan::single(
            FaultRule::always(Route::SetPin, Fault::Hang { ms: 10_000 }).apply_first().times(1),
        ));
        let mut settings = quick();
        settings.max_sends = 1;
        let c = w.custodian(settings);
        let outcome = c.take(ORG, &Actor::system(), &number, &[]).await.unwrap();
        assert!(matches!(outcome, Outcome::Uncertain { version: 1, .. }), "{outcome:?}");
        assert_eq!(c.resume(ORG, &Actor::system(), &number).await.unwrap(), Outcome::Confirmed { version: 1 });
        assert!(w.meta_holds_escrowed_pin(&number).await);
    }

    async fn an_on_premises_number_goes_through_its_own_deployment(db) {
        let w = world(&db, 40).await;
        w.sync().await;
        let number = w.sandbox.numbers().into_iter().find(|n| n.onprem && n.registered).expect("a seeded on-prem number").id;
        assert_eq!(w.number(&number).await.connector, "on_prem");
        let c = w.custodian(quick());
        assert_eq!(c.take(ORG, &Actor::system(), &number, &[]).await.unwrap(), Outcome::Confirmed { version: 1 });
        assert_eq!(c.rotate(ORG, &Actor::system(), &number, &[]).await.unwrap(), Outcome::Confirmed { version: 2 });
        assert!(w.meta_holds_escrowed_pin(&number).await);
        let counters = w.sandbox.counters();
        assert_eq!(counters.route(Route::OnpremSetPin), 2);
        assert_eq!(counters.route(Route::SetPin), 0);
    }

    async fn a_reveal_is_ledgered_with_reason_and_version_but_never_the_pin(db) {
        let w = world(&db, 8).await;
        w.sync().await;
        let number = w.cloud_number();
        w.custodian(quick()).take(ORG, &Actor::system(), &number, &[]).await.unwrap();
        let before = ledger(&w.store).await.len();
        for bad in ["", "   ", "my pin is 123456"] {
            let err = governance::custody::reveal(&w.store, w.escrow.identity(), ORG, &Actor::system(), &number, bad).await.err().unwrap();
            assert!(matches!(err, Error::Invalid { field: "reason", .. }), "{err}");
        }
        assert_eq!(ledger(&w.store).await.len(), before, "refused reveals change nothing");
        let actor = Actor::user("alice").unwrap();
        let pin = governance::custody::reveal(&w.store, w.escrow.identity(), ORG, &actor, &number, "re-registering on a new phone").await.unwrap();
        assert!(holds(&w, &number, pin.expose()));
        let events = ledger(&w.store).await;
        let (action, details) = events.last().unwrap();
        assert_eq!(action, "pin.revealed");
        assert_eq!(details, r#"{"reason":"re-registering on a new phone","version":1}"#);
        for (_, details) in &events {
            assert!(!details.contains(pin.expose()), "a PIN in the ledger: {details}");
        }
    }

    async fn a_released_number_is_sealed_to_its_client_and_refuses_rotation(db) {
        let w = world(&db, 8).await;
        w.sync().await;
        let number = w.cloud_number();
        let c = w.custodian(quick());
        c.take(ORG, &Actor::system(), &number, &[]).await.unwrap();
        let err = governance::custody::release(&w.store, w.escrow.identity(), ORG, &Actor::system(), &number).await.unwrap_err();
        assert!(matches!(err, Error::Invalid { field: "age_recipient", .. }), "{err}");
        let client_key = vault::Identity::generate();
        sql(&db, &[&format!("UPDATE clients SET age_recipient = '{}'", client_key.recipient())]).await;
        let sealed = governance::custody::release(&w.store, w.escrow.identity(), ORG, &Actor::system(), &number).await.unwrap();
        let pin: Pin = vault::open(sealed.as_str(), &client_key).unwrap();
        assert!(holds(&w, &number, pin.expose()));
        assert_eq!(w.number(&number).await.pin_state, "released");
        let err = c.rotate(ORG, &Actor::system(), &number, &[]).await.unwrap_err();
        assert!(matches!(err, Error::PinState { state: "released", .. }), "{err}");
        assert_eq!(ledger(&w.store).await.last().unwrap().0, "pin.released");
    }

    async fn a_released_number_taken_back_gets_a_fresh_pin_and_its_handed_over_pin_turns_stale(db) {
        let w = world(&db, 8).await;
        let (number, c) = released(&db, &w).await;
        let refused = c.rotate(ORG, &Actor::system(), &number, &[]).await.unwrap_err();
        assert!(matches!(&refused, Error::PinState { refused, .. } if refused.contains("take it back into custody")), "{refused}");
        let refused = c.take(ORG, &Actor::system(), &number, &[]).await.unwrap_err();
        assert!(matches!(&refused, Error::PinState { refused, .. } if refused.contains("takes it back into custody from its page")), "taking custody never takes a released number back unasked: {refused}");

        // The client changed the PIN it was handed, then came back.
        w.sandbox.set_pin_out_of_band(&number, Some(&PinSecret::new("271828").unwrap()));
        let before = ledger(&w.store).await.len();
        assert_eq!(c.take_back(ORG, &Actor::system(), &number, &[]).await.unwrap(), Outcome::Confirmed { version: 2 });
        let status = w.number(&number).await;
        assert_eq!((status.pin_state.as_str(), status.escrow_stale), ("escrowed", false));
        assert_eq!(w.statuses(&number).await, ["stale", "current"]);
        let events = ledger(&w.store).await;
        let taken: Vec<_> = events[before..].iter().map(|(action, _)| action.as_str()).collect();
        assert_eq!(taken, ["pin.reclaimed", "pin.rotation.started", "pin.rotated"]);
        assert_eq!(events[before].1, r#"{"released_version":1}"#);
        assert!(w.meta_holds_escrowed_pin(&number).await);
    }

    async fn a_released_number_whose_new_pin_is_refused_stays_released_with_the_pin_handed_over(db) {
        let w = world(&db, 8).await;
        let (number, c) = released(&db, &w).await;
        // Meta refuses the new PIN (a definitive rejection), then the org's token (not sent):
        // either way Meta keeps the PIN handed over, and the number stays the client's.
        for (version, code) in [(2, 133006), (3, 10)] {
            w.sandbox.set_faults(FaultPlan::single(FaultRule::always(Route::SetPin, Fault::MetaError { code })));
            let outcome = c.take_back(ORG, &Actor::system(), &number, &[]).await.unwrap();
            assert_eq!(outcome, Outcome::Rejected { version, code: Some(code) });
            let status = w.number(&number).await;
            assert_eq!(status.pin_state.as_str(), "released", "refused with {code}");
            assert!(status.attention_reason.is_some(), "and says why");
        }
        assert_eq!(w.statuses(&number).await, ["current", "rejected", "rejected"]);
        let again = governance::custody::release(&w.store, w.escrow.identity(), ORG, &Actor::system(), &number).await.unwrap_err();
        assert!(matches!(again, Error::PinState { state: "released", .. }), "still released: {again}");
        w.sandbox.set_faults(FaultPlan::none());
        assert_eq!(c.take_back(ORG, &Actor::system(), &number, &[]).await.unwrap(), Outcome::Confirmed { version: 4 });
        let refused = c.take_back(ORG, &Actor::system(), &number, &[]).await.unwrap_err();
        assert!(matches!(refused, Error::PinState { state: "escrowed", .. }), "only a released number is taken back: {refused}");
        assert_eq!(w.statuses(&number).await, ["stale", "rejected", "rejected", "current"]);
        assert!(w.meta_holds_escrowed_pin(&number).await);
    }

    async fn an_out_of_band_change_marks_the_escrow_stale_and_requeues_the_number(db) {
        let w = world(&db, 8).await;
        w.sync().await;
        let number = w.cloud_number();
        let c = w.custodian(quick());
        c.take(ORG, &Actor::system(), &number, &[]).await.unwrap();
        w.sandbox.set_pin_out_of_band(&number, Some(&PinSecret::new("271828").unwrap()));
        let report = governance::custody::OutOfBand { note: "client's IT changed it in WhatsApp Manager".to_owned(), changed_on: chrono::NaiveDate::from_ymd_opt(2026, 1, 2) };
        for (bad, field) in [
            (governance::custody::OutOfBand { note: "the new one is 271828".to_owned(), ..report.clone() }, "note"),
            (governance::custody::OutOfBand { changed_on: chrono::NaiveDate::from_ymd_opt(2008, 12, 31), ..report.clone() }, "changed_on"),
        ] {
            let refused = governance::custody::record_out_of_band(&w.store, ORG, &Actor::system(), &number, &bad).await.unwrap_err();
            assert!(matches!(refused, governance::Error::Invalid { field: f, .. } if f == field), "{refused:?}");
        }
        assert_eq!(w.number(&number).await.pin_state.as_str(), "escrowed", "a refused report changes nothing");
        governance::custody::record_out_of_band(&w.store, ORG, &Actor::system(), &number, &report).await.unwrap();
        let event = governance::ledger::events(&w.store, ORG, 1, u64::MAX).await.unwrap().pop().unwrap();
        assert_eq!(event.action().as_str(), "pin.changed_out_of_band");
        let details = event.details().as_map();
        assert_eq!((details["note"].as_str(), details["changed_on"].as_str()), (Some("client's IT changed it in WhatsApp Manager"), Some("2026-01-02")), "the report is ledgered");
        let status = w.number(&number).await;
        assert_eq!((status.pin_state.as_str(), status.escrow_stale), ("unknown", true));
        assert_eq!(w.statuses(&number).await, ["stale"]);
        assert_eq!(ledger(&w.store).await.last().unwrap().0, "pin.changed_out_of_band");
        assert_eq!(c.take(ORG, &Actor::system(), &number, &[]).await.unwrap(), Outcome::Confirmed { version: 2 });
        let status = w.number(&number).await;
        assert_eq!((status.pin_state.as_str(), status.escrow_stale), ("escrowed", false));
        assert!(w.meta_holds_escrowed_pin(&number).await);
    }

    async fn versions_are_sealed_to_the_recovery_recipients_and_export_opens_with_the_age_cli(db) {
        let w = world(&db, 8).await;
        w.sync().await;
        let org_key = vault::Identity::generate();
        let number = w.cloud_number();
        let c = w.custodian(quick());
        c.take(ORG, &Actor::system(), &number, &[org_key.recipient()]).await.unwrap();
        let out = db.subdir("export");
        let manifest = governance::escrow::export(&w.store, ORG, &Actor::system(), &out).await.unwrap();
        assert_eq!(manifest.numbers.len(), 1);
        let entry = &manifest.numbers[0].versions[0];
        assert_eq!(entry.file, format!("{number}.age"));
        assert_eq!(entry.recovery_recipients, [org_key.recipient().to_string()]);
        let written: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(written["numbers"][0]["versions"][0]["sha256"], entry.sha256.as_str());

        // The org's own key, in the file format age-keygen writes, opens it with `age -d`.
        let key_file = db.dir().join("org_key.txt");
        let key_text = std::process::Command::new("age-keygen").output().unwrap();
        assert!(key_text.status.success());
        std::fs::write(&key_file, &key_text.stdout).unwrap();
        let cli_key = vault::Identity::parse(std::str::from_utf8(&key_text.stdout).unwrap()).unwrap();
        let second = w.cloud_numbers()[1].clone();
        c.take(ORG, &Actor::system(), &second, &[cli_key.recipient()]).await.unwrap();
        let refused = governance::escrow::export(&w.store, ORG, &Actor::system(), &out).await;
        assert!(matches!(refused, Err(governance::Error::Invalid { field: "out", .. })), "an earlier export's folder is refused");
        let out = db.subdir("export-2");
        governance::escrow::export(&w.store, ORG, &Actor::system(), &out).await.unwrap();
        let decrypted = std::process::Command::new("age")
            .args(["-d", "-i"]).arg(&key_file).arg(out.join(format!("{second}.age")))
            .output().unwrap();
        assert!(decrypted.status.success(), "{}", String::from_utf8_lossy(&decrypted.stderr));
        let pin = String::from_utf8(decrypted.stdout).unwrap();
        assert!(holds(&w, &second, pin.trim()));
    }

    async fn start_alone_commits_a_sealed_pending_version_before_anything_is_sent(db) {
        let w = world(&db, 8).await;
        w.sync().await;
        let number = w.cloud_number();
        let c = w.custodian(quick());
        c.start(ORG, &Actor::system(), &number, &[], Purpose::Take).await.unwrap();
        assert_eq!(w.sandbox.counters().route(Route::SetPin), 0);
        assert_eq!(w.number(&number).await.pin_state, "rotating");
        assert_eq!(w.statuses(&number).await, ["pending"]);
        let err = c.start(ORG, &Actor::system(), &number, &[], Purpose::Take).await.unwrap_err();
        assert!(matches!(err, Error::PinState { state: "rotating", .. }));
        assert_eq!(c.resume(ORG, &Actor::system(), &number).await.unwrap(), Outcome::Confirmed { version: 1 });
        assert_eq!(c.resume(ORG, &Actor::system(), &number).await.unwrap(), Outcome::Idle);
    }

    async fn a_live_lease_of_another_worker_is_respected(db) {
        let w = world(&db, 8).await;
        w.sync().await;
        let number = w.cloud_number();
        let first = w.custodian(quick());
        first.start(ORG, &Actor::system(), &number, &[], Purpose::Take).await.unwrap();
        let second = w.custodian(quick());
        let err = second.resume(ORG, &Actor::system(), &number).await.unwrap_err();
        assert!(matches!(err, Error::Busy { .. }), "{err}");
        // Once the lease has run out, another worker takes the same pending PIN over.
        let mut lapsed = quick();
        lapsed.lease = std::time::Duration::ZERO;
        let third = w.custodian(lapsed);
        let number2 = w.cloud_numbers()[1].clone();
        third.start(ORG, &Actor::system(), &number2, &[], Purpose::Take).await.unwrap();
        assert_eq!(second.resume(ORG, &Actor::system(), &number2).await.unwrap(), Outcome::Confirmed { version: 1 });
        assert!(w.meta_holds_escrowed_pin(&number2).await);
    }
}
