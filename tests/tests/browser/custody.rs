//! `pinward serve` with custody against a Graph sandbox that runs in the test, so the test
//! knows the PIN Meta holds: the org's Graph credential stored, its inventory synced, one
//! Cloud API number taken into custody, and two people who sign in with a password.

use audit::Actor;
use governance::access::{Caller, Role};
use governance::users::{NewUser, Password};
use governance::{DatabaseTarget, Store};
use graph::sandbox::SandboxHandle;
use graph::{PhoneNumberId, PinSecret};
use pinward_tests::{PinwardProcess, TestDb};

pub const ADMIN: &str = "ann@example.com";
pub const OPS: &str = "olly@example.com";
pub const PASSWORD: &str = "correct horse battery staple";

pub struct Served {
    /// Kept alive for the test: `pinward serve` reaches Meta here.
    pub sandbox: SandboxHandle,
    pub _process: PinwardProcess,
    pub base: String,
    /// The escrowed Cloud API number the test works on.
    pub number: PhoneNumberId,
    pub display: String,
    pub admin_member: String,
    pub ops_member: String,
}

impl Served {
    /// Whether Meta (the sandbox) holds `pin` for the number.
    pub fn meta_holds(&self, pin: &str) -> bool {
        PinSecret::new(pin)
            .ok()
            .and_then(|pin| self.sandbox.pin_matches(&self.number, &pin))
            == Some(true)
    }
}

async fn person(store: &Store, org: &str, email: &str, name: &str, role: Role) -> String {
    governance::members::add_new_user(
        store,
        &Caller::cli(org),
        &NewUser {
            email: email.to_owned(),
            display_name: name.to_owned(),
            password: Some(Password::new(PASSWORD.to_owned())),
        },
        role,
        &[],
    )
    .await
    .unwrap()
    .id
}

pub async fn serve_with_custody(db: &TestDb) -> Served {
    let store = Store::connect(&DatabaseTarget::parse(db.url()).unwrap())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let org = governance::orgs::create(&store, &Actor::system(), "acme", "Acme Telecom")
        .await
        .unwrap()
        .id;
    let admin_member = person(&store, &org, ADMIN, "Ann Admin", Role::Admin).await;
    let ops_member = person(&store, &org, OPS, "Olly Ops", Role::Ops).await;

    let world = crate::custody_world::custody_world(db, &store, &org, 4, 1).await;
    let (sandbox, number) = (world.sandbox, world.numbers[0].clone());
    let data_dir = db.subdir("data");
    let display =
        governance::numbers::record(&store, &Caller::cli(&org), &number, chrono::Utc::now())
            .await
            .unwrap()
            .meta
            .display_phone_number;
    store.close().await;

    let mut process = PinwardProcess::spawn(
        &["serve"],
        &[
            ("PINWARD_DATA_DIR", data_dir.to_str().unwrap()),
            ("PINWARD_DATABASE_URL", db.url()),
            ("PINWARD_LISTEN", "127.0.0.1:0"),
            ("PINWARD_GRAPH_BASE_URL", sandbox.base_url().as_str()),
        ],
    );
    let base = process.wait_until_listening();
    Served {
        sandbox,
        _process: process,
        base,
        number,
        display,
        admin_member,
        ops_member,
    }
}
