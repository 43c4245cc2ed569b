//! Bulk rotation jobs on both databases: every number ends escrowed with the PIN Meta
//! holds, two workers never run the same item, and pause / cancel are honoured.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use audit::Actor;
use common::{ORG, ledger, quick, world};
use governance::Error;
use governance::jobs::{self, Command, Selection};
use graph::sandbox::Route;
use pinward_tests::on_both_databases;

on_both_databases! {
    async fn two_processes_worth_of_workers_rotate_every_number_once(db) {
        let w = world(&db, 24).await;
        w.sync().await;
        let job = jobs::start(&w.store, ORG, &Actor::system(), &Selection::All, 3).await.unwrap();
        let (a, b) = (w.custodian(quick()), w.custodian(quick()));
        let actor = Actor::system();
        let (ra, rb) = tokio::join!(
            jobs::run(&a, ORG, &actor, &job, &[], &|_, _| {}),
            jobs::run(&b, ORG, &actor, &job, &[], &|_, _| {}),
        );
        let status = ra.unwrap();
        rb.unwrap();
        let status = if status.status == "done" { status } else { jobs::status(&w.store, ORG, &job).await.unwrap() };
        assert_eq!(status.status, "done");
        assert_eq!((status.total, status.done, status.failed), (24, 24, 0), "{status:?}");
        let counters = w.sandbox.counters();
        assert_eq!(counters.route(Route::SetPin) + counters.route(Route::OnpremSetPin), 24, "each number exactly once");
        for number in governance::custody::status(&w.store, ORG, None).await.unwrap() {
            assert_eq!(number.pin_state, "escrowed");
            assert!(w.meta_holds_escrowed_pin(&number.phone_number_id.parse().unwrap()).await);
        }
        let actions: Vec<String> = ledger(&w.store).await.into_iter().map(|(a, _)| a).collect();
        assert_eq!(actions.iter().filter(|a| *a == "rotation.job.finished").count(), 1);
    }

    async fn a_paused_job_claims_nothing_and_a_cancelled_one_skips_the_rest(db) {
        let w = world(&db, 8).await;
        w.sync().await;
        let job = jobs::start(&w.store, ORG, &Actor::system(), &Selection::All, 1).await.unwrap();
        jobs::control(&w.store, ORG, &Actor::system(), &job, Command::Pause).await.unwrap();
        let status = jobs::run(&w.custodian(quick()), ORG, &Actor::system(), &job, &[], &|_, _| {}).await.unwrap();
        assert_eq!((status.status.as_str(), status.queued), ("paused", 8));
        assert_eq!(w.sandbox.counters().route(Route::SetPin), 0);
        let status = jobs::control(&w.store, ORG, &Actor::system(), &job, Command::Cancel).await.unwrap();
        assert_eq!((status.status.as_str(), status.skipped), ("cancelled", 8));
        let err = jobs::control(&w.store, ORG, &Actor::system(), &job, Command::Resume).await.unwrap_err();
        assert!(matches!(err, Error::Invalid { field: "job", .. }), "{err}");
        let err = jobs::status(&w.store, "another-org", &job).await.unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }));
    }

    async fn bad_job_requests_are_refused_and_create_nothing(db) {
        let w = world(&db, 8).await;
        w.sync().await;
        let before = ledger(&w.store).await.len();
        let err = jobs::start(&w.store, ORG, &Actor::system(), &Selection::All, 0).await.unwrap_err();
        assert!(matches!(err, Error::Invalid { field: "concurrency", .. }));
        let unknown = Selection::Numbers(vec!["424242".parse().unwrap()]);
        let err = jobs::start(&w.store, ORG, &Actor::system(), &unknown, 2).await.unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }));
        assert_eq!(ledger(&w.store).await.len(), before);
    }
}
