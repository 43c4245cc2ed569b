//! Org settings and the ledger in a real browser: an admin saves a policy after a refused
//! value, sees the change on the ledger page and finds the checkpoint key to pin.

use fantoccini::Locator;
use pinward_tests::on_both_databases;

use super::{EMAIL, PASSWORD, appears, arrived, driver, serve, sign_in_as_admin};

on_both_databases! {
    async fn an_admin_sets_a_policy_and_finds_it_on_the_ledger_in_a_real_browser(db) {
        let (_pinward, base) = serve(&db).await;
        let chromedriver = driver::Chromedriver::start();
        let browser = chromedriver.browser().await;
        sign_in_as_admin(&browser, &base).await;

        browser.find(Locator::LinkText("Settings")).await.unwrap().click().await.unwrap();
        arrived(&browser, &base, "/settings").await;
        let cadence = browser.find(Locator::Css("input[name=review_cadence_days]")).await.unwrap();
        cadence.clear().await.unwrap();
        cadence.send_keys("30").await.unwrap();
        // The input's bounds stop the browser from sending 30 at all…
        let blocked = browser
            .execute("return document.querySelector('input[name=review_cadence_days]').validity.rangeUnderflow", vec![])
            .await
            .unwrap();
        assert_eq!(blocked, serde_json::Value::Bool(true), "the browser knows the bounds");
        // …and pinward refuses it too, for whatever sends it anyway.
        browser
            .execute("document.querySelector('input[name=review_cadence_days]').removeAttribute('min')", vec![])
            .await
            .unwrap();
        browser.find(Locator::Css("form.policies button")).await.unwrap().click().await.unwrap();
        let refused = appears(&browser, Locator::Css("p.field-error")).await;
        assert_eq!(refused.text().await.unwrap(), "Review cadence: must be between 90 and 183 days");

        let cadence = browser.find(Locator::Css("input[name=review_cadence_days]")).await.unwrap();
        cadence.clear().await.unwrap();
        cadence.send_keys("120").await.unwrap();
        browser.find(Locator::Css("form.policies button")).await.unwrap().click().await.unwrap();
        let saved = appears(&browser, Locator::Css("p.flash.success")).await;
        assert_eq!(saved.text().await.unwrap(), "The policies are saved.");
        let key = browser.find(Locator::Css("code.key")).await.unwrap().text().await.unwrap();
        assert_eq!(key.len(), 44, "a base64 Ed25519 public key: {key}");
        let png = browser.screenshot().await.unwrap();
        std::fs::write(driver::screenshot_path(&format!("settings-{:?}", db.backend()).to_lowercase()), png).unwrap();

        browser.find(Locator::LinkText("Ledger")).await.unwrap().click().await.unwrap();
        arrived(&browser, &base, "/ledger").await;
        let newest = browser.find(Locator::Css("table.ledger tbody tr")).await.unwrap().text().await.unwrap();
        assert!(newest.contains("policy.updated") && newest.contains("120"), "{newest}");
        browser.close().await.unwrap();
    }

    async fn an_admin_invites_a_person_who_joins_with_a_password_of_their_own_in_a_real_browser(db) {
        let (_pinward, base) = serve(&db).await;
        let chromedriver = driver::Chromedriver::start();
        let browser = chromedriver.browser().await;
        sign_in_as_admin(&browser, &base).await;
        browser.goto(&format!("{base}/settings#invite")).await.unwrap();
        let form = "form[action='/settings/invitations#invite']";
        let field = |name: &str| format!("{form} [name={name}]");
        browser.find(Locator::Css(&field("email"))).await.unwrap().send_keys("newcomer@acme.example").await.unwrap();
        browser.find(Locator::Css(&field("role"))).await.unwrap().select_by_value("auditor").await.unwrap();
        browser.find(Locator::Css(&format!("{form} button"))).await.unwrap().click().await.unwrap();
        let code = appears(&browser, Locator::Css("#code code")).await.text().await.unwrap();
        assert!(code.starts_with("pwi_"), "{code}");
        browser.find(Locator::Css("form.signout button")).await.unwrap().click().await.unwrap();
        arrived(&browser, &base, "/signin").await;

        browser.goto(&format!("{base}/join")).await.unwrap();
        browser.find(Locator::Css("input[name=code]")).await.unwrap().send_keys(&code).await.unwrap();
        browser.find(Locator::Css("form[action='/join'] button")).await.unwrap().click().await.unwrap();
        let new = "form[action='/join/new']";
        appears(&browser, Locator::Css(new)).await;
        assert!(!browser.current_url().await.unwrap().as_str().contains("pwi_"), "the code is never in the address");
        browser.find(Locator::Css(&format!("{new} input[name=name]"))).await.unwrap().send_keys("Nia Newcomer").await.unwrap();
        browser.find(Locator::Css(&format!("{new} input[name=password]"))).await.unwrap().send_keys("a password only I know").await.unwrap();
        browser.find(Locator::Css(&format!("{new} button"))).await.unwrap().click().await.unwrap();
        let welcome = appears(&browser, Locator::Css("p.flash.success")).await;
        assert_eq!(welcome.text().await.unwrap(), "Welcome: you joined Acme Telecom as auditor.");
        arrived(&browser, &base, "/").await;
        browser.close().await.unwrap();
    }

    async fn on_a_phone_every_settings_table_is_a_card_a_row_with_nothing_off_screen(db) {
        let (_pinward, base) = serve(&db).await;
        with_a_row_in_every_settings_table(&db).await;
        let chromedriver = driver::Chromedriver::start();
        let browser = chromedriver.browser().await;
        browser.set_window_size(390, 900).await.unwrap();
        sign_in_as_admin(&browser, &base).await;
        browser.goto(&format!("{base}/settings")).await.unwrap();
        for table in ["members", "invitations", "recipients", "clients", "tokens"] {
            let fits = browser
                .execute(
                    "const cells = [...document.querySelectorAll(`table.${arguments[0]} td`)].map(c => c.getBoundingClientRect());\
                     return [window.innerWidth, Math.ceil(Math.max(...cells.map(c => c.right))), document.documentElement.scrollWidth, cells.length];",
                    vec![serde_json::json!(table)],
                )
                .await
                .unwrap();
            let [width, right, scrolled, cells] = [0, 1, 2, 3].map(|i| fits[i].as_u64().unwrap());
            assert!(width <= 640, "a phone-sized window: {fits}");
            assert!(cells > 1 && right <= width && scrolled <= width, "the {table} table is on screen: {fits}");
        }
        let label = browser
            .execute("return getComputedStyle(document.querySelector('table.tokens td[data-label=Role]'), '::before').content", vec![])
            .await
            .unwrap();
        assert_eq!(label, "\"Role\"", "each value beside its column's name");
        let png = browser.screenshot().await.unwrap();
        if db.backend() == pinward_tests::Backend::Sqlite {
            std::fs::write(driver::screenshot_path("settings-phone"), &png).unwrap();
        }
        browser.close().await.unwrap();
    }

    async fn the_clients_picker_shows_only_while_business_admin_is_the_chosen_role(db) {
        let (_pinward, base) = serve(&db).await;
        with_a_row_in_every_settings_table(&db).await;
        let chromedriver = driver::Chromedriver::start();
        let browser = chromedriver.browser().await;
        sign_in_as_admin(&browser, &base).await;
        browser.goto(&format!("{base}/settings")).await.unwrap();
        let clients_of = |email: &str| format!("select[aria-label='clients of {email} (business_admin only)']");
        let shown = async |css: &str| browser.find(Locator::Css(css)).await.unwrap().is_displayed().await.unwrap();

        assert!(shown(&clients_of("shop.manager@lumen-retail.example")).await, "a business admin's clients");
        assert!(!shown(&clients_of(EMAIL)).await, "an admin has none");
        let role = format!("form:has({}) select[name=role]", clients_of(EMAIL));
        browser.find(Locator::Css(&role)).await.unwrap().select_by_value("business_admin").await.unwrap();
        assert!(shown(&clients_of(EMAIL)).await, "choosing business_admin offers the clients");

        let add = "form[action='/settings/invitations#invite']";
        let picker = format!("{add} label.business-admin-only");
        assert!(!shown(&picker).await, "a new member is ops until told otherwise");
        browser.find(Locator::Css(&format!("{add} select[name=role]"))).await.unwrap().select_by_value("business_admin").await.unwrap();
        assert!(shown(&picker).await);
        browser.close().await.unwrap();
    }
}

/// A client with an age key and its business admin, a recovery recipient and an API token
/// beside the org's admin, so each of Settings' tables has a row to lay out.
async fn with_a_row_in_every_settings_table(db: &pinward_tests::TestDb) {
    use governance::access::{Caller, Role};
    let store = governance::Store::connect(&governance::DatabaseTarget::parse(db.url()).unwrap())
        .await
        .unwrap();
    let org = governance::orgs::find(&store, "acme").await.unwrap().id;
    let admin = Caller::cli(&org);
    let statement = format!(
        "INSERT INTO clients (id, org_id, name, created_at) VALUES ('c-lumen', '{org}', 'Lumen Retail International Holdings', '2026-01-01T00:00:00Z')"
    );
    db.execute(&[statement.as_str()]).await;
    let key = || vault::Identity::generate().recipient().to_string();
    governance::clients::set_recipient(&store, &admin, "c-lumen", &key())
        .await
        .unwrap();
    governance::recovery::add(&store, &admin, &key(), "the safe in office A")
        .await
        .unwrap();
    governance::tokens::create(&store, &admin, "nightly inventory export", Role::Auditor)
        .await
        .unwrap();
    governance::invitations::invite(
        &store,
        &admin,
        "new.analyst@lumen-retail.example",
        Role::BusinessAdmin,
        &["c-lumen".to_owned()],
    )
    .await
    .unwrap();
    let shop = governance::users::NewUser {
        email: "shop.manager@lumen-retail.example".to_owned(),
        display_name: "Shop Manager".to_owned(),
        password: Some(governance::users::Password::new(PASSWORD.to_owned())),
    };
    governance::members::add_new_user(
        &store,
        &admin,
        &shop,
        Role::BusinessAdmin,
        &["c-lumen".to_owned()],
    )
    .await
    .unwrap();
    store.close().await;
}
