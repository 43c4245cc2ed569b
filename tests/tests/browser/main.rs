//! The dashboard in a real headless Chromium against a running `pinward serve`: the pages
//! load with their stylesheet under the CSP, and a person signs in and out through the
//! forms (which proves the CSRF token and the Origin check pass for a real browser).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod driver;
mod settings;

use std::time::Duration;

use audit::Actor;
use fantoccini::Locator;
use governance::access::{Caller, Role};
use governance::users::{NewUser, Password};
use governance::{DatabaseTarget, Store};
use pinward_tests::{PinwardProcess, TestDb, on_both_databases};

const EMAIL: &str = "ann@example.com";
const PASSWORD: &str = "correct horse battery staple";

/// An org with one admin, then `pinward serve` on that database.
async fn serve(db: &TestDb) -> (PinwardProcess, String) {
    let store = Store::connect(&DatabaseTarget::parse(db.url()).unwrap())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let org = governance::orgs::create(&store, &Actor::system(), "acme", "Acme Telecom")
        .await
        .unwrap();
    governance::members::add_new_user(
        &store,
        &Caller::cli(&org.id),
        &NewUser {
            email: EMAIL.to_owned(),
            display_name: "Ann Admin".to_owned(),
            password: Some(Password::new(PASSWORD.to_owned())),
        },
        Role::Admin,
        &[],
    )
    .await
    .unwrap();
    store.close().await;
    let data_dir = db.subdir("data");
    let mut process = PinwardProcess::spawn(
        &["serve"],
        &[
            ("PINWARD_DATA_DIR", data_dir.to_str().unwrap()),
            ("PINWARD_DATABASE_URL", db.url()),
            ("PINWARD_LISTEN", "127.0.0.1:0"),
        ],
    );
    let base = process.wait_until_listening();
    (process, base)
}

/// Waits (bounded, for a hung browser only) until the page at `path` has loaded: a click
/// on a link or a submit button returns before the navigation it starts has finished.
async fn arrived(browser: &fantoccini::Client, base: &str, path: &str) {
    let url = url::Url::parse(&format!("{base}{path}")).unwrap();
    browser
        .wait()
        .at_most(Duration::from_secs(60))
        .for_url(&url)
        .await
        .unwrap_or_else(|e| panic!("never reached {url}: {e}"));
}

/// Fills in the sign-in form on the page shown and submits it.
async fn submit_sign_in(browser: &fantoccini::Client, email: &str, password: &str) {
    for (field, text) in [("email", email), ("password", password)] {
        let input = browser.find(Locator::Id(field)).await.unwrap();
        input.send_keys(text).await.unwrap();
    }
    let submit = browser
        .find(Locator::Css("form.stacked button"))
        .await
        .unwrap();
    submit.click().await.unwrap();
}

/// Signs `email` in through the sign-in form and waits for the overview.
async fn sign_in_as(browser: &fantoccini::Client, base: &str, email: &str, password: &str) {
    browser.goto(&format!("{base}/signin")).await.unwrap();
    submit_sign_in(browser, email, password).await;
    arrived(browser, base, "/").await;
}

/// Signs the org's admin in and waits for the overview.
async fn sign_in_as_admin(browser: &fantoccini::Client, base: &str) {
    sign_in_as(browser, base, EMAIL, PASSWORD).await;
}

async fn dialog(browser: &fantoccini::Client) -> String {
    for _ in 0..1_200 {
        if let Ok(text) = browser.get_alert_text().await {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no dialog opened within a minute")
}

/// The first element `locator` finds once the page shows one.
async fn appears(
    browser: &fantoccini::Client,
    locator: Locator<'_>,
) -> fantoccini::elements::Element {
    browser
        .wait()
        .at_most(Duration::from_secs(60))
        .for_element(locator)
        .await
        .unwrap_or_else(|e| panic!("never appeared: {e}"))
}

on_both_databases! {
    async fn a_person_signs_in_and_out_in_a_real_browser(db) {
        let (_pinward, base) = serve(&db).await;
        let chromedriver = driver::Chromedriver::start();
        let browser = chromedriver.browser().await;

        browser.goto(&format!("{base}/")).await.unwrap();
        assert_eq!(browser.current_url().await.unwrap().path(), "/signin");
        let heading = browser.find(Locator::Css("main h1")).await.unwrap();
        assert_eq!(heading.text().await.unwrap(), "Sign in");
        // The stylesheet applied: CSP let pinward's own CSS in.
        let background = browser
            .execute("return getComputedStyle(document.body).backgroundColor", vec![])
            .await
            .unwrap();
        assert_eq!(background, "rgb(246, 247, 249)");
        let png = browser.screenshot().await.unwrap();
        std::fs::write(driver::screenshot_path(&format!("signin-{:?}", db.backend()).to_lowercase()), png).unwrap();

        // A wrong password: the form again, with one answer for every failure.
        submit_sign_in(&browser, EMAIL, "not the password").await;
        let problem = appears(&browser, Locator::Css("p.flash.error")).await;
        assert_eq!(problem.text().await.unwrap(), "The email or password is not right.");

        browser.find(Locator::Id("password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
        browser.find(Locator::Css("form.stacked button")).await.unwrap().click().await.unwrap();
        arrived(&browser, &base, "/").await;
        let heading = browser.find(Locator::Css("main h1")).await.unwrap();
        assert_eq!(heading.text().await.unwrap(), "Overview");
        let header = browser.find(Locator::Css("header.bar")).await.unwrap().text().await.unwrap();
        assert!(header.contains("Acme Telecom") && header.contains("Ann Admin"), "{header}");

        browser.find(Locator::LinkText("Numbers")).await.unwrap().click().await.unwrap();
        arrived(&browser, &base, "/numbers").await;
        let heading = browser.find(Locator::Css("main h1")).await.unwrap();
        assert_eq!(heading.text().await.unwrap(), "Numbers");
        let png = browser.screenshot().await.unwrap();
        std::fs::write(driver::screenshot_path(&format!("numbers-{:?}", db.backend()).to_lowercase()), png).unwrap();

        browser.find(Locator::Css("form.signout button")).await.unwrap().click().await.unwrap();
        arrived(&browser, &base, "/signin").await;
        // goto waits for the load; the redirect to sign-in proves the session is gone.
        browser.goto(&format!("{base}/numbers")).await.unwrap();
        assert_eq!(browser.current_url().await.unwrap().path(), "/signin", "signed out");

        browser.close().await.unwrap();
    }
}

mod custody;
#[allow(dead_code)] // each test binary uses its own part of it
#[path = "../common/custody_world.rs"]
mod custody_world;

/// The text of the first element matching `css`.
async fn text_of(browser: &fantoccini::Client, css: &str) -> String {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .text()
        .await
        .unwrap()
}

on_both_databases! {
    async fn an_admin_finds_a_number_assigns_its_seats_and_reveals_its_pin_after_typing_the_password_again(db) {
        let served = custody::serve_with_custody(&db).await;
        let base = served.base.clone();
        let record = format!("/numbers/{}", served.number.as_str());
        let chromedriver = driver::Chromedriver::start();
        let browser = chromedriver.browser().await;

        sign_in_as(&browser, &base, custody::ADMIN, custody::PASSWORD).await;

        // Find the number through the list's search.
        browser.goto(&format!("{base}/numbers")).await.unwrap();
        let search = browser.find(Locator::Css("input[name=q]")).await.unwrap();
        search.send_keys(&served.display).await.unwrap();
        browser.find(Locator::Css("form.filters button")).await.unwrap().click().await.unwrap();
        // The unfiltered list already links the number: wait for the result page (its
        // search box rendered with the query), or the click lands on the page being left.
        appears(&browser, Locator::Css(&format!("input[name=q][value='{}']", served.display))).await;
        let link = appears(&browser, Locator::Css(&format!("a[href='{record}']"))).await;
        link.click().await.unwrap();
        arrived(&browser, &base, &record).await;

        // Assign the seats.
        browser.find(Locator::Id("owner")).await.unwrap().select_by_value(&served.admin_member).await.unwrap();
        browser.find(Locator::Id("manager")).await.unwrap().select_by_value(&served.ops_member).await.unwrap();
        browser.find(Locator::Css("#assign button")).await.unwrap().click().await.unwrap();
        let flash = appears(&browser, Locator::Css("p.flash.success")).await;
        assert_eq!(flash.text().await.unwrap(), "Main owner and permission manager saved.");
        let custody_facts = text_of(&browser, "main").await;
        assert!(custody_facts.contains("Main owner Ann Admin"), "{custody_facts}");
        assert!(custody_facts.contains("Permission manager Olly Ops"), "{custody_facts}");
        let png = browser.screenshot().await.unwrap();
        std::fs::write(driver::screenshot_path(&format!("record-{:?}", db.backend()).to_lowercase()), png).unwrap();
        // On a phone the PIN versions are a card each: when Meta confirmed one is on screen.
        let (wide, high) = browser.get_window_size().await.unwrap();
        browser.set_window_size(390, 900).await.unwrap();
        let fits = browser
            .execute(
                "const cell = document.querySelector('table.versions td[data-label=\"Last revealed\"]').getBoundingClientRect();\
                 return [window.innerWidth, Math.ceil(cell.right), document.documentElement.scrollWidth];",
                vec![],
            )
            .await
            .unwrap();
        let [width, right, scrolled] = [0, 1, 2].map(|i| fits[i].as_u64().unwrap());
        assert!(width <= 640 && right <= width && scrolled <= width, "the versions table is on screen: {fits}");
        browser.set_window_size(u32::try_from(wide).unwrap(), u32::try_from(high).unwrap()).await.unwrap();

        // Reveal: the sign-in was long ago, so the password is asked for again first.
        pinward_tests::sessions::age_step_up(&db).await;
        browser.find(Locator::LinkText("Reveal PIN…")).await.unwrap().click().await.unwrap();
        let reveal = format!("{record}/reveal");
        arrived(&browser, &base, &reveal).await;
        browser.find(Locator::Id("reason")).await.unwrap().send_keys("re-registering on a new phone").await.unwrap();
        browser.find(Locator::Css("main form.stacked button")).await.unwrap().click().await.unwrap();
        let password = appears(&browser, Locator::Css("form[action='/reauth'] #password")).await;
        password.send_keys(custody::PASSWORD).await.unwrap();
        browser.find(Locator::Css("form[action='/reauth'] button")).await.unwrap().click().await.unwrap();
        arrived(&browser, &base, &reveal).await;
        // Back on the form, the reason typed before the prompt is still there.
        let kept = browser.find(Locator::Id("reason")).await.unwrap().prop("value").await.unwrap();
        assert_eq!(kept.as_deref(), Some("re-registering on a new phone"));
        browser.find(Locator::Css("main form.stacked button")).await.unwrap().click().await.unwrap();
        let shown = appears(&browser, Locator::Id("pin")).await
            .text()
            .await
            .unwrap();
        assert!(served.meta_holds(shown.trim()), "the PIN shown is the one Meta holds: {shown}");
        let png = browser.screenshot().await.unwrap();
        std::fs::write(driver::screenshot_path(&format!("revealed-{:?}", db.backend()).to_lowercase()), png).unwrap();

        // The record lists the reveal in its ledger, never the PIN.
        browser.find(Locator::LinkText(&format!("Back to {}", served.display))).await.unwrap().click().await.unwrap();
        arrived(&browser, &base, &record).await;
        let ledger = text_of(&browser, "main").await;
        assert!(ledger.contains("pin.revealed"), "{ledger}");
        assert!(ledger.contains("re-registering on a new phone"), "{ledger}");
        assert!(!ledger.contains(shown.trim()), "no PIN on the record");

        // Rotating asks first: dismissed, nothing is sent; accepted, the PIN is rotated.
        let rotate = "form[action$='/rotate'] button";
        browser.find(Locator::Css(rotate)).await.unwrap().click().await.unwrap();
        assert!(dialog(&browser).await.contains("The current PIN stops working"));
        browser.dismiss_alert().await.unwrap();
        assert!(served.meta_holds(shown.trim()), "a dismissed question rotates nothing");
        browser.find(Locator::Css(rotate)).await.unwrap().click().await.unwrap();
        dialog(&browser).await;
        browser.accept_alert().await.unwrap();
        let flash = appears(&browser, Locator::Css("p.flash.success")).await;
        assert!(flash.text().await.unwrap().contains("The rotation queued after the reveal ran"));
        assert!(!served.meta_holds(shown.trim()), "the revealed PIN is retired");

        browser.find(Locator::Css("form.signout button")).await.unwrap().click().await.unwrap();
        arrived(&browser, &base, "/signin").await;
        browser.goto(&format!("{base}{record}")).await.unwrap();
        assert_eq!(browser.current_url().await.unwrap().path(), "/signin", "signed out");
        browser.close().await.unwrap();
    }
}

/// Numbers for the org `slug` in one client and WABA, written as the database's owner:
/// mixed PIN states, PIN ages from days to years, reviews overdue and due over the coming
/// months, so every chart of the overview has bars.
async fn seed_numbers(db: &TestDb, slug: &str, count: usize) {
    use chrono::{Duration, SecondsFormat, Utc};
    use sqlx::Connection;
    let store = Store::connect(&DatabaseTarget::parse(db.url()).unwrap())
        .await
        .unwrap();
    let org = governance::orgs::find(&store, slug).await.unwrap().id;
    store.close().await;
    let at =
        |t: chrono::DateTime<Utc>| format!("'{}'", t.to_rfc3339_opts(SecondsFormat::AutoSi, false));
    let now = Utc::now();
    let mut s = vec![
        format!(
            "INSERT INTO clients (id, org_id, name, created_at) VALUES ('c-shop', '{org}', 'Shop', {})",
            at(now)
        ),
        format!(
            "INSERT INTO wabas (id, org_id, client_id, meta_waba_id, name, ownership, first_seen_at, last_seen_at) \
             VALUES ('w-shop', '{org}', 'c-shop', '900', 'Shop WABA', 'client', {0}, {0})",
            at(now)
        ),
    ];
    let states = [
        "escrowed", "escrowed", "escrowed", "unknown", "rotating", "released",
    ];
    let emails = ["NULL", "'wa@shop.example'", "'owner@gmail.com'"];
    for i in 0..count {
        let days = i64::try_from(i).unwrap();
        let state = states[i % states.len()];
        s.push(format!(
            "INSERT INTO phone_numbers (id, org_id, waba_id, meta_phone_number_id, display_phone_number, verified_name, \
             pin_state, recovery_email, next_review_due, first_seen_at, last_synced_at) VALUES ('n-{i}', '{org}', \
             'w-shop', '{}', '+1 555-010-{i:04}', 'Shop {i}', '{state}', {}, {}, {}, {})",
            100 + i,
            emails[i % emails.len()],
            at(now + Duration::days(days * 11 - 60)),
            at(now - Duration::days(400)),
            at(now),
        ));
        if state != "unknown" {
            s.push(format!(
                "INSERT INTO pin_versions (id, org_id, phone_number_id, version, status, attempt_id, sealed, fingerprint, \
                 created_by, created_at, confirmed_at) VALUES ('v-{i}', '{org}', 'n-{i}', 1, 'current', 'a-{i}', \
                 'sealed', 'fp-{i}', 'system', {0}, {0})",
                at(now - Duration::days(days * days / 2 + 3)),
            ));
        }
    }
    async fn run<C>(conn: &mut C, statements: &[String])
    where
        for<'c> &'c mut C: sqlx::Executor<'c>,
    {
        for statement in statements {
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement.clone()))
                .execute(&mut *conn)
                .await
                .unwrap();
        }
    }
    match db.backend() {
        pinward_tests::Backend::Sqlite => {
            run(
                &mut sqlx::SqliteConnection::connect(db.url()).await.unwrap(),
                &s,
            )
            .await;
        }
        pinward_tests::Backend::Postgres => {
            run(
                &mut sqlx::PgConnection::connect(db.url()).await.unwrap(),
                &s,
            )
            .await;
        }
    }
}

on_both_databases! {
    async fn the_overview_shows_its_three_charts_in_a_real_browser(db) {
        let (_pinward, base) = serve(&db).await;
        seed_numbers(&db, "acme", 40).await;
        let chromedriver = driver::Chromedriver::start();
        let browser = chromedriver.browser().await;

        sign_in_as_admin(&browser, &base).await;

        let charts = browser.find_all(Locator::Css("svg.chart")).await.unwrap();
        assert_eq!(charts.len(), 3, "PIN age, problems by kind, reviews per month");
        for chart in &charts {
            assert!(!chart.find_all(Locator::Css("rect.bar")).await.unwrap().is_empty(), "every chart has bars");
        }
        // The CSS reached the SVG: a bar is filled with the accent colour, not black.
        let fill = browser
            .execute("return getComputedStyle(document.querySelector('svg.chart rect.bar')).fill", vec![])
            .await
            .unwrap();
        assert_eq!(fill, "rgb(31, 111, 92)");
        let figures = browser.find(Locator::Css("ul.headline")).await.unwrap().text().await.unwrap();
        assert!(figures.contains("40") && figures.contains("numbers"), "{figures}");
        // Tall enough for every chart in one picture.
        browser.set_window_size(1280, 1200).await.unwrap();
        let png = browser.screenshot().await.unwrap();
        let name = format!("overview-{:?}", db.backend()).to_lowercase();
        std::fs::write(driver::screenshot_path(&name), &png).unwrap();
        if db.backend() == pinward_tests::Backend::Sqlite {
            std::fs::write(driver::screenshot_path("overview"), &png).unwrap();
        }

        // On a phone the numbers list is one card a number: its health is in view, not off
        // to the right of a table that scrolls sideways.
        browser.set_window_size(390, 900).await.unwrap();
        browser.goto(&format!("{base}/numbers")).await.unwrap();
        let fits = browser
            .execute(
                "const health = document.querySelector('td[data-label=Health]').getBoundingClientRect();\
                 return [window.innerWidth, Math.ceil(health.right), document.documentElement.scrollWidth];",
                vec![],
            )
            .await
            .unwrap();
        let [width, right, scrolled] = [0, 1, 2].map(|i| fits[i].as_u64().unwrap());
        assert!(width <= 640, "a phone-sized window: {fits}");
        assert!(right <= width && scrolled <= width, "the health column is on screen: {fits}");
        let label = browser
            .execute("return getComputedStyle(document.querySelector('td[data-label=Health]'), '::before').content", vec![])
            .await
            .unwrap();
        assert_eq!(label, "\"Health\"", "each value beside its column's name");
        let png = browser.screenshot().await.unwrap();
        if db.backend() == pinward_tests::Backend::Sqlite {
            std::fs::write(driver::screenshot_path("numbers-phone"), &png).unwrap();
        }
        // So is the ledger: every event's details on screen.
        browser.goto(&format!("{base}/ledger")).await.unwrap();
        let fits = browser
            .execute(
                "const details = [...document.querySelectorAll('td[data-label=Details]')].map(d => d.getBoundingClientRect());\
                 return [window.innerWidth, Math.ceil(Math.max(...details.map(d => d.right))), document.documentElement.scrollWidth, details.length, Math.floor(Math.min(...details.map(d => d.width)))];",
                vec![],
            )
            .await
            .unwrap();
        let [width, right, scrolled, events, narrowest] = [0, 1, 2, 3, 4].map(|i| fits[i].as_u64().unwrap());
        assert!(events > 0 && right <= width && scrolled <= width, "the ledger's details are on screen: {fits}");
        assert!(narrowest * 4 >= width * 3, "and take the card's width, not a sliver of it: {fits}");
        let values = browser
            .execute(
                "const values = [...document.querySelectorAll('td[data-label=Details] dd')].map(d => d.getBoundingClientRect().width);\
                 return [window.innerWidth, values.length, Math.floor(Math.min(...values))];",
                vec![],
            )
            .await
            .unwrap();
        let [width, count, narrowest] = [0, 1, 2].map(|i| values[i].as_u64().unwrap());
        assert!(count > 0 && narrowest * 2 >= width, "each detail's value has at least half the screen, not a sliver beside its name: {values}");
        let png = browser.screenshot().await.unwrap();
        if db.backend() == pinward_tests::Backend::Sqlite {
            std::fs::write(driver::screenshot_path("ledger-phone"), &png).unwrap();
        }
        browser.close().await.unwrap();
    }
}
