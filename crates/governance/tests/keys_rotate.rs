//! Service key rotation on both databases: every PIN opens with the new identity, the old
//! one is retired, recovery keys still open the export, and the rotation is ledgered.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use audit::Actor;
use common::{ORG, ledger, quick, world};
use governance::custody::{Custodian, Escrow};
use pinward_tests::on_both_databases;

on_both_databases! {
    async fn keys_rotate_reseals_every_pin_to_a_new_identity_and_retires_the_old_one(db) {
        let w = world(&db, 8).await;
        w.sync().await;
        let path = common::identity_path(&db);
        let identity = vault::Identity::load(&path).unwrap();
        let old_recipient = identity.recipient();
        let escrow = Arc::new(Escrow::load(&w.store, identity).await.unwrap());
        let c = Custodian::new(w.store.clone(), escrow, w.meta.clone(), quick());
        let org_key = vault::Identity::generate();
        let numbers = w.cloud_numbers();
        for n in &numbers[..3] {
            c.take(ORG, &Actor::system(), n, &[org_key.recipient()]).await.unwrap();
        }
        c.rotate(ORG, &Actor::system(), &numbers[0], &[org_key.recipient()]).await.unwrap();

        let rotation = governance::keys::rotate(&w.store, &path, &|_, _| {}).await.unwrap();
        assert_eq!(rotation.resealed, 5, "four PIN versions and the fingerprint key");
        let new = vault::Identity::load(&path).unwrap();
        assert_ne!(new.recipient(), old_recipient);
        assert_eq!(rotation.recipient, new.recipient().to_string());
        let retired = rotation.retired.unwrap();
        assert_eq!(vault::Identity::load(&retired).unwrap().recipient(), old_recipient);
        assert_eq!(std::fs::metadata(&retired).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(!path.with_file_name("identity.next.txt").exists());

        // Custody carries on with the new identity alone, and the recovery key still opens the export.
        let escrow = Arc::new(Escrow::load(&w.store, new).await.unwrap());
        for n in &numbers[..3] {
            let pin = governance::custody::reveal(&w.store, escrow.identity(), ORG, &Actor::system(), n, "after rotation").await.unwrap();
            assert_eq!(w.sandbox.pin_matches(n, &graph::PinSecret::new(pin.expose()).unwrap()), Some(true));
        }
        let c = Custodian::new(w.store.clone(), escrow, w.meta.clone(), quick());
        c.rotate(ORG, &Actor::system(), &numbers[1], &[org_key.recipient()]).await.unwrap();
        let out = db.subdir("export");
        governance::escrow::export(&w.store, ORG, &Actor::system(), &out).await.unwrap();
        let sealed = std::fs::read(out.join(format!("{}.age", numbers[2]))).unwrap();
        let pin: vault::Pin = vault::open(&sealed, &org_key).unwrap();
        assert_eq!(w.sandbox.pin_matches(&numbers[2], &graph::PinSecret::new(pin.expose()).unwrap()), Some(true));
        assert!(ledger(&w.store).await.iter().any(|(a, _)| a == "keys.rotated"));
    }

    async fn the_orgs_graph_token_opens_with_the_new_identity_after_keys_rotate(db) {
        let w = world(&db, 1).await;
        let token = w.sandbox.system_user_token();
        governance::credentials::set(&w.store, &w.escrow, &w.meta.graph, &governance::access::Caller::cli(ORG), &token).await.unwrap();
        let path = common::identity_path(&db);
        let rotation = governance::keys::rotate(&w.store, &path, &|_, _| {}).await.unwrap();
        assert_eq!(rotation.resealed, 2, "the fingerprint key and the Graph token");
        let escrow = Escrow::load(&w.store, vault::Identity::load(&path).unwrap()).await.unwrap();
        let opened = governance::credentials::open(&w.store, &escrow, ORG).await.unwrap();
        assert_eq!(opened.expose(), token.expose());
        let retired = Escrow::load(&w.store, vault::Identity::load(&rotation.retired.unwrap()).unwrap()).await;
        assert!(retired.is_err(), "the retired identity opens nothing any more");
    }

    async fn a_custodian_loaded_before_a_rotation_elsewhere_seals_nothing_to_the_retired_identity(db) {
        let w = world(&db, 4).await;
        w.sync().await;
        let path = common::identity_path(&db);
        let escrow = Arc::new(Escrow::load(&w.store, vault::Identity::load(&path).unwrap()).await.unwrap());
        let c = Custodian::new(w.store.clone(), escrow.clone(), w.meta.clone(), quick());
        let numbers = w.cloud_numbers();
        c.take(ORG, &Actor::system(), &numbers[0], &[]).await.unwrap();
        escrow.is_current(&w.store).await.unwrap();

        // Another host, sharing the database, rotates the keys; this process never sees its file.
        governance::keys::rotate(&w.store, &path, &|_, _| {}).await.unwrap();
        let (calls, events) = (w.sandbox.counters().numbers, ledger(&w.store).await.len());
        let refused = c.take(ORG, &Actor::system(), &numbers[1], &[]).await.unwrap_err();
        assert!(matches!(refused, governance::Error::IdentityRotated), "{refused:?}");
        assert!(refused.to_string().contains("restart pinward"), "says what to do: {refused}");
        let refused = c.rotate(ORG, &Actor::system(), &numbers[0], &[]).await.unwrap_err();
        assert!(matches!(refused, governance::Error::IdentityRotated), "{refused:?}");
        assert_eq!((w.sandbox.counters().numbers, ledger(&w.store).await.len()), (calls, events), "nothing sealed, sent or ledgered");
        let token = w.sandbox.system_user_token();
        let refused = governance::credentials::set(&w.store, &escrow, &w.meta.graph, &governance::access::Caller::cli(ORG), &token).await.unwrap_err();
        assert!(matches!(refused, governance::Error::IdentityRotated), "nor a Graph token: {refused:?}");
        assert!(matches!(escrow.is_current(&w.store).await, Err(governance::Error::IdentityRotated)), "and readiness probes can tell");

        // With the new identity, custody goes on.
        let escrow = Arc::new(Escrow::load(&w.store, vault::Identity::load(&path).unwrap()).await.unwrap());
        escrow.is_current(&w.store).await.unwrap();
        let c = Custodian::new(w.store.clone(), escrow, w.meta.clone(), quick());
        c.take(ORG, &Actor::system(), &numbers[1], &[]).await.unwrap();
    }
}
