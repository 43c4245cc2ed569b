//! Org settings and the ledger in a real browser: an admin saves a policy after a refused
//! value, sees the change on the ledger page and finds the checkpoint key to pin.

use fantoccini::Locator;
use pinward_tests::on_both_databases;

use super::{EMAIL, PASSWORD, appears, arrived, driver, serve};

on_both_databases! {
    async fn an_admin_sets_a_policy_and_finds_it_on_the_ledger_in_a_real_browser(db) {
        let (_pinward, base) = serve(&db).await;
        let chromedriver = driver::Chromedriver::start();
        let browser = chromedriver.browser().await;
        browser.goto(&format!("{base}/signin")).await.unwrap();
        browser.find(Locator::Id("email")).await.unwrap().send_keys(EMAIL).await.unwrap();
        browser.find(Locator::Id("password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
        browser.find(Locator::Css("form.stacked button")).await.unwrap().click().await.unwrap();
        arrived(&browser, &base, "/").await;

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
}
