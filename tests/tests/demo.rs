//! `pinward demo`: seeds once, prints a working login for every role of two orgs, reuses
//! its data on the next start (with the escrowed PINs back in the sandbox), starts over
//! with `--reset`, and never touches a data dir that is not a demo's. Every demo client has
//! an age identity in the data dir, so a released PIN opens with it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use audit::Actor;
use governance::access::{Caller, Role};
use governance::health::Problem;
use governance::numbers::{Filter, PageRequest};
use governance::users::Password;
use governance::{DatabaseTarget, Store};
use graph::PhoneNumberId;
use pinward_tests::PinwardProcess;

const PASSWORD: &str = "correct-horse-demo";

/// A running demo and what its banner printed.
struct Demo {
    process: PinwardProcess,
    url: String,
    graph: String,
    /// The password of every demo login.
    password: String,
    /// The first org admin's email.
    admin: String,
}

fn start(data_dir: &Path, extra: &[&str]) -> Demo {
    launch(data_dir, extra, &[("PINWARD_DEMO_PASSWORD", PASSWORD)])
}

/// `pinward demo EXTRA…` in `data_dir` on a free port, with `envs`.
fn launch(data_dir: &Path, extra: &[&str], envs: &[(&str, &str)]) -> Demo {
    let mut args = vec!["demo"];
    args.extend_from_slice(extra);
    let dir = data_dir.display().to_string();
    let mut all = vec![
        ("PINWARD_DATA_DIR", dir.as_str()),
        ("PINWARD_LISTEN", "127.0.0.1:0"),
    ];
    all.extend_from_slice(envs);
    let mut process = PinwardProcess::spawn(&args, &all);
    let line = process.wait_for_line("pinward demo: open ");
    let url = line
        .split_whitespace()
        .last()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let said = process.wait_for_line("password for all: ");
    let password = said
        .rsplit("password for all: ")
        .next()
        .unwrap()
        .trim_end_matches(')')
        .to_owned();
    let admin = process.wait_for_line(" admin ");
    let admin = admin.split_whitespace().last().unwrap().to_owned();
    let settings = process.wait_for_line("graph=");
    let graph = settings
        .split_whitespace()
        .find_map(|w| w.strip_prefix("graph="))
        .unwrap()
        .trim_end_matches("/v26.0")
        .to_owned();
    Demo {
        process,
        url,
        graph,
        password,
        admin,
    }
}

/// Whether the demo's sandbox (Meta) holds `pin` for the number `phone`.
async fn meta_holds(graph: &str, phone: &str, pin: &str) -> bool {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let check: serde_json::Value = reqwest::Client::new()
        .post(format!("{graph}/_sandbox/pin-check"))
        .json(&serde_json::json!({ "phone_number_id": phone, "pin": pin }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    check["matches"] == true
}

fn stop(demo: Demo) -> String {
    demo.process.signal("INT");
    let (status, output) = demo.process.wait();
    assert!(
        status.success(),
        "the demo stops cleanly on Ctrl-C:\n{output}"
    );
    output
}

async fn open(data_dir: &Path) -> Store {
    let url = format!("sqlite://{}", data_dir.join("pinward.sqlite3").display());
    Store::connect(&DatabaseTarget::parse(&url).unwrap())
        .await
        .unwrap()
}

/// Every demo client's id and age recipient, of both orgs.
async fn client_recipients(store: &Store) -> BTreeMap<String, Option<String>> {
    let mut all = BTreeMap::new();
    for org in org_ids(store).await {
        for client in governance::clients::list(store, &Caller::cli(&org))
            .await
            .unwrap()
        {
            all.insert(client.id, client.age_recipient);
        }
    }
    all
}

/// The client identity files the demo wrote, by client id.
fn client_key_files(data_dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(data_dir.join("demo-client-keys"))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter_map(|name| name.strip_suffix(".txt").map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn org_ids(store: &Store) -> Vec<String> {
    governance::orgs::list(store)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect()
}

/// The first 200 numbers `caller` sees (every number of a demo org), with the total.
async fn first_200_numbers(
    store: &Store,
    caller: &Caller,
) -> governance::numbers::Page<governance::numbers::Summary> {
    let page = PageRequest {
        page: 1,
        per_page: 200,
    };
    governance::numbers::list(store, caller, &Filter::default(), page, chrono::Utc::now())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_seeds_two_orgs_with_mixed_numbers_and_a_login_for_every_role() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let demo = start(&data, &[]);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let health = reqwest::get(format!("{}/healthz", demo.url)).await.unwrap();
    assert_eq!(health.status(), 200);
    let output = stop(demo);
    assert!(
        !output.contains("PIN sent"),
        "seeding does not bury the banner under a line per PIN:\n{output}"
    );
    assert!(
        output.contains("listening on http://"),
        "pinward's own lines stay:\n{output}"
    );
    assert!(
        output.contains("Lumen Retail")
            && !output
                .split("Business ")
                .skip(1)
                .any(|rest| rest.starts_with(|c: char| c.is_ascii_digit())),
        "the demo's clients are named as a BSP's admins would name them:\n{output}"
    );

    let store = open(&data).await;
    let orgs = governance::orgs::list(&store).await.unwrap();
    assert_eq!(orgs.len(), 2, "two orgs, so tenant isolation is visible");
    let mut total = 0;
    for org in &orgs {
        // Every role signs in with the printed password, and only to its own org.
        for role in Role::ALL {
            let local = match role {
                Role::Admin => "admin",
                Role::Ops => "ops",
                Role::Auditor => "auditor",
                Role::BusinessAdmin => "business",
            };
            let email = format!("{local}@{}.example", org.slug);
            assert!(output.contains(&email), "{email} is printed:\n{output}");
            let user =
                governance::users::authenticate(&store, &email, &Password::new(PASSWORD.into()))
                    .await
                    .unwrap_or_else(|e| panic!("{email} signs in: {e}"));
            let memberships = governance::users::memberships(&store, &user.id)
                .await
                .unwrap();
            assert_eq!(memberships.len(), 1, "{email}");
            assert_eq!(memberships[0].org_id, org.id, "{email}");
        }

        let caller = Caller::cli(&org.id);
        assert!(
            governance::credentials::show(&store, &caller)
                .await
                .unwrap()
                .is_some(),
            "{}: the org's Graph credential is stored",
            org.slug
        );
        let page = first_200_numbers(&store, &caller).await;
        total += page.total;
        let states: BTreeSet<String> = page
            .items
            .iter()
            .map(|n| n.pin_state.as_str().to_owned())
            .collect();
        assert!(
            states.contains("escrowed") && states.contains("unknown"),
            "{states:?}"
        );
        let problems: BTreeSet<Problem> =
            page.items.iter().flat_map(|n| n.health.clone()).collect();
        for expected in [
            Problem::NoOwner,
            Problem::OwnerDeparted,
            Problem::PinNotEscrowed,
            Problem::ReviewOverdue,
            Problem::PersonalRecoveryEmail,
            Problem::DisposableRecoveryEmail,
            Problem::FewBackupChannels,
            Problem::OutOfBandChange,
        ] {
            assert!(problems.contains(&expected), "{expected:?} in {problems:?}");
        }

        // Two clients, and the business admin sees the numbers of its one client only.
        let clients: BTreeSet<&str> = page.items.iter().map(|n| n.client_id.as_str()).collect();
        assert_eq!(clients.len(), 2, "{}: {clients:?}", org.slug);
        let business = governance::members::find_by_email(
            &store,
            &caller,
            &format!("business@{}.example", org.slug),
        )
        .await
        .unwrap();
        let as_business = governance::members::caller_for(&store, &org.id, &business.user_id)
            .await
            .unwrap();
        let seen = first_200_numbers(&store, &as_business).await;
        assert!(
            seen.total > 0 && seen.total < page.total,
            "{} of {}",
            seen.total,
            page.total
        );
        assert!(
            seen.items
                .iter()
                .all(|n| as_business.clients.contains(&n.client_id))
        );

        // An auditor reading the chain finds its times only moving forward, though some
        // numbers were reviewed long ago (entered later, the day in the event's details).
        let (times, backdated) = ledger_times(&store, &caller).await;
        assert!(
            times.is_sorted(),
            "{}: the ledger's times go backwards",
            org.slug
        );
        assert!(backdated > 0, "{}: reviews held long ago", org.slug);
    }
    assert!(total >= 300, "a few hundred numbers: {total}");
}

/// The times of an org's ledger events, oldest first, and how many reviews it records as
/// held on an earlier day.
async fn ledger_times(store: &Store, caller: &Caller) -> (Vec<audit::Timestamp>, usize) {
    use governance::history::{self, Cursor, Filter};
    let (mut times, mut backdated) = (Vec::new(), 0);
    let mut cursor = Some(Cursor::Newest);
    while let Some(at) = cursor {
        let page = history::page(store, caller, &Filter::default(), at, history::PER_PAGE_MAX)
            .await
            .unwrap();
        for event in &page.events {
            times.push(event.at());
            backdated += usize::from(
                event.action().as_str() == "review.completed"
                    && event.details().as_map().contains_key("reviewed_on"),
            );
        }
        cursor = page.older;
    }
    times.reverse();
    (times, backdated)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_demo_client_has_a_key_file_that_opens_the_pins_released_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let output = stop(start(&data, &[]));
    assert!(
        output.contains("open a released file with: age -d -i <the client's file> pin-"),
        "the banner says how to open a released file:\n{output}"
    );

    let store = open(&data).await;
    let recipients = client_recipients(&store).await;
    assert!(recipients.len() >= 2, "{recipients:?}");
    assert_eq!(
        client_key_files(&data),
        recipients.keys().cloned().collect()
    );
    let mut keys = BTreeMap::new();
    for (client, recipient) in &recipients {
        let path = data.join("demo-client-keys").join(format!("{client}.txt"));
        assert!(
            output.contains(&path.display().to_string()),
            "{} is printed:\n{output}",
            path.display()
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
        let identity = vault::Identity::load(&path).unwrap();
        assert_eq!(
            recipient.as_deref(),
            Some(identity.recipient().to_string().as_str())
        );
        keys.insert(client.clone(), identity);
    }

    // Release an escrowed number of the first org: its client's key file opens the PIN.
    let org = &org_ids(&store).await[0];
    let page = governance::numbers::list(
        &store,
        &Caller::cli(org),
        &Filter::default(),
        PageRequest {
            page: 1,
            per_page: 200,
        },
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let number = page
        .items
        .iter()
        .find(|n| n.pin_state.as_str() == "escrowed")
        .unwrap();
    let service = vault::Identity::load(&data.join("identity.txt")).unwrap();
    let sealed = governance::custody::release(
        &store,
        &service,
        org,
        &Actor::system(),
        &PhoneNumberId::parse(&number.phone_number_id).unwrap(),
    )
    .await
    .unwrap();
    let pin: vault::Pin = vault::open(sealed.as_str(), &keys[&number.client_id]).unwrap();
    assert_eq!(pin.expose().len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_start_reuses_the_data_with_the_escrowed_pins_back_at_meta_and_reset_starts_over()
{
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first_graph = {
        let demo = start(&data, &[]);
        let graph = demo.graph.clone();
        stop(demo);
        graph
    };
    let first = org_ids(&open(&data).await).await;
    let first_recipients = client_recipients(&open(&data).await).await;

    let demo = start(&data, &[]);
    // The On-Premises numbers' deployment URLs name the sandbox's port: it is the same.
    assert_eq!(demo.graph, first_graph);
    let store = open(&data).await;
    assert_eq!(org_ids(&store).await, first, "the same orgs");
    // The sandbox of this start holds the PIN pinward escrowed before.
    let org = &first[0];
    let escrowed = governance::custody::status(&store, org, None)
        .await
        .unwrap()
        .into_iter()
        .find(|n| n.pin_state == "escrowed" && !n.escrow_stale)
        .unwrap();
    let identity = vault::Identity::load(&data.join("identity.txt")).unwrap();
    let pin = governance::custody::reveal(
        &store,
        &identity,
        org,
        &Actor::system(),
        &PhoneNumberId::parse(&escrowed.phone_number_id).unwrap(),
        "test: the sandbox got the escrowed PIN back",
    )
    .await
    .unwrap();
    assert!(meta_holds(&demo.graph, &escrowed.phone_number_id, pin.expose()).await);
    let output = stop(demo);
    assert!(output.contains("reusing the demo data"), "{output}");
    assert_eq!(
        client_recipients(&store).await,
        first_recipients,
        "the clients keep their keys"
    );
    store.close().await;

    let output = stop(start(&data, &["--reset"]));
    assert!(output.contains("the demo starts over"), "{output}");
    let again = org_ids(&open(&data).await).await;
    assert_eq!(again.len(), 2);
    let new_recipients = client_recipients(&open(&data).await).await;
    assert_eq!(
        client_key_files(&data),
        new_recipients.keys().cloned().collect(),
        "only the new clients' keys are left after --reset"
    );
    assert!(new_recipients.values().all(Option::is_some));
    assert!(
        again.iter().all(|id| !first.contains(id)),
        "new orgs after --reset"
    );
}

#[test]
fn demo_data_from_an_older_sandbox_world_is_refused_with_how_to_start_over() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    stop(start(&data, &[]));
    // What an older pinward wrote: its marker names no layout.
    std::fs::write(
        data.join("DEMO"),
        "created by `pinward demo`; `pinward demo --reset` wipes this folder's database and keys\n",
    )
    .unwrap();
    let dir_text = data.display().to_string();
    let env = [
        ("PINWARD_DATA_DIR", dir_text.as_str()),
        ("PINWARD_LISTEN", "127.0.0.1:0"),
    ];
    let (status, output) = PinwardProcess::spawn(&["demo"], &env).wait();
    assert!(!status.success());
    assert!(output.contains("pinward demo --reset"), "{output}");
    let output = stop(start(&data, &["--reset"]));
    assert!(output.contains("the demo starts over"), "{output}");
}

#[test]
fn the_demo_refuses_a_data_dir_that_is_not_a_demos() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let dir_text = data.display().to_string();
    let env = [("PINWARD_DATA_DIR", dir_text.as_str())];
    let (status, _) = PinwardProcess::spawn(&["migrate"], &env).wait();
    assert!(status.success());
    for args in [&["demo"][..], &["demo", "--reset"][..]] {
        let (status, output) = PinwardProcess::spawn(args, &env).wait();
        assert!(!status.success(), "{args:?}");
        assert!(output.contains("not a demo"), "{args:?}: {output}");
    }
    assert!(data.join("pinward.sqlite3").exists(), "nothing was deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_banner_says_how_other_commands_reach_the_demos_sandbox_and_on_premises_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut demo = start(&data, &[]);
    let mut env = vec![("PINWARD_DATA_DIR".to_owned(), data.display().to_string())];
    for name in [
        "PINWARD_GRAPH_BASE_URL",
        "PINWARD_ONPREM_USERNAME",
        "PINWARD_ONPREM_PASSWORD",
    ] {
        let line = demo.process.line_with(&format!("  {name}="));
        let value = line.trim().strip_prefix(&format!("{name}=")).unwrap();
        env.push((name.to_owned(), value.to_owned()));
    }
    let url = format!("sqlite://{}", data.join("pinward.sqlite3").display());
    let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let sql = "SELECT org_id, meta_phone_number_id FROM phone_numbers \
               WHERE onprem_base_url IS NOT NULL AND pin_state = 'escrowed' ORDER BY id LIMIT 1";
    let (org, number): (String, String) = sqlx::query_as(sql).fetch_one(&mut db).await.unwrap();
    drop(db);

    // An On-Premises number is rotated by a second pinward with just what the banner said.
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let args = ["rotate", "start", "--org", &org, "--number", &number];
    let (status, output) = PinwardProcess::spawn(&args, &env).wait();
    assert!(status.success(), "{output}");
    assert!(output.contains(": 1 of 1 done"), "{output}");
    stop(demo);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warning_in_the_demos_quiet_log_names_the_request_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let demo = start(&data, &[]);
    // Another identity in the service's place: readiness warns that it changed since start.
    let client = client_key_files(&data).into_iter().next().unwrap();
    std::fs::copy(
        data.join("demo-client-keys").join(format!("{client}.txt")),
        data.join("identity.txt"),
    )
    .unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ready = reqwest::Client::new()
        .get(format!("{}/readyz", demo.url))
        .header("x-request-id", "probe-7f3a")
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let output = stop(demo);
    let warning = output
        .lines()
        .find(|line| line.contains("identity file changed since start"))
        .unwrap_or_else(|| panic!("the warning is in the demo's log:\n{output}"));
    assert!(
        warning.contains("request_id=probe-7f3a") && warning.contains("route=/readyz"),
        "the warning says which request met it: {warning}"
    );
}

/// The value of the hidden input `name` in a page's HTML.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in:\n{page}"))
        + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

/// The `name=value` of a response's session cookie.
fn session_cookie(response: &reqwest::Response) -> String {
    let set = response.headers()["set-cookie"].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

/// The README's run command as a newcomer types it, with no password chosen: the demo
/// makes one and prints it, and a browser signs in with the printed login at the printed
/// URL, finds an escrowed number and reveals its PIN, which is the one Meta (the demo's
/// sandbox) holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_signs_in_with_the_printed_login_and_reveals_a_pin_meta_holds() {
    let dir = tempfile::tempdir().unwrap();
    let demo = launch(&dir.path().join("data"), &[], &[]);
    let (url, password, email) = (&demo.url, &demo.password, &demo.admin);
    assert!(
        password.len() >= 12 && !password.contains(' '),
        "a generated password: {password:?}"
    );

    let _ = rustls::crypto::ring::default_provider().install_default();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = browser.get(format!("{url}/signin")).send().await.unwrap();
    let cookie = session_cookie(&form);
    let csrf = hidden(&form.text().await.unwrap(), "_csrf");
    let signed_in = browser
        .post(format!("{url}/signin"))
        .header("cookie", &cookie)
        .header("origin", url.as_str())
        .form(&[
            ("_csrf", csrf.as_str()),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303, "signed in as {email}");
    let cookie = session_cookie(&signed_in);
    let get = |path: String| {
        let request = browser
            .get(format!("{url}{path}"))
            .header("cookie", &cookie);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            response.text().await.unwrap()
        }
    };

    let list = get("/numbers?state=escrowed".to_owned()).await;
    let start = list
        .find("href=\"/numbers/")
        .expect("an escrowed number is listed")
        + "href=\"/numbers/".len();
    let id: String = list[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let record = get(format!("/numbers/{id}")).await;
    assert!(
        record.contains(&format!("href=\"/numbers/{id}/reveal\"")),
        "the admin may reveal: {record}"
    );
    let form = get(format!("/numbers/{id}/reveal")).await;
    let revealed = browser
        .post(format!("{url}/numbers/{id}/reveal"))
        .header("cookie", &cookie)
        .header("origin", url.as_str())
        .form(&[
            ("_csrf", hidden(&form, "_csrf").as_str()),
            ("_once", hidden(&form, "_once").as_str()),
            ("reason", "trying the demo"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revealed.status(), 200);
    assert_eq!(revealed.headers()["cache-control"], "no-store");
    let page = revealed.text().await.unwrap();
    let start = page
        .find("<p class=\"pin\" id=\"pin\">")
        .expect("the PIN is shown")
        + "<p class=\"pin\" id=\"pin\">".len();
    let pin: String = page[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(pin.len(), 6, "{page}");
    assert!(
        meta_holds(&demo.graph, &id, &pin).await,
        "Meta holds the PIN shown"
    );
    stop(demo);
}
