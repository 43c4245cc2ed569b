//! `pinward demo`: the whole service on the embedded SQLite in the data dir, with the Graph
//! sandbox in-process standing in for Meta, seeded with two orgs (so tenant isolation is
//! visible), their clients, WABAs and a few hundred numbers in mixed states, and a user
//! for every role. It prints the URL and every demo login.
//!
//! The data dir is marked as a demo's (`DEMO` file): a second start reuses the data, and
//! `--reset` deletes the database and keys only in a marked dir, so it can never wipe a
//! real deployment. The sandbox keeps no state between starts; the PINs pinward set are
//! restored into it from the escrow (an escrow export opened with the service identity,
//! ledgered as `escrow.exported`), so Meta "remembers" them the way the real one would.
//!
//! Every demo client gets an age identity in the data dir (`demo-client-keys/<client id>.txt`)
//! and its public key as the client's recipient, so "Release to the client" works and the
//! released file opens with stock `age`.

use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use audit::Actor;
use chrono::{NaiveDate, Utc};
use governance::access::{Caller, Role};
use governance::custody::{Custodian, Escrow, MetaAccess, OnPremLogin, Settings};
use governance::numbers::{BackupChannel, ChannelKind, Filter, MetadataUpdate, PageRequest};
use governance::users::{NewUser, Password};
use governance::{DatabaseTarget, Store};
use graph::sandbox::{Sandbox, SandboxHandle, SandboxSeed, TokenSpec};
use graph::{AccessToken, BusinessId, GraphClient, PhoneNumberId, PinSecret};
use vault::Identity;

use crate::config::Config;

/// Marks a data dir as the demo's.
const MARKER: &str = "DEMO";
/// The file of the data dir holding the port the demo's sandbox listened on.
const SANDBOX_PORT: &str = "demo-sandbox-port";
/// The folder of the data dir holding each demo client's age identity.
const CLIENT_KEYS: &str = "demo-client-keys";
/// The sandbox world: the same seed gives the same businesses, numbers and token.
const SANDBOX: SandboxSeed = SandboxSeed {
    seed: 2026,
    numbers: 320,
    businesses: 4,
};
/// Names [`SANDBOX`] and [`CLIENTS_PER_ORG`] in the marker; change it with either.
const LAYOUT: &str = "layout: seed 2026, 320 numbers, 4 businesses, 2 per org";
/// Each demo org syncs this many sandbox businesses, each of which becomes one of its
/// clients: the demo's business admins see one client's numbers of their org's two.
const CLIENTS_PER_ORG: usize = 2;
/// The two demo orgs: slug, name, email domain.
const ORGS: [(&str, &str, &str); 2] = [
    ("northwind", "Northwind Messaging", "northwind.example"),
    ("contoso", "Contoso Connect", "contoso.example"),
];
/// Staff who hold seats on numbers besides the four role accounts.
const STAFF: [(&str, &str); 5] = [
    ("ana", "Ana Lima"),
    ("ben", "Ben Okafor"),
    ("chloe", "Chloe Martin"),
    ("dev", "Dev Patel"),
    ("fay", "Fay Nguyen"),
];
/// What the demo's BSPs call their clients (a sync names them after their Meta business id).
const CLIENT_NAMES: [&str; 6] = [
    "Lumen Retail",
    "Harbor Clinics",
    "Atlas Logistics",
    "Bluebird Travel",
    "Orchard Foods",
    "Nimbus Telecom",
];
const USAGES: [&str; 5] = [
    "sales",
    "customer support",
    "ads landing page",
    "appointments",
    "delivery updates",
];

/// One printed client key: the identity file that opens what is released to the client.
struct ClientKey {
    org: &'static str,
    client: String,
    path: PathBuf,
}

/// One printed login.
struct Login {
    org: &'static str,
    role: Role,
    email: String,
    user_id: String,
}

pub async fn run(config: &Config, reset: bool, password: Option<String>) -> anyhow::Result<()> {
    let config = demo_config(config)?;
    let marker = config.data_dir.join(MARKER);
    if reset {
        start_over(&config, &marker)?;
    }
    config.prepare_data_dir()?;
    let database_exists = match &config.database {
        DatabaseTarget::Sqlite { path } => path.exists(),
        DatabaseTarget::Postgres { .. } => false,
    };
    if database_exists && !marker.exists() {
        bail!(
            "{} holds a pinward database that is not a demo's: point PINWARD_DATA_DIR at \
             another folder for the demo",
            config.data_dir.display()
        );
    }
    // The marker names the sandbox world the data was seeded from: data of another world
    // (an older pinward's) names numbers the sandbox does not have.
    let written = std::fs::read_to_string(&marker).unwrap_or_default();
    if database_exists && !written.contains(LAYOUT) {
        bail!(
            "{} holds demo data from an older pinward, whose numbers this demo's sandbox does \
             not have: start over with `pinward demo --reset`",
            config.data_dir.display()
        );
    }
    std::fs::write(
        &marker,
        format!(
            "created by `pinward demo`; `pinward demo --reset` wipes this folder's database and \
             keys\n{LAYOUT}\n"
        ),
    )
    .with_context(|| format!("cannot write {}", marker.display()))?;

    let sandbox = start_sandbox(&config.data_dir, database_exists).await?;
    let mut config = config;
    config.graph_base_url = sandbox.base_url().clone();
    // The sandbox's On-Premises deployments take its admin login, as a real one would be set.
    let (username, onprem_password) = sandbox.onprem_admin();
    config.on_prem = Some(OnPremLogin {
        username,
        password: onprem_password,
    });

    let store = super::open_store(&config).await?;
    let escrow = Arc::new(super::keys::open_escrow(&store, &config).await?);
    let logins = if governance::orgs::list(&store).await?.is_empty() {
        say("seeding the demo: two orgs, their numbers and people (once)…")?;
        seed(&store, &sandbox, escrow).await?
    } else {
        restore_sandbox_pins(&store, &sandbox, escrow.identity()).await?;
        renew_credentials(&store, &sandbox, &escrow).await?;
        existing_logins(&store).await?
    };
    let client_keys = client_keys(&store, &config.data_dir).await?;
    let password = match password {
        Some(text) => Password::new(text),
        None => Password::generate(),
    };
    for login in &logins {
        governance::users::set_password(&store, &login.user_id, &password)
            .await
            .context("PINWARD_DEMO_PASSWORD")?;
    }
    store.close().await;

    let listener = super::serve::bind(&config).await?;
    let address = listener.local_addr()?;
    banner(
        &format!("http://{address}/"),
        sandbox.base_url(),
        config.on_prem.as_ref(),
        &logins,
        &password,
        &client_keys,
    )?;
    super::serve::run_on(&config, listener).await?;
    drop(sandbox);
    Ok(())
}

/// The demo always runs on the SQLite file of its data dir.
fn demo_config(config: &Config) -> anyhow::Result<Config> {
    if matches!(config.database, DatabaseTarget::Postgres { .. }) {
        bail!(
            "PINWARD_DATABASE_URL: the demo runs on the embedded SQLite in the data dir; unset it"
        );
    }
    Ok(config.clone())
}

fn start_over(config: &Config, marker: &Path) -> anyhow::Result<()> {
    if !config.data_dir.exists() {
        return Ok(());
    }
    if !marker.exists() {
        bail!(
            "--reset: {} is not a demo's data dir (no {MARKER} file); nothing was deleted",
            config.data_dir.display()
        );
    }
    let mut doomed = vec![
        config.identity_file.clone(),
        config.checkpoint_key_file.clone(),
    ];
    if let DatabaseTarget::Sqlite { path } = &config.database {
        for suffix in ["", "-wal", "-shm"] {
            doomed.push(path.with_file_name(format!(
                "{}{suffix}",
                path.file_name().and_then(|n| n.to_str()).unwrap_or_default()
            )));
        }
    }
    for path in doomed.into_iter().filter(|p| p.exists()) {
        std::fs::remove_file(&path).with_context(|| format!("cannot delete {}", path.display()))?;
    }
    // The clients are made anew with new ids: their old keys would only mislead.
    let keys = config.data_dir.join(CLIENT_KEYS);
    if keys.exists() {
        std::fs::remove_dir_all(&keys)
            .with_context(|| format!("cannot delete {}", keys.display()))?;
    }
    say("--reset: the demo starts over")
}

fn say(line: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

fn banner(
    url: &str,
    graph: &url::Url,
    on_prem: Option<&OnPremLogin>,
    logins: &[Login],
    password: &Password,
    client_keys: &[ClientKey],
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "pinward demo: open {url}")?;
    writeln!(
        out,
        "sign in as any of these (password for all: {})",
        password.expose()
    )?;
    for login in logins {
        writeln!(
            out,
            "  {:<10} {:<15} {}",
            login.org,
            login.role.as_str(),
            login.email
        )?;
    }
    writeln!(
        out,
        "\"Release to the client\" on a number's page downloads its PIN sealed to the client's \
         age key; each client's identity file:"
    )?;
    for key in client_keys {
        writeln!(
            out,
            "  {:<10} {:<30} {}",
            key.org,
            key.client,
            key.path.display()
        )?;
    }
    writeln!(
        out,
        "open a released file with: age -d -i <the client's file> pin-….age"
    )?;
    writeln!(
        out,
        "its Graph sandbox: {graph} (kept at every start while the port is free); for other \
         pinward commands on the demo's data, set PINWARD_DATA_DIR to this data dir and"
    )?;
    writeln!(out, "  PINWARD_GRAPH_BASE_URL={graph}")?;
    if let Some(login) = on_prem {
        // The sandbox's own login, as a real On-Premises deployment's admin would be set.
        writeln!(out, "  PINWARD_ONPREM_USERNAME={}", login.username)?;
        writeln!(out, "  PINWARD_ONPREM_PASSWORD={}", login.password.expose())?;
    }
    writeln!(out, "Ctrl-C stops it; `pinward demo --reset` starts over.")?;
    out.flush()?;
    Ok(())
}

/// Gives every demo client an age identity in the data dir (made once, mode 0600) and its
/// public key as the client's recipient; on a second start both are in place and nothing
/// changes.
async fn client_keys(store: &Store, data_dir: &Path) -> anyhow::Result<Vec<ClientKey>> {
    let dir = data_dir.join(CLIENT_KEYS);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let mut keys = Vec::new();
    for (slug, _, _) in ORGS {
        let org = governance::orgs::find(store, slug).await?;
        let admin = Caller::cli(&org.id);
        for client in governance::clients::list(store, &admin).await? {
            let path = dir.join(format!("{}.txt", client.id));
            let description = format!(
                "demo client {} of {slug}: opens the PINs released to it",
                client.name
            );
            let (identity, _) = Identity::load_or_create_described(&path, &description)
                .with_context(|| format!("the demo client key {}", path.display()))?;
            let recipient = identity.recipient().to_string();
            if client.age_recipient.as_deref() != Some(recipient.as_str()) {
                governance::clients::set_recipient(store, &admin, &client.id, &recipient).await?;
            }
            keys.push(ClientKey {
                org: slug,
                client: client.name,
                path,
            });
        }
    }
    Ok(keys)
}

/// A system-user token of the org's own partner business only, as Meta would issue it.
/// Starts the sandbox on the port it had before, when the data was seeded against it: the
/// On-Premises numbers keep their deployment's URL (`http://127.0.0.1:<port>/onprem/…`) in
/// the database, so a sandbox on another port would leave them unreachable. A first start,
/// or a port now taken, gets a free port (and the latter a warning).
async fn start_sandbox(data_dir: &Path, reusing: bool) -> anyhow::Result<SandboxHandle> {
    let port_file = data_dir.join(SANDBOX_PORT);
    let before: Option<u16> = if reusing {
        std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|text| text.trim().parse().ok())
    } else {
        None
    };
    let listener = match before {
        Some(port) => tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .ok(),
        None => None,
    };
    let sandbox = match listener {
        Some(listener) => Sandbox::seeded(SANDBOX).start_on(listener),
        None => {
            if let Some(port) = before {
                say(&format!(
                    "warning: the sandbox's port {port} is taken, so the demo's On-Premises numbers \
                     cannot be reached this time (free it, or start over with --reset)"
                ))?;
            }
            Sandbox::seeded(SANDBOX).start().await
        }
    }
    .context("cannot start the Graph sandbox")?;
    let port = sandbox.base_url().port().unwrap_or_default();
    std::fs::write(&port_file, format!("{port}\n"))
        .with_context(|| format!("cannot write {}", port_file.display()))?;
    Ok(sandbox)
}

fn org_token(sandbox: &SandboxHandle, businesses: &[BusinessId]) -> AccessToken {
    sandbox.issue_token(&TokenSpec {
        businesses: Some(businesses.iter().map(ToString::to_string).collect()),
        ..TokenSpec::default()
    })
}

/// The sandbox businesses of each demo org, in `ORGS` order.
fn org_businesses(sandbox: &SandboxHandle) -> anyhow::Result<Vec<Vec<BusinessId>>> {
    let businesses = sandbox.business_ids();
    if businesses.len() < ORGS.len() * CLIENTS_PER_ORG {
        bail!("the sandbox has fewer businesses than the demo orgs' clients");
    }
    Ok(businesses
        .chunks(CLIENTS_PER_ORG)
        .take(ORGS.len())
        .map(<[BusinessId]>::to_vec)
        .collect())
}

fn meta_access(sandbox: &SandboxHandle, token: AccessToken) -> anyhow::Result<MetaAccess> {
    let mut graph_config = sandbox.graph_config();
    graph_config.timeout = Duration::from_secs(10);
    let (username, password) = sandbox.onprem_admin();
    Ok(MetaAccess {
        graph: GraphClient::new(graph_config).context("cannot build the Graph client")?,
        token,
        on_prem: Some(OnPremLogin { username, password }),
    })
}

/// The fresh sandbox knows none of the tokens stored before: each org gets a new one,
/// stored as its Graph credential (ledgered like any credential change).
async fn renew_credentials(
    store: &Store,
    sandbox: &SandboxHandle,
    escrow: &Escrow,
) -> anyhow::Result<()> {
    for ((slug, _, _), businesses) in ORGS.into_iter().zip(org_businesses(sandbox)?) {
        let org = governance::orgs::find(store, slug).await?;
        let meta = meta_access(sandbox, org_token(sandbox, &businesses))?;
        governance::credentials::set(
            store,
            escrow,
            &meta.graph,
            &Caller::cli(&org.id),
            &meta.token,
        )
        .await?;
    }
    Ok(())
}

async fn seed(
    store: &Store,
    sandbox: &SandboxHandle,
    escrow: Arc<Escrow>,
) -> anyhow::Result<Vec<Login>> {
    let system = Actor::system();
    let businesses = org_businesses(sandbox)?;
    let template = format!("{}onprem/{{id}}/", sandbox.base_url());
    let mut logins = Vec::new();
    for (index, (slug, name, domain)) in ORGS.into_iter().enumerate() {
        let org = governance::orgs::create(store, &system, slug, name).await?;
        let admin = Caller::cli(&org.id);
        let business = businesses
            .get(index)
            .context("the sandbox has fewer businesses than demo orgs")?;
        let meta = Arc::new(meta_access(sandbox, org_token(sandbox, business))?);
        governance::credentials::set(store, &escrow, &meta.graph, &admin, &meta.token).await?;
        let custodian = Custodian::new(
            store.clone(),
            escrow.clone(),
            meta.clone(),
            Settings::default(),
        );
        governance::sync::run(
            store,
            &org.id,
            &system,
            &meta,
            business,
            &governance::sync::SyncOptions {
                on_prem_url_template: Some(template.clone()),
            },
            &mut |_| {},
        )
        .await?;
        // Clients are renamed as a BSP's admins would, each org taking its own names.
        let clients = governance::clients::list(store, &admin).await?;
        for (client, name) in clients
            .iter()
            .zip(CLIENT_NAMES.iter().skip(index * CLIENTS_PER_ORG))
        {
            governance::clients::rename(store, &admin, &client.id, name).await?;
        }
        let numbers = governance::numbers::list(
            store,
            &admin,
            &Filter::default(),
            PageRequest {
                page: 1,
                per_page: governance::numbers::MAX_PER_PAGE,
            },
            Utc::now(),
        )
        .await?
        .items;
        let first_client = numbers
            .first()
            .map(|n| n.client_id.clone())
            .context("the sandbox gave the org no numbers")?;

        // One account per role, then staff who hold seats.
        for (local, display, role) in [
            ("admin", "Org Admin", Role::Admin),
            ("ops", "Ops Engineer", Role::Ops),
            ("auditor", "Auditor", Role::Auditor),
            ("business", "Business Admin", Role::BusinessAdmin),
        ] {
            let clients = if role == Role::BusinessAdmin {
                vec![first_client.clone()]
            } else {
                Vec::new()
            };
            let member = governance::members::add_new_user(
                store,
                &admin,
                &NewUser {
                    email: format!("{local}@{domain}"),
                    display_name: format!("{display} ({name})"),
                    password: None,
                },
                role,
                &clients,
            )
            .await?;
            logins.push(Login {
                org: slug,
                role,
                email: member.email,
                user_id: member.user_id,
            });
        }
        let mut staff = Vec::new();
        for (local, display) in STAFF {
            let member = governance::members::add_new_user(
                store,
                &admin,
                &NewUser {
                    email: format!("{local}@{domain}"),
                    display_name: display.to_owned(),
                    password: None,
                },
                Role::Ops,
                &[],
            )
            .await?;
            staff.push(member.id);
        }

        for (i, number) in numbers.iter().enumerate() {
            let phone = PhoneNumberId::parse(&number.phone_number_id)?;
            // Three in four numbers are taken into custody; the rest wait in the queue.
            // A number Meta refuses (unverified, unregistered) stays `unknown`.
            let escrowed = i % 4 != 3
                && matches!(
                    custodian.take(&org.id, &system, &phone, &[]).await?,
                    governance::custody::Outcome::Confirmed { .. }
                );
            // Seats on two in three numbers; Fay (who leaves below) holds some.
            if i % 3 != 2 {
                let owner = &staff[i % staff.len()];
                let manager = &staff[(i + 1) % staff.len()];
                governance::numbers::assign(store, &admin, &phone, owner, manager, Utc::now())
                    .await?;
            }
            let details = metadata(i, domain);
            governance::numbers::update_metadata(store, &admin, &phone, &details, Utc::now())
                .await?;
            // Half were reviewed lately; some long ago (overdue); the rest never.
            match i % 6 {
                0..=2 => {
                    let note = "quarterly review";
                    governance::reviews::complete(store, &admin, &phone, note, Utc::now()).await?;
                }
                3 => {
                    // Held long ago, entered now: the ledger's times only move forward (each
                    // event here is stamped with the clock as it is appended).
                    let now = Utc::now();
                    let long_ago = (now - chrono::Duration::days(200)).date_naive();
                    governance::reviews::complete_on(store, &admin, &phone, "", long_ago, now)
                        .await?;
                }
                _ => {}
            }
            // A few were changed in WhatsApp Manager behind pinward's back.
            if escrowed && i % 37 == 5 {
                let report = governance::custody::OutOfBand {
                    note: "changed in WhatsApp Manager by the client's IT".to_owned(),
                    changed_on: None,
                };
                governance::custody::record_out_of_band(store, &org.id, &system, &phone, &report)
                    .await?;
            }
        }
        // Fay left the company: her seats now show a departed member.
        if let Some(fay) = staff.last() {
            governance::members::deactivate(store, &admin, fay).await?;
        }
        let clients: std::collections::BTreeSet<&str> =
            numbers.iter().map(|n| n.client_id.as_str()).collect();
        say(&format!(
            "  {name}: {} numbers of {} clients, {} people",
            numbers.len(),
            clients.len(),
            4 + STAFF.len()
        ))?;
    }
    Ok(logins)
}

/// Mixed metadata: some recovery emails personal or disposable, some numbers with fewer
/// than two backup channels.
fn metadata(i: usize, domain: &str) -> MetadataUpdate {
    let recovery_email = match i % 7 {
        0 => Some(format!("whatsapp-owner{i}@gmail.com")),
        1 => Some(format!("tmp{i}@mailinator.com")),
        2 => None,
        _ => Some(format!("wa-recovery@{domain}")),
    };
    let mut backup_channels = vec![BackupChannel {
        kind: ChannelKind::Email,
        value: format!("it-desk@{domain}"),
    }];
    if !i.is_multiple_of(5) {
        backup_channels.push(BackupChannel {
            kind: ChannelKind::WebForm,
            value: format!("https://{domain}/whatsapp-help"),
        });
    }
    let day = u32::try_from(i % 28).unwrap_or(0) + 1;
    let year = 2021 + i32::try_from(i % 5).unwrap_or(0);
    MetadataUpdate {
        usage: Some(USAGES[i % USAGES.len()].to_owned()),
        activation_date: NaiveDate::from_ymd_opt(year, 1 + u32::try_from(i % 12).unwrap_or(0), day),
        recovery_email,
        backup_channels,
    }
}

/// The demo accounts of a seeded database: the four role accounts of each org.
async fn existing_logins(store: &Store) -> anyhow::Result<Vec<Login>> {
    let mut logins = Vec::new();
    for (slug, _, domain) in ORGS {
        let org = governance::orgs::find(store, slug).await?;
        let admin = Caller::cli(&org.id);
        for local in ["admin", "ops", "auditor", "business"] {
            let member =
                governance::members::find_by_email(store, &admin, &format!("{local}@{domain}"))
                    .await
                    .with_context(|| {
                        format!(
                            "the demo account {local}@{domain} is gone: run `pinward demo --reset`"
                        )
                    })?;
            logins.push(Login {
                org: slug,
                role: member.role,
                email: member.email,
                user_id: member.user_id,
            });
        }
    }
    Ok(logins)
}

/// Puts the PINs pinward escrowed back into the fresh sandbox.
async fn restore_sandbox_pins(
    store: &Store,
    sandbox: &SandboxHandle,
    identity: &Identity,
) -> anyhow::Result<()> {
    let mut restored = 0usize;
    for org in governance::orgs::list(store).await? {
        let dir = tempfile::tempdir().context("cannot create a temp dir")?;
        let manifest =
            governance::escrow::export(store, &org.id, &Actor::system(), dir.path()).await?;
        for number in &manifest.numbers {
            let Some(current) = number.versions.iter().find(|v| v.status == "current") else {
                continue;
            };
            let sealed = std::fs::read(dir.path().join(&current.file))?;
            let pin: vault::Pin = vault::open(&sealed, identity)
                .context("an escrowed PIN does not open with the service identity")?;
            let phone = PhoneNumberId::parse(&number.phone_number_id)?;
            let secret = PinSecret::new(pin.expose())?;
            if sandbox.set_pin_out_of_band(&phone, Some(&secret)) {
                restored += 1;
            }
        }
    }
    say(&format!(
        "reusing the demo data: {restored} escrowed PINs restored into the Graph sandbox"
    ))
}
