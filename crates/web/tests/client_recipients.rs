//! The Clients section of the org settings: an admin names a client and sets the age
//! recipient its released PINs are sealed to, so "Release" works, through HTTP on both
//! databases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::custody::{ADMIN, AUDITOR, CustodyWorld, OPS, RIVAL, custody_world};
use common::*;
use pinward_tests::on_both_databases;

/// The id of the client owning the world's escrowed number.
async fn client_of_escrowed(w: &CustodyWorld) -> String {
    w.record(&w.escrowed).await.client.id
}

fn recipient_path(client: &str) -> String {
    format!("/settings/clients/{client}/recipient")
}

async fn settings(w: &CustodyWorld, visit: &Visit) -> String {
    let response = send(&w.app, get_as("/settings", &visit.cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    text(response).await
}

on_both_databases! {
    async fn a_client_without_a_recipient_is_shown_as_not_releasable(db) {
        let w = custody_world(&db).await;
        let admin = w.browser(ADMIN).await;
        let page = settings(&w, &admin).await;
        let client = client_of_escrowed(&w).await;
        assert!(page.contains("<h2>Clients</h2>"), "{page}");
        assert!(page.contains(&format!("<code>{client}</code>")), "the internal id is shown: {page}");
        assert!(page.contains("none — its numbers cannot be released"), "{page}");
        assert!(page.contains(&format!("action=\"{}#clients\"", recipient_path(&client))), "a refusal reopens the page at the section: {page}");
    }

    async fn an_admin_sets_the_recipient_in_settings_and_a_release_then_opens_with_the_clients_identity(db) {
        let w = custody_world(&db).await;
        let key = vault::Identity::generate();
        let client = client_of_escrowed(&w).await;
        let admin = w.browser(ADMIN).await;
        let response = send(&w.app, same_origin_post(&recipient_path(&client), &admin, &format!("recipient={}", key.recipient()))).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(header(&response, "location"), "/settings#clients");
        let shown = settings(&w, &admin).await;
        assert!(shown.contains(&format!("<code>{}</code>", key.recipient())), "{shown}");
        assert!(shown.contains(&format!("The numbers of {} are now released sealed to {}.", w.record(&w.escrowed).await.client.name, key.recipient())), "{shown}");

        let pin = w.escrowed_pin(&w.escrowed).await;
        let ops = w.browser(OPS).await;
        let release = format!("/numbers/{}/release", w.escrowed.as_str());
        let response = send(&w.app, same_origin_post(&release, &ops, "")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let armored = text(response).await;
        let opened: vault::Pin = vault::open(armored.as_bytes(), &key).unwrap();
        assert_eq!(opened.expose(), pin, "the client's identity opens the released PIN");
    }

    async fn an_admin_renames_a_client_and_the_numbers_list_shows_the_new_name(db) {
        let w = custody_world(&db).await;
        let client = client_of_escrowed(&w).await;
        let admin = w.browser(ADMIN).await;
        let path = format!("/settings/clients/{client}/name");
        let response = send(&w.app, same_origin_post(&path, &admin, "name=Lumen+Retail+%26+Co")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(header(&response, "location"), "/settings#clients");
        let page = settings(&w, &admin).await;
        assert!(page.contains("The client is now named Lumen Retail &#38; Co."), "{page}");
        assert!(page.contains("name=\"name\" value=\"Lumen Retail &#38; Co\""), "{page}");
        let list = text(send(&w.app, get_as("/numbers", &admin.cookie)).await).await;
        assert!(list.contains(">Lumen Retail &#38; Co</a>"), "{list}");
        let ledger = text(send(&w.app, get_as("/ledger?action=client.", &admin.cookie)).await).await;
        assert!(ledger.contains(">client.renamed</a>"), "{ledger}");
        assert!(ledger.contains("<dl class=\"details\"><dt>change</dt><dd title=\"stored: {&#34;from&#34;:"), "the details read as one change, not JSON: {ledger}");
        assert!(ledger.contains(" → Lumen Retail &#38; Co</dd></dl>"), "from the old name to the new: {ledger}");

        let before = w.ledger_len().await;
        let response = send(&w.app, same_origin_post(&path, &admin, "name=+++")).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = text(response).await;
        assert!(page.contains("<p class=\"field-error\" role=\"alert\">Name: 1 to 100 characters, no control characters</p>"), "{page}");
        assert!(page.contains("name=\"name\" value=\"   \" maxlength=\"100\" required"), "what was typed is kept: {page}");
        assert_eq!(w.ledger_len().await, before, "nothing changed");
        let ops = w.browser(OPS).await;
        assert_eq!(send(&w.app, same_origin_post(&path, &ops, "name=Mine")).await.status(), StatusCode::FORBIDDEN);
        assert!(settings(&w, &admin).await.contains(&format!("action=\"{path}#clients\"")) && !settings(&w, &ops).await.contains(&format!("action=\"{path}#clients\"")), "only admins get the form");
    }

    async fn a_malformed_key_is_refused_with_422_naming_the_recipient_field_and_nothing_changes(db) {
        let w = custody_world(&db).await;
        let client = client_of_escrowed(&w).await;
        let admin = w.browser(ADMIN).await;
        let before = w.ledger_len().await;
        for bad in ["age1nonsense", ""] {
            let response = send(&w.app, same_origin_post(&recipient_path(&client), &admin, &format!("recipient={bad}"))).await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
            let page = text(response).await;
            assert!(page.contains("age recipient: must be an age X25519 public key"), "{bad:?}: {page}");
            assert!(page.contains("<h1>Settings</h1>"), "the form is shown again");
        }
        // The shape of a secret key (any case), or a whole identity file flattened into the
        // one-line field, pasted by mistake: named, and not shown back.
        let file = "# created: 2026-11-25T12:00:00Z # public key: age1qqqq AGE-SECRET-KEY-1QQQQNOTAREALKEY";
        for secret in ["age-secret-key-1qqqqnotarealkey", file] {
            let response = send(&w.app, same_origin_post(&recipient_path(&client), &admin, &format!("recipient={}", enc(secret)))).await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{secret}");
            let page = text(response).await;
            assert!(page.contains("age recipient: is an age secret key") && !page.to_lowercase().contains("notarealkey"), "{page}");
        }
        assert_eq!(w.ledger_len().await, before, "nothing was ledgered");
        assert!(settings(&w, &admin).await.contains("none — its numbers cannot be released"));
    }

    async fn the_services_own_key_is_refused_as_a_clients_or_a_recovery_recipient(db) {
        let w = custody_world(&db).await;
        let service = vault::Identity::load(&db.dir().join("identity.txt")).unwrap().recipient().to_string();
        let client = client_of_escrowed(&w).await;
        let admin = w.browser(ADMIN).await;
        let before = w.ledger_len().await;
        let response = send(&w.app, same_origin_post(&recipient_path(&client), &admin, &format!("recipient={service}"))).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = text(response).await;
        assert!(page.contains("is this pinward&#39;s own service key: a client&#39;s recipient is the client&#39;s own key"), "{page}");
        let response = send(&w.app, same_origin_post("/settings/recovery", &admin, &format!("recipient={service}&label=Safe"))).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = text(response).await;
        assert!(page.contains("is this pinward&#39;s own service key: a recovery recipient is a key kept apart from pinward"), "{page}");
        assert_eq!(w.ledger_len().await, before, "nothing changed");
    }

    async fn a_cleared_recipient_leaves_the_client_not_releasable(db) {
        let w = custody_world(&db).await;
        let client = client_of_escrowed(&w).await;
        let admin = w.browser(ADMIN).await;
        let key = vault::Identity::generate().recipient().to_string();
        send(&w.app, same_origin_post(&recipient_path(&client), &admin, &format!("recipient={key}"))).await;
        let asks = format!("action=\"{}/clear#clients\" class=\"inline\" data-confirm=\"Clear the age recipient of ", recipient_path(&client));
        assert!(settings(&w, &admin).await.contains(&asks), "clearing asks first");
        let response = send(&w.app, same_origin_post(&format!("{}/clear", recipient_path(&client)), &admin, "")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let page = settings(&w, &admin).await;
        assert!(!page.contains(&key), "{page}");
        assert!(page.contains("none — its numbers cannot be released"), "{page}");
        let ops = w.browser(OPS).await;
        let release = send(&w.app, same_origin_post(&format!("/numbers/{}/release", w.escrowed.as_str()), &ops, "")).await;
        assert_eq!(release.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    async fn only_an_admin_may_change_a_recipient_and_another_orgs_admin_finds_no_such_client(db) {
        let w = custody_world(&db).await;
        let client = client_of_escrowed(&w).await;
        let key = vault::Identity::generate().recipient().to_string();
        let before = w.ledger_len().await;
        for who in [OPS, AUDITOR] {
            let visit = w.browser(who).await;
            for (path, fields) in [(recipient_path(&client), format!("recipient={key}")), (format!("{}/clear", recipient_path(&client)), String::new())] {
                let response = send(&w.app, same_origin_post(&path, &visit, &fields)).await;
                assert_eq!(response.status(), StatusCode::FORBIDDEN, "{who} {path}");
            }
        }
        let rival = w.browser(RIVAL).await;
        for (path, fields) in [(recipient_path(&client), format!("recipient={key}")), (format!("{}/clear", recipient_path(&client)), String::new())] {
            let response = send(&w.app, same_origin_post(&path, &rival, &fields)).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "another org's client: {path}");
        }
        let admin = w.browser(ADMIN).await;
        let forged = post_form(&recipient_path(&client), &admin)
            .header("origin", "http://127.0.0.1:8080")
            .header("sec-fetch-site", "same-origin")
            .body(axum::body::Body::from(format!("recipient={key}")))
            .unwrap();
        assert_eq!(send(&w.app, forged).await.status(), StatusCode::FORBIDDEN, "no CSRF token");
        assert_eq!(w.ledger_len().await, before, "nothing changed");
        assert!(settings(&w, &admin).await.contains("none — its numbers cannot be released"));
    }
}
