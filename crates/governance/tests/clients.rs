//! The age recipient a client's released PINs are sealed to, and the client's name: set,
//! cleared and renamed by an org admin, ledgered, shown in the client list, on SQLite and
//! PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::ledger;
use common::seed::{caller, seeded};
use governance::{Error, Store, clients};
use pinward_tests::on_both_databases;

fn key() -> String {
    vault::Identity::generate().recipient().to_string()
}

/// The recipient of `client` as the admin's client list shows it.
async fn recipient_of(store: &Store, client: &str) -> Option<String> {
    clients::list(store, &caller("m-ann"))
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id == client)
        .unwrap()
        .age_recipient
}

on_both_databases! {
    async fn an_admin_renames_a_client_and_the_ledger_keeps_both_names(db) {
        let store = seeded(&db).await;
        let renamed = clients::rename(&store, &caller("m-ann"), "client-a", "  Alpha Foods Group ").await.unwrap();
        assert_eq!(renamed.name, "Alpha Foods Group", "trimmed");
        let names: Vec<String> = clients::list(&store, &caller("m-ann")).await.unwrap().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["Alpha Foods Group", "Beta Travel"]);
        let (action, details) = ledger(&store).await.pop().unwrap();
        assert_eq!(action, "client.renamed");
        assert_eq!(details, r#"{"from":"Alpha Foods","to":"Alpha Foods Group"}"#);

        // A rename keeps the recipient, and a recipient change keeps the name.
        let key = key();
        clients::set_recipient(&store, &caller("m-ann"), "client-a", &key).await.unwrap();
        let renamed = clients::rename(&store, &caller("m-ann"), "client-a", "Alpha Foods Group Ltd").await.unwrap();
        assert_eq!(renamed.age_recipient.as_deref(), Some(key.as_str()));
        assert_eq!(recipient_of(&store, "client-a").await, Some(key.clone()));
        clients::clear_recipient(&store, &caller("m-ann"), "client-a").await.unwrap();
        let listed = clients::list(&store, &caller("m-ann")).await.unwrap();
        assert_eq!(listed[0].name, "Alpha Foods Group Ltd", "{listed:?}");
        clients::rename(&store, &caller("m-ann"), "client-a", "Alpha Foods Group").await.unwrap();

        let events = ledger(&store).await.len();
        clients::rename(&store, &caller("m-ann"), "client-a", "Alpha Foods Group").await.unwrap();
        assert_eq!(ledger(&store).await.len(), events, "the same name changes and ledgers nothing");
        for bad in ["", "   ", &"x".repeat(101), "Alpha\u{7}", "beta TRAVEL", "BETA TRAVEL"] {
            let refused = clients::rename(&store, &caller("m-ann"), "client-a", bad).await.unwrap_err();
            assert!(matches!(refused, Error::Invalid { field: "name", .. }), "{bad:?}: {refused:?}");
        }
        let refused = clients::rename(&store, &caller("m-bob"), "client-a", "Mine").await.unwrap_err();
        assert!(matches!(refused, Error::Forbidden { .. }), "ops may not rename: {refused:?}");
        let refused = clients::rename(&store, &caller("m-ann"), "client-z", "Beta Travel").await.unwrap_err();
        assert!(matches!(refused, Error::NotFound { what: "client" }), "another org's client is not found: {refused:?}");
        assert_eq!(ledger(&store).await.len(), events, "no refusal ledgers anything");
    }

    async fn an_admin_sets_a_clients_recipient_and_the_list_and_ledger_show_it(db) {
        let store = seeded(&db).await;
        assert_eq!(recipient_of(&store, "client-a").await, None, "no client has one at first");
        let key = key();
        let set = clients::set_recipient(&store, &caller("m-ann"), "client-a", &format!(" {key}\n")).await.unwrap();
        assert_eq!((set.name.as_str(), set.age_recipient.as_deref()), ("Alpha Foods", Some(key.as_str())));
        assert_eq!(recipient_of(&store, "client-a").await, Some(key.clone()));
        assert_eq!(recipient_of(&store, "client-b").await, None, "only that client changed");
        let (action, details) = ledger(&store).await.pop().unwrap();
        assert_eq!(action, "client.recipient_set");
        assert_eq!(details, format!(r#"{{"recipient":"{key}"}}"#));
    }

    async fn a_set_recipient_replaces_the_one_before(db) {
        let store = seeded(&db).await;
        let (first, second) = (key(), key());
        clients::set_recipient(&store, &caller("m-ann"), "client-a", &first).await.unwrap();
        clients::set_recipient(&store, &caller("m-ann"), "client-a", &second).await.unwrap();
        assert_eq!(recipient_of(&store, "client-a").await, Some(second));
    }

    async fn an_admin_clears_a_recipient_and_the_ledger_names_the_key_it_had(db) {
        let store = seeded(&db).await;
        let key = key();
        clients::set_recipient(&store, &caller("m-ann"), "client-b", &key).await.unwrap();
        let cleared = clients::clear_recipient(&store, &caller("m-ann"), "client-b").await.unwrap();
        assert_eq!(cleared.age_recipient, None);
        assert_eq!(recipient_of(&store, "client-b").await, None);
        let (action, details) = ledger(&store).await.pop().unwrap();
        assert_eq!(action, "client.recipient_cleared");
        assert_eq!(details, format!(r#"{{"recipient":"{key}"}}"#));
    }

    async fn setting_the_same_key_again_or_clearing_none_changes_and_ledgers_nothing(db) {
        let store = seeded(&db).await;
        let before = ledger(&store).await.len();
        let cleared = clients::clear_recipient(&store, &caller("m-ann"), "client-b").await.unwrap();
        assert_eq!(cleared.age_recipient, None);
        assert_eq!(ledger(&store).await.len(), before, "clearing no key is no event");
        let key = key();
        clients::set_recipient(&store, &caller("m-ann"), "client-b", &key).await.unwrap();
        let again = clients::set_recipient(&store, &caller("m-ann"), "client-b", &key).await.unwrap();
        assert_eq!(again.age_recipient.as_deref(), Some(key.as_str()));
        assert_eq!(ledger(&store).await.len(), before + 1, "the same key twice is one event");
    }

    async fn only_an_admin_may_set_or_clear_a_recipient_and_a_refusal_changes_nothing(db) {
        let store = seeded(&db).await;
        let key = key();
        clients::set_recipient(&store, &caller("m-ann"), "client-a", &key).await.unwrap();
        let before = ledger(&store).await.len();
        for member in ["m-bob", "m-dan", "m-eve"] {
            let set = clients::set_recipient(&store, &caller(member), "client-a", &self::key()).await;
            assert!(matches!(set, Err(Error::Forbidden { needed: "org:manage" })), "{member}: {set:?}");
            let cleared = clients::clear_recipient(&store, &caller(member), "client-a").await;
            assert!(matches!(cleared, Err(Error::Forbidden { needed: "org:manage" })), "{member}: {cleared:?}");
        }
        assert_eq!(recipient_of(&store, "client-a").await, Some(key));
        assert_eq!(ledger(&store).await.len(), before);
    }

    async fn another_orgs_client_or_an_unknown_one_is_not_found(db) {
        let store = seeded(&db).await;
        for client in ["client-z", "no-such-client"] {
            let set = clients::set_recipient(&store, &caller("m-ann"), client, &key()).await;
            assert!(matches!(set, Err(Error::NotFound { what: "client" })), "{client}: {set:?}");
            let cleared = clients::clear_recipient(&store, &caller("m-ann"), client).await;
            assert!(matches!(cleared, Err(Error::NotFound { what: "client" })), "{client}: {cleared:?}");
        }
        let zeta = clients::list(&store, &caller("m-zed")).await.unwrap();
        assert_eq!(zeta[0].age_recipient, None, "the other org's client is untouched");
        assert!(ledger(&store).await.is_empty());
    }

    async fn a_malformed_key_is_refused_naming_the_recipient_field_and_changes_nothing(db) {
        let store = seeded(&db).await;
        let key = key();
        clients::set_recipient(&store, &caller("m-ann"), "client-a", &key).await.unwrap();
        let before = ledger(&store).await.len();
        for bad in ["", "   ", "age1notakey", "ssh-ed25519 AAAA", "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"] {
            let set = clients::set_recipient(&store, &caller("m-ann"), "client-a", bad).await;
            assert!(matches!(set, Err(Error::Invalid { field: "recipient", .. })), "{bad:?}: {set:?}");
        }
        assert_eq!(recipient_of(&store, "client-a").await, Some(key));
        assert_eq!(ledger(&store).await.len(), before);
    }
}

/// The org's ledger lock, held from a connection of the test's own on PostgreSQL, where
/// transactions really overlap (SQLite's `BEGIN IMMEDIATE` runs them one at a time): what
/// waits on it queues in the order it came, and goes on when the test lets go.
struct HeldLedger {
    /// In a transaction begun by hand, which [`HeldLedger::let_go`] commits.
    held: sqlx::PgConnection,
}

impl HeldLedger {
    async fn take(db: &pinward_tests::TestDb) -> HeldLedger {
        // The head row is committed first, so waiters queue on the row lock one behind the
        // other rather than all on the holder's uncommitted insert.
        db.execute(&[&format!(
            "INSERT INTO ledger_heads (org_id, seq, hash) VALUES ('{}', 0, repeat('0', 64)) \
             ON CONFLICT (org_id) DO NOTHING",
            common::ORG
        )])
        .await;
        let held = common::held_transaction(
            db,
            &["SELECT 1 FROM ledger_heads WHERE org_id = $1 FOR UPDATE"],
        )
        .await;
        HeldLedger { held }
    }

    async fn until_waiting(&mut self, n: i64) {
        common::until_waiting(&mut self.held, n).await;
    }

    async fn let_go(mut self) {
        sqlx::query("COMMIT").execute(&mut self.held).await.unwrap();
    }
}

/// Two renames of two clients to one name at the same moment, both held at the org's ledger
/// lock until both wait: one name stands.
#[tokio::test]
async fn two_renames_to_one_name_at_once_leave_one_client_with_it() {
    let db = pinward_tests::TestDb::new(pinward_tests::Backend::Postgres).await;
    let store = seeded(&db).await;
    let mut held = HeldLedger::take(&db).await;
    let rename = |client: &'static str| {
        let store = store.clone();
        tokio::spawn(async move {
            clients::rename(&store, &caller("m-ann"), client, "Gamma Group").await
        })
    };
    let (first, second) = (rename("client-a"), rename("client-b"));
    held.until_waiting(2).await;
    held.let_go().await;
    let outcomes = [first.await.unwrap(), second.await.unwrap()];
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, Err(Error::Invalid { field: "name", .. })))
        .count();
    assert_eq!(
        (outcomes.iter().filter(|o| o.is_ok()).count(), refused),
        (1, 1),
        "one rename stands and the other is refused: {outcomes:?}"
    );
    let named = clients::list(&store, &caller("m-ann"))
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.name == "Gamma Group")
        .count();
    assert_eq!(named, 1, "one client has the name");
}

/// The world's inventory not synced yet, beside a client "Zed" of the org that its admin
/// (`m-ann`) may rename.
async fn before_the_first_sync(db: &pinward_tests::TestDb) -> common::World {
    let w = common::world(db, 3).await;
    common::seed::members_beside_sync(db).await;
    common::sql(db, &[&format!(
        "INSERT INTO clients (id, org_id, name, created_at) VALUES ('client-z', '{}', 'Zed', '2026-01-01T00:00:00Z')",
        common::ORG
    )])
    .await;
    w
}

async fn client_names(store: &Store) -> Vec<String> {
    let mut names: Vec<String> = clients::list(store, &caller("m-ann"))
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    names.sort();
    names
}

on_both_databases! {
    async fn a_client_a_sync_discovers_never_takes_a_name_a_rename_gave(db) {
        let w = before_the_first_sync(&db).await;
        let business = w.businesses[0].as_str().to_owned();
        clients::rename(&w.store, &caller("m-ann"), "client-z", &format!("business {business}")).await.unwrap();
        w.sync().await;
        assert_eq!(client_names(&w.store).await, [format!("Business {business} (2)"), format!("business {business}")]);
    }
}

/// A rename to the name a sync is about to give a new client, at the same moment. The rename
/// reaches the org's ledger lock first and the sync second; neither may end with two clients
/// of one name.
#[tokio::test]
async fn a_rename_and_a_sync_at_once_leave_no_two_clients_of_one_name() {
    let db = pinward_tests::TestDb::new(pinward_tests::Backend::Postgres).await;
    let w = std::sync::Arc::new(before_the_first_sync(&db).await);
    let business = w.businesses[0].as_str().to_owned();
    let mut held = HeldLedger::take(&db).await;
    let store = w.store.clone();
    let name = format!("Business {business}");
    let rename =
        tokio::spawn(
            async move { clients::rename(&store, &caller("m-ann"), "client-z", &name).await },
        );
    held.until_waiting(1).await;
    let syncing = w.clone();
    let sync = tokio::spawn(async move { syncing.sync().await });
    held.until_waiting(2).await;
    held.let_go().await;
    rename.await.unwrap().unwrap();
    sync.await.unwrap();
    assert_eq!(
        client_names(&w.store).await,
        [
            format!("Business {business}"),
            format!("Business {business} (2)")
        ],
        "the rename stands, and the client the sync found takes the next free name"
    );
}

/// Two syncs finding the same new business at the same moment: one makes its client, the
/// other finds it made.
#[tokio::test]
async fn two_syncs_at_once_make_one_client_of_a_new_business() {
    let db = pinward_tests::TestDb::new(pinward_tests::Backend::Postgres).await;
    let w = std::sync::Arc::new(before_the_first_sync(&db).await);
    let mut held = HeldLedger::take(&db).await;
    let sync = || {
        let syncing = w.clone();
        tokio::spawn(async move { syncing.sync().await })
    };
    let (first, second) = (sync(), sync());
    held.until_waiting(2).await;
    held.let_go().await;
    let created = first.await.unwrap().clients_created + second.await.unwrap().clients_created;
    assert_eq!(created, 1, "one of them made the client");
    let business = w.businesses[0].as_str();
    assert_eq!(
        client_names(&w.store).await,
        [format!("Business {business}"), "Zed".to_owned()]
    );
}
