//! Org settings through the real router on both databases: who may look and who may
//! change, and every bad input of every form refused with the field's message and nothing
//! changed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::Router;
use axum::http::StatusCode;
use common::org::*;
use common::*;
use governance::Store;
use governance::access::{Caller, Role};
use governance::policies::Policy;
use pinward_tests::{TestDb, on_both_databases};

struct World {
    store: Store,
    app: Router,
    org: String,
    /// The org's only admin, and an ops member.
    admin: String,
    ops: String,
}

async fn world(db: &TestDb) -> World {
    let store = store(db).await;
    let org = org_with_member(&store, "acme", "admin@acme.example", Role::Admin).await;
    let admin =
        governance::members::find_by_email(&store, &Caller::cli(&org), "admin@acme.example")
            .await
            .unwrap()
            .id;
    let ops = add_member(&store, &org, "ops@acme.example", Role::Ops, &[]).await;
    add_member(&store, &org, "auditor@acme.example", Role::Auditor, &[]).await;
    let (app, _) = router_with_key(store.clone(), db);
    World {
        store,
        app,
        org,
        admin,
        ops,
    }
}

impl World {
    async fn members(&self) -> Vec<governance::members::Member> {
        governance::members::list(&self.store, &Caller::cli(&self.org))
            .await
            .unwrap()
    }

    async fn policy(&self) -> Policy {
        governance::policies::get(&self.store, &Caller::cli(&self.org))
            .await
            .unwrap()
    }

    async fn recipients(&self) -> usize {
        governance::recovery::list(&self.store, &Caller::cli(&self.org))
            .await
            .unwrap()
            .len()
    }

    async fn events(&self) -> u64 {
        ledger_length(&self.store, &self.org).await
    }

    /// Posts `fields` as the admin and expects the settings page again with a 422 naming
    /// `message`, the ledger unchanged.
    /// Posts `fields` to `path`, expects the refusal `message` with nothing changed, and
    /// gives back the page shown.
    async fn refused(&self, visit: &Visit, path: &str, fields: &str, message: &str) -> String {
        let before = self.events().await;
        let response = send(&self.app, same_origin_post(path, visit, fields)).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {fields}"
        );
        let page = text(response).await;
        assert!(
            page.contains(message),
            "{path} {fields}: no «{message}» in the page"
        );
        assert!(
            page.contains("<h1>Settings</h1>"),
            "the form is shown again"
        );
        assert_eq!(
            self.events().await,
            before,
            "{path} {fields} changed something"
        );
        page
    }
}

/// The `<select>` labelled `label`, up to its end.
fn select<'p>(page: &'p str, label: &str) -> &'p str {
    let start = page
        .find(&format!("aria-label=\"{label}\""))
        .unwrap_or_else(|| panic!("no select «{label}»"));
    let rest = &page[start..];
    &rest[..rest.find("</select>").expect("the select ends")]
}

fn age_recipient() -> String {
    vault::Identity::generate().recipient().to_string()
}

on_both_databases! {
    async fn the_bar_shows_each_role_only_the_sections_it_may_open(db) {
        let w = world(&db).await;
        sql(&db, &[format!("INSERT INTO clients (id, org_id, name, created_at) VALUES ('c-1', '{}', 'Shop', '2026-01-01T00:00:00Z')", w.org)]).await;
        add_member(&w.store, &w.org, "shop@acme.example", Role::BusinessAdmin, &["c-1".to_owned()]).await;
        for (email, shown, hidden) in [
            ("admin@acme.example", vec!["/sync", "/ledger", "/settings"], vec![]),
            ("ops@acme.example", vec!["/sync", "/ledger", "/settings"], vec![]),
            ("auditor@acme.example", vec!["/ledger", "/settings"], vec!["/sync"]),
            ("shop@acme.example", vec![], vec!["/sync", "/ledger", "/settings"]),
        ] {
            let cookie = sign_in(&w.app, email).await;
            let page = text(send(&w.app, get_as("/numbers", &cookie)).await).await;
            assert!(page.contains("<a href=\"/numbers\""), "{email}");
            for href in shown {
                assert!(page.contains(&format!("<a href=\"{href}\"")), "{email} should see {href}");
            }
            for href in hidden {
                assert!(!page.contains(&format!("<a href=\"{href}\"")), "{email} should not see {href}");
            }
        }
    }

    async fn an_admin_sees_every_section_with_its_forms(db) {
        let w = world(&db).await;
        let cookie = sign_in(&w.app, "admin@acme.example").await;
        let response = send(&w.app, get_as("/settings", &cookie)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let page = text(response).await;
        for part in ["Members and roles", "ops@acme.example", "Graph credential", "No Graph credential",
                     "Recovery recipients", "Policies", "min=\"90\" max=\"183\" value=\"90\"", "min=\"7\" max=\"730\"", "Checkpoint public key",
                     "action=\"/settings/invitations#invite\"", "<h3 id=\"invite\">Invite a person</h3>", "No open invitation.", "action=\"/settings/policies#policies\""] {
            assert!(page.contains(part), "{part}");
        }
    }

    async fn an_auditor_looks_without_forms_and_a_business_admin_is_refused(db) {
        let w = world(&db).await;
        let cookie = sign_in(&w.app, "auditor@acme.example").await;
        let page = text(send(&w.app, get_as("/settings", &cookie)).await).await;
        assert!(page.contains("ops@acme.example") && page.contains("Checkpoint public key"));
        assert!(!page.contains("action=\"/settings/invitations#invite\""), "no invitation form");
        assert!(!page.contains("id=\"invitations\""), "nor the open invitations");
        assert!(!page.contains("Save policies"));

        let visit = signed_in_visit(&w.app, "auditor@acme.example").await;
        let response = send(&w.app, same_origin_post("/settings/policies", &visit, "review_cadence_days=120&max_pin_age_days=180")).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(w.policy().await, Policy::default());

        sql(&db, &["INSERT INTO clients (id, org_id, name, created_at) VALUES ('c-1', '".to_owned()
            + &w.org + "', 'Shop', '2026-01-01T00:00:00Z')"]).await;
        add_member(&w.store, &w.org, "shop@acme.example", Role::BusinessAdmin, &["c-1".to_owned()]).await;
        let cookie = sign_in(&w.app, "shop@acme.example").await;
        let refused = send(&w.app, get_as("/settings", &cookie)).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let page = text(refused).await;
        assert!(page.contains("the org&#39;s settings"), "the refusal names what was refused: {page}");
    }

    async fn the_checkpoint_key_to_pin_is_shown_and_downloadable(db) {
        let store = store(&db).await;
        org_with_member(&store, "acme", "admin@acme.example", Role::Admin).await;
        let (app, key) = router_with_key(store, &db);
        let cookie = sign_in(&app, "admin@acme.example").await;
        let page = text(send(&app, get_as("/settings", &cookie)).await).await;
        assert!(page.contains(&key.public_key().to_base64()));
        let file = send(&app, get_as("/settings/checkpoint-key.pub", &cookie)).await;
        assert!(header(&file, "content-disposition").starts_with("attachment"));
        assert_eq!(text(file).await, key.public_key().to_file_contents());
    }

    async fn an_admin_changes_a_role_and_the_last_admin_cannot_step_down(db) {
        let w = world(&db).await;
        let visit = signed_in_visit(&w.app, "admin@acme.example").await;
        let response = send(&w.app, same_origin_post(&format!("/settings/members/{}/role", w.ops), &visit, "role=auditor")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let ops = w.members().await.into_iter().find(|m| m.id == w.ops).unwrap();
        assert_eq!(ops.role, Role::Auditor);

        // A business admin's clients come from a multi-select: one field per client.
        sql(&db, &[
            format!("INSERT INTO clients (id, org_id, name, created_at) VALUES ('c-1', '{}', 'Shop 1', '2026-01-01T00:00:00Z')", w.org),
            format!("INSERT INTO clients (id, org_id, name, created_at) VALUES ('c-2', '{}', 'Shop 2', '2026-01-01T00:00:00Z')", w.org),
        ]).await;
        let path = format!("/settings/members/{}/role", w.ops);
        let page = w.refused(&visit, &path, "role=business_admin", "Clients: a business_admin needs at least one client").await;
        // The row's form comes back as it was sent, so the clients picker it needs is shown.
        assert!(select(&page, "role of ops@acme.example").contains("<option value=\"business_admin\" selected>"), "{page}");
        let clients = select(&page, "clients of ops@acme.example (business_admin only)");
        assert!(clients.contains("aria-invalid=\"true\"") && !clients.contains("selected"), "{clients}");
        assert!(select(&page, "role of admin@acme.example").contains("<option value=\"admin\" selected>"), "other rows as recorded");
        w.refused(&visit, &path, "role=business_admin&clients=c-9", "Clients: no such client in this org").await;
        let response = send(&w.app, same_origin_post(&path, &visit, "role=business_admin&clients=c-1&clients=c-2")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let ops = w.members().await.into_iter().find(|m| m.id == w.ops).unwrap();
        assert_eq!((ops.role, ops.clients), (Role::BusinessAdmin, vec!["c-1".to_owned(), "c-2".to_owned()]));
        // Back to ops from the same row, its client list still selected as the page shows it.
        let response = send(&w.app, same_origin_post(&path, &visit, "role=ops&clients=c-1&clients=c-2")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let ops = w.members().await.into_iter().find(|m| m.id == w.ops).unwrap();
        assert_eq!((ops.role, ops.clients), (Role::Ops, vec![]));

        let own = format!("/settings/members/{}/role", w.admin);
        let page = w.refused(&visit, &own, "role=ops", "Role: is the org&#39;s last active admin").await;
        assert!(select(&page, "role of admin@acme.example").contains("<option value=\"ops\" selected>"), "{page}");
        w.refused(&visit, &own, "role=superuser", "Role: must be one of").await;
        let admin = w.members().await.into_iter().find(|m| m.id == w.admin).unwrap();
        assert_eq!(admin.role, Role::Admin);
    }

    async fn changing_or_deactivating_a_member_names_the_seats_they_leave_behind(db) {
        let w = world(&db).await;
        seed_number(&db, &w.org, "1001", "+1 555 0100").await;
        seed_number(&db, &w.org, "1002", "+1 555 0200").await;
        let admin = Caller::cli(&w.org);
        let phone = |id: &str| graph::PhoneNumberId::parse(id).unwrap();
        governance::numbers::assign(&w.store, &admin, &phone("1001"), &w.ops, &w.admin, chrono::Utc::now()).await.unwrap();
        governance::numbers::assign(&w.store, &admin, &phone("1002"), &w.admin, &w.ops, chrono::Utc::now()).await.unwrap();
        let visit = signed_in_visit(&w.app, "admin@acme.example").await;
        let flash = async |path: String, fields: &str| {
            let response = send(&w.app, same_origin_post(&path, &visit, fields)).await;
            assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
            let page = text(send(&w.app, get_as("/settings", &visit.cookie)).await).await;
            let flash = &page[page.find("<p class=\"flash success\"").expect("a flash")..];
            flash[flash.find('>').unwrap() + 1..flash.find("</p>").unwrap()].to_owned()
        };
        let role = format!("/settings/members/{}/role", w.ops);

        // A handover offered to them lasts while they may take the seat, and goes with the
        // change that stops them; the message says so.
        seed_number(&db, &w.org, "1003", "+1 555 0300").await;
        let cal = add_member(&w.store, &w.org, "cal@acme.example", Role::Ops, &[]).await;
        governance::numbers::assign(&w.store, &admin, &phone("1003"), &w.admin, &cal, chrono::Utc::now()).await.unwrap();
        let offer = format!("seat=owner&to_member={}&note=Moving+teams", w.ops);
        assert_eq!(send(&w.app, same_origin_post("/numbers/1003/handovers", &visit, &offer)).await.status(), StatusCode::SEE_OTHER);
        let open = async || governance::numbers::record(&w.store, &admin, &phone("1003"), chrono::Utc::now()).await.unwrap().open_handovers.len();
        assert_eq!(
            flash(role.clone(), "role=business_admin&clients=c-1001&clients=c-1002&clients=c-1003").await,
            "ops@acme.example is now business_admin.",
            "every number still within reach"
        );
        assert_eq!(open().await, 1);
        assert_eq!(
            flash(role.clone(), "role=business_admin&clients=c-1001").await,
            "ops@acme.example is now business_admin. The handover offered to them was withdrawn. They still hold a seat of a number they can no longer act for: assign it to someone else \
             (the health filter of the numbers list finds them: “the main owner left or lost access”, “the permission manager left or lost access”).",
        );
        assert!(
            flash(format!("/settings/members/{}/deactivate", w.ops), "").await.ends_with(
                "is deactivated and signed out everywhere. They still hold 2 seats of numbers they can no longer act for: assign each to someone \
                 else (the health filter of the numbers list finds them: “the main owner left or lost access”, “the permission manager left or lost access”)."
            ),
        );
        assert_eq!(open().await, 0);
    }

    async fn an_admin_deactivates_a_member_but_not_the_last_admin(db) {
        let w = world(&db).await;
        let visit = signed_in_visit(&w.app, "admin@acme.example").await;
        let settings = text(send(&w.app, get_as("/settings", &visit.cookie)).await).await;
        let asks = format!("action=\"/settings/members/{}/deactivate#members\" class=\"inline\" data-confirm=\"Deactivate ", w.ops);
        assert!(settings.contains(&asks), "the button asks before it acts: {settings}");
        w.refused(&visit, &format!("/settings/members/{}/deactivate", w.admin), "", "member: is the org&#39;s last active admin").await;
        let response = send(&w.app, same_origin_post(&format!("/settings/members/{}/deactivate", w.ops), &visit, "")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let ops = w.members().await.into_iter().find(|m| m.id == w.ops).unwrap();
        assert!(!ops.is_active());
    }

    async fn another_orgs_member_is_not_found(db) {
        let w = world(&db).await;
        let other = org_with_member(&w.store, "globex", "boss@globex.example", Role::Admin).await;
        let theirs = governance::members::find_by_email(&w.store, &Caller::cli(&other), "boss@globex.example").await.unwrap().id;
        let visit = signed_in_visit(&w.app, "admin@acme.example").await;
        for path in [format!("/settings/members/{theirs}/deactivate"), format!("/settings/members/{theirs}/role")] {
            let response = send(&w.app, same_origin_post(&path, &visit, "role=ops")).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        }
        let boss = governance::members::get(&w.store, &Caller::cli(&other), &theirs).await.unwrap();
        assert!(boss.is_active() && boss.role == Role::Admin);
    }

    async fn recovery_recipients_are_added_refused_when_bad_and_removed(db) {
        let w = world(&db).await;
        let visit = signed_in_visit(&w.app, "admin@acme.example").await;
        let key = age_recipient();
        w.refused(&visit, "/settings/recovery", "recipient=age1nonsense&label=Safe", "age recipient: must be an age X25519 public key").await;
        w.refused(&visit, "/settings/recovery", &format!("recipient={key}&label="), "Label: ").await;
        w.refused(&visit, "/settings/recovery", "recipient=age1nonsense&label=", "age recipient: must be an age X25519 public key").await;
        let page = text(send(&w.app, same_origin_post("/settings/recovery", &visit, "recipient=age1nonsense&label=")).await).await;
        assert!(page.contains("; Label: must be 1 to 100 characters"), "both faults at once: {page}");
        // The shape of a secret key, pasted by mistake: named, and not shown back.
        let secret = "AGE-SECRET-KEY-1NOTAREALKEYONLYTHESHAPEOFONE";
        let page = w.refused(&visit, "/settings/recovery", &format!("recipient={secret}&label=Safe"), "age recipient: is an age secret key (AGE-SECRET-KEY-…), which must stay with whoever holds it: paste its public key (age1…)").await;
        assert!(!page.contains("NOTAREALKEY"), "{page}");
        assert_eq!(w.recipients().await, 0);

        let response = send(&w.app, same_origin_post("/settings/recovery", &visit, &format!("recipient={key}&label=Safe+A"))).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(w.recipients().await, 1);
        w.refused(&visit, "/settings/recovery", &format!("recipient={key}&label=Again"), "age recipient: this key is already a recovery recipient").await;

        let id = governance::recovery::list(&w.store, &Caller::cli(&w.org)).await.unwrap()[0].id.clone();
        let settings = text(send(&w.app, get_as("/settings", &visit.cookie)).await).await;
        assert!(settings.contains(&format!("action=\"/settings/recovery/{id}/remove#recovery\" data-confirm=\"Remove the recovery recipient Safe A?")), "{settings}");
        let response = send(&w.app, same_origin_post(&format!("/settings/recovery/{id}/remove"), &visit, "")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(w.recipients().await, 0);
        let again = send(&w.app, same_origin_post(&format!("/settings/recovery/{id}/remove"), &visit, "")).await;
        assert_eq!(again.status(), StatusCode::NOT_FOUND);
    }

    async fn policies_are_saved_and_out_of_bounds_values_are_refused_per_field(db) {
        let w = world(&db).await;
        let visit = signed_in_visit(&w.app, "admin@acme.example").await;
        for (fields, message) in [
            ("review_cadence_days=30&max_pin_age_days=180", "Review cadence: must be between 90 and 183 days"),
            ("review_cadence_days=200&max_pin_age_days=180", "Review cadence: must be between 90 and 183 days"),
            ("review_cadence_days=ninety&max_pin_age_days=180", "Review cadence: must be a whole number of days"),
            ("review_cadence_days=120&max_pin_age_days=3", "Maximum PIN age: must be between 7 and 730 days"),
            ("review_cadence_days=120&max_pin_age_days=", "Maximum PIN age: must be a whole number of days"),
        ] {
            w.refused(&visit, "/settings/policies", fields, message).await;
        }
        assert_eq!(w.policy().await, Policy::default());
        let page = text(send(&w.app, same_origin_post("/settings/policies", &visit, "review_cadence_days=ninety&max_pin_age_days=3")).await).await;
        for message in ["Review cadence: must be a whole number of days", "Maximum PIN age: must be between 7 and 730 days"] {
            assert_eq!(page.matches(message).count(), 1, "both fields' faults at once, each under its field: {message}");
        }
        let page = text(send(&w.app, same_origin_post("/settings/policies", &visit, "review_cadence_days=30&max_pin_age_days=180")).await).await;
        assert!(page.contains("value=\"30\""), "the typed value is shown again");

        let response = send(&w.app, same_origin_post("/settings/policies", &visit, "review_cadence_days=120&max_pin_age_days=365&rotate_on_handover=on")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(w.policy().await, Policy {
            review_cadence_days: 120,
            max_pin_age_days: 365,
            rotate_after_reveal: false,
            rotate_on_handover: true,
        });
    }

    async fn a_policies_form_without_the_csrf_token_is_refused_and_changes_nothing(db) {
        let w = world(&db).await;
        let visit = signed_in_visit(&w.app, "admin@acme.example").await;
        let request = post_form("/settings/policies", &visit)
            .header(axum::http::header::ORIGIN, "http://127.0.0.1:8080")
            .body(axum::body::Body::from("review_cadence_days=120&max_pin_age_days=365"))
            .unwrap();
        assert_eq!(send(&w.app, request).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(w.policy().await, Policy::default());
    }

    async fn without_a_graph_client_the_credential_forms_say_so_and_change_nothing(db) {
        let w = world(&db).await;
        let visit = signed_in_visit(&w.app, "admin@acme.example").await;
        w.refused(&visit, "/settings/credential/check", "", "started without a Graph client").await;
        w.refused(&visit, "/settings/credential", "token=EAAtoken", "started without a Graph client").await;
    }
}

/// The one-time token of the API-token form on a settings page.
fn token_once(page: &str) -> String {
    let form = &page[page
        .find("action=\"/settings/tokens#tokens\"")
        .expect("the token form")..];
    let marker = "name=\"_once\" value=\"";
    let start = form.find(marker).expect("its one-time token") + marker.len();
    let page = form;
    page[start..].split('"').next().unwrap().to_owned()
}

/// `GET /api/v1/members` with `secret` as the bearer token: its status.
async fn api_status(app: &Router, secret: &str) -> StatusCode {
    let request = axum::http::Request::get("/api/v1/members")
        .header("host", "127.0.0.1:8080")
        .header("authorization", format!("Bearer {secret}"))
        .body(axum::body::Body::empty())
        .unwrap();
    send(app, request).await.status()
}

on_both_databases! {
    async fn an_admin_makes_an_api_token_shown_once_and_revokes_it(db) {
        let w = world(&db).await;
        let visit = signed_in_visit(&w.app, "admin@acme.example").await;
        let settings = text(send(&w.app, get_as("/settings", &visit.cookie)).await).await;
        assert!(settings.contains("<section id=\"tokens\""), "{settings}");
        let shown_again = text(send(&w.app, get_as("/settings", &visit.cookie)).await).await;
        assert_eq!(token_once(&shown_again), token_once(&settings), "an unspent form token is kept, not rewritten per view");
        let fields = format!("_once={}&name=nightly+rotation&role=ops", token_once(&settings));
        let response = send(&w.app, same_origin_post("/settings/tokens", &visit, &fields)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "cache-control"), "no-store");
        let shown = text(response).await;
        let start = shown.find("id=\"secret\"><code>").expect("the secret, once") + "id=\"secret\"><code>".len();
        let secret = shown[start..].split('<').next().unwrap().to_owned();
        assert_eq!(api_status(&w.app, &secret).await, StatusCode::OK, "the token works");

        // A double click: two submissions of one form at once make one token.
        let settings = text(send(&w.app, get_as("/settings", &visit.cookie)).await).await;
        let twice = format!("_once={}&name=double+click&role=auditor", token_once(&settings));
        let (first, second) = tokio::join!(
            send(&w.app, same_origin_post("/settings/tokens", &visit, &twice)),
            send(&w.app, same_origin_post("/settings/tokens", &visit, &twice)),
        );
        let mut statuses = [first.status(), second.status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::SEE_OTHER]);
        let made = governance::tokens::list(&w.store, &Caller::cli(&w.org)).await.unwrap();
        assert_eq!(made.iter().filter(|t| t.name == "double click").count(), 1);
        let double = made.iter().find(|t| t.name == "double click").unwrap();
        governance::tokens::revoke(&w.store, &Caller::cli(&w.org), &double.id).await.unwrap();

        let again = send(&w.app, same_origin_post("/settings/tokens", &visit, &fields)).await;
        assert_eq!(again.status(), StatusCode::SEE_OTHER, "a reload makes no second token");
        assert_eq!(header(&again, "location"), "/settings#tokens");
        let tokens = governance::tokens::list(&w.store, &Caller::cli(&w.org)).await.unwrap();
        let tokens: Vec<_> = tokens.into_iter().filter(|t| t.name != "double click").collect();
        assert_eq!(tokens.len(), 1);
        assert_eq!((tokens[0].name.as_str(), tokens[0].role), ("nightly rotation", Role::Ops));
        let settings = text(send(&w.app, get_as("/settings", &visit.cookie)).await).await;
        assert!(settings.contains("That form was already used, so no other token was made"), "{settings}");
        let id = &tokens[0].id;
        let row = format!("<td role=\"cell\" data-label=\"Name\">nightly rotation <code class=\"muted\" title=\"the token's id, as the ledger and `pinward admin token` name it\">{id}</code></td><td role=\"cell\" data-label=\"Role\">ops</td><td role=\"cell\" data-label=\"Created\">");
        assert!(settings.contains(&row), "the row names the token and its id: {settings}");
        let made = settings.split(&row).nth(1).unwrap().split("</td>").next().unwrap();
        assert!(made.contains(" by ") && !made.contains("user:"), "the maker is named as people know them: {made}");
        let used = settings.split(&row).nth(1).unwrap().split("data-label=\"Last used\">").nth(1).unwrap().split("</td>").next().unwrap();
        assert!(used.starts_with("20") && used.ends_with("UTC"), "its last use, by the call above, to the minute: {used}");
        assert!(!settings.contains(&secret), "the secret is never shown again");

        // A token outlives the session: making one asks for the password again.
        pinward_tests::sessions::age_step_up(&db).await;
        let settings = text(send(&w.app, get_as("/settings", &visit.cookie)).await).await;
        let stale = format!("_once={}&name=late&role=ops", token_once(&settings));
        let response = send(&w.app, same_origin_post("/settings/tokens", &visit, &stale)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(header(&response, "location"), "/reauth?next=%2Fsettings%2Ftokens");
        let back = send(&w.app, get_as("/settings/tokens", &visit.cookie)).await;
        assert_eq!(header(&back, "location"), "/settings#tokens", "the prompt comes back to the section");
        let settings = text(send(&w.app, get_as("/settings", &visit.cookie)).await).await;
        assert!(settings.contains("name=\"name\" value=\"late\" placeholder=\"nightly rotation script\""), "with the form as it was typed: {settings}");
        assert!(settings.contains("<option value=\"ops\" selected>ops</option>"), "its role too");
        let again = text(send(&w.app, get_as("/settings", &visit.cookie)).await).await;
        assert!(!again.contains("value=\"late\""), "once");
        let visit = signed_in_visit(&w.app, "admin@acme.example").await;

        for (name, role, says) in [
            ("", "ops", "Name: must be 1 to 100 characters"),
            ("ci", "business_admin", "Role: a token is admin, ops or auditor"),
            ("ci", "root", "Role: must be admin, ops or auditor"),
            ("", "root", "Name: must be 1 to 100 characters; Role: must be admin, ops or auditor"),
            ("Nightly+Rotation", "auditor", "Name: an active token has this name: choose another, or revoke that one first"),
        ] {
            let settings = text(send(&w.app, get_as("/settings", &visit.cookie)).await).await;
            let fields = format!("_once={}&name={name}&role={role}", token_once(&settings));
            w.refused(&visit, "/settings/tokens", &fields, says).await;
        }
        assert_eq!(governance::tokens::list(&w.store, &Caller::cli(&w.org)).await.unwrap().len(), 2, "the refusals made none");

        let id = &tokens[0].id;
        let response = send(&w.app, same_origin_post(&format!("/settings/tokens/{id}/revoke"), &visit, "")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(api_status(&w.app, &secret).await, StatusCode::UNAUTHORIZED, "revoked");
        let settings = text(send(&w.app, get_as("/settings", &visit.cookie)).await).await;
        assert!(settings.contains("<td role=\"cell\" data-label=\"Status\" class=\"muted\">revoked "), "{settings}");

        // Only an admin sees or makes tokens; another org's token is not found.
        let auditor = signed_in_visit(&w.app, "auditor@acme.example").await;
        let theirs = text(send(&w.app, get_as("/settings", &auditor.cookie)).await).await;
        assert!(!theirs.contains("id=\"tokens\""));
        let response = send(&w.app, same_origin_post("/settings/tokens", &auditor, "name=x&role=ops")).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let other = org_with_member(&w.store, "globex", "boss@globex.example", Role::Admin).await;
        let (foreign, _) = governance::tokens::create(&w.store, &Caller::cli(&other), "theirs", Role::Ops).await.unwrap();
        let response = send(&w.app, same_origin_post(&format!("/settings/tokens/{}/revoke", foreign.id), &visit, "")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
}
