//! A Graph sandbox an org's custody runs against, set up as an operator would: the service
//! identity in the test's data dir, the org's Graph credential stored, its inventory synced,
//! and the first Cloud API numbers taken into custody. Shared by the end-to-end tests that
//! need to know the PIN Meta holds.

use std::sync::Arc;
use std::time::Duration;

use audit::Actor;
use governance::Store;
use governance::access::Caller;
use governance::custody::{Custodian, Escrow, MetaAccess, Settings};
use graph::sandbox::{Sandbox, SandboxHandle, SandboxSeed};
use graph::{GraphClient, PhoneNumberId};
use pinward_tests::TestDb;

pub struct CustodyWorld {
    /// Keep it alive while anything may call Meta.
    pub sandbox: SandboxHandle,
    pub escrow: Arc<Escrow>,
    /// The Cloud API numbers taken into custody, in the sandbox's order.
    pub numbers: Vec<PhoneNumberId>,
}

/// A sandbox of `sandbox_numbers` numbers in one business, synced into `org`, with the
/// first `taken` Cloud API numbers escrowed. The identity lives in `db`'s `data` subdir,
/// where `pinward serve --data-dir` finds it.
pub async fn custody_world(
    db: &TestDb,
    store: &Store,
    org: &str,
    sandbox_numbers: usize,
    taken: usize,
) -> CustodyWorld {
    let sandbox = Sandbox::seeded(SandboxSeed {
        seed: 5,
        numbers: sandbox_numbers,
        businesses: 1,
    })
    .start()
    .await
    .unwrap();
    let mut config = sandbox.graph_config();
    config.timeout = Duration::from_secs(5);
    let graph = GraphClient::new(config).unwrap();
    let token = sandbox.system_user_token();
    let identity_file = db.subdir("data").join("identity.txt");
    let (identity, _) = governance::keys::service_identity(store, &identity_file)
        .await
        .unwrap();
    let escrow = Arc::new(Escrow::load(store, identity).await.unwrap());
    governance::credentials::set(store, &escrow, &graph, &Caller::cli(org), &token)
        .await
        .unwrap();
    let meta = Arc::new(MetaAccess {
        graph,
        token,
        on_prem: None,
    });
    governance::sync::run(
        store,
        org,
        &Actor::system(),
        &meta,
        &sandbox.business_ids(),
        &governance::sync::SyncOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap();
    let numbers: Vec<PhoneNumberId> = sandbox
        .numbers()
        .into_iter()
        .filter(|n| !n.onprem)
        .map(|n| n.id)
        .take(taken)
        .collect();
    assert_eq!(
        numbers.len(),
        taken,
        "the sandbox has enough Cloud API numbers"
    );
    let custodian = Custodian::new(
        store.clone(),
        Arc::clone(&escrow),
        meta,
        Settings::default(),
    );
    for number in &numbers {
        custodian
            .take(org, &Actor::system(), number, &[])
            .await
            .unwrap();
    }
    CustodyWorld {
        sandbox,
        escrow,
        numbers,
    }
}
