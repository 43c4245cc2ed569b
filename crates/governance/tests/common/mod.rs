//! Shared set-up of governance's integration tests: a migrated store with an org, a
//! running Graph sandbox, and a synced inventory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use audit::Actor;
use governance::custody::{Custodian, Escrow, MetaAccess, NumberCustody, OnPremLogin, Settings};
use governance::{DatabaseTarget, Store};
use graph::sandbox::{Sandbox, SandboxHandle, SandboxSeed};
use graph::{BusinessId, GraphClient, PhoneNumberId};
use pinward_tests::{Backend, TestDb};
use sqlx::Connection;

pub mod seed;
pub mod varied;

pub const ORG: &str = "org-acme";

/// Runs raw SQL (test set-up only: org and client rows the domain branch will create).
pub async fn sql(db: &TestDb, statements: &[&str]) {
    db.execute(statements).await;
}

/// Every ledger event of the org as `(action, details)`.
pub async fn ledger(store: &Store) -> Vec<(String, String)> {
    governance::ledger::events(store, ORG, 1, u64::MAX)
        .await
        .unwrap()
        .iter()
        .map(|e| {
            let stored = e.to_stored();
            (stored.action, stored.details)
        })
        .collect()
}

pub struct World {
    pub store: Store,
    pub sandbox: SandboxHandle,
    pub meta: Arc<MetaAccess>,
    pub escrow: Arc<Escrow>,
    pub businesses: Vec<BusinessId>,
}

/// The service identity file of the test's world.
pub fn identity_path(db: &TestDb) -> std::path::PathBuf {
    db.subdir("data").join("identity.txt")
}

pub fn quick() -> Settings {
    Settings {
        lease: Duration::from_secs(30),
        max_sends: 3,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(5),
    }
}

/// A migrated store with the org [`ORG`] and nothing else.
pub async fn org_store(db: &TestDb) -> Store {
    let store = Store::connect(&DatabaseTarget::parse(db.url()).unwrap())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    sql(db, &[&format!(
        "INSERT INTO orgs (id, slug, name, created_at) VALUES ('{ORG}', 'acme', 'Acme', '2026-01-01T00:00:00Z')"
    )])
    .await;
    store
}

pub async fn world(db: &TestDb, numbers: usize) -> World {
    let store = org_store(db).await;
    let sandbox = Sandbox::seeded(SandboxSeed {
        seed: 7,
        numbers,
        businesses: 1,
    })
    .start()
    .await
    .unwrap();
    let mut config = sandbox.graph_config();
    config.timeout = Duration::from_secs(5);
    let (username, password) = sandbox.onprem_admin();
    let meta = Arc::new(MetaAccess {
        graph: GraphClient::new(config).unwrap(),
        token: sandbox.system_user_token(),
        on_prem: Some(OnPremLogin { username, password }),
    });
    let (identity, _) = vault::Identity::load_or_create(&identity_path(db)).unwrap();
    let escrow = Arc::new(Escrow::load(&store, identity).await.unwrap());
    let businesses = sandbox.business_ids();
    World {
        store,
        sandbox,
        meta,
        escrow,
        businesses,
    }
}

impl World {
    pub fn custodian(&self, settings: Settings) -> Custodian {
        Custodian::new(
            self.store.clone(),
            self.escrow.clone(),
            self.meta.clone(),
            settings,
        )
    }

    pub fn onprem_template(&self) -> String {
        format!("{}onprem/{{id}}/", self.sandbox.base_url())
    }

    pub async fn sync(&self) -> governance::sync::SyncReport {
        let options = governance::sync::SyncOptions {
            on_prem_url_template: Some(self.onprem_template()),
        };
        governance::sync::run(
            &self.store,
            ORG,
            &Actor::system(),
            &self.meta,
            &self.businesses,
            &options,
            &mut |_| {},
        )
        .await
        .unwrap()
    }

    pub async fn number(&self, id: &PhoneNumberId) -> NumberCustody {
        governance::custody::status(&self.store, ORG, Some(id))
            .await
            .unwrap()
            .remove(0)
    }

    /// A synced Cloud API number.
    pub fn cloud_number(&self) -> PhoneNumberId {
        self.sandbox
            .numbers()
            .into_iter()
            .find(|n| !n.onprem)
            .unwrap()
            .id
    }

    pub fn cloud_numbers(&self) -> Vec<PhoneNumberId> {
        self.sandbox
            .numbers()
            .into_iter()
            .filter(|n| !n.onprem)
            .map(|n| n.id)
            .collect()
    }

    /// Whether the PIN Meta holds is the number's current escrowed PIN.
    pub async fn meta_holds_escrowed_pin(&self, number: &PhoneNumberId) -> bool {
        let pin = governance::custody::reveal(
            &self.store,
            self.escrow.identity(),
            ORG,
            &Actor::system(),
            number,
            "test checks the escrow",
        )
        .await
        .unwrap();
        self.sandbox
            .pin_matches(number, &graph::PinSecret::new(pin.expose()).unwrap())
            == Some(true)
    }

    /// Statuses of the number's versions, oldest first.
    pub async fn statuses(&self, number: &PhoneNumberId) -> Vec<String> {
        self.number(number)
            .await
            .versions
            .into_iter()
            .map(|v| v.status)
            .collect()
    }
}

/// The first column of the first row of `query`, as text (test inspection only).
pub async fn dump_text(db: &TestDb, query: &str) -> String {
    let query = sqlx::AssertSqlSafe(query.to_owned());
    match db.backend() {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            sqlx::query_scalar(query)
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
            sqlx::query_scalar(query)
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
    }
}

/// Waits until `n` transactions of the test's database wait on a row lock, asking through
/// `conn` (PostgreSQL; bounded, for a hang only: each reaches its lock within milliseconds).
pub async fn until_waiting(conn: &mut sqlx::PgConnection, n: i64) {
    let waiting = "SELECT COUNT(*) FROM pg_stat_activity \
                   WHERE datname = current_database() AND wait_event_type = 'Lock'";
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while sqlx::query_scalar::<_, i64>(waiting)
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        < n
    {
        assert!(std::time::Instant::now() < deadline, "{n} wait on a lock");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A transaction of the test's own on PostgreSQL, begun by hand with the org as its tenant,
/// that has run `statements` (each bound to the org's id) and holds their row locks until
/// the test commits it: what the domain does meanwhile really overlaps it.
pub async fn held_transaction(db: &TestDb, statements: &[&str]) -> sqlx::PgConnection {
    let mut held = sqlx::PgConnection::connect(db.url()).await.unwrap();
    sqlx::query("BEGIN").execute(&mut held).await.unwrap();
    let tenant = "SELECT set_config('pinward.org_id', $1, true)";
    for sql in std::iter::once(&tenant).chain(statements) {
        let sql = sqlx::AssertSqlSafe(*sql);
        sqlx::query(sql).bind(ORG).execute(&mut held).await.unwrap();
    }
    held
}
