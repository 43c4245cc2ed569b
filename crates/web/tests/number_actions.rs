//! The actions of a number's record page — seats, handovers, custody, reveal — through
//! HTTP, against an in-process Graph sandbox, on both databases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::custody::{ADMIN, AUDITOR, CustodyWorld, MANAGER, OPS, OWNER, RIVAL, custody_world};
use common::*;
use graph::sandbox::{Fault, FaultPlan, FaultRule, Route};
use pinward_tests::on_both_databases;
use pinward_tests::sessions::age_step_up;

fn record_path(w: &CustodyWorld) -> String {
    format!("/numbers/{}", w.escrowed.as_str())
}

/// `pinward_pin_rotations_total` for `outcome`, as `/metrics` shows it now.
async fn rotations(w: &CustodyWorld, outcome: &str) -> u64 {
    let metrics = text(send(&w.app, get("/metrics")).await).await;
    let series = format!("pinward_pin_rotations_total{{outcome=\"{outcome}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// The six-digit PIN shown on a revealed page.
fn shown_pin(body: &str) -> String {
    let marker = "id=\"pin\">";
    let start = body.find(marker).expect("the PIN is shown") + marker.len();
    body[start..start + 6].to_owned()
}

/// The row of the record's PIN versions table for the version in `status`.
fn version_row<'a>(record: &'a str, status: &str) -> &'a str {
    record
        .lines()
        .find(|l| l.contains(&format!("data-label=\"Status\">{status}</td>")))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {status} version: {record}"))
}

on_both_databases! {
    async fn an_admin_assigns_owner_and_manager_and_the_record_shows_them_with_the_ledger_event(db) {
        let w = custody_world(&db).await;
        let admin = w.browser(ADMIN).await;
        let (ops, auditor, boss) = (w.member_id(OPS).await, w.member_id(AUDITOR).await, w.member_id(ADMIN).await);
        let path = format!("{}/seats", record_path(&w));
        // An auditor never sees PINs, so never holds a seat.
        let (status, _, body) = w.post(&admin, &path, &format!("owner={ops}&manager={auditor}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body.contains("Permission manager: is an auditor"), "{body}");
        let (status, location, _) = w.post(&admin, &path, &format!("owner={ops}&manager={boss}")).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(location, Some(format!("{}#top", record_path(&w))), "the form's own place is dropped: the page opens at its message");
        let record = w.record(&w.escrowed).await;
        assert_eq!(record.owner.unwrap().member_id, ops);
        assert_eq!(record.manager.unwrap().member_id, boss);
        let shown = w.page(&admin, &record_path(&w)).await;
        assert!(shown.contains("Main owner and permission manager saved."), "the flash: {shown}");
        assert!(shown.contains("<td>Person ops@acme.example</td>"), "{shown}");
        assert!(!shown.contains(&format!("value=\"{auditor}\"")), "the seat forms do not offer the auditor");
        assert!(shown.contains(&format!("value=\"{ops}\"")), "they offer the others");
        assert!(shown.contains("<td role=\"cell\" data-label=\"What\">number.assigned</td>"), "{shown}");
        let by = format!("Person {ADMIN} &#60;{ADMIN}&#62;</td><td role=\"cell\" data-label=\"What\">number.assigned</td>");
        assert!(shown.contains(&by), "the event names who did it: {shown}");
        let person = |email: &str| format!("Person {email} &#60;{email}&#62;");
        let seat = |seat: &str, from: &str, to: &str, stored: &str| {
            format!("<dt>{seat}</dt><dd title=\"stored: {stored}\">{from} → {to}</dd>")
        };
        let stored = |from: &str, to: &str| format!("{{&#34;from&#34;:&#34;{from}&#34;,&#34;to&#34;:&#34;{to}&#34;}}");
        let (owner, manager) = (w.member_id(OWNER).await, w.member_id(MANAGER).await);
        let owner_change = seat("owner", &person(OWNER), &person(OPS), &stored(&owner, &ops));
        let manager_change = seat("manager", &person(MANAGER), &person(ADMIN), &stored(&manager, &boss));
        assert!(shown.contains(&owner_change) && shown.contains(&manager_change), "the event names whom the seats went from and to, their ids one hover away: {shown}");
        let ledger = w.page(&admin, "/ledger").await;
        assert!(ledger.contains(&owner_change) && ledger.contains(&manager_change), "so does the ledger: {ledger}");
        let display = w.record(&w.escrowed).await.meta.display_phone_number;
        assert!(ledger.contains(&format!("<a href=\"{}\">{display}", record_path(&w))), "its subject is the number as the dashboard shows it: {ledger}");
    }

    async fn every_bad_seat_input_is_a_422_naming_the_field_and_changes_nothing(db) {
        let w = custody_world(&db).await;
        let admin = w.browser(ADMIN).await;
        let (ops, gone) = (w.member_id(OPS).await, "no-such-member");
        let before = (w.record(&w.escrowed).await, w.ledger_len().await);
        let path = format!("{}/seats", record_path(&w));
        for (fields, message) in [
            (format!("owner=&manager={ops}"), "Main owner: a main owner is required"),
            (format!("owner={ops}&manager="), "Permission manager: a permission manager is required"),
            (format!("manager={ops}"), "Main owner: a main owner is required"),
            (format!("owner={ops}&manager={ops}"), "Permission manager: must be a different person from the main owner"),
            (format!("owner={gone}&manager={ops}"), "Main owner: is not a member of this org"),
            (format!("owner={ops}&manager={gone}"), "Permission manager: is not a member of this org"),
        ] {
            let (status, _, body) = w.post(&admin, &path, &fields).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{fields}");
            assert!(body.contains(message), "{fields}: {body}");
            let form = &body[body.find("id=\"assign\"").expect("the form is shown again")..];
            assert!(form.contains(&format!("id=\"assign-problem\">{message}")), "and says what is wrong inside it: {fields}");
            let field = if message.starts_with("Main owner") { "owner" } else { "manager" };
            assert!(form.contains(&format!("id=\"{field}\" name=\"{field}\" aria-invalid=\"true\"")), "marking the select at fault: {fields}");
            assert!(body.contains("/seats#assign\""), "the refused page opens at the form");
        }
        assert_eq!((w.record(&w.escrowed).await, w.ledger_len().await), before, "nothing changed");

        // The refused form keeps the choice made, not the seats recorded.
        let (_, _, body) = w.post(&admin, &path, &format!("owner={ops}&manager={ops}")).await;
        let form = &body[body.find("id=\"assign\"").unwrap()..body.find("id=\"details\"").unwrap()];
        assert_eq!(form.matches(&format!("<option value=\"{ops}\" selected>")).count(), 2, "{form}");
        assert!(!form.contains(&format!("<option value=\"{}\" selected>", w.member_id(OWNER).await)), "{form}");
    }

    async fn a_seats_form_opened_before_the_seats_changed_saves_nothing_and_comes_back_holding_the_choice(db) {
        let w = custody_world(&db).await;
        let (admin, other_admin) = (w.browser(ADMIN).await, w.browser(ADMIN).await);
        let (owner, manager, ops, boss) = (w.member_id(OWNER).await, w.member_id(MANAGER).await, w.member_id(OPS).await, w.member_id(ADMIN).await);
        let path = format!("{}/seats", record_path(&w));
        let opened = w.page(&admin, &record_path(&w)).await;
        let seen = format!("seen_owner={}&seen_manager={}", input_value(&opened, "seen_owner"), input_value(&opened, "seen_manager"));
        assert_eq!(seen, format!("seen_owner={owner}&seen_manager={manager}"), "the form carries the holders it shows");
        // Meanwhile another tab gives the manager seat to the org admin.
        let (status, _, _) = w.post(&other_admin, &path, &format!("owner={owner}&manager={boss}&{seen}")).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let before = (w.record(&w.escrowed).await, w.ledger_len().await);
        let (status, _, _) = w.post(&other_admin, &path, &format!("owner={owner}&manager={boss}&{seen}")).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "the same choice posted twice (a double click) finds it made");
        assert_eq!((w.record(&w.escrowed).await, w.ledger_len().await), before, "and changes nothing");

        // A refused choice keeps the holders first shown: it is still checked against them.
        let (status, _, body) = w.post(&admin, &path, &format!("owner={ops}&manager={ops}&{seen}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(input_value(&body, "seen_manager"), manager, "{body}");

        let (status, _, body) = w.post(&admin, &path, &format!("owner={ops}&manager={manager}&{seen}")).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!((w.record(&w.escrowed).await, w.ledger_len().await), before, "the other tab's change stands");
        let form = &body[body.find("id=\"assign\"").unwrap()..body.find("id=\"details\"").unwrap()];
        assert!(form.contains("id=\"assign-problem\">These seats changed since this page was opened, so nothing was saved."), "{form}");
        assert!(form.contains(&format!("<option value=\"{ops}\" selected>")), "the choice comes back: {form}");
        assert_eq!(input_value(form, "seen_manager"), boss, "now checked against the seats as they are");

        // Saved again from that form, the choice replaces the seats.
        let seen = format!("seen_owner={}&seen_manager={}", input_value(form, "seen_owner"), input_value(form, "seen_manager"));
        let (status, _, _) = w.post(&admin, &path, &format!("owner={ops}&manager={manager}&{seen}")).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let record = w.record(&w.escrowed).await;
        assert_eq!((record.owner.unwrap().member_id, record.manager.unwrap().member_id), (ops, manager));
    }

    async fn seats_need_numbers_manage_a_csrf_token_and_a_number_of_the_callers_org(db) {
        let w = custody_world(&db).await;
        let (ops, admin_id) = (w.member_id(OPS).await, w.member_id(ADMIN).await);
        let fields = format!("owner={ops}&manager={admin_id}");
        let path = format!("{}/seats", record_path(&w));
        let before = (w.record(&w.escrowed).await, w.ledger_len().await);

        let auditor = w.browser(AUDITOR).await;
        assert_eq!(w.post(&auditor, &path, &fields).await.0, StatusCode::FORBIDDEN);
        let rival = w.browser(RIVAL).await;
        assert_eq!(w.post(&rival, &path, &fields).await.0, StatusCode::NOT_FOUND);
        let admin = w.browser(ADMIN).await;
        let forged = post_form(&path, &admin)
            .header("origin", "http://127.0.0.1:8080")
            .header("sec-fetch-site", "same-origin")
            .body(axum::body::Body::from(fields.clone()))
            .unwrap();
        assert_eq!(send(&w.app, forged).await.status(), StatusCode::FORBIDDEN, "no CSRF token");
        assert_eq!((w.record(&w.escrowed).await, w.ledger_len().await), before, "nothing changed");
    }

    async fn after_a_key_rotation_elsewhere_a_pin_change_is_a_503_saying_to_restart_and_seals_nothing(db) {
        let w = custody_world(&db).await;
        let ops = w.browser(OPS).await;
        governance::keys::rotate(&w.store, &db.dir().join("identity.txt"), &|_, _| {}).await.unwrap();
        let before = (w.record(&w.unknown).await, w.ledger_len().await);
        let (status, _, body) = w.post(&ops, &format!("/numbers/{}/take-custody", w.unknown.as_str()), "").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(body.contains("the service identity was rotated since this pinward started"), "{body}");
        assert!(body.contains("restart pinward"), "{body}");
        assert_eq!((w.record(&w.unknown).await, w.ledger_len().await), before, "nothing changed");

        // Revealing needs the identity the database's escrow is sealed to: the same advice.
        let owner = w.browser(OWNER).await;
        let (status, _, body) = w.reveal(&owner, &format!("{}/reveal", record_path(&w)), "reason=audit").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(body.contains("restart pinward"), "{body}");
        assert_eq!(w.ledger_len().await, before.1, "no reveal is ledgered");

        // So does releasing the PIN to its client, which opens it first.
        let client = w.record(&w.escrowed).await.client.id;
        let key = vault::Identity::generate();
        sql(&db, &[format!("UPDATE clients SET age_recipient = '{}' WHERE id = '{client}'", key.recipient())]).await;
        let (status, _, body) = w.post(&ops, &format!("{}/release", record_path(&w)), "").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(body.contains("restart pinward"), "{body}");
        assert_eq!(w.record(&w.escrowed).await.pin_state, governance::custody::PinState::Escrowed, "nothing released");
    }

    async fn ops_takes_custody_rotates_and_records_an_out_of_band_change_from_the_page(db) {
        let w = custody_world(&db).await;
        let ops = w.browser(OPS).await;
        let path = format!("/numbers/{}", w.unknown.as_str());
        let shown = w.page(&ops, &path).await;
        assert!(shown.contains(&format!("action=\"{path}/take-custody\" data-confirm=")), "{shown}");

        let (status, location, _) = w.post(&ops, &format!("{path}/take-custody"), "").await;
        assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some(path.as_str())));
        let shown = w.page(&ops, &path).await;
        assert!(shown.contains("PIN version 1 is set at Meta and escrowed."), "{shown}");
        let first = w.escrowed_pin(&w.unknown).await;
        assert!(w.meta_holds(&w.unknown, &first));

        // The form carries the version it was shown for: sent twice (a double click, a
        // reload), it rotates once.
        assert!(shown.contains("<input type=\"hidden\" name=\"from_version\" value=\"1\">"), "{shown}");
        let (status, _, _) = w.post(&ops, &format!("{path}/rotate"), "from_version=1").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let shown = w.page(&ops, &path).await;
        assert!(shown.contains("PIN version 2 is set at Meta and escrowed."), "{shown}");
        let second = w.escrowed_pin(&w.unknown).await;
        assert!(w.meta_holds(&w.unknown, &second) && !w.meta_holds(&w.unknown, &first));
        assert!(shown.contains("<td role=\"cell\" data-label=\"What\">pin.rotated</td>"), "{shown}");
        let events = w.ledger_len().await;
        let (status, _, _) = w.post(&ops, &format!("{path}/rotate"), "from_version=1").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let shown = w.page(&ops, &path).await;
        assert!(shown.contains("The PIN was rotated since that page was shown (from version 1 to version 2), so nothing was done."), "{shown}");
        assert_eq!(w.ledger_len().await, events, "no second rotation");
        assert_eq!(w.escrowed_pin(&w.unknown).await, second);
        let metrics = text(send(&w.app, get("/metrics")).await).await;
        assert!(
            metrics.contains("pinward_pin_rotations_total{outcome=\"rotated\"} 2\n"),
            "taking custody and rotating each count: {metrics}"
        );

        let before = w.ledger_len().await;
        for (fields, message, invalid) in [
            ("note=now+it+is+271828&changed_on=", "What happened: must not contain six digits in a row", vec!["out_of_band_note"]),
            ("note=by+IT&changed_on=2020-02-30", "Changed on: 2020-02-30 is not a day of the calendar", vec!["changed_on"]),
            ("note=by+IT&changed_on=2008-12-31", "Changed on: must be between 2009-01-01 and today", vec!["changed_on"]),
            ("note=x+123456&changed_on=soon", "What happened: must not contain six digits in a row (a PIN is never written down; notes are ledgered) The note was cleared, so that nothing that may be a PIN is shown again: type it again without the digits.; Changed on: must be a date (YYYY-MM-DD)", vec!["out_of_band_note", "changed_on"]),
        ] {
            let (status, _, body) = w.post(&ops, &format!("{path}/out-of-band"), fields).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{fields}");
            assert!(body.contains(&format!("id=\"out-of-band-problem\">{message}")), "{fields}: {body}");
            assert_eq!(invalid_inputs(&body), invalid, "{fields}");
            assert!(!body.contains("271828") && !body.contains("123456"), "a note that may hold a PIN is not shown back: {body}");
            if fields.contains("by+IT") {
                assert!(body.contains(">by IT</textarea>"), "the note typed comes back: {body}");
            }
        }
        assert_eq!(w.ledger_len().await, before, "nothing changed");
        let (status, _, _) = w.post(&ops, &format!("{path}/out-of-band"), "note=Changed+in+WhatsApp+Manager+by+the+client%27s+IT&changed_on=2026-01-02").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let shown = w.page(&ops, &path).await;
        assert!(shown.contains("<td role=\"cell\" data-label=\"What\">pin.changed_out_of_band</td>"), "{shown}");
        assert!(shown.contains("Changed in WhatsApp Manager by the client&#39;s IT") && shown.contains("2026-01-02"), "the report is on the record's ledger: {shown}");
        assert_eq!(w.record(&w.unknown).await.pin_state.as_str(), "unknown");
        assert!(!shown.contains(&format!("{path}/out-of-band")), "nothing escrowed is left to mark stale");
        let before = w.ledger_len().await;
        let (status, _, _) = w.post(&ops, &format!("{path}/out-of-band"), "").await;
        assert_eq!(status, StatusCode::CONFLICT, "a second record would ledger an empty change");
        assert_eq!(w.ledger_len().await, before);
    }

    async fn ops_takes_custody_of_a_number_an_on_premises_deployment_serves_with_its_admin_login(db) {
        let w = custody_world(&db).await;
        let ops = w.browser(OPS).await;
        let path = format!("/numbers/{}", w.on_prem.as_str());
        let (status, _, _) = w.post(&ops, &format!("{path}/take-custody"), "").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let shown = w.page(&ops, &path).await;
        assert!(shown.contains("PIN version 1 is set at Meta and escrowed."), "{shown}");
        let pin = w.escrowed_pin(&w.on_prem).await;
        assert!(w.meta_holds(&w.on_prem, &pin), "the deployment holds the escrowed PIN");
    }

    async fn rotate_or_take_custody_meeting_a_new_pin_in_flight_does_nothing_more_and_says_so(db) {
        let w = custody_world(&db).await;
        let ops = w.browser(OPS).await;
        let path = record_path(&w);
        assert!(w.page(&ops, &path).await.contains("name=\"from_version\" value=\"1\""));
        // Another worker (the first click, a job) has a new PIN in flight under its lease.
        let other = w.another_worker(std::time::Duration::from_secs(3600)).await;
        for number in [&w.escrowed, &w.unknown] {
            let purpose = if number == &w.escrowed { governance::custody::Purpose::Rotate } else { governance::custody::Purpose::Take };
            other.start(&w.org, &audit::Actor::system(), number, &[], purpose).await.unwrap();
        }
        let before = w.ledger_len().await;
        let in_flight = "A new PIN for this number is already in flight (a second click, another tab or a rotation job), so nothing more was done";
        for (number, action, fields) in [(&w.escrowed, "rotate", "from_version=1"), (&w.unknown, "take-custody", "")] {
            let path = format!("/numbers/{}", number.as_str());
            let (status, location, body) = w.post(&ops, &format!("{path}/{action}"), fields).await;
            assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some(path.as_str())), "{action}: {body}");
            let shown = w.page(&ops, &path).await;
            assert!(shown.contains(in_flight), "{action}: {shown}");
        }
        assert_eq!(w.ledger_len().await, before, "nothing more was done");
        assert_eq!(w.record(&w.escrowed).await.pin_state.as_str(), "rotating");
    }

    async fn custody_actions_need_the_custody_permission_and_refuse_a_pin_state_that_forbids_them(db) {
        let w = custody_world(&db).await;
        let before = w.ledger_len().await;
        let path = record_path(&w);
        let auditor = w.browser(AUDITOR).await;
        for action in ["take-custody", "rotate", "release", "out-of-band"] {
            let (status, _, body) = w.post(&auditor, &format!("{path}/{action}"), "").await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{action}");
            assert!(body.contains("you may not do this: it is for org admins and ops (PIN custody and inventory sync)"), "said in words: {body}");
        }
        let rival = w.browser(RIVAL).await;
        for action in ["take-custody", "rotate", "release", "out-of-band"] {
            let (status, _, _) = w.post(&rival, &format!("{path}/{action}"), "").await;
            assert_eq!(status, StatusCode::NOT_FOUND, "another org's number: {action}");
        }
        let ops = w.browser(OPS).await;
        let forged = post_form(&format!("{path}/rotate"), &ops)
            .header("origin", "http://127.0.0.1:8080")
            .header("sec-fetch-site", "same-origin")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(send(&w.app, forged).await.status(), StatusCode::FORBIDDEN, "no CSRF token");
        // Escrowed already: a page shown before someone took custody, or a second click.
        let (status, _, _) = w.post(&ops, &format!("{path}/take-custody"), "").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let shown = w.page(&ops, &path).await;
        assert!(shown.contains("Custody of this number was taken meanwhile (a second click or another tab), so nothing more was done."), "{shown}");
        let (status, _, body) = w.post(&ops, &format!("{path}/release"), "").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "the client has no age recipient");
        assert!(body.contains("Client&#39;s age recipient: the number"), "{body}");
        assert_eq!(w.ledger_len().await, before, "nothing changed");
    }

    async fn a_release_downloads_the_pin_sealed_to_the_client_and_no_cache_keeps_it(db) {
        let w = custody_world(&db).await;
        let key = vault::Identity::generate();
        let client = w.record(&w.escrowed).await.client.id;
        sql(&db, &[format!(
            "UPDATE clients SET age_recipient = '{}' WHERE id = '{client}'", key.recipient()
        )]).await;
        let ops = w.browser(OPS).await;
        let pin = w.escrowed_pin(&w.escrowed).await;
        let response = send(&w.app, same_origin_post(&format!("{}/release", record_path(&w)), &ops, "")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "cache-control"), "no-store");
        assert!(header(&response, "content-disposition").starts_with("attachment; filename=\"pin-"));
        let armored = text(response).await;
        assert!(armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"), "{armored}");
        let opened: vault::Pin = vault::open(armored.as_bytes(), &key).unwrap();
        assert_eq!(opened.expose(), pin);
        assert_eq!(w.record(&w.escrowed).await.pin_state.as_str(), "released");
        let shown = w.page(&ops, &record_path(&w)).await;
        assert!(shown.contains("<td role=\"cell\" data-label=\"What\">pin.released</td>"), "{shown}");
        assert!(!shown.contains(&format!("{}/rotate\"", record_path(&w))), "a released number offers no rotation");
        assert!(shown.contains("Released to its client: pinward does not rotate this PIN, and the client may have changed it since"), "and says why: {shown}");

        // The PIN handed over may still be revealed, saying what it is, and no rotation follows.
        let owner = w.browser(OWNER).await;
        let path = format!("{}/reveal", record_path(&w));
        assert!(w.page(&owner, &path).await.contains("what you reveal is the PIN that was handed over"));
        let response = send(&w.app, same_origin_post(&path, &owner, &w.reveal_fields(&owner, &path, "reason=the+client+lost+the+file").await)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body = text(response).await;
        assert_eq!(shown_pin(&body), pin);
        assert!(body.contains("This is the PIN handed over when the number was released") && !body.contains("rotation job"), "{body}");

        // The client gives the number back: ops takes it back into custody with a fresh PIN.
        let auditor = w.browser(AUDITOR).await;
        assert!(!w.page(&auditor, &record_path(&w)).await.contains("/take-custody\""), "an auditor has no custody");
        // Taking it back sets a PIN at Meta: while Meta refuses the org's token, it is neither
        // offered nor suggested, and the page says why.
        let admin = w.browser(ADMIN).await;
        let refused = w.sandbox.issue_token(&graph::sandbox::TokenSpec::default());
        assert_eq!(w.post(&admin, "/settings/credential", &format!("token={}", refused.expose())).await.0, StatusCode::SEE_OTHER);
        assert!(w.sandbox.revoke_token(&refused));
        assert_eq!(w.post(&admin, "/settings/credential/check", "").await.0, StatusCode::SEE_OTHER);
        let shown = w.page(&ops, &record_path(&w)).await;
        assert!(shown.contains("id=\"meta-refuses\"") && shown.contains("id=\"released\""), "{shown}");
        assert!(!shown.contains("/take-custody\"") && !shown.contains("take it back into custody"), "{shown}");
        let good = w.sandbox.system_user_token();
        assert_eq!(w.post(&admin, "/settings/credential", &format!("token={}", good.expose())).await.0, StatusCode::SEE_OTHER);
        let shown = w.page(&ops, &record_path(&w)).await;
        assert!(shown.contains("If the client gives the number back, or it was released by mistake, take it back into custody"), "{shown}");
        assert!(shown.contains(&format!("action=\"{}/take-custody\" data-confirm=\"Take this number back into custody?", record_path(&w))), "{shown}");
        assert!(shown.contains(">Take back into custody</button>"), "{shown}");
        let (status, _, _) = w.post(&ops, &format!("{}/take-custody", record_path(&w)), "").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let shown = w.page(&ops, &record_path(&w)).await;
        assert!(shown.contains("PIN version 2 is set at Meta and escrowed."), "{shown}");
        assert!(shown.contains("<td role=\"cell\" data-label=\"What\">pin.reclaimed</td>"), "{shown}");
        assert!(!shown.contains("id=\"released\""), "{shown}");
        assert_eq!(w.record(&w.escrowed).await.pin_state.as_str(), "escrowed");
        let fresh = w.escrowed_pin(&w.escrowed).await;
        assert!(w.meta_holds(&w.escrowed, &fresh) && !w.meta_holds(&w.escrowed, &pin), "the PIN handed over no longer works");
    }

    async fn reading_every_page_and_every_forms_address_changes_nothing(db) {
        let w = custody_world(&db).await;
        let admin = w.browser(ADMIN).await;
        let record = record_path(&w);
        let (ledgered, checkpoint) = (w.ledger_len().await, governance::checkpoints::latest(&w.store, &w.org).await.unwrap());
        let mut paths: Vec<String> = [
            "/", "/numbers", "/numbers?state=escrowed&health=unhealthy", "/ledger", "/ledger/export", "/settings",
            "/settings/checkpoint-key.pub", "/settings/invitations", "/settings/invitations/x/withdraw", "/settings/tokens",
            "/settings/tokens/x/revoke", "/sync", "/join", "/join/accept", "/reauth", "/signout", "/metrics",
            "/api/v1/openapi.json", "/healthz", "/readyz",
        ]
        .map(str::to_owned)
        .to_vec();
        paths.extend(
            ["", "/reveal", "/seats", "/handovers", "/handovers/x/accept", "/handovers/x/decline", "/handovers/x/cancel",
             "/details", "/review", "/take-custody", "/rotate", "/release", "/out-of-band"]
                .map(|action| format!("{record}{action}")),
        );
        for path in &paths {
            let response = send(&w.app, get_as(path, &admin.cookie)).await;
            // 503 for the checkpoint key, which this world's service was started without.
            assert_ne!(response.status(), StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        }
        let no_key = send(&w.app, get_as("/settings/checkpoint-key.pub", &admin.cookie)).await;
        assert_eq!(no_key.status(), StatusCode::SERVICE_UNAVAILABLE, "this world's service has no checkpoint key");
        let export = send(&w.app, same_origin_post("/ledger/export", &admin, "format=jsonl")).await;
        assert_eq!(export.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(w.ledger_len().await, ledgered, "nothing ledgered");
        assert_eq!(governance::checkpoints::latest(&w.store, &w.org).await.unwrap(), checkpoint, "no checkpoint signed");
        assert_eq!(send(&w.app, get_as("/settings", &admin.cookie)).await.status(), StatusCode::OK, "still signed in: a GET signs nobody out");
    }

    async fn without_custody_the_custody_actions_are_a_503_page(db) {
        let w = custody_world(&db).await;
        let app = router(w.store.clone(), &db, None);
        let cookie = sign_in(&app, OPS).await;
        let body = text(send(&app, get_as("/numbers", &cookie)).await).await;
        let marker = "name=\"_csrf\" value=\"";
        let start = body.find(marker).unwrap() + marker.len();
        let visit = Visit { cookie, csrf: body[start..].split('"').next().unwrap().to_owned() };
        let response = send(&app, same_origin_post(&format!("/numbers/{}/take-custody", w.unknown.as_str()), &visit, "")).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(text(response).await.contains("started without custody"));
    }

    async fn the_owner_reveals_the_pin_meta_holds_once_in_the_response_body_and_the_record_shows_the_ledger_entry(db) {
        let w = custody_world(&db).await;
        let owner = w.browser(OWNER).await;
        let path = format!("{}/reveal", record_path(&w));
        let form = w.page(&owner, &path).await;
        assert!(form.contains("name=\"reason\""), "{form}");
        let response = send(&w.app, same_origin_post(&path, &owner, &w.reveal_fields(&owner, &path, "reason=re-registering+on+a+new+phone").await)).await;
        assert_eq!(response.status(), StatusCode::OK, "the PIN is in the response, never a redirect");
        assert_eq!(header(&response, "cache-control"), "no-store");
        let body = text(response).await;
        let pin = shown_pin(&body);
        assert!(w.meta_holds(&w.escrowed, &pin), "the PIN shown is the one Meta holds");
        assert!(body.contains("rotation job"), "the default policy queues a rotation: {body}");

        let record = w.page(&owner, &record_path(&w)).await;
        assert!(record.contains("<td role=\"cell\" data-label=\"What\">pin.revealed</td>"), "{record}");
        assert!(record.contains("re-registering on a new phone"), "the reason is ledgered");
        assert!(!record.contains(&pin), "the record never shows the PIN");
        let manager = w.browser(MANAGER).await;
        let response = send(&w.app, same_origin_post(&path, &manager, &w.reveal_fields(&manager, &path, "reason=checking").await)).await;
        assert_eq!(response.status(), StatusCode::OK, "the manager may reveal too");
        let admin = w.browser(ADMIN).await;
        let response = send(&w.app, same_origin_post(&path, &admin, &w.reveal_fields(&admin, &path, "reason=checking").await)).await;
        assert_eq!(response.status(), StatusCode::OK, "an admin may reveal any number");
    }

    async fn reloading_the_revealed_pin_or_submitting_a_used_form_again_reveals_and_ledgers_nothing(db) {
        let w = custody_world(&db).await;
        let owner = w.browser(OWNER).await;
        let path = format!("{}/reveal", record_path(&w));
        let fields = w.reveal_fields(&owner, &path, "reason=re-registering").await;
        assert_eq!(w.post(&owner, &path, &fields).await.0, StatusCode::OK);
        let before = w.ledger_len().await;
        let (status, location, body) = w.post(&owner, &path, &fields).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "a reload of the result resubmits the form");
        assert_eq!(location.as_deref(), Some(record_path(&w).as_str()));
        assert!(!body.contains("id=\"pin\""));
        assert_eq!(w.ledger_len().await, before, "nothing revealed, nothing ledgered");
        let record = w.page(&owner, &record_path(&w)).await;
        assert!(record.contains("That reveal form was already used"), "{record}");

        let (status, _, _) = w.post(&owner, &path, "reason=no+form+opened").await;
        assert_eq!(status, StatusCode::SEE_OTHER, "a token is needed");
        let other = format!("/numbers/{}/reveal", w.unknown.as_str());
        let ops = w.browser(OPS).await;
        assert_eq!(w.post(&ops, &format!("/numbers/{}/take-custody", w.unknown.as_str()), "").await.0, StatusCode::SEE_OTHER);
        let admin = w.browser(ADMIN).await;
        let theirs = w.reveal_fields(&admin, &path, "reason=checking").await;
        w.page(&admin, &other).await;
        let before = w.ledger_len().await;
        assert_eq!(w.post(&admin, &other, &theirs).await.0, StatusCode::SEE_OTHER, "a form's token is for its own number");
        assert_eq!(w.ledger_len().await, before);
        assert_eq!(w.post(&admin, &path, &theirs).await.0, StatusCode::OK, "and still good there");
        assert_eq!(w.reveal(&admin, &other, "reason=checking").await.0, StatusCode::OK);
    }

    async fn a_reveal_is_refused_to_others_without_step_up_reason_or_csrf_and_changes_nothing(db) {
        let w = custody_world(&db).await;
        let path = format!("{}/reveal", record_path(&w));
        let reason = "reason=re-registering";
        let before = w.ledger_len().await;
        for (who, expected) in [(OPS, StatusCode::FORBIDDEN), (AUDITOR, StatusCode::FORBIDDEN), (RIVAL, StatusCode::NOT_FOUND)] {
            let visit = w.browser(who).await;
            let (status, _, body) = w.reveal(&visit, &path, reason).await;
            assert_eq!(status, expected, "{who}");
            assert!(!body.contains("id=\"pin\""), "{who}");
            let form = send(&w.app, get_as(&path, &visit.cookie)).await;
            assert_eq!(form.status(), expected, "the form is not offered to {who} either");
        }
        let owner = w.browser(OWNER).await;
        for (fields, message) in [
            ("reason=", "Reason: a reason is required to reveal a PIN"),
            ("reason=+++", "Reason: a reason is required to reveal a PIN"),
            ("", "Reason: a reason is required to reveal a PIN"),
            ("reason=old+pin+123456", "Reason: must not contain six digits in a row"),
        ] {
            let (status, _, body) = w.reveal(&owner, &path, fields).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
            assert!(body.contains(message), "{fields:?}: {body}");
            assert!(!body.contains("id=\"pin\""));
            assert!(!body.contains("123456"), "a reason that may hold a PIN is not shown back");
            if fields.contains("123456") {
                assert!(body.contains("The reason was cleared"), "and the form says so: {body}");
            }
            assert_eq!(invalid_inputs(&body), ["reason"], "the reason is marked");
            assert!(body.contains("id=\"reveal-problem\">") && body.contains("aria-describedby=\"reveal-problem\""));
        }
        let long = format!("reason={}", "a".repeat(501));
        let (status, _, body) = w.reveal(&owner, &path, &long).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body.contains("Reason: at most 500 characters"), "{body}");

        let forged = post_form(&path, &owner)
            .header("origin", "http://127.0.0.1:8080")
            .header("sec-fetch-site", "same-origin")
            .body(axum::body::Body::from(reason))
            .unwrap();
        assert_eq!(send(&w.app, forged).await.status(), StatusCode::FORBIDDEN, "no CSRF token");

        age_step_up(&db).await;
        let (status, location, _) = w.reveal(&owner, &path, reason).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let back = format!("/reauth?next={}", enc(&path));
        assert_eq!(location.as_deref(), Some(back.as_str()), "a stale password check goes to /reauth and back");
        assert_eq!(w.ledger_len().await, before, "nothing was revealed");
    }

    async fn a_reason_typed_before_the_password_prompt_fills_the_form_it_comes_back_to(db) {
        let w = custody_world(&db).await;
        let owner = w.browser(OWNER).await;
        let path = format!("{}/reveal", record_path(&w));
        age_step_up(&db).await;
        let (status, location, _) = w.reveal(&owner, &path, "reason=re-registering+the+shop%27s+phone").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(location.as_deref(), Some(format!("/reauth?next={}", enc(&path)).as_str()));
        let form = w.page(&owner, &path).await;
        assert!(form.contains(">re-registering the shop&#39;s phone</textarea>"), "kept and escaped: {form}");
        let again = w.page(&owner, &path).await;
        assert!(again.contains("required></textarea>"), "kept for one visit only: {again}");

        // Kept for that number only: another number's reveal form, which an admin may use,
        // does not show it, and the first number's form still does when the admin comes back.
        let ops = w.browser(OPS).await;
        let other = format!("/numbers/{}", w.unknown.as_str());
        assert_eq!(w.post(&ops, &format!("{other}/take-custody"), "").await.0, StatusCode::SEE_OTHER);
        let admin = w.browser(ADMIN).await;
        age_step_up(&db).await;
        let (status, _, _) = w.reveal(&admin, &path, "reason=for+the+first+number").await;
        assert_eq!(status, StatusCode::SEE_OTHER, "to the password prompt");
        let other_form = w.page(&admin, &format!("{other}/reveal")).await;
        assert!(other_form.contains("required></textarea>") && !other_form.contains("for the first number"), "{other_form}");
        assert!(w.page(&admin, &path).await.contains(">for the first number</textarea>"));
    }

    async fn a_user_may_reveal_five_pins_an_hour(db) {
        let w = custody_world(&db).await;
        let owner = w.browser(OWNER).await;
        let path = format!("{}/reveal", record_path(&w));
        let (status, _, _) = w.reveal(&owner, &path, "reason=").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a refused reveal does not count");
        for _ in 0..web::auth::reveals::PER_USER {
            assert_eq!(w.reveal(&owner, &path, "reason=again").await.0, StatusCode::OK);
        }
        let before = w.ledger_len().await;
        let (status, _, body) = w.reveal(&owner, &path, "reason=again+123456").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(!body.contains("123456"), "a reason that may hold a PIN is not shown back");
        assert!(body.contains("try again in") && !body.contains("id=\"pin\""), "{body}");
        assert_eq!(w.ledger_len().await, before);
        let manager = w.browser(MANAGER).await;
        assert_eq!(w.reveal(&manager, &path, "reason=mine").await.0, StatusCode::OK, "the limit is per user");
    }

    async fn a_handover_is_proposed_in_writing_and_accepted_after_the_checklist_which_rotates_the_pin(db) {
        let w = custody_world(&db).await;
        let owner = w.browser(OWNER).await;
        let ops_id = w.member_id(OPS).await;
        let record = record_path(&w);
        let path = format!("{record}/handovers");
        let before = w.ledger_len().await;
        for (fields, message) in [
            (format!("seat=chair&to_member={ops_id}&note=over+to+you"), "Seat: must be the main owner seat (owner) or the permission manager seat (manager)"),
            (format!("to_member={ops_id}&note=over+to+you"), "Seat: must be the main owner seat (owner) or the permission manager seat (manager)"),
            ("seat=owner&to_member=&note=over+to+you".to_owned(), "Incoming member: choose the member who takes the seat"),
            (format!("seat=owner&to_member={ops_id}&note="), "Note for the incoming member: is required"),
            (format!("seat=owner&to_member={ops_id}&note=pin+is+123456"), "Note for the incoming member: must not contain six digits"),
            (format!("seat=owner&to_member={}&note=x", w.member_id(MANAGER).await), "Incoming member: holds the other seat"),
        ] {
            let (status, _, body) = w.post(&owner, &path, &fields).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{fields}");
            assert!(body.contains(&format!("id=\"propose-problem\">{message}")), "{fields}: {body}");
            let field = [("Seat", "seat"), ("Incoming member", "to_member"), ("Note for the incoming member", "note")]
                .into_iter()
                .find_map(|(label, id)| message.starts_with(label).then_some(id));
            assert_eq!(invalid_inputs(&body), field.into_iter().collect::<Vec<_>>(), "the input at fault is marked: {fields}");
        }
        let (status, _, body) = w.post(&owner, &path, "seat=&to_member=&note=").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body.contains("id=\"propose-problem\">Seat: must be the main owner seat (owner) or the permission manager seat (manager); Incoming member: choose the member who takes the seat; Note for the incoming member: is required: write what the other side needs to know<"), "every fault at once, in the form's order: {body}");
        assert_eq!(invalid_inputs(&body), ["seat", "to_member", "note"], "each input at fault is marked");
        assert_eq!(w.ledger_len().await, before, "nothing changed");
        let (_, _, body) = w.post(&owner, &path, &format!("seat=owner&to_member={ops_id}&note=")).await;
        let seats = body[body.find("id=\"seat\"").unwrap()..].split("</select>").next().unwrap();
        assert!(seats.contains("<option value=\"owner\" selected>Main owner") && !seats.contains("manager"), "the owner is offered the seat it holds, and only that: {seats}");
        assert!(body.contains(&format!("<option value=\"{ops_id}\" selected>")), "the member chosen is kept: {body}");
        let admin = w.browser(ADMIN).await;
        let (_, _, body) = w.post(&admin, &path, &format!("seat=manager&to_member={ops_id}&note=")).await;
        assert!(body.contains("<option value=\"owner\">Main owner</option>"), "an admin is offered both seats: {body}");
        assert!(body.contains("<option value=\"manager\" selected>"), "and the seat chosen is kept: {body}");
        let manager = w.browser(MANAGER).await;
        let (status, _, body) = w.post(&manager, &path, &format!("seat=owner&to_member={ops_id}&note=Moving+teams")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "the other seat's holder picked the wrong seat");
        assert!(body.contains("id=\"propose-problem\">Seat: is not yours to hand over: you hold the other seat of this number"), "{body}");
        assert!(body.contains(">Moving teams</textarea>"), "and keeps the note typed: {body}");
        let (_, _, body) = w.post(&owner, &path, "seat=owner&to_member=&note=Moving+to+the+Lisbon+team").await;
        assert!(body.contains(">Moving to the Lisbon team</textarea>"), "and the note: {body}");
        let (_, _, body) = w.post(&owner, &path, &format!("seat=owner&to_member={ops_id}&note=pin+is+123456")).await;
        assert!(!body.contains("123456"), "never a note that may hold a PIN: {body}");
        assert!(body.contains("The note was cleared, so that nothing that may be a PIN is shown again: type it again without the digits."), "and it says so: {body}");
        let ops = w.browser(OPS).await;
        let (status, _, _) = w.post(&ops, &path, &format!("seat=manager&to_member={ops_id}&note=mine")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "only the holder or an admin proposes");

        let (status, _, _) = w.post(&owner, &path, &format!("seat=owner&to_member={ops_id}&note=Moving+teams")).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let handover = w.record(&w.escrowed).await.open_handovers[0].id.clone();
        let shown = w.page(&ops, &record).await;
        assert!(shown.contains("Moving teams") && shown.contains("name=\"recovery_email_confirmed\""), "{shown}");
        assert!(shown.contains(&format!("→ Person {OPS}, proposed by Person {OWNER} &#60;{OWNER}&#62; on ")), "the card says who proposed it: {shown}");
        let seats = w.page(&owner, &record).await;
        assert!(!seats.contains("id=\"propose\""), "a seat whose handover is open is not offered again, and the owner has no other: {seats}");
        let (status, _, body) = w.post(&owner, &path, &format!("seat=owner&to_member={ops_id}&note=Moving+teams+again")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a second tab's proposal");
        assert!(body.contains("id=\"propose-problem\">Seat: a handover of this seat is already open"), "{body}");
        assert!(body.contains(">Moving teams again</textarea>"), "the form comes back with its note: {body}");
        let waiting = format!("id=\"handover-waiting\">The main owner seat of this number is being handed over to you: <a href=\"#accept-{handover}\">");
        assert!(shown.contains(&waiting), "the incoming member is told at the top of the page: {shown}");
        assert!(!w.page(&owner, &record).await.contains("handover-waiting"), "the proposer is not");
        let accept = format!("{path}/{handover}/accept");
        for (fields, message) in [
            ("", "“The recovery email is right and the business can reach it”: must be confirmed; “The backup channels work”: must be confirmed; “pinward holds the PIN”: must be confirmed<"),
            ("recovery_email_confirmed=on&pin_escrowed=on", "“The backup channels work”: must be confirmed<"),
            ("recovery_email_confirmed=on&backup_channels_confirmed=on", "“pinward holds the PIN”: must be confirmed<"),
        ] {
            let (status, _, body) = w.post(&ops, &accept, &format!("{fields}&rotate=on")).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{fields}");
            let article = &body[body.find(&format!("id=\"accept-{handover}\"")).expect("the checklist is shown again")..];
            assert!(article.contains(&format!("id=\"accept-{handover}-problem\">{message}")), "inside it: {fields}: {body}");
            assert!(body.contains(&format!("/accept#accept-{handover}\"")), "the refused page opens at it");
            assert!(article.contains("<input type=\"checkbox\" checked disabled> Rotate the PIN now <span class=\"muted\">(the org's policy rotates it on every handover)"), "the policy's rotation shows as fixed: {article}");
            for name in ["recovery_email_confirmed", "backup_channels_confirmed", "pin_escrowed"] {
                let ticked = fields.contains(name);
                assert_eq!(article.contains(&format!("name=\"{name}\" checked")), ticked, "what was ticked stays ticked, and only that: {name}");
            }
            for name in ["recovery_email_confirmed", "backup_channels_confirmed", "pin_escrowed"] {
                let at_fault = !fields.contains(name);
                assert_eq!(article.contains(&format!("name=\"{name}\" aria-invalid=\"true\"")), at_fault, "each box at fault is marked, and only those: {name}");
            }
        }
        for fields in ["recovery_email_confirmed=on&backup_channels_confirmed=on&pin_escrowed=on", ""] {
            let (status, _, _) = w.post(&owner, &accept, fields).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "only the incoming member accepts, ticked or not: {fields:?}");
        }
        let (status, _, body) = w.post(&ops, &format!("{path}/not-a-handover/accept"), "").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body.contains("Handover: is not an open handover of this number"), "{body}");
        assert_eq!(w.record(&w.escrowed).await.owner.unwrap().member_id, w.member_id(OWNER).await);

        let old_pin = w.escrowed_pin(&w.escrowed).await;
        let (status, _, _) = w.post(&ops, &accept, "recovery_email_confirmed=on&backup_channels_confirmed=on&pin_escrowed=on").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let shown = w.page(&ops, &record).await;
        assert!(shown.contains("Handover accepted; PIN rotation: PIN version 2 is set at Meta and escrowed."), "{shown}");
        assert!(shown.contains("<td role=\"cell\" data-label=\"What\">handover.accepted</td>"));
        assert_eq!(w.record(&w.escrowed).await.owner.unwrap().member_id, ops_id);
        assert!(!w.meta_holds(&w.escrowed, &old_pin), "the handed-over PIN is retired");
        assert_eq!(rotations(&w, "rotated").await, 1, "the handover's rotation counts in /metrics");
    }

    async fn the_incoming_member_may_decline_and_the_proposer_may_withdraw_a_handover(db) {
        let w = custody_world(&db).await;
        let owner = w.browser(OWNER).await;
        let ops = w.browser(OPS).await;
        let ops_id = w.member_id(OPS).await;
        let path = format!("{}/handovers", record_path(&w));
        let propose = format!("seat=owner&to_member={ops_id}&note=Moving+teams");

        assert_eq!(w.post(&owner, &path, &propose).await.0, StatusCode::SEE_OTHER);
        let first = w.record(&w.escrowed).await.open_handovers[0].id.clone();
        let (status, _, body) = w.post(&ops, &format!("{path}/{first}/decline"), "note=pin+123456").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body.contains("Note: must not contain six digits"), "{body}");
        assert_eq!(w.post(&ops, &format!("{path}/{first}/decline"), "note=not+now").await.0, StatusCode::SEE_OTHER);
        let shown = w.page(&ops, &record_path(&w)).await;
        assert!(shown.contains("Handover declined.") && shown.contains("<td role=\"cell\" data-label=\"What\">handover.declined</td>"), "{shown}");
        assert!(w.record(&w.escrowed).await.open_handovers.is_empty());

        assert_eq!(w.post(&owner, &path, &propose).await.0, StatusCode::SEE_OTHER);
        let second = w.record(&w.escrowed).await.open_handovers[0].id.clone();
        // The button is offered to those who may use it only.
        let withdraw = format!("{path}/{second}/cancel");
        for (who, offered) in [(OWNER, true), (ADMIN, true), (OPS, false), (AUDITOR, false), (MANAGER, false)] {
            let shown = w.page(&w.browser(who).await, &record_path(&w)).await;
            assert_eq!(shown.contains(&withdraw), offered, "{who}");
            assert_eq!(shown.contains(">Cancel handover</button>"), offered, "named as the ledger names it: {who}");
        }
        assert_eq!(w.post(&w.browser(AUDITOR).await, &withdraw, "").await.0, StatusCode::FORBIDDEN);
        assert_eq!(w.post(&ops, &format!("{path}/{second}/cancel"), "").await.0, StatusCode::FORBIDDEN, "the incoming member declines, never withdraws");
        assert_eq!(w.post(&owner, &format!("{path}/{second}/cancel"), "").await.0, StatusCode::SEE_OTHER);
        let shown = w.page(&owner, &record_path(&w)).await;
        assert!(shown.contains("Handover cancelled.") && shown.contains("<td role=\"cell\" data-label=\"What\">handover.cancelled</td>"), "{shown}");
        let (status, _, body) = w.post(&ops, &format!("{path}/{second}/accept"), "recovery_email_confirmed=on&backup_channels_confirmed=on&pin_escrowed=on").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a closed handover cannot be accepted");
        assert!(body.contains("Handover: is not an open handover of this number"), "{body}");
        assert_eq!(w.record(&w.escrowed).await.owner.unwrap().member_id, w.member_id(OWNER).await);
    }

    async fn a_revealed_pin_shows_on_the_record_the_health_filter_and_the_metrics_until_its_rotation(db) {
        let w = custody_world(&db).await;
        let (owner, auditor, ops, rival) = (w.browser(OWNER).await, w.browser(AUDITOR).await, w.browser(OPS).await, w.browser(RIVAL).await);
        let filtered = "/numbers?health=pin_revealed";
        let link = format!("href=\"{}\"", record_path(&w));
        let problem = "<li>PIN revealed, not rotated since</li>";
        let revealed_gauge = "pinward_numbers{state=\"escrowed\",health=\"pin_revealed\"} ";
        let metrics = || async { text(send(&w.app, get("/metrics")).await).await };
        assert!(!w.page(&auditor, filtered).await.contains(&link));
        assert!(metrics().await.contains(&format!("{revealed_gauge}0")));

        let (status, _, _) = w.reveal(&owner, &format!("{}/reveal", record_path(&w)), "reason=re-registering").await;
        assert_eq!(status, StatusCode::OK);
        let record = w.page(&auditor, &record_path(&w)).await;
        assert!(record.contains(problem), "{record}");
        assert!(version_row(&record, "current").ends_with(" UTC</td></tr>"), "the version shows when it was revealed: {record}");
        let listed = w.page(&auditor, filtered).await;
        assert!(listed.contains(&link), "{listed}");
        assert!(listed.contains("<option value=\"pin_revealed\" selected>PIN revealed, not rotated since</option>"), "{listed}");
        assert!(metrics().await.contains(&format!("{revealed_gauge}1")));
        let theirs = w.page(&rival, filtered).await;
        assert!(theirs.contains("No number matches."), "another org sees nothing of it: {theirs}");

        let (status, _, _) = w.post(&ops, &format!("{}/rotate", record_path(&w)), "").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let record = w.page(&auditor, &record_path(&w)).await;
        assert!(!record.contains(problem), "the new PIN was never revealed");
        assert!(version_row(&record, "current").ends_with("data-label=\"Last revealed\">—</td></tr>"), "{record}");
        assert!(version_row(&record, "previous").ends_with(" UTC</td></tr>"), "{record}");
        assert!(!w.page(&auditor, filtered).await.contains(&link));
        assert!(metrics().await.contains(&format!("{revealed_gauge}0")));
    }

    async fn rotating_after_a_reveal_runs_the_rotation_the_reveal_queued_and_retires_the_revealed_pin(db) {
        let w = custody_world(&db).await;
        let owner = w.browser(OWNER).await;
        let (_, _, body) = w.reveal(&owner, &format!("{}/reveal", record_path(&w)), "reason=re-registering").await;
        let revealed = shown_pin(&body);
        let ops = w.browser(OPS).await;
        let shown = w.page(&ops, &record_path(&w)).await;
        assert!(shown.contains("id=\"rotation-waits\">The PIN was revealed and the org's policy rotates it: a rotation waits — Rotate PIN runs it."), "{shown}");
        let job = governance::jobs::queued_for(&w.store, &governance::access::Caller::cli(&w.org), &w.escrowed).await.unwrap().unwrap();
        assert!(shown.contains(&format!("<code>pinward rotate status {job} --org {}</code>", w.org)), "a command that runs as shown: {shown}");
        assert!(w.meta_holds(&w.escrowed, &revealed), "nothing rotated yet");

        let (status, _, _) = w.post(&ops, &format!("{}/rotate", record_path(&w)), "").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let shown = w.page(&ops, &record_path(&w)).await;
        assert!(shown.contains("The rotation queued after the reveal ran"), "{shown}");
        assert!(!shown.contains("rotation-waits"), "nothing waits any more");
        assert!(!w.meta_holds(&w.escrowed, &revealed), "the revealed PIN is retired");
        let versions: Vec<String> = w.record(&w.escrowed).await.versions.into_iter().map(|v| v.status).collect();
        assert_eq!(versions, ["previous", "current"], "one rotation, not two");
        assert_eq!(rotations(&w, "rotated").await, 1, "the rotation counts in /metrics");
    }

    async fn a_rotation_meta_left_unconfirmed_is_resumed_from_the_page_and_no_pin_is_revealed_until_then(db) {
        let w = custody_world(&db).await;
        let path = record_path(&w);
        let first = w.escrowed_pin(&w.escrowed).await;
        w.sandbox.set_faults(FaultPlan::single(
            FaultRule::always(Route::SetPin, Fault::ServerError).for_number(w.escrowed.as_str()),
        ));
        let ops = w.browser(OPS).await;
        let (status, _, _) = w.post(&ops, &format!("{path}/rotate"), "").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let shown = w.page(&ops, &path).await;
        assert!(shown.contains("Meta did not confirm PIN version 2"), "{shown}");
        assert_eq!(w.record(&w.escrowed).await.pin_state.as_str(), "uncertain");

        let owner = w.browser(OWNER).await;
        let offered = w.page(&owner, &path).await;
        assert!(!offered.contains(&format!("{path}/reveal\"")), "no reveal while Meta may hold the pending PIN");
        assert!(offered.contains("Resume the pending rotation"), "{offered}");
        assert!(offered.contains("a new PIN is escrowed but unconfirmed"), "the escrow is not said to be in step: {offered}");
        let before = w.ledger_len().await;
        let form = send(&w.app, get_as(&format!("{path}/reveal"), &owner.cookie)).await;
        assert_eq!(form.status(), StatusCode::CONFLICT, "nor is the form offered");
        let reveal = send(&w.app, same_origin_post(&format!("{path}/reveal"), &owner, "reason=re-registering")).await;
        assert_eq!(reveal.status(), StatusCode::CONFLICT);
        assert_eq!(w.ledger_len().await, before, "a refused reveal ledgers nothing");

        w.sandbox.set_faults(FaultPlan::none());
        let (status, _, _) = w.post(&ops, &format!("{path}/rotate"), "").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let shown = w.page(&ops, &path).await;
        assert!(shown.contains("PIN version 2 is set at Meta and escrowed."), "the same pending version, re-sent: {shown}");
        let second = w.escrowed_pin(&w.escrowed).await;
        assert!(w.meta_holds(&w.escrowed, &second) && second != first);
        assert!(w.page(&owner, &path).await.contains(&format!("{path}/reveal\"")), "revealable again");
    }

    async fn the_record_offers_each_person_only_the_forms_their_role_and_seats_allow(db) {
        let w = custody_world(&db).await;
        let path = record_path(&w);
        let forms = |body: &str| -> Vec<&'static str> {
            ["/seats#assign\"", "/handovers#propose\"", "/reveal\"", "/rotate\"", "/release\"", "/out-of-band#out-of-band\"", "/take-custody\""]
                .into_iter()
                .filter(|action| body.contains(&format!("{path}{action}")))
                .collect()
        };
        let auditor = w.page(&w.browser(AUDITOR).await, &path).await;
        assert!(forms(&auditor).is_empty(), "an auditor only reads: {:?}", forms(&auditor));
        assert!(!auditor.contains("<section class=\"actions\">") && !auditor.contains("<h3>PIN</h3>"), "and gets no empty Actions heading");
        let ops = w.page(&w.browser(OPS).await, &path).await;
        assert_eq!(forms(&ops), ["/seats#assign\"", "/rotate\"", "/out-of-band#out-of-band\""], "no seat: no reveal, no handover; no client key: no release");
        assert!(ops.contains("id=\"release-needs-recipient\">Releasing this number to its client needs the client's age recipient"), "and it says why: {ops}");
        let client = w.record(&w.escrowed).await.client.id;
        sql(&db, &[format!("UPDATE clients SET age_recipient = '{}' WHERE id = '{client}'", vault::Identity::generate().recipient())]).await;
        let ops = w.page(&w.browser(OPS).await, &path).await;
        assert_eq!(forms(&ops), ["/seats#assign\"", "/rotate\"", "/release\"", "/out-of-band#out-of-band\""], "with the client's key, release is offered");
        assert!(!ops.contains("release-needs-recipient"), "{ops}");
        let owner = w.page(&w.browser(OWNER).await, &path).await;
        assert_eq!(forms(&owner), ["/seats#assign\"", "/handovers#propose\"", "/reveal\"", "/rotate\"", "/release\"", "/out-of-band#out-of-band\""]);
        let ops = w.page(&w.browser(OPS).await, &format!("/numbers/{}", w.unknown.as_str())).await;
        assert!(ops.contains(&format!("action=\"/numbers/{}/take-custody\" data-confirm=\"", w.unknown.as_str())), "taking custody asks first: it sets a PIN at Meta");
        for action in ["/rotate", "/release", "/out-of-band#out-of-band"] {
            assert!(owner.contains(&format!("action=\"{path}{action}\" data-confirm=\"")), "{action} asks before it acts");
        }
        let admin = w.page(&w.browser(ADMIN).await, &path).await;
        assert_eq!(forms(&admin), forms(&owner));
    }

    async fn a_token_meta_refuses_or_that_lacks_a_permission_withholds_pin_changes_and_settings_says_why(db) {
        let w = custody_world(&db).await;
        let (ops, admin) = (w.browser(OPS).await, w.browser(ADMIN).await);
        let record = record_path(&w);
        let rotate = format!("action=\"{record}/rotate\"");
        assert!(w.page(&ops, &record).await.contains(&rotate));
        let settings = w.page(&admin, "/settings").await;
        assert!(settings.contains("Healthy: Meta says the token is valid and has the permissions pinward needs."), "{settings}");

        let scopes = vec!["whatsapp_business_management".to_owned(), "business_management".to_owned()];
        let lacking = w.sandbox.issue_token(&graph::sandbox::TokenSpec { scopes, ..Default::default() });
        let (status, _, _) = w.post(&admin, "/settings/credential", &format!("token={}", lacking.expose())).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let settings = w.page(&admin, "/settings").await;
        assert!(settings.contains("<li>lacks the whatsapp_business_messaging permission: setting PINs will be refused</li>"), "{settings}");
        assert!(!settings.contains("Healthy:"));
        let shown = w.page(&ops, &record).await;
        assert!(!shown.contains(&rotate), "rotation withheld: {shown}");
        assert!(shown.contains("lacks the whatsapp_business_messaging permission, so Meta refuses setting PINs"), "{shown}");
        assert!(shown.contains("href=\"/settings#credential\""));
        let unknown = w.page(&ops, &format!("/numbers/{}", w.unknown.as_str())).await;
        assert!(!unknown.contains("/take-custody\""), "taking custody withheld too");
        let on_prem = format!("/numbers/{}", w.on_prem.as_str());
        let shown = w.page(&ops, &on_prem).await;
        assert!(!shown.contains("id=\"meta-refuses\""), "an On-Premises number sets PINs with its own login: {shown}");
        assert!(shown.contains(&format!("{on_prem}/take-custody\"")) || shown.contains(&format!("{on_prem}/rotate\"")), "{shown}");

        let good = w.sandbox.system_user_token();
        assert_eq!(w.post(&admin, "/settings/credential", &format!("token={}", good.expose())).await.0, StatusCode::SEE_OTHER);
        assert!(w.page(&ops, &record).await.contains(&rotate), "offered again with a good token");
        assert!(w.sandbox.revoke_token(&good));
        assert_eq!(w.post(&admin, "/settings/credential/check", "").await.0, StatusCode::SEE_OTHER);
        let shown = w.page(&ops, &record).await;
        assert!(shown.contains("Meta said at the last check that the org&#39;s Graph token is not valid"), "{shown}");
        assert!(!shown.contains(&rotate));
        let auditor = w.page(&w.browser(AUDITOR).await, &record).await;
        assert!(!auditor.contains("id=\"meta-refuses\""), "told only to those who could change PINs");
    }

    async fn without_the_orgs_graph_credential_pins_cannot_be_set_but_a_handover_is_still_accepted(db) {
        let w = custody_world(&db).await;
        sql(&db, &[format!("DELETE FROM graph_credentials WHERE org_id = '{}'", w.org)]).await;
        let ops = w.browser(OPS).await;
        let shown = w.page(&ops, &format!("/numbers/{}", w.unknown.as_str())).await;
        assert!(shown.contains("The org has no Graph credential yet: taking custody and rotating are off"), "{shown}");
        let response = send(&w.app, same_origin_post(&format!("/numbers/{}/take-custody", w.unknown.as_str()), &ops, "")).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(text(response).await.contains("no Graph credential yet"));

        let owner = w.browser(OWNER).await;
        let ops_id = w.member_id(OPS).await;
        let path = format!("{}/handovers", record_path(&w));
        let (status, _, _) = w.post(&owner, &path, &format!("seat=owner&to_member={ops_id}&note=Moving+teams")).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let handover = w.record(&w.escrowed).await.open_handovers[0].id.clone();
        let (status, _, _) = w.post(&ops, &format!("{path}/{handover}/accept"), "recovery_email_confirmed=on&backup_channels_confirmed=on&pin_escrowed=on").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let shown = w.page(&ops, &record_path(&w)).await;
        assert!(shown.contains("A PIN rotation is due, but this pinward cannot set PINs"), "{shown}");
        assert_eq!(w.record(&w.escrowed).await.owner.unwrap().member_id, ops_id, "the seat moved");
    }

    async fn the_ledger_names_the_ids_it_holds_and_reads_times_and_codes_in_the_pages_words(db) {
        let w = custody_world(&db).await;
        let auditor = w.browser(AUDITOR).await;
        let record = w.record(&w.escrowed).await;
        let (client, waba) = (record.client, record.waba);
        let escrowed = w.escrowed.as_str();

        let found = w.page(&auditor, &format!("/ledger?action=number.discovered&subject=phone:{escrowed}")).await;
        assert!(found.contains(&format!("<dt>WABA</dt><dd title=\"stored: &#34;{}&#34;\">{}</dd>", waba.id, waba.name)), "a WABA by its name: {found}");
        let onboarded = record.meta.last_onboarded_at.unwrap();
        let shown = format!("<dt>last onboarded at</dt><dd title=\"stored: {}\">{}</dd>", onboarded.timestamp(), onboarded.format("%Y-%m-%d %H:%M UTC"));
        assert!(found.contains(&shown), "Meta's seconds since 1970 as a time: {found}");

        let wabas = w.page(&auditor, "/ledger?action=waba.discovered").await;
        assert!(wabas.contains(&format!("<dt>client</dt><dd title=\"stored: &#34;{}&#34;\">{}</dd>", client.id, client.name)), "a client by its name: {wabas}");
        assert!(wabas.contains(&format!("data-label=\"Subject\">{}\n", waba.name)), "a WABA subject by name: {wabas}");
        assert!(wabas.contains(&format!("<small class=\"muted subject-id\">waba:{}</small>", waba.meta_waba_id)), "{wabas}");

        let ops = w.member_id(OPS).await;
        let added = w.page(&auditor, &format!("/ledger?subject=member:{ops}")).await;
        assert!(added.contains(&format!("data-label=\"Subject\">Person {OPS} &#60;{OPS}&#62;\n")), "a member subject by name: {added}");
        assert!(added.contains(&format!("<small class=\"muted subject-id\">member:{ops}</small>")), "{added}");
        assert!(added.contains("<dt>clients</dt><dd title=\"stored: []\">none</dd>"), "{added}");

        let created = w.page(&auditor, "/ledger?action=org.created").await;
        assert!(created.contains("data-label=\"Subject\">acme Ltd\n"), "the org by name: {created}");
        assert!(created.contains(&format!("<small class=\"muted subject-id\">org:{}</small>", w.org)), "{created}");
        let admin = governance::access::Caller::cli(&w.org);
        let (token, _) = governance::tokens::create(&w.store, &admin, "nightly export", governance::access::Role::Auditor).await.unwrap();
        let made = w.page(&auditor, &format!("/ledger?subject=token:{}", token.id)).await;
        assert!(made.contains("data-label=\"Subject\">API token &#34;nightly export&#34;\n"), "a token subject by its name: {made}");
        let shop = common::org::add_member(&w.store, &w.org, "shop@acme.example", governance::access::Role::BusinessAdmin, std::slice::from_ref(&client.id)).await;
        governance::members::change_role(&w.store, &admin, &shop, governance::access::Role::Ops, &[]).await.unwrap();
        let changed = w.page(&auditor, "/ledger?action=member.role_changed").await;
        assert!(changed.contains(&format!("<dt>previous clients</dt><dd title=\"stored: [&#34;{}&#34;]\">{}</dd>", client.id, client.name)), "a change of clients says what they were: {changed}");
        assert!(changed.contains("<dt>from</dt><dd title=\"stored: &#34;business_admin&#34;\">business admin</dd>"), "roles in words: {changed}");
        assert!(to_the_second(&created), "times to the second, UTC, as the column heading says: {created}");
    }
}

/// Whether a ledger page shows an event's time as `YYYY-MM-DD HH:MM:SS` inside `<time>`.
fn to_the_second(page: &str) -> bool {
    page.split("<time datetime=\"").skip(1).all(|rest| {
        let shown = rest
            .split('>')
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap_or_default();
        let b = shown.as_bytes();
        shown.len() == 19 && b[4] == b'-' && b[10] == b' ' && b[13] == b':' && b[16] == b':'
    }) && page.contains("<time datetime=\"")
}
