//! `pinward serve` retires a revealed PIN that nobody rotated: under the rotate-after-reveal
//! policy a reveal queues a one-number rotation, and once that rotation has waited
//! `governance::jobs::REVEAL_GRACE` untouched, serve runs it by itself, as `system`,
//! against the Graph sandbox. A rotation queued more recently keeps waiting for a person,
//! and one that failed is tried again once the wait after its failure is over.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use audit::Actor;
use chrono::{DateTime, TimeDelta, Utc};
use governance::access::{Caller, Role};
use governance::custody::{Escrow, reveal_as};
use governance::jobs::{RETRY_FIRST, REVEAL_GRACE};
use governance::users::NewUser;
use governance::{DatabaseTarget, Store};
use graph::sandbox::{Fault, FaultPlan, FaultRule, Route, SandboxHandle};
use graph::{PhoneNumberId, PinSecret};
use pinward_tests::{Backend, PinwardProcess, TestDb, on_both_databases};
use sqlx::Connection;
use vault::Pin;

#[path = "common/custody_world.rs"]
mod custody_world;

use custody_world::{CustodyWorld, custody_world};

/// The line serve writes at debug level after each round of looking for due rotations.
const ROUND_ENDED: &str = "looked for rotations reveals queued";

/// An org whose Graph credential is stored and inventory synced, with two Cloud API
/// numbers in custody and an admin who reveals their PINs.
struct World {
    store: Store,
    sandbox: SandboxHandle,
    escrow: Arc<Escrow>,
    org: String,
    admin: Caller,
    numbers: Vec<PhoneNumberId>,
}

async fn world(db: &TestDb) -> World {
    let store = Store::connect(&DatabaseTarget::parse(db.url()).unwrap())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let org = governance::orgs::create(&store, &Actor::system(), "acme", "Acme Telecom")
        .await
        .unwrap()
        .id;
    let admin = governance::members::add_new_user(
        &store,
        &Caller::cli(&org),
        &NewUser {
            email: "ann@example.com".to_owned(),
            display_name: "Ann Admin".to_owned(),
            password: None,
        },
        Role::Admin,
        &[],
    )
    .await
    .unwrap();
    let admin = governance::members::caller_for(&store, &org, &admin.user_id)
        .await
        .unwrap();

    let CustodyWorld {
        sandbox,
        escrow,
        numbers,
    } = custody_world(db, &store, &org, 6, 2).await;
    World {
        store,
        sandbox,
        escrow,
        org,
        admin,
        numbers,
    }
}

impl World {
    /// The admin reveals the number's PIN; returns it and the rotation the reveal queued.
    async fn reveal(&self, number: &PhoneNumberId) -> (Pin, String) {
        let revealed = reveal_as(
            &self.store,
            self.escrow.identity(),
            &self.admin,
            number,
            "re-registering on a new phone",
        )
        .await
        .unwrap();
        let job = revealed
            .rotation_job
            .expect("the default policy rotates after a reveal");
        (revealed.pin, job)
    }

    fn meta_holds(&self, number: &PhoneNumberId, pin: &Pin) -> bool {
        self.sandbox
            .pin_matches(number, &PinSecret::new(pin.expose()).unwrap())
            == Some(true)
    }

    /// Meta refuses the revealed PIN and holds the one now in escrow.
    async fn assert_retired(&self, number: &PhoneNumberId, revealed: &Pin) {
        assert!(
            !self.meta_holds(number, revealed),
            "the revealed PIN is retired at Meta"
        );
        let (escrowed, _) = self.reveal(number).await;
        assert!(
            self.meta_holds(number, &escrowed),
            "Meta holds the PIN now in escrow"
        );
    }

    async fn record(&self, number: &PhoneNumberId) -> governance::numbers::Record {
        governance::numbers::record(&self.store, &self.admin, number, Utc::now())
            .await
            .unwrap()
    }

    async fn current_version(&self, number: &PhoneNumberId) -> i64 {
        let record = self.record(number).await;
        let current: Vec<i64> = record
            .versions
            .iter()
            .filter(|v| v.status == "current")
            .map(|v| v.version)
            .collect();
        assert_eq!(
            current.len(),
            1,
            "one current version: {:?}",
            record.versions
        );
        current[0]
    }

    /// The number's ledger events, oldest first, as `(seq, actor, action, details)`.
    async fn events(
        &self,
        number: &PhoneNumberId,
    ) -> Vec<(i64, String, String, serde_json::Value)> {
        let mut events: Vec<_> = self
            .record(number)
            .await
            .events
            .into_iter()
            .map(|e| (e.seq, e.actor, e.action, e.details))
            .collect();
        events.reverse();
        events
    }

    async fn job_status(&self, job: &str) -> governance::jobs::JobStatus {
        governance::jobs::status(&self.store, &self.org, job)
            .await
            .unwrap()
    }

    /// `pinward serve` on the world's database, reaching Meta at the sandbox, logging its
    /// own debug lines (the end of each round of due rotations).
    fn serve(&self, db: &TestDb) -> PinwardProcess {
        let mut process = self.pinward(db, &["serve"], &[]);
        process.wait_until_listening();
        process
    }

    /// `pinward args…` on the world's database and data dir, reaching Meta at the sandbox,
    /// with `more` variables.
    fn pinward(&self, db: &TestDb, args: &[&str], more: &[(&str, &str)]) -> PinwardProcess {
        let data_dir = db.dir().join("data");
        let mut envs = vec![
            ("PINWARD_DATA_DIR", data_dir.to_str().unwrap()),
            ("PINWARD_DATABASE_URL", db.url()),
            ("PINWARD_LISTEN", "127.0.0.1:0"),
            ("PINWARD_GRAPH_BASE_URL", self.sandbox.base_url().as_str()),
            ("PINWARD_LOG", "info,pinward=debug"),
        ];
        envs.extend_from_slice(more);
        PinwardProcess::spawn(args, &envs)
    }
}

/// Makes the job look queued `age` ago, as if the reveal had happened then.
async fn queued_ago(db: &TestDb, job: &str, age: TimeDelta) {
    let sql = "UPDATE rotation_jobs SET created_at = $1, updated_at = $1 WHERE id = $2";
    let changed = update(db, sql, Utc::now() - age, job).await;
    assert_eq!(changed, 1, "job {job} backdated");
}

/// Makes the job's item look claimed by a worker that died before it finished: running,
/// with a lease that ran out an hour ago.
async fn worker_died(db: &TestDb, job: &str) {
    let sql = "UPDATE rotation_items SET status = 'running', lease_owner = 'worker-gone', \
               lease_until = $1 WHERE job_id = $2";
    let changed = update(db, sql, Utc::now() - TimeDelta::hours(1), job).await;
    assert_eq!(changed, 1, "job {job}'s item leased");
}

/// Makes the leases a killed worker held on the job's item and on its number look run out
/// an hour ago, as they would once their time passed.
async fn leases_ran_out(db: &TestDb, job: &str) {
    let an_hour_ago = Utc::now() - TimeDelta::hours(1);
    let item =
        "UPDATE rotation_items SET lease_until = $1 WHERE job_id = $2 AND status = 'running'";
    assert_eq!(
        update(db, item, an_hour_ago, job).await,
        1,
        "job {job}'s item was claimed"
    );
    let number = "UPDATE phone_numbers SET lease_until = $1 WHERE lease_owner IS NOT NULL \
                  AND id IN (SELECT phone_number_id FROM rotation_items WHERE job_id = $2)";
    assert_eq!(
        update(db, number, an_hour_ago, job).await,
        1,
        "job {job}'s number was leased"
    );
}

/// Makes the PIN the job rotates look revealed `age` ago.
async fn revealed_ago(db: &TestDb, job: &str, age: TimeDelta) {
    let sql = "UPDATE pin_versions SET revealed_at = $1 WHERE status = 'current' \
               AND phone_number_id IN (SELECT phone_number_id FROM rotation_items WHERE job_id = $2)";
    let changed = update(db, sql, Utc::now() - age, job).await;
    assert_eq!(changed, 1, "the PIN of job {job} backdated");
}

/// Makes the job's failed item look failed `age` ago.
async fn failed_ago(db: &TestDb, job: &str, age: TimeDelta) {
    let sql = "UPDATE rotation_items SET updated_at = $1 WHERE job_id = $2 AND status = 'failed'";
    let changed = update(db, sql, Utc::now() - age, job).await;
    assert_eq!(changed, 1, "job {job}'s failure backdated");
}

/// Runs `sql` with `$1` = `at` and `$2` = `job` as the database's owner; returns the rows
/// it changed.
async fn update(db: &TestDb, sql: &'static str, at: DateTime<Utc>, job: &str) -> u64 {
    match db.backend() {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            sqlx::query(sql)
                .bind(at)
                .bind(job)
                .execute(&mut conn)
                .await
                .unwrap()
                .rows_affected()
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
            sqlx::query(sql)
                .bind(at)
                .bind(job)
                .execute(&mut conn)
                .await
                .unwrap()
                .rows_affected()
        }
    }
}

/// Polls until the job is finished. The deadline only bounds a hung service; serve's
/// first round runs as it starts.
async fn until_finished(w: &World, job: &str, serve: PinwardProcess) -> PinwardProcess {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let status = w.job_status(job).await;
        if status.status == "done" {
            return serve;
        }
        if Instant::now() > deadline {
            serve.signal("TERM");
            let (_, output) = serve.wait();
            panic!("serve never ran job {job} ({status:?}); it printed:\n{output}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

on_both_databases! {
    async fn serve_rotates_a_revealed_pin_whose_rotation_waited_a_day_untouched(db) {
        let w = world(&db).await;
        let number = &w.numbers[0];
        let (revealed, job) = w.reveal(number).await;
        let before = w.current_version(number).await;
        queued_ago(&db, &job, REVEAL_GRACE + TimeDelta::hours(1)).await;
        assert!(w.meta_holds(number, &revealed), "nobody rotated the revealed PIN yet");

        let ledgered = w.events(number).await;

        let mut serve = w.pinward(&db, &["serve"], &[]);
        let base = serve.wait_until_listening();
        let _serve = until_finished(&w, &job, serve).await;

        let status = w.job_status(&job).await;
        assert_eq!((status.done, status.failed), (1, 0), "{status:?}");
        let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
        assert!(metrics.contains("pinward_pin_rotations_total{outcome=\"rotated\"} 1\n"), "the rotation is counted: {metrics}");
        let after = w.current_version(number).await;
        assert!(after > before, "a new PIN version is current: {before} → {after}");
        assert!(!w.meta_holds(number, &revealed), "the revealed PIN is retired at Meta");
        let since: Vec<(String, String)> = w
            .events(number)
            .await
            .into_iter()
            .skip(ledgered.len())
            .map(|(_, actor, action, _)| (actor, action))
            .collect();
        let by_system = |action: &str| ("system".to_owned(), action.to_owned());
        assert_eq!(since, [by_system("pin.rotation.started"), by_system("pin.rotated")], "the ledger has the rotation by system");
        let (_, _, _, rotated) = w.events(number).await.into_iter().rfind(|(_, _, action, _)| action == "pin.rotated").unwrap();
        assert_eq!(rotated["version"], after, "the rotation ledgered is the new current version");
        let (escrowed, _) = w.reveal(number).await;
        assert!(w.meta_holds(number, &escrowed), "Meta holds the PIN now in escrow");
    }

    async fn serve_leaves_a_rotation_queued_less_than_a_day_ago_waiting_for_a_person(db) {
        let w = world(&db).await;
        let (due, fresh) = (&w.numbers[0], &w.numbers[1]);
        let (_, due_job) = w.reveal(due).await;
        queued_ago(&db, &due_job, REVEAL_GRACE + TimeDelta::hours(1)).await;
        let (revealed, fresh_job) = w.reveal(fresh).await;
        queued_ago(&db, &fresh_job, REVEAL_GRACE - TimeDelta::hours(1)).await;
        let version = w.current_version(fresh).await;
        let ledgered = w.events(fresh).await;

        let mut serve = w.serve(&db);
        // The first round has ended; the due job it ran shows it looked at this org.
        serve.wait_for_line(ROUND_ENDED);
        assert_eq!(w.job_status(&due_job).await.status, "done", "the round ran the due rotation");

        let status = w.job_status(&fresh_job).await;
        assert_eq!((status.status.as_str(), status.queued), ("running", 1), "still waiting: {status:?}");
        assert_eq!(w.current_version(fresh).await, version, "no new PIN version");
        assert!(w.meta_holds(fresh, &revealed), "the revealed PIN still re-registers the number");
        assert_eq!(w.events(fresh).await, ledgered, "nothing ledgered about the number since");
        let queued = governance::jobs::queued_for(&w.store, &w.admin, fresh).await.unwrap();
        assert_eq!(queued.as_deref(), Some(fresh_job.as_str()), "the record still offers to run it");
    }

    async fn serve_finishes_a_revealed_pins_rotation_whose_worker_died_mid_way(db) {
        let w = world(&db).await;
        let number = &w.numbers[0];
        let (revealed, job) = w.reveal(number).await;
        queued_ago(&db, &job, REVEAL_GRACE + TimeDelta::hours(1)).await;
        // Say a person pressed Rotate PIN (or an earlier serve ran the job) and the process
        // was killed right after claiming the number.
        worker_died(&db, &job).await;

        let mut serve = w.serve(&db);
        serve.wait_for_line(ROUND_ENDED);

        let status = w.job_status(&job).await;
        assert_eq!((status.status.as_str(), status.done), ("done", 1), "{status:?}");
        w.assert_retired(number, &revealed).await;
    }

    async fn serve_tries_again_a_revealed_pins_rotation_that_failed_once_the_wait_after_the_failure_is_over(db) {
        let w = world(&db).await;
        let number = &w.numbers[0];
        let (revealed, job) = w.reveal(number).await;
        let before = w.current_version(number).await;
        queued_ago(&db, &job, REVEAL_GRACE + TimeDelta::hours(1)).await;
        w.sandbox.set_faults(FaultPlan::single(
            FaultRule::always(Route::SetPin, Fault::MetaError { code: 133006 }).for_number(number.as_str()),
        ));
        let serve = w.serve(&db);
        let serve = until_finished(&w, &job, serve).await;
        serve.signal("TERM");
        serve.wait();
        assert_eq!(w.job_status(&job).await.failed, 1, "Meta refused the new PIN");
        assert_eq!(w.current_version(number).await, before);
        assert!(w.meta_holds(number, &revealed), "the revealed PIN is still the live one");

        // Later, the wait after the failure over, and Meta accepting PINs again.
        revealed_ago(&db, &job, REVEAL_GRACE + TimeDelta::hours(2)).await;
        failed_ago(&db, &job, RETRY_FIRST + TimeDelta::minutes(1)).await;
        w.sandbox.set_faults(FaultPlan::none());
        let mut serve = w.serve(&db);
        serve.wait_for_line(ROUND_ENDED);

        let after = w.current_version(number).await;
        assert!(after > before, "a new PIN version is current: {before} → {after}");
        w.assert_retired(number, &revealed).await;
    }

    async fn serve_completes_a_revealed_pins_rotation_killed_after_its_new_pin_was_escrowed_and_before_it_was_sent(db) {
        let w = world(&db).await;
        let number = &w.numbers[0];
        let (revealed, job) = w.reveal(number).await;
        let before = w.current_version(number).await;
        // A person ran the rotation, and the process was killed with the new PIN escrowed as
        // pending and not yet sent to Meta.
        let mut rotating = w.pinward(&db, &["rotate", "resume", &job, "--org", "acme"], &[("FAILPOINTS", "custody::after_tx1=sleep(600000)")]);
        rotating.wait_for_line("failpoint reached");
        rotating.signal("KILL");
        let _ = rotating.wait();
        let pending = w.record(number).await;
        assert_eq!(pending.pin_state, governance::custody::PinState::Rotating, "{:?}", pending.versions);
        queued_ago(&db, &job, REVEAL_GRACE + TimeDelta::hours(1)).await;
        leases_ran_out(&db, &job).await;

        let mut serve = w.serve(&db);
        serve.wait_for_line(ROUND_ENDED);

        let status = w.job_status(&job).await;
        assert_eq!((status.status.as_str(), status.done), ("done", 1), "{status:?}");
        assert_eq!(w.current_version(number).await, before + 1, "the pending PIN was sent and confirmed, not replaced");
        w.assert_retired(number, &revealed).await;
    }
}
