//! A web app able to run custody: an in-process Graph sandbox, the org's stored Graph
//! credential, a synced inventory and the service identity, as `pinward serve` wires them.

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use governance::Store;
use governance::access::{Caller, Role};
use governance::custody::{Custodian, Escrow, MetaAccess, Settings};
use governance::numbers::{BackupChannel, ChannelKind, MetadataUpdate};
use governance::users::{NewUser, Password};
use graph::sandbox::{Sandbox, SandboxHandle, SandboxSeed};
use graph::{GraphClient, PhoneNumberId, PinSecret};
use pinward_tests::TestDb;
use std::sync::Arc;

use super::{PASSWORD, Visit, get_as, org_with_member, send, store, text};

/// Every member of the custody world signs in with [`PASSWORD`] at `<name>@acme.example`.
pub const ADMIN: &str = "admin@acme.example";
pub const OPS: &str = "ops@acme.example";
pub const OWNER: &str = "owner@acme.example";
pub const MANAGER: &str = "manager@acme.example";
pub const AUDITOR: &str = "auditor@acme.example";
/// An admin of another org.
pub const RIVAL: &str = "admin@rival.example";

pub struct CustodyWorld {
    pub app: Router,
    pub store: Store,
    pub sandbox: SandboxHandle,
    pub org: String,
    /// A Cloud API number pinward took custody of (version 1), owned by [`OWNER`] and
    /// managed by [`MANAGER`], with a recovery email and two backup channels.
    pub escrowed: PhoneNumberId,
    /// A Cloud API number whose PIN pinward does not hold.
    pub unknown: PhoneNumberId,
    /// A number served by an On-Premises API deployment, PIN not held.
    pub on_prem: PhoneNumberId,
    custody: web::Custody,
}

fn quick() -> Settings {
    Settings {
        lease: Duration::from_secs(30),
        max_sends: 3,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(5),
    }
}

async fn member(store: &Store, org: &str, email: &str, role: Role) -> String {
    governance::members::add_new_user(
        store,
        &Caller::cli(org),
        &NewUser {
            email: email.to_owned(),
            display_name: format!("Person {email}"),
            password: Some(Password::new(PASSWORD.to_owned())),
        },
        role,
        &[],
    )
    .await
    .unwrap()
    .id
}

pub async fn custody_world(db: &TestDb) -> CustodyWorld {
    let store = store(db).await;
    let org = org_with_member(&store, "acme", ADMIN, Role::Admin).await;
    org_with_member(&store, "rival", RIVAL, Role::Admin).await;
    member(&store, &org, OPS, Role::Ops).await;
    let owner = member(&store, &org, OWNER, Role::Ops).await;
    let manager = member(&store, &org, MANAGER, Role::Ops).await;
    member(&store, &org, AUDITOR, Role::Auditor).await;

    let sandbox = Sandbox::seeded(SandboxSeed {
        seed: 11,
        // Enough for the sandbox to make one an On-Premises number (about one in twenty).
        numbers: 40,
        businesses: 1,
    })
    .start()
    .await
    .unwrap();
    let mut config = sandbox.graph_config();
    config.timeout = Duration::from_secs(5);
    let graph = GraphClient::new(config).unwrap();
    let token = sandbox.system_user_token();
    let identity_file = db.dir().join("identity.txt");
    let (identity, _) = vault::Identity::load_or_create(&identity_file).unwrap();
    let escrow = Arc::new(Escrow::load(&store, identity).await.unwrap());
    let admin = Caller::cli(&org);
    governance::credentials::set(&store, &escrow, &graph, &admin, &token)
        .await
        .unwrap();
    let meta = MetaAccess {
        graph: graph.clone(),
        token,
        on_prem: None,
    };
    governance::sync::run(
        &store,
        &org,
        &audit::Actor::system(),
        &meta,
        &sandbox.business_ids(),
        &governance::sync::SyncOptions {
            on_prem_url_template: Some(format!("{}onprem/{{id}}/", sandbox.base_url())),
        },
        &mut |_| {},
    )
    .await
    .unwrap();
    let cloud: Vec<PhoneNumberId> = sandbox
        .numbers()
        .into_iter()
        .filter(|n| !n.onprem)
        .map(|n| n.id)
        .collect();
    let (escrowed, unknown) = (cloud[0].clone(), cloud[1].clone());
    let on_prem = sandbox
        .numbers()
        .into_iter()
        .find(|n| n.onprem)
        .map(|n| n.id)
        .expect("the sandbox seeds an On-Premises number");
    let (username, password) = sandbox.onprem_admin();
    let custody = web::Custody {
        escrow: escrow.clone(),
        graph,
        settings: quick(),
        on_prem: Some(governance::custody::OnPremLogin { username, password }),
    };
    let custodian = Custodian::new(store.clone(), escrow, Arc::new(meta), quick());
    custodian
        .take(&org, &audit::Actor::system(), &escrowed, &[])
        .await
        .unwrap();
    let now = chrono::Utc::now();
    governance::numbers::assign(&store, &admin, &escrowed, &owner, &manager, now)
        .await
        .unwrap();
    let update = MetadataUpdate {
        recovery_email: Some("whatsapp@acme.example".to_owned()),
        backup_channels: vec![
            BackupChannel {
                kind: ChannelKind::Email,
                value: "ops@acme.example".to_owned(),
            },
            BackupChannel {
                kind: ChannelKind::WebForm,
                value: "https://acme.example/help".to_owned(),
            },
        ],
        ..MetadataUpdate::default()
    };
    governance::numbers::update_metadata(&store, &admin, &escrowed, &update, now)
        .await
        .unwrap();
    let app = web::app(
        web::AppState::new(store.clone(), identity_file, None).with_custody(web::Custody {
            escrow: custody.escrow.clone(),
            graph: custody.graph.clone(),
            settings: quick(),
            on_prem: custody.on_prem.clone(),
        }),
    );
    CustodyWorld {
        app,
        store,
        sandbox,
        org,
        escrowed,
        unknown,
        on_prem,
        custody,
    }
}

impl CustodyWorld {
    /// A custodian of the org apart from the app's, as another worker (a rotation job, a
    /// second pinward) is, whose leases last `lease`.
    pub async fn another_worker(&self, lease: Duration) -> Custodian {
        let settings = Settings { lease, ..quick() };
        let (custodian, _) = governance::custody::for_org(
            &self.store,
            self.custody.escrow.clone(),
            self.custody.graph.clone(),
            &self.org,
            None,
            settings,
        )
        .await
        .unwrap();
        custodian
    }

    /// Whether Meta (the sandbox) holds `pin` for `number`.
    pub fn meta_holds(&self, number: &PhoneNumberId, pin: &str) -> bool {
        PinSecret::new(pin)
            .ok()
            .and_then(|pin| self.sandbox.pin_matches(number, &pin))
            == Some(true)
    }

    /// The PIN escrowed for `number` now, opened directly (test inspection only).
    pub async fn escrowed_pin(&self, number: &PhoneNumberId) -> String {
        governance::custody::reveal(
            &self.store,
            self.custody.escrow.identity(),
            &self.org,
            &audit::Actor::system(),
            number,
            "the test inspects the escrow",
        )
        .await
        .unwrap()
        .expose()
        .to_owned()
    }

    /// The member id of `email` in the org.
    pub async fn member_id(&self, email: &str) -> String {
        governance::members::find_by_email(&self.store, &Caller::cli(&self.org), email)
            .await
            .unwrap()
            .id
    }

    /// Posts `fields` to `path` from `visit`'s browser; returns the status, the `Location`
    /// (if any) and the body.
    pub async fn post(
        &self,
        visit: &super::Visit,
        path: &str,
        fields: &str,
    ) -> (axum::http::StatusCode, Option<String>, String) {
        let response = super::send(&self.app, super::same_origin_post(path, visit, fields)).await;
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        (status, location, super::text(response).await)
    }

    /// `fields` as a browser submits them from the reveal form at `path`: with the form's
    /// one-time token, fetched by opening the form (none when the form is refused).
    pub async fn reveal_fields(&self, visit: &super::Visit, path: &str, fields: &str) -> String {
        let form = super::send(&self.app, super::get_as(path, &visit.cookie)).await;
        let form = super::text(form).await;
        let marker = "name=\"_once\" value=\"";
        match form.find(marker) {
            Some(start) => {
                let token = form[start + marker.len()..].split('"').next().unwrap();
                format!("_once={token}&{fields}")
            }
            None => fields.to_owned(),
        }
    }

    /// Opens the reveal form at `path` and submits it with `fields`.
    pub async fn reveal(
        &self,
        visit: &super::Visit,
        path: &str,
        fields: &str,
    ) -> (axum::http::StatusCode, Option<String>, String) {
        let fields = self.reveal_fields(visit, path, fields).await;
        self.post(visit, path, &fields).await
    }

    /// The page at `path` as `visit`'s browser sees it (asserted 200).
    pub async fn page(&self, visit: &super::Visit, path: &str) -> String {
        let response = super::send(&self.app, super::get_as(path, &visit.cookie)).await;
        assert_eq!(response.status(), axum::http::StatusCode::OK, "{path}");
        super::text(response).await
    }

    /// The record of `number` as the org's admin sees it.
    pub async fn record(&self, number: &PhoneNumberId) -> governance::numbers::Record {
        governance::numbers::record(
            &self.store,
            &Caller::cli(&self.org),
            number,
            chrono::Utc::now(),
        )
        .await
        .unwrap()
    }

    /// How many ledger events the org has.
    pub async fn ledger_len(&self) -> usize {
        governance::ledger::events(&self.store, &self.org, 1, u64::MAX)
            .await
            .unwrap()
            .len()
    }

    /// Signs `email` in and reads the CSRF token of the number's page.
    pub async fn browser(&self, email: &str) -> Visit {
        let cookie = super::sign_in(&self.app, email).await;
        let response = send(&self.app, get_as("/numbers", &cookie)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body = text(response).await;
        let marker = "name=\"_csrf\" value=\"";
        let start = body.find(marker).expect("a form with a CSRF token") + marker.len();
        let csrf = body[start..].split('"').next().unwrap().to_owned();
        Visit { cookie, csrf }
    }
}
