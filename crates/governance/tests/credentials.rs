//! The org's Graph credential (sealed, checked with Meta's debug_token against the sandbox)
//! and its recovery recipients, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{ORG, ledger, sql, world};
use governance::access::{Caller, Role};
use governance::{Error, credentials, recovery};
use graph::AccessToken;
use pinward_tests::on_both_databases;

fn ops() -> Caller {
    Caller {
        role: Role::Ops,
        ..Caller::cli(ORG)
    }
}

on_both_databases! {
    async fn a_token_is_checked_with_meta_stored_sealed_and_opens_again(db) {
        let w = world(&db, 4).await;
        let token = w.sandbox.system_user_token();
        let facts = credentials::set(&w.store, &w.escrow, &w.meta.graph, &Caller::cli(ORG), &token).await.unwrap();
        assert!(facts.is_valid);
        assert!(facts.never_expires && facts.expires_at.is_none(), "{facts:?}");
        assert_eq!(facts.token_type.as_deref(), Some("SYSTEM_USER"));
        assert!(facts.scopes.iter().any(|s| s == "whatsapp_business_management"), "{:?}", facts.scopes);
        assert_eq!(credentials::show(&w.store, &Caller::cli(ORG)).await.unwrap(), Some(facts));

        let opened = credentials::open(&w.store, &w.escrow, ORG).await.unwrap();
        assert_eq!(opened.expose(), token.expose());
        // Neither the table nor the ledger holds the token.
        let dump = common::dump_text(&db, "SELECT sealed FROM graph_credentials").await;
        assert!(dump.starts_with("-----BEGIN AGE ENCRYPTED FILE-----") && !dump.contains(token.expose()));
        let events = ledger(&w.store).await;
        assert_eq!(events.last().unwrap().0, "graph_credential.set");
        assert!(events.iter().all(|(_, details)| !details.contains(token.expose())));
    }

    async fn a_revoked_token_is_found_not_valid_on_recheck(db) {
        let w = world(&db, 2).await;
        let token = w.sandbox.system_user_token();
        credentials::set(&w.store, &w.escrow, &w.meta.graph, &Caller::cli(ORG), &token).await.unwrap();
        assert!(w.sandbox.revoke_token(&token));
        let facts = credentials::recheck(&w.store, &w.escrow, &w.meta.graph, &ops()).await.unwrap();
        assert!(!facts.is_valid);
        assert_eq!(ledger(&w.store).await.last().unwrap().0, "graph_credential.checked");
    }

    async fn a_bad_or_refused_token_is_not_stored(db) {
        let w = world(&db, 2).await;
        let before = ledger(&w.store).await.len();
        let blank = credentials::set(&w.store, &w.escrow, &w.meta.graph, &Caller::cli(ORG), &AccessToken::from(" ")).await;
        assert!(matches!(blank, Err(Error::Invalid { field: "token", .. })), "{blank:?}");
        let unknown = credentials::set(&w.store, &w.escrow, &w.meta.graph, &Caller::cli(ORG), &AccessToken::from("EAAnotatoken")).await;
        assert!(matches!(unknown, Err(Error::Graph(_)) | Err(Error::Invalid { field: "token", .. })), "{unknown:?}");
        let forbidden = credentials::set(&w.store, &w.escrow, &w.meta.graph, &ops(), &w.sandbox.system_user_token()).await;
        assert!(matches!(forbidden, Err(Error::Forbidden { needed: "org:manage" })), "{forbidden:?}");
        assert_eq!(credentials::show(&w.store, &Caller::cli(ORG)).await.unwrap(), None);
        assert!(matches!(credentials::open(&w.store, &w.escrow, ORG).await, Err(Error::NotFound { .. })));
        assert_eq!(ledger(&w.store).await.len(), before);
    }

    async fn recovery_recipients_are_added_listed_and_removed_and_bad_keys_refused(db) {
        let w = world(&db, 1).await;
        let key = vault::Identity::generate().recipient().to_string();
        let admin = Caller::cli(ORG);
        let added = recovery::add(&w.store, &admin, &format!(" {key} "), "CFO's YubiKey").await.unwrap();
        assert_eq!(added.recipient, key);
        assert_eq!(recovery::list(&w.store, &admin).await.unwrap(), vec![added.clone()]);
        assert_eq!(recovery::recipients_of(&w.store, ORG).await.unwrap().len(), 1);

        let before = ledger(&w.store).await.len();
        let bad = recovery::add(&w.store, &admin, "age1notakey", "x").await;
        assert!(matches!(bad, Err(Error::Invalid { field: "recipient", .. })), "{bad:?}");
        // Well-formed but of low order: anything sealed to it could be opened by anyone.
        let weak = recovery::add(&w.store, &admin, "age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq5cu47z", "x").await;
        assert!(matches!(&weak, Err(Error::Invalid { field: "recipient", problem }) if problem.contains("low order")), "{weak:?}");
        let unlabelled = recovery::add(&w.store, &admin, &vault::Identity::generate().recipient().to_string(), " ").await;
        assert!(matches!(unlabelled, Err(Error::Invalid { field: "label", .. })), "{unlabelled:?}");
        let twice = recovery::add(&w.store, &admin, &key, "again").await.unwrap_err();
        assert!(matches!(&twice, Error::Conflict { constraint } if constraint == "recovery_recipients_org_recipient_uq"), "{twice:?}");
        assert!(matches!(recovery::add(&w.store, &ops(), &key, "x").await, Err(Error::Forbidden { .. })));
        assert_eq!(ledger(&w.store).await.len(), before);

        // Another org neither sees nor removes it.
        sql(&db, &["INSERT INTO orgs (id, slug, name, created_at) VALUES ('org-beta', 'beta', 'Beta', '2026-01-01T00:00:00Z')"]).await;
        let beta = Caller::cli("org-beta");
        assert!(recovery::list(&w.store, &beta).await.unwrap().is_empty());
        assert!(matches!(recovery::remove(&w.store, &beta, &added.id).await, Err(Error::NotFound { .. })));

        recovery::remove(&w.store, &admin, &added.id).await.unwrap();
        assert!(recovery::list(&w.store, &admin).await.unwrap().is_empty());
        let actions: Vec<String> = ledger(&w.store).await.into_iter().map(|(a, _)| a).collect();
        assert_eq!(actions[actions.len() - 2..], ["recovery_recipient.added", "recovery_recipient.removed"]);
    }
}
