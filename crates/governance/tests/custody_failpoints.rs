//! Every crash window of the custody protocol, armed with `fail`: whatever fails there
//! (an error or a panic), resuming afterwards ends with Meta holding a PIN that decrypts
//! from escrow. Run with `--features failpoints`.
#![cfg(feature = "failpoints")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use audit::Actor;
use common::{ORG, quick, world};
use governance::Error;
use governance::custody::{Outcome, Purpose};
use governance::failpoint::{AFTER_RESPONSE, AFTER_SEAL, AFTER_SEND, AFTER_TX1, INSIDE_TX2};
use graph::PinSecret;
use pinward_tests::on_both_databases;

const WINDOWS: [&str; 5] = [
    AFTER_SEAL,
    AFTER_TX1,
    AFTER_SEND,
    AFTER_RESPONSE,
    INSIDE_TX2,
];

/// Rotates with `window` armed by `action`, then disarms and resumes; returns whether a
/// pending version survived the failure.
async fn fail_then_resume(w: &common::World, window: &'static str, action: &str) {
    let number = w.cloud_number();
    let custodian = Arc::new(w.custodian(quick()));
    if w.number(&number).await.pin_state == "unknown" {
        custodian
            .take(ORG, &Actor::system(), &number, &[])
            .await
            .unwrap();
    }
    fail::cfg(window, action).unwrap();
    let task = {
        let custodian = custodian.clone();
        let number = number.clone();
        tokio::spawn(async move { custodian.rotate(ORG, &Actor::system(), &number, &[]).await })
    };
    match task.await {
        Ok(Err(Error::Failpoint(name))) => assert_eq!(name, window),
        Ok(other) => panic!("{window}={action} did not fire: {other:?}"),
        Err(join) => assert!(join.is_panic(), "{window}: {join}"),
    }
    fail::remove(window);
    let resumed = custodian
        .resume(ORG, &Actor::system(), &number)
        .await
        .unwrap();
    if window == AFTER_SEAL {
        assert_eq!(
            resumed,
            Outcome::Idle,
            "nothing was committed, so nothing is pending"
        );
        assert_eq!(w.number(&number).await.pin_state, "escrowed");
    } else {
        assert!(
            matches!(resumed, Outcome::Confirmed { .. }),
            "{window}: {resumed:?}"
        );
    }
    assert!(
        w.meta_holds_escrowed_pin(&number).await,
        "{window}={action}: Meta's PIN is not in escrow"
    );
    assert!(w.statuses(&number).await.iter().all(|s| s != "pending"));
}

on_both_databases! {
    async fn an_error_in_any_crash_window_is_resumed_to_an_escrowed_pin(db) {
        let _scenario = fail::FailScenario::setup();
        let w = world(&db, 8).await;
        w.sync().await;
        for window in WINDOWS {
            fail_then_resume(&w, window, "return").await;
        }
    }

    async fn a_panic_in_any_crash_window_is_resumed_to_an_escrowed_pin(db) {
        let _scenario = fail::FailScenario::setup();
        let w = world(&db, 8).await;
        w.sync().await;
        for window in WINDOWS {
            fail_then_resume(&w, window, "panic").await;
        }
    }

    async fn after_tx1_the_pending_pin_is_sealed_and_committed_but_meta_still_has_the_old_one(db) {
        let _scenario = fail::FailScenario::setup();
        let w = world(&db, 8).await;
        w.sync().await;
        let number = w.cloud_number();
        let c = w.custodian(quick());
        c.take(ORG, &Actor::system(), &number, &[]).await.unwrap();
        let old = governance::custody::reveal(&w.store, w.escrow.identity(), ORG, &Actor::system(), &number, "before").await.unwrap();
        fail::cfg(AFTER_TX1, "return").unwrap();
        let err = c.rotate(ORG, &Actor::system(), &number, &[]).await.unwrap_err();
        assert!(matches!(err, Error::Failpoint(AFTER_TX1)));
        fail::remove(AFTER_TX1);
        assert_eq!(w.statuses(&number).await, ["current", "pending"]);
        assert_eq!(w.number(&number).await.pin_state, "rotating");
        // The pending row opens with the service identity (read as the org would: the export).
        governance::custody::status(&w.store, ORG, Some(&number)).await.unwrap();
        let sql_sealed = pending_sealed(&db, number.as_str()).await;
        let pending: vault::Pin = vault::open(sql_sealed.as_bytes(), w.escrow.identity()).unwrap();
        assert!(pending != old);
        assert_eq!(w.sandbox.pin_matches(&number, &PinSecret::new(old.expose()).unwrap()), Some(true));
        assert_eq!(c.resume(ORG, &Actor::system(), &number).await.unwrap(), Outcome::Confirmed { version: 2 });
        assert_eq!(w.sandbox.pin_matches(&number, &PinSecret::new(pending.expose()).unwrap()), Some(true));
    }

    async fn a_worker_whose_lease_was_taken_over_cannot_write_its_tx2(db) {
        let _scenario = fail::FailScenario::setup();
        let w = world(&db, 8).await;
        w.sync().await;
        let number = w.cloud_number();
        let mut lapsing = quick();
        lapsing.lease = std::time::Duration::ZERO;
        let slow = Arc::new(w.custodian(lapsing));
        slow.start(ORG, &Actor::system(), &number, &[], Purpose::Take).await.unwrap();

        // The slow worker stops after Meta answered, before its TX2.
        let (reached_tx, reached) = mpsc::channel::<()>();
        let (go, go_rx) = mpsc::channel::<()>();
        let go_rx = std::sync::Mutex::new(go_rx);
        let first = AtomicBool::new(true);
        fail::cfg_callback(AFTER_RESPONSE, move || {
            if first.swap(false, Ordering::SeqCst) {
                reached_tx.send(()).unwrap();
                go_rx.lock().unwrap().recv().unwrap();
            }
        })
        .unwrap();
        let task = {
            let slow = slow.clone();
            let number = number.clone();
            tokio::spawn(async move { slow.resume(ORG, &Actor::system(), &number).await })
        };
        tokio::task::spawn_blocking(move || reached.recv().unwrap()).await.unwrap();

        // Its lease has lapsed: another worker takes the same pending PIN over and settles it.
        let other = w.custodian(quick());
        assert_eq!(other.resume(ORG, &Actor::system(), &number).await.unwrap(), Outcome::Confirmed { version: 1 });
        let before = common::ledger(&w.store).await.len();
        go.send(()).unwrap();
        let late = task.await.unwrap();
        assert!(matches!(late, Err(Error::Superseded)), "{late:?}");
        assert_eq!(common::ledger(&w.store).await.len(), before, "the late worker wrote nothing");
        assert_eq!(w.statuses(&number).await, ["current"]);
        assert!(w.meta_holds_escrowed_pin(&number).await);
    }
}

/// The sealed text of the number's pending version.
async fn pending_sealed(db: &pinward_tests::TestDb, meta_id: &str) -> String {
    use sqlx::Connection;
    let sql = format!(
        "SELECT v.sealed FROM pin_versions v JOIN phone_numbers n ON n.id = v.phone_number_id \
         WHERE n.meta_phone_number_id = '{meta_id}' AND v.status = 'pending'"
    );
    match db.backend() {
        pinward_tests::Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
        pinward_tests::Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
    }
}

mod key_rotation {
    use super::*;
    use governance::custody::{Custodian, Escrow};
    use governance::failpoint::{KEYS_AFTER_RESEAL, KEYS_AFTER_SWAP};

    on_both_databases! {
        async fn a_key_rotation_stopped_in_either_window_finishes_when_run_again(db) {
            let _scenario = fail::FailScenario::setup();
            let w = world(&db, 8).await;
            w.sync().await;
            let path = common::identity_path(&db);
            let identity = vault::Identity::load(&path).unwrap();
            let c = Custodian::new(w.store.clone(), Arc::new(Escrow::load(&w.store, identity).await.unwrap()), w.meta.clone(), quick());
            let number = w.cloud_number();
            c.take(ORG, &Actor::system(), &number, &[]).await.unwrap();
            for window in [KEYS_AFTER_RESEAL, KEYS_AFTER_SWAP] {
                fail::cfg(window, "return").unwrap();
                let err = governance::keys::rotate(&w.store, &path, &|_, _| {}).await.unwrap_err();
                assert!(matches!(err, Error::Failpoint(name) if name == window));
                fail::remove(window);
                // Mid-rotation, whichever identity is active opens the PIN.
                let active = vault::Identity::load(&path).unwrap();
                let pin = governance::custody::reveal(&w.store, &active, ORG, &Actor::system(), &number, "mid rotation").await.unwrap();
                assert_eq!(w.sandbox.pin_matches(&number, &PinSecret::new(pin.expose()).unwrap()), Some(true));
                governance::keys::rotate(&w.store, &path, &|_, _| {}).await.unwrap();
                let active = vault::Identity::load(&path).unwrap();
                let escrow = Escrow::load(&w.store, active).await.unwrap();
                let pin = governance::custody::reveal(&w.store, escrow.identity(), ORG, &Actor::system(), &number, "after").await.unwrap();
                assert_eq!(w.sandbox.pin_matches(&number, &PinSecret::new(pin.expose()).unwrap()), Some(true));
            }
        }

        async fn a_pending_pin_re_sealed_by_a_rotation_elsewhere_is_not_sent_and_the_error_says_why(db) {
            let _scenario = fail::FailScenario::setup();
            let w = world(&db, 4).await;
            w.sync().await;
            let path = common::identity_path(&db);
            let escrow = Arc::new(Escrow::load(&w.store, vault::Identity::load(&path).unwrap()).await.unwrap());
            let c = Custodian::new(w.store.clone(), escrow, w.meta.clone(), quick());
            let number = w.cloud_number();
            fail::cfg(AFTER_TX1, "return").unwrap();
            c.take(ORG, &Actor::system(), &number, &[]).await.unwrap_err();
            fail::remove(AFTER_TX1);
            governance::keys::rotate(&w.store, &path, &|_, _| {}).await.unwrap();
            let sent = w.sandbox.counters().numbers;
            let refused = c.resume(ORG, &Actor::system(), &number).await.unwrap_err();
            assert!(matches!(refused, Error::IdentityRotated), "{refused:?}");
            assert_eq!(w.sandbox.counters().numbers, sent, "nothing was sent to Meta");
        }

        async fn while_a_key_rotation_is_unfinished_no_process_seals_a_pin_to_one_identity_only(db) {
            let _scenario = fail::FailScenario::setup();
            let w = world(&db, 8).await;
            w.sync().await;
            let path = common::identity_path(&db);
            let escrow = Arc::new(Escrow::load(&w.store, vault::Identity::load(&path).unwrap()).await.unwrap());
            let c = Custodian::new(w.store.clone(), escrow.clone(), w.meta.clone(), quick());
            let numbers = w.cloud_numbers();
            c.take(ORG, &Actor::system(), &numbers[0], &[]).await.unwrap();
            for window in [KEYS_AFTER_RESEAL, KEYS_AFTER_SWAP] {
                fail::cfg(window, "return").unwrap();
                governance::keys::rotate(&w.store, &path, &|_, _| {}).await.unwrap_err();
                fail::remove(window);
                // Whichever identity a process holds, a seal now would miss the other one.
                let active = Arc::new(Escrow::load(&w.store, vault::Identity::load(&path).unwrap()).await.unwrap());
                for held in [&escrow, &active] {
                    let c = Custodian::new(w.store.clone(), held.clone(), w.meta.clone(), quick());
                    let refused = c.take(ORG, &Actor::system(), &numbers[1], &[]).await.unwrap_err();
                    assert!(matches!(refused, Error::KeyRotationUnfinished), "{window}: {refused:?}");
                    assert!(matches!(held.is_current(&w.store).await, Err(Error::KeyRotationUnfinished)));
                }
                // A bulk job stops at its first item instead of failing every one.
                let job = governance::jobs::start(&w.store, ORG, &Actor::system(), &governance::jobs::Selection::All, 1).await.unwrap();
                let stopped = governance::jobs::run(&c, ORG, &Actor::system(), &job, &[], &|_, _| {}).await.unwrap_err();
                assert!(matches!(stopped, Error::KeyRotationUnfinished), "{stopped:?}");
                let status = governance::jobs::status(&w.store, ORG, &job).await.unwrap();
                assert_eq!(status.failed, 0, "no item is marked failed: {status:?}");
                governance::jobs::control(&w.store, ORG, &Actor::system(), &job, governance::jobs::Command::Cancel).await.unwrap();

                governance::keys::rotate(&w.store, &path, &|_, _| {}).await.unwrap();
                let escrow_now = Arc::new(Escrow::load(&w.store, vault::Identity::load(&path).unwrap()).await.unwrap());
                escrow_now.is_current(&w.store).await.unwrap();
            }
        }
    }
}

on_both_databases! {
    async fn no_pin_is_revealed_while_a_rotation_is_in_flight_because_meta_may_already_hold_the_new_one(db) {
        let _scenario = fail::FailScenario::setup();
        let w = world(&db, 8).await;
        w.sync().await;
        let number = w.cloud_number();
        let c = w.custodian(quick());
        c.take(ORG, &Actor::system(), &number, &[]).await.unwrap();
        let system = Actor::system();
        let reveal = || governance::custody::reveal(&w.store, w.escrow.identity(), ORG, &system, &number, "re-registering");
        let old = reveal().await.unwrap();
        // The worker sent the new PIN and died before reading Meta's answer.
        fail::cfg(AFTER_SEND, "return").unwrap();
        assert!(matches!(c.rotate(ORG, &Actor::system(), &number, &[]).await.unwrap_err(), Error::Failpoint(AFTER_SEND)));
        fail::remove(AFTER_SEND);
        assert_eq!(w.number(&number).await.pin_state, "rotating");
        assert_eq!(w.sandbox.pin_matches(&number, &PinSecret::new(old.expose()).unwrap()), Some(false), "Meta already holds the new PIN");
        let ledgered = common::ledger(&w.store).await.len();

        let Err(refused) = reveal().await else { panic!("revealed while rotating") };
        assert!(matches!(refused, Error::PinState { state: "rotating", .. }), "{refused:?}");
        assert_eq!(common::ledger(&w.store).await.len(), ledgered, "a refused reveal ledgers nothing");

        assert_eq!(c.resume(ORG, &Actor::system(), &number).await.unwrap(), Outcome::Confirmed { version: 2 });
        let current = reveal().await.unwrap();
        assert_eq!(w.sandbox.pin_matches(&number, &PinSecret::new(current.expose()).unwrap()), Some(true), "once settled, the PIN shown is Meta's");
    }
}
