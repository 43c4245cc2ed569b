//! Inventory sync (page and API) and the Graph credential's forms against the Graph
//! sandbox, through the real router on both databases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::org::*;
use common::*;
use governance::Store;
use governance::access::{Caller, Role};
use graph::GraphClient;
use graph::sandbox::{Sandbox, SandboxHandle, SandboxSeed, TokenSpec};
use pinward_tests::{TestDb, on_both_databases};
use serde_json::Value;

struct World {
    store: Store,
    app: Router,
    sandbox: SandboxHandle,
    custody: Arc<web::Custody>,
    org: String,
    /// The org's own Meta business.
    business: String,
}

/// An org with an admin, an ops member and an auditor, served with custody over a sandbox;
/// with `credential`, the org's token for its business is stored.
async fn world(db: &TestDb, credential: bool) -> World {
    let sandbox = Sandbox::seeded(SandboxSeed {
        seed: 11,
        numbers: 6,
        businesses: 2,
    })
    .start()
    .await
    .unwrap();
    let store = store(db).await;
    let org = org_with_member(&store, "acme", "admin@acme.example", Role::Admin).await;
    add_member(&store, &org, "ops@acme.example", Role::Ops, &[]).await;
    add_member(&store, &org, "auditor@acme.example", Role::Auditor, &[]).await;
    let escrow = governance::custody::Escrow::load(&store, vault::Identity::generate())
        .await
        .unwrap();
    let custody = web::Custody {
        escrow: Arc::new(escrow),
        graph: GraphClient::new(sandbox.graph_config()).unwrap(),
        settings: governance::custody::Settings::default(),
        on_prem: None,
    };
    let business = sandbox.business_ids()[0].to_string();
    let w = World {
        app: Router::new(),
        custody: Arc::new(custody),
        store,
        sandbox,
        org,
        business,
    };
    if credential {
        governance::credentials::set(
            &w.store,
            &w.custody.escrow,
            &w.custody.graph,
            &Caller::cli(&w.org),
            &w.token(),
        )
        .await
        .unwrap();
    }
    let mut state = web::AppState::new(w.store.clone(), db.dir().join("identity.txt"), None);
    state.custody = Some(Arc::clone(&w.custody));
    World {
        app: web::app(state),
        ..w
    }
}

impl World {
    fn token(&self) -> graph::AccessToken {
        self.sandbox.issue_token(&TokenSpec {
            businesses: Some(vec![self.business.clone()]),
            ..TokenSpec::default()
        })
    }

    async fn numbers(&self) -> u64 {
        governance::numbers::list(
            &self.store,
            &Caller::cli(&self.org),
            &governance::numbers::Filter::default(),
            governance::numbers::PageRequest::default(),
            chrono::Utc::now(),
        )
        .await
        .unwrap()
        .total
    }

    async fn events(&self) -> u64 {
        ledger_length(&self.store, &self.org).await
    }

    /// Posts the sync form and expects it again with `status` and `message`, nothing changed.
    async fn refused(&self, app: &Router, fields: &str, status: StatusCode, message: &str) {
        let visit = signed_in_visit(app, "ops@acme.example").await;
        let before = self.events().await;
        let response = send(app, same_origin_post("/sync", &visit, fields)).await;
        assert_eq!(response.status(), status, "{fields}");
        let page = text(response).await;
        assert!(
            page.contains(message),
            "{fields}: no «{message}» in the page"
        );
        assert_eq!(self.events().await, before, "{fields} changed something");
        assert_eq!(self.numbers().await, 0);
    }
}

fn json_post(path: &str, token: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

on_both_databases! {
    async fn ops_syncs_the_inventory_from_the_page_and_sees_the_counts(db) {
        let w = world(&db, true).await;
        let visit = signed_in_visit(&w.app, "ops@acme.example").await;
        let page = text(send(&w.app, get_as("/sync", &visit.cookie)).await).await;
        assert!(page.contains("action=\"/sync\""));

        let response = send(&w.app, same_origin_post("/sync", &visit, &format!("businesses={}", w.business))).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(header(&response, "location"), "/sync");
        let found = w.numbers().await;
        assert!(found > 0);
        let page = text(send(&w.app, get_as("/sync", &visit.cookie)).await).await;
        assert!(page.contains(&format!("{found} added, 0 updated, 0 gone")), "{page}");

        // Later syncs need no business ids: the org remembers its businesses.
        let again = send(&w.app, same_origin_post("/sync", &visit, "businesses=")).await;
        assert_eq!(again.status(), StatusCode::SEE_OTHER);
        let page = text(send(&w.app, get_as("/sync", &visit.cookie)).await).await;
        assert!(page.contains("0 added, 0 updated, 0 gone"), "{page}");
    }

    async fn every_bad_sync_input_is_refused_with_its_message_and_changes_nothing(db) {
        let w = world(&db, true).await;
        w.refused(&w.app, "businesses=acme-corp", StatusCode::UNPROCESSABLE_ENTITY,
                  "businesses: `acme-corp`: a Meta id is 1 to 32 ASCII digits, ids separated by spaces or commas").await;
        w.refused(&w.app, &format!("businesses={}", "7".repeat(200)), StatusCode::UNPROCESSABLE_ENTITY,
                  "businesses: an id of 200 characters: a Meta id is 1 to 32 ASCII digits").await;
        w.refused(&w.app, "businesses=", StatusCode::UNPROCESSABLE_ENTITY,
                  "businesses: the org was never synced").await;
    }

    async fn a_business_meta_does_not_know_is_named_and_one_the_token_cannot_reach_is_refused_in_metas_words(db) {
        let w = world(&db, true).await;
        w.refused(&w.app, "businesses=999999999999999", StatusCode::UNPROCESSABLE_ENTITY,
                  "businesses: Meta has no business 999999999999999").await;
        // The sandbox's second business exists, outside the token's assets: Meta refuses
        // the credential (code 200), which is not the id's fault.
        let other = format!("businesses={}", w.sandbox.business_ids()[1]);
        w.refused(&w.app, &other, StatusCode::BAD_GATEWAY, "Meta&#39;s API refused: ").await;
    }

    async fn without_a_credential_or_a_graph_client_sync_says_so(db) {
        let w = world(&db, false).await;
        let fields = format!("businesses={}", w.business);
        w.refused(&w.app, &fields, StatusCode::UNPROCESSABLE_ENTITY, "no Graph credential yet").await;
        let bare = router(w.store.clone(), &db, None);
        w.refused(&bare, &fields, StatusCode::SERVICE_UNAVAILABLE, "started without a Graph client").await;
        let ops = token(&w.store, &w.org, Role::Ops).await;
        let response = send(&bare, json_post("/api/v1/sync", &ops, "")).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "as the custody calls say it, not a 500");
        let problem: Value = serde_json::from_str(&text(response).await).unwrap();
        assert!(problem["detail"].as_str().unwrap().contains("without custody"), "{problem}");
    }

    async fn an_auditor_may_not_sync(db) {
        let w = world(&db, true).await;
        let visit = signed_in_visit(&w.app, "auditor@acme.example").await;
        assert_eq!(send(&w.app, get_as("/sync", &visit.cookie)).await.status(), StatusCode::FORBIDDEN);
        let response = send(&w.app, same_origin_post("/sync", &visit, &format!("businesses={}", w.business))).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(w.numbers().await, 0);
    }

    async fn the_api_syncs_and_names_bad_businesses(db) {
        let w = world(&db, true).await;
        let ops = token(&w.store, &w.org, Role::Ops).await;
        let body = format!("{{\"businesses\": [\"{}\"]}}", w.business);
        let response = send(&w.app, json_post("/api/v1/sync", &ops, &body)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let report: Value = serde_json::from_str(&text(response).await).unwrap();
        assert_eq!(report["numbers_discovered"], w.numbers().await);

        let again: Value = serde_json::from_str(&text(send(&w.app, json_post("/api/v1/sync", &ops, "")).await).await).unwrap();
        assert_eq!(again["numbers_discovered"], 0, "an empty body syncs the businesses synced before");
        let response = send(&w.app, json_post("/api/v1/sync", &ops, "null")).await;
        assert_eq!(response.status(), StatusCode::OK, "`null`, which the document allows, is an empty body");

        // A misspelt member must not fall back to "the businesses synced before".
        for body in ["{\"businesses\": [\"not-digits\"]}", "[1, 2]", "[[]]", "{\"business\": [\"123\"]}"] {
            let response = send(&w.app, json_post("/api/v1/sync", &ops, body)).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
            let problem: Value = serde_json::from_str(&text(response).await).unwrap();
            assert_eq!(problem["field"], "businesses", "{body}");
            if body.contains("\"business\"") {
                assert!(problem["detail"].as_str().unwrap().contains("unknown field `business`"), "names the member: {problem}");
            }
        }
        // One id an item (the page's box splits at spaces; a JSON list does not), and a query
        // string is refused rather than ignored.
        let before = w.events().await;
        for (path, body, field) in [
            ("/api/v1/sync", format!("{{\"businesses\": [\"{} 2\"]}}", w.business), "businesses"),
            ("/api/v1/sync?dry_run=true", String::new(), "query"),
            // Not a Meta failure to retry: the caller named a business Meta does not know.
            ("/api/v1/sync", "{\"businesses\": [\"999999999999999\"]}".to_owned(), "businesses"),
        ] {
            let response = send(&w.app, json_post(path, &ops, &body)).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path} {body}");
            let problem: Value = serde_json::from_str(&text(response).await).unwrap();
            assert_eq!(problem["field"], field, "{problem}");
        }
        let twice = format!("{{\"businesses\": [\"{0}\"], \"businesses\": []}}", w.business);
        let response = send(&w.app, json_post("/api/v1/sync", &ops, &twice)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "a member given twice is refused");
        let problem: Value = serde_json::from_str(&text(response).await).unwrap();
        assert!(problem["detail"].as_str().unwrap().contains("duplicate field `businesses`"), "{problem}");
        let mut as_form = json_post("/api/v1/sync", &ops, &format!("{{\"businesses\": [\"{}\"]}}", w.business));
        as_form.headers_mut().insert(header::CONTENT_TYPE, "application/x-www-form-urlencoded".parse().unwrap());
        let response = send(&w.app, as_form).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "a body not sent as JSON is refused");
        let problem: Value = serde_json::from_str(&text(response).await).unwrap();
        assert_eq!(problem["field"], "body", "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains("Content-Type: application/json"), "{problem}");
        let response = send(&w.app, json_post("/api/v1/sync", &ops, &" ".repeat(3 << 20))).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let problem: Value = serde_json::from_str(&text(response).await).unwrap();
        assert_eq!(problem["detail"], "the request body is too large", "not axum's words");
        assert_eq!(w.events().await, before, "nothing synced");
        let auditor = token(&w.store, &w.org, Role::Auditor).await;
        let response = send(&w.app, json_post("/api/v1/sync", &auditor, "")).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }

    async fn an_admin_sets_the_token_and_ops_checks_it_again_never_seeing_it(db) {
        let w = world(&db, false).await;
        let admin = signed_in_visit(&w.app, "admin@acme.example").await;
        let token = w.token();
        let response = send(&w.app, same_origin_post("/settings/credential", &admin, &format!("token={}", enc(token.expose())))).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let page = text(send(&w.app, get_as("/settings", &admin.cookie)).await).await;
        assert!(page.contains("Meta says it is valid"), "the flash");
        assert!(page.contains("Healthy"));
        assert!(!page.contains(token.expose()), "the token is never shown");

        let ops = signed_in_visit(&w.app, "ops@acme.example").await;
        let before = w.events().await;
        let response = send(&w.app, same_origin_post("/settings/credential/check", &ops, "")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(w.events().await, before + 1, "graph_credential.checked");

        let response = send(&w.app, same_origin_post("/settings/credential", &ops, "token=EAAx")).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "ops may check, not set");
    }

    async fn a_bad_token_is_refused_naming_token_and_stores_nothing(db) {
        let w = world(&db, false).await;
        let admin = signed_in_visit(&w.app, "admin@acme.example").await;
        let long = "E".repeat(5000);
        for (token, says) in [
            ("", "Token: is required: paste the system user"),
            ("two%20words", "Token: must be one Graph access token (no spaces)"),
            (long.as_str(), "Token: is longer than any Graph access token (at most 4096 characters)"),
            ("EAAunknown-token", "Token: "),
        ] {
            let before = w.events().await;
            let response = send(&w.app, same_origin_post("/settings/credential", &admin, &format!("token={token}"))).await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{token}");
            let page = text(response).await;
            assert!(page.contains(says), "{says}: {page}");
            let pasted = token.replace("%20", " ");
            assert!(pasted.is_empty() || !page.contains(&pasted), "what was pasted is not shown back: {pasted}");
            assert_eq!(w.events().await, before);
        }
        assert!(governance::credentials::show(&w.store, &Caller::cli(&w.org)).await.unwrap().is_none());
    }
}
