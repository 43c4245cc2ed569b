//! The ledger view, its export download and the ledger API, through the real router on both
//! databases: what a signed-in auditor or a script gets, and that every export verifies
//! offline against the service's pinned key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use audit::{Start, VerifyOptions};
use axum::Router;
use axum::http::StatusCode;
use common::org::*;
use common::*;
use governance::Store;
use governance::access::{Caller, Role};
use governance::policies::Policy;
use pinward_tests::{TestDb, on_both_databases};
use serde_json::Value;

/// An org with an admin `admin@acme.example`, an auditor and a business admin, and
/// `changes` more events (policy updates) on its ledger.
struct World {
    store: Store,
    app: Router,
    key: std::sync::Arc<audit::CheckpointKey>,
    org: String,
}

async fn world(db: &TestDb, changes: usize) -> World {
    let store = store(db).await;
    let org = org_with_member(&store, "acme", "admin@acme.example", Role::Admin).await;
    let caller = Caller::cli(&org);
    add_member(&store, &org, "auditor@acme.example", Role::Auditor, &[]).await;
    for n in 0..changes {
        let policy = Policy {
            rotate_after_reveal: n % 2 == 1,
            ..Policy::default()
        };
        governance::policies::set(&store, &caller, policy, chrono::Utc::now())
            .await
            .unwrap();
    }
    let (app, key) = router_with_key(store.clone(), db);
    World {
        store,
        app,
        key,
        org,
    }
}

fn pinned(w: &World) -> VerifyOptions {
    VerifyOptions {
        pinned_key: Some(w.key.public_key()),
        start: Start::Genesis,
    }
}

async fn body_bytes(response: axum::http::Response<axum::body::Body>) -> Vec<u8> {
    axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap()
        .to_vec()
}

on_both_databases! {
    async fn the_ledger_page_lists_the_orgs_events_newest_first_in_pages(db) {
        let w = world(&db, 60).await;
        let cookie = sign_in(&w.app, "auditor@acme.example").await;
        let head = ledger_length(&w.store, &w.org).await;
        assert_eq!(head, 63, "org.created, two member.added, 60 policy.updated");

        let response = send(&w.app, get_as("/ledger", &cookie)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let first = text(response).await;
        assert!(first.contains("<td role=\"cell\" data-label=\"#\">63</td>") && first.contains("<td role=\"cell\" data-label=\"#\">14</td>"), "newest 50");
        assert!(!first.contains("<td role=\"cell\" data-label=\"#\">13</td>"), "a page holds 50 events");
        assert!(first.find("<td role=\"cell\" data-label=\"#\">63</td>") < first.find("<td role=\"cell\" data-label=\"#\">14</td>"), "newest first");
        assert!(first.contains("href=\"/ledger?before=14\""), "a link to older events");

        let older = text(send(&w.app, get_as("/ledger?before=14", &cookie)).await).await;
        assert!(older.contains("<td role=\"cell\" data-label=\"#\">13</td>") && older.contains("<td role=\"cell\" data-label=\"#\">1</td>"));
        assert!(older.contains("org.created"));
        assert!(older.contains("href=\"/ledger?after=13\""), "a link back to newer events");
    }

    async fn the_ledger_names_people_and_tokens_as_the_org_knows_them_with_the_id_at_hand(db) {
        let w = world(&db, 0).await;
        let cli = Caller::cli(&w.org);
        let admin = governance::members::list(&w.store, &cli).await.unwrap()
            .into_iter().find(|m| m.email == "admin@acme.example").unwrap();
        let as_admin = governance::members::caller_for(&w.store, &w.org, &admin.user_id).await.unwrap();
        let flipped = Policy { rotate_after_reveal: !Policy::default().rotate_after_reveal, ..Policy::default() };
        governance::policies::set(&w.store, &as_admin, flipped, chrono::Utc::now()).await.unwrap();
        let (token, secret) = governance::tokens::create(&w.store, &cli, "nightly rotation", Role::Admin).await.unwrap();
        let as_token = governance::tokens::authenticate(&w.store, &secret).await.unwrap();
        governance::policies::set(&w.store, &as_token, Policy::default(), chrono::Utc::now()).await.unwrap();

        let cookie = sign_in(&w.app, "auditor@acme.example").await;
        let page = text(send(&w.app, get_as("/ledger?action=policy.", &cookie)).await).await;
        let person = format!("<td role=\"cell\" data-label=\"Who\" title=\"user:{}\">{} &#60;admin@acme.example&#62;</td>", admin.user_id, admin.display_name);
        assert!(page.contains(&person), "{page}");
        let script = format!("<td role=\"cell\" data-label=\"Who\" title=\"token:{}\">API token &#34;nightly rotation&#34;</td>", token.id);
        assert!(page.contains(&script), "{page}");
    }

    async fn the_ledger_page_filters_by_action_prefix_and_by_subject(db) {
        let w = world(&db, 3).await;
        let cookie = sign_in(&w.app, "admin@acme.example").await;
        let members = text(send(&w.app, get_as("/ledger?action=member.", &cookie)).await).await;
        assert_eq!(members.matches(">member.added</a>").count(), 2, "{members}");
        assert!(!members.contains(">policy.updated<"), "{members}");

        let subject = format!("org:{}", w.org);
        let path = format!("/ledger?subject={}", enc(&subject));
        let of_org = text(send(&w.app, get_as(&path, &cookie)).await).await;
        assert!(of_org.contains(">policy.updated<"));
        assert!(!of_org.contains(">member.added<"), "member events are about members");
    }

    async fn a_number_is_found_on_the_ledger_by_its_phone_number_as_shown_or_its_meta_id(db) {
        let w = world(&db, 0).await;
        let cookie = sign_in(&w.app, "admin@acme.example").await;
        for (meta, display) in [("1001", "+1 555 0100"), ("1002", "+1 555 0200")] {
            seed_number(&db, &w.org, meta, display).await;
            let phone = graph::PhoneNumberId::parse(meta).unwrap();
            governance::reviews::complete(&w.store, &Caller::cli(&w.org), &phone, "", chrono::Utc::now()).await.unwrap();
        }
        for typed in ["+1 555 0100", "+1-555-0100", "15550100", "(1) 555.0100", "1001", "phone:1001"] {
            let page = text(send(&w.app, get_as(&format!("/ledger?subject={}", enc(typed)), &cookie)).await).await;
            assert_eq!(page.matches(">review.completed</a>").count(), 1, "{typed}: {page}");
            assert!(page.contains("<a href=\"/numbers/1001\">+1 555 0100 · Shop 1001</a>") && !page.contains("phone:1002"), "{typed}: only that number's events, named as the dashboard shows it: {page}");
            assert!(page.contains("<small class=\"muted subject-id\">phone:1001</small>"), "beside the subject the chain holds");
            assert!(page.contains("name=\"subject\" value=\"phone:1001\""), "{typed}: the filter says what it matched");
        }
        let response = send(&w.app, get_as(&format!("/ledger?subject={}", enc("+1 555 0999")), &cookie)).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = text(response).await;
        assert!(body.contains("id=\"filter-problem\">Subject: no number of this org is +1 555 0999</p>"), "said in the filter form: {body}");
        assert!(body.contains("name=\"subject\" value=\"+1 555 0999\" placeholder=\"+1 555 0100, a name, phone:1093…\" aria-invalid=\"true\""), "what was typed stays, marked: {body}");
        assert!(body.contains("No event matches.") && !body.contains(">review.completed</a>"), "and nothing is listed beside the refusal");
        let body = text(send(&w.app, get_as(&format!("/ledger?subject={}", enc("555 0100")), &cookie)).await).await;
        assert!(body.contains("Subject: no number of this org is 555 0100: type it with its country code, as the dashboard shows it (+1 555 0100)"), "a number without its country code says so: {body}");
        // The same number registered again under a new Meta id: neither is picked for the other.
        seed_number(&db, &w.org, "2001", "+1 555 0100").await;
        let response = send(&w.app, get_as(&format!("/ledger?subject={}", enc("+1 555 0100")), &cookie)).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = text(response).await;
        assert!(body.contains("Subject: +1 555 0100 is shown by several numbers: filter by one of phone:1001, phone:2001"), "{body}");
        let page = text(send(&w.app, get_as("/ledger?subject=1001", &cookie)).await).await;
        assert!(page.contains("name=\"subject\" value=\"phone:1001\""), "a Meta id still names its one number");
    }

    async fn a_subject_is_found_by_the_name_people_know_it_by_and_a_name_nothing_has_is_refused(db) {
        let w = world(&db, 0).await;
        let cookie = sign_in(&w.app, "admin@acme.example").await;
        seed_number(&db, &w.org, "1001", "+1 555 0100").await;
        let auditor = governance::members::find_by_email(&w.store, &Caller::cli(&w.org), "auditor@acme.example").await.unwrap();
        for (typed, subject) in [
            ("client 1001", "client:c-1001"),
            ("Shop 1001", "phone:1001"),
            ("AUDITOR@acme.example", &format!("member:{}", auditor.id)),
            ("Person auditor@acme.example", &format!("member:{}", auditor.id)),
            ("acme Ltd", &format!("org:{}", w.org)),
        ] {
            let response = send(&w.app, get_as(&format!("/ledger?subject={}", enc(typed)), &cookie)).await;
            assert_eq!(response.status(), StatusCode::OK, "{typed}");
            let page = text(response).await;
            assert!(page.contains(&format!("name=\"subject\" value=\"{subject}\"")), "{typed}: resolved to {subject}: {page}");
            assert!(page.contains("id=\"filter-subject\">Events of "), "{typed}: the page says whose events it lists: {page}");
        }
        let added = text(send(&w.app, get_as(&format!("/ledger?subject={}", enc("auditor@acme.example")), &cookie)).await).await;
        assert_eq!(added.matches(">member.added</a>").count(), 1, "the member's own events: {added}");

        let response = send(&w.app, get_as(&format!("/ledger?subject={}", enc("Green Optics")), &cookie)).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = text(response).await;
        assert!(body.contains("id=\"filter-problem\">Subject: nothing of this org is named Green Optics: type a phone number, the name of a number, client, WABA or member, or a subject as the ledger holds it"), "says why nothing is listed: {body}");

        // A client named like a number's verified name: both are offered, neither picked.
        sql(&db, &[format!("UPDATE clients SET name = 'Shop 1001' WHERE id = 'c-1001' AND org_id = '{}'", w.org)]).await;
        let response = send(&w.app, get_as(&format!("/ledger?subject={}", enc("shop 1001")), &cookie)).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = text(response).await;
        assert!(body.contains("Subject: 2 things of this org are named shop 1001: filter by one of client:c-1001 (a client), phone:1001 (the number +1 555 0100)"), "{body}");
    }

    async fn a_members_or_clients_events_include_those_naming_them(db) {
        let w = world(&db, 0).await;
        let cookie = sign_in(&w.app, "admin@acme.example").await;
        seed_number(&db, &w.org, "1001", "+1 555 0100").await;
        let caller = Caller::cli(&w.org);
        let ops = add_member(&w.store, &w.org, "ops@acme.example", Role::Ops, &[]).await;
        let boss = governance::members::find_by_email(&w.store, &caller, "admin@acme.example").await.unwrap().id;
        let phone = graph::PhoneNumberId::parse("1001").unwrap();
        governance::numbers::assign(&w.store, &caller, &phone, &ops, &boss, chrono::Utc::now()).await.unwrap();
        add_member(&w.store, &w.org, "shop@acme.example", Role::BusinessAdmin, &["c-1001".to_owned()]).await;
        let listed = async |typed: &str| text(send(&w.app, get_as(&format!("/ledger?subject={}", enc(typed)), &cookie)).await).await;

        let page = listed("ops@acme.example").await;
        assert_eq!(page.matches(">member.added</a>").count(), 1, "their own event: {page}");
        assert_eq!(page.matches(">number.assigned</a>").count(), 1, "and the seat they were given, a number's event: {page}");
        assert!(page.contains("and those naming them (the seats they were given or left, handovers)</p>"), "the page says so: {page}");
        let page = listed("auditor@acme.example").await;
        assert_eq!(page.matches(">number.assigned</a>").count(), 0, "nobody else's seats: {page}");
        assert_eq!(page.matches(">member.added</a>").count(), 1, "{page}");

        let page = listed("client 1001").await;
        assert_eq!(page.matches(">member.added</a>").count(), 1, "the business admin given the client: {page}");
        assert!(page.contains("and those naming it (its WABAs, the business admins given it)</p>"), "{page}");
        let page = listed("+1 555 0100").await;
        assert_eq!(page.matches(">member.added</a>").count(), 0, "a number's filter is its own events only: {page}");
        assert_eq!(page.matches(">number.assigned</a>").count(), 1, "{page}");
        assert!(page.contains("id=\"filter-subject\">Events of +1 555 0100"), "{page}");
    }

    async fn a_bad_filter_is_a_422_naming_the_field(db) {
        let w = world(&db, 0).await;
        let cookie = sign_in(&w.app, "admin@acme.example").await;
        for (path, field) in [
            ("/ledger?action=PIN%20ROTATED", "Action starts with"),
            ("/ledger?before=yesterday", "before"),
            ("/ledger?after=-3", "after"),
        ] {
            let response = send(&w.app, get_as(path, &cookie)).await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
            assert!(text(response).await.contains(&format!("{field}: ")), "{path}");
        }
    }

    async fn a_business_admin_may_not_read_the_ledger(db) {
        let w = world(&db, 0).await;
        let business = governance::members::add_new_user(
            &w.store,
            &Caller::cli(&w.org),
            &governance::users::NewUser {
                email: "shop@acme.example".to_owned(),
                display_name: "Shop".to_owned(),
                password: Some(governance::users::Password::new(PASSWORD.to_owned())),
            },
            Role::Admin,
            &[],
        )
        .await
        .unwrap();
        sql(&db, &[format!("UPDATE members SET role = 'business_admin' WHERE id = '{}'", business.id)]).await;
        let cookie = sign_in(&w.app, "shop@acme.example").await;
        let response = send(&w.app, get_as("/ledger", &cookie)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }

    async fn the_downloaded_jsonl_and_csv_exports_verify_against_the_pinned_key(db) {
        let w = world(&db, 5).await;
        let visit = signed_in_visit(&w.app, "auditor@acme.example").await;
        for (format, extension) in [("jsonl", "jsonl"), ("csv", "csv")] {
            let response = send(&w.app, same_origin_post("/ledger/export", &visit, &format!("format={format}"))).await;
            assert_eq!(response.status(), StatusCode::OK, "{format}");
            let disposition = header(&response, "content-disposition").to_owned();
            assert!(disposition.starts_with("attachment; filename=\"pinward-ledger-acme-"), "{disposition}");
            assert!(disposition.ends_with(&format!(".{extension}\"")), "{disposition}");
            assert_eq!(header(&response, "cache-control"), "no-store");
            let file = body_bytes(response).await;
            let report = match format {
                "jsonl" => audit::verify_jsonl(file.as_slice(), &pinned(&w)),
                _ => audit::verify_csv(file.as_slice(), &pinned(&w)),
            }
            .unwrap();
            assert_eq!(report.events, 8, "{format}");
        }
        assert_eq!(latest_checkpoint(&w.store, &w.org).await, Some(8), "each export is checkpointed");
        let page = text(send(&w.app, get_as("/ledger", &visit.cookie)).await).await;
        assert!(page.contains("last signed the chain at event 8"), "the page tells the latest checkpoint");
    }

    async fn a_bad_export_format_is_a_422_naming_format_and_signs_nothing(db) {
        let w = world(&db, 0).await;
        let visit = signed_in_visit(&w.app, "admin@acme.example").await;
        let response = send(&w.app, same_origin_post("/ledger/export", &visit, "format=xlsx")).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(text(response).await.contains("format: must be jsonl or csv"));
        assert_eq!(latest_checkpoint(&w.store, &w.org).await, None);
    }

    async fn an_export_form_without_the_csrf_token_is_refused_and_signs_nothing(db) {
        let w = world(&db, 0).await;
        let visit = signed_in_visit(&w.app, "admin@acme.example").await;
        let request = post_form("/ledger/export", &visit)
            .header(axum::http::header::ORIGIN, "http://127.0.0.1:8080")
            .body(axum::body::Body::from("format=jsonl"))
            .unwrap();
        let response = send(&w.app, request).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(latest_checkpoint(&w.store, &w.org).await, None);
    }

    async fn the_api_streams_an_export_that_verifies_and_names_a_bad_format(db) {
        let w = world(&db, 2).await;
        let auditor = token(&w.store, &w.org, Role::Auditor).await;
        let response = send(&w.app, bearer("GET", "/api/v1/ledger/export?format=jsonl", &auditor)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(header(&response, "content-type").starts_with("application/jsonl"));
        let file = body_bytes(response).await;
        let events = ledger_length(&w.store, &w.org).await;
        assert_eq!(events, 6, "3 + 2 policy changes + token.created");
        assert_eq!(audit::verify_jsonl(file.as_slice(), &pinned(&w)).unwrap().events, events);

        let response = send(&w.app, bearer("GET", "/api/v1/ledger/export?format=pdf", &auditor)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(header(&response, "content-type"), "application/problem+json");
        let problem: Value = serde_json::from_str(&text(response).await).unwrap();
        assert_eq!(problem["field"], "format");
    }

    async fn the_api_exports_a_seq_range_that_verifies_from_its_first_seq(db) {
        let w = world(&db, 10).await;
        let auditor = token(&w.store, &w.org, Role::Auditor).await;
        let response = send(&w.app, bearer("GET", "/api/v1/ledger/export?from=4&to=9", &auditor)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let file = body_bytes(response).await;
        let from_four = VerifyOptions { start: Start::Seq(4), ..pinned(&w) };
        assert_eq!(audit::verify_jsonl(file.as_slice(), &from_four).unwrap().events, 6);

        for (query, field, says) in [
            ("from=0", "from", "seq numbers start at 1"),
            ("from=99", "from", "the ledger ends at seq"),
            ("to=99", "to", "the ledger ends at seq"),
            ("from=5&to=2", "to", "2 is before the first seq asked for (5)"),
            ("to=soon", "to", "must be a seq number (a whole number from 1)"),
        ] {
            let response = send(&w.app, bearer("GET", &format!("/api/v1/ledger/export?{query}"), &auditor)).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
            let problem: Value = serde_json::from_str(&text(response).await).unwrap();
            assert_eq!(problem["field"], field, "{query}");
            let detail = problem["detail"].as_str().unwrap();
            assert!(detail.contains(says) && !detail.contains("--"), "the API's own words: {query}: {problem}");
        }
        assert_eq!(latest_checkpoint(&w.store, &w.org).await, Some(9), "refused exports sign nothing");
    }

    async fn an_export_holds_only_the_tokens_own_orgs_events(db) {
        let w = world(&db, 2).await;
        let other = org_with_member(&w.store, "globex", "boss@globex.example", Role::Admin).await;
        let theirs = token(&w.store, &other, Role::Auditor).await;
        let ours = token(&w.store, &w.org, Role::Auditor).await;
        for (token, org, not) in [(&ours, &w.org, &other), (&theirs, &other, &w.org)] {
            let file = body_bytes(send(&w.app, bearer("GET", "/api/v1/ledger/export", token)).await).await;
            let text = String::from_utf8(file.clone()).unwrap();
            assert!(text.contains(&format!("\"org\":\"{org}\"")));
            assert!(!text.contains(&format!("\"org\":\"{not}\"")), "another org's event leaked");
            let report = audit::verify_jsonl(file.as_slice(), &pinned(&w)).unwrap();
            assert_eq!(report.events, ledger_length(&w.store, org).await);
        }
    }

    async fn the_api_reports_the_head_the_latest_checkpoint_and_that_the_chain_verifies(db) {
        let w = world(&db, 4).await;
        let auditor = token(&w.store, &w.org, Role::Auditor).await;
        let response = send(&w.app, bearer("GET", "/api/v1/ledger/status", &auditor)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let status: Value = serde_json::from_str(&text(response).await).unwrap();
        let head = ledger_length(&w.store, &w.org).await;
        assert_eq!(status["head"]["seq"], head);
        assert!(status["checkpoint"].is_null());
        assert_eq!(status["verification"]["ok"], true);
        assert_eq!(status["verification"]["events"], head);
        assert_eq!(status["checkpoint_key"], w.key.public_key().to_base64());

        let export = send(&w.app, bearer("GET", "/api/v1/ledger/export", &auditor)).await;
        body_bytes(export).await;
        let (_, status) = status_of(&w, &auditor, "").await;
        assert_eq!(status["checkpoint"]["seq"], head);
        assert_eq!(status["checkpoint"]["signed_by_this_service"], true);
        assert_eq!(status["verification"]["events"], 1, "only the checkpoint's event and after");
        let (_, full) = status_of(&w, &auditor, "?full=true").await;
        assert_eq!(full["verification"]["events"], head);
        assert_eq!(full["verification"]["ok"], true);

        // A bare `?full` is neither check: a script that meant the full one is told.
        for query in ["?full=maybe", "?full", "?full="] {
            let (code, problem) = status_of(&w, &auditor, query).await;
            assert_eq!(code, StatusCode::BAD_REQUEST, "{query}");
            assert_eq!(problem["field"], "full", "{query}");
        }
    }

    async fn the_openapi_document_lists_the_ledger_and_sync_endpoints(db) {
        let app = app(&db, None).await;
        let document: Value = serde_json::from_str(&text(send(&app, get("/api/v1/openapi.json")).await).await).unwrap();
        for (path, method) in [
            ("/api/v1/ledger/export", "get"),
            ("/api/v1/ledger/status", "get"),
            ("/api/v1/sync", "post"),
        ] {
            assert!(document["paths"][path][method].is_object(), "{method} {path}");
        }
    }
}

async fn status_of(w: &World, token: &str, query: &str) -> (StatusCode, Value) {
    let response = send(
        &w.app,
        bearer("GET", &format!("/api/v1/ledger/status{query}"), token),
    )
    .await;
    let code = response.status();
    (code, serde_json::from_str(&text(response).await).unwrap())
}

/// An edit behind pinward's back (possible only for the database owner, here on SQLite by
/// dropping the append-only trigger) shows up in the status instead of a green light.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_reports_a_row_edited_behind_pinwards_back() {
    let db = TestDb::new(pinward_tests::Backend::Sqlite).await;
    let w = world(&db, 3).await;
    let auditor = token(&w.store, &w.org, Role::Auditor).await;
    sql(
        &db,
        &[
            "DROP TRIGGER ledger_events_no_update".to_owned(),
            "UPDATE ledger_events SET subject = 'org:forged' WHERE seq = 2".to_owned(),
        ],
    )
    .await;
    let (code, status) = status_of(&w, &auditor, "?full=true").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(status["verification"]["ok"], false);
    assert!(
        status["verification"]["problem"]
            .as_str()
            .unwrap()
            .contains('2'),
        "{status}"
    );
}
