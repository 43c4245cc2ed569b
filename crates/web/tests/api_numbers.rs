//! The JSON API over the numbers and members of an org, through the real router on both
//! databases: two orgs synced from the Graph sandbox, a bearer token per role.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;
use governance::access::{Caller, Role};
use governance::custody::MetaAccess;
use governance::users::NewUser;
use graph::GraphClient;
use graph::sandbox::{Sandbox, SandboxHandle, SandboxSeed, TokenSpec};
use pinward_tests::{TestDb, on_both_databases};
use serde_json::{Value, json};

/// Two orgs, each synced from its own sandbox business, with a token per role.
struct World {
    app: Router,
    _sandbox: SandboxHandle,
    admin: String,
    auditor: String,
    /// A number of the first org, and one of the other org.
    ours: String,
    theirs: String,
    /// A client of the other org.
    theirs_client: String,
    /// Two active members of the first org.
    owner: String,
    manager: String,
}

async fn org(
    store: &governance::Store,
    sandbox: &SandboxHandle,
    index: usize,
    slug: &str,
) -> String {
    let org = governance::orgs::create(store, &audit::Actor::system(), slug, slug)
        .await
        .unwrap();
    let business = sandbox.business_ids()[index].clone();
    let meta = MetaAccess {
        graph: GraphClient::new(sandbox.graph_config()).unwrap(),
        token: sandbox.issue_token(&TokenSpec {
            businesses: Some(vec![business.to_string()]),
            ..TokenSpec::default()
        }),
        on_prem: None,
    };
    governance::sync::run(
        store,
        &org.id,
        &audit::Actor::system(),
        &meta,
        std::slice::from_ref(&business),
        &governance::sync::SyncOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap();
    org.id
}

async fn token(store: &governance::Store, org: &str, role: Role) -> String {
    // Two active tokens of an org never share a name.
    let name = format!("{} script", role.as_str());
    let (_, secret) = governance::tokens::create(store, &Caller::cli(org), &name, role)
        .await
        .unwrap();
    secret.expose().to_owned()
}

async fn member(store: &governance::Store, org: &str, email: &str) -> String {
    governance::members::add_new_user(
        store,
        &Caller::cli(org),
        &NewUser {
            email: email.to_owned(),
            display_name: email.to_owned(),
            password: None,
        },
        Role::Ops,
        &[],
    )
    .await
    .unwrap()
    .id
}

async fn world(db: &TestDb) -> World {
    let sandbox = Sandbox::seeded(SandboxSeed {
        seed: 7,
        numbers: 8,
        businesses: 2,
    })
    .start()
    .await
    .unwrap();
    let store = store(db).await;
    let ours_org = org(&store, &sandbox, 0, "ours").await;
    let theirs_org = org(&store, &sandbox, 1, "theirs").await;
    let first = |org: &str| {
        let store = store.clone();
        let org = org.to_owned();
        async move {
            governance::numbers::list(
                &store,
                &Caller::cli(&org),
                &governance::numbers::Filter::default(),
                governance::numbers::PageRequest::default(),
                chrono::Utc::now(),
            )
            .await
            .unwrap()
            .items[0]
                .phone_number_id
                .clone()
        }
    };
    let theirs_client = governance::clients::list(&store, &Caller::cli(&theirs_org))
        .await
        .unwrap()[0]
        .id
        .clone();
    World {
        theirs_client,
        ours: first(&ours_org).await,
        theirs: first(&theirs_org).await,
        admin: token(&store, &ours_org, Role::Admin).await,
        auditor: token(&store, &ours_org, Role::Auditor).await,
        owner: member(&store, &ours_org, "owner@ours.example").await,
        manager: member(&store, &ours_org, "manager@ours.example").await,
        app: router(store, db, None),
        _sandbox: sandbox,
    }
}

fn call(method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Request<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "127.0.0.1:8080");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => request.body(Body::empty()).unwrap(),
    }
}

async fn json_of(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = send(app, request).await;
    let status = response.status();
    let body = text(response).await;
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

on_both_databases! {
    async fn a_token_lists_its_orgs_numbers_only_paged_and_filtered(db) {
        let w = world(&db).await;
        let (status, page) = json_of(&w.app, call("GET", "/api/v1/numbers?per_page=2", Some(&w.auditor), None)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["per_page"], 2);
        assert_eq!(page["items"].as_array().unwrap().len(), 2, "{page}");
        let (_, all) = json_of(&w.app, call("GET", "/api/v1/numbers?per_page=200", Some(&w.auditor), None)).await;
        let ids: Vec<&str> = all["items"].as_array().unwrap().iter().map(|n| n["phone_number_id"].as_str().unwrap()).collect();
        assert!(ids.contains(&w.ours.as_str()) && !ids.contains(&w.theirs.as_str()), "{ids:?}");
        assert_eq!(all["total"].as_u64().unwrap() as usize, ids.len());

        let (status, escrowed) = json_of(&w.app, call("GET", "/api/v1/numbers?state=escrowed", Some(&w.auditor), None)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(escrowed["total"], 0, "a fresh sync escrows nothing: {escrowed}");
    }

    async fn a_bad_list_parameter_is_a_400_naming_it(db) {
        let w = world(&db).await;
        for (query, field, says) in [
            ("per_page=0", "per_page", "must be a whole number from 1 to 200"),
            ("page=0", "page", "must be a whole number from 1"),
            ("per_page=many", "per_page", "must be a whole number from 1 to 200"),
            ("page=x", "page", "must be a whole number from 1"),
            ("page=-1", "page", "must be a whole number from 1"),
            ("state=lost", "state", "must be one of unknown, escrowed, rotating, uncertain, released"),
            ("problem=odd", "problem", "must be one of no_owner, "),
            ("problem=odd", "problem", ", or unhealthy for any of them"),
            // The dashboard's name for the filter is named back as it was sent.
            ("health=odd", "health", "must be one of no_owner, "),
            ("problem=no_owner&health=no_owner", "health", "is another name for `problem`: give one of them"),
        ] {
            let response = send(&w.app, call("GET", &format!("/api/v1/numbers?{query}"), Some(&w.auditor), None)).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
            assert_eq!(header(&response, "content-type"), "application/problem+json");
            let problem: Value = serde_json::from_str(&text(response).await).unwrap();
            assert_eq!(problem["field"], field, "{problem}");
            assert!(problem["detail"].as_str().unwrap().contains(says), "{problem}");
            assert_eq!((problem["status"].as_u64(), problem["title"].as_str()), (Some(400), Some("Bad Request")), "title and status agree: {problem}");
        }
    }

    async fn the_client_filter_takes_the_tokens_own_clients_and_names_any_other(db) {
        let w = world(&db).await;
        let (_, all) = json_of(&w.app, call("GET", "/api/v1/numbers?per_page=200", Some(&w.auditor), None)).await;
        let ours = all["items"][0]["client_id"].as_str().unwrap().to_owned();
        let (status, page) = json_of(&w.app, call("GET", &format!("/api/v1/numbers?per_page=200&client={ours}"), Some(&w.auditor), None)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page["total"].as_u64().unwrap() > 0);
        assert!(page["items"].as_array().unwrap().iter().all(|n| n["client_id"] == ours.as_str()), "{page}");

        for unseen in [w.theirs_client.as_str(), "nope"] {
            let (status, problem) = json_of(&w.app, call("GET", &format!("/api/v1/numbers?client={unseen}"), Some(&w.auditor), None)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{unseen}: {problem}");
            assert_eq!(problem["field"], "client", "{problem}");
            assert_eq!(problem["detail"], "client: is not a client you can see; pick one from the list", "{problem}");
        }
    }

    async fn an_unknown_list_parameter_is_a_400_naming_it_rather_than_a_wider_list(db) {
        // A script that misspells a filter must not get every number back and act on them.
        let w = world(&db).await;
        let response = send(&w.app, call("GET", "/api/v1/numbers?helth=no_owner", Some(&w.auditor), None)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(header(&response, "content-type"), "application/problem+json");
        let problem: Value = serde_json::from_str(&text(response).await).unwrap();
        assert_eq!(problem["field"], "query", "{problem}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("unknown parameter `helth`") && detail.contains("`search`"), "{problem}");
        let (_, problem) = json_of(&w.app, call("GET", "/api/v1/numbers?subfield=1", Some(&w.auditor), None)).await;
        assert!(problem["detail"].as_str().unwrap_or_default().contains("unknown parameter `subfield`"), "names kept as sent: {problem}");
        let (status, _) = json_of(&w.app, call("GET", "/api/v1/ledger/status?fulll=true", Some(&w.admin), None)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "the ledger's parameters are strict too");
    }

    async fn the_list_takes_the_dashboards_filter_names_and_unhealthy_for_any_problem(db) {
        let w = world(&db).await;
        let list = |query: &str| call("GET", &format!("/api/v1/numbers?per_page=200&{query}"), Some(&w.auditor), None);
        let (_, all) = json_of(&w.app, list("")).await;
        let items = all["items"].as_array().unwrap();
        let with_problems = items.iter().filter(|n| !n["health"].as_array().unwrap().is_empty()).count();
        assert!(with_problems > 0, "a fresh sync leaves numbers without owners: {all}");
        for query in ["health=unhealthy", "problem=unhealthy"] {
            let (status, unhealthy) = json_of(&w.app, list(query)).await;
            assert_eq!(status, StatusCode::OK, "{unhealthy}");
            assert_eq!(unhealthy["total"].as_u64(), Some(with_problems as u64), "{query}");
            assert!(unhealthy["items"].as_array().unwrap().iter().all(|n| !n["health"].as_array().unwrap().is_empty()), "{query}");
        }
        let (_, by_problem) = json_of(&w.app, list("problem=no_owner")).await;
        let (_, by_health) = json_of(&w.app, list("health=no_owner")).await;
        assert_eq!(by_problem, by_health);
        let display = items[0]["display_phone_number"].as_str().unwrap();
        let digits: String = display.chars().filter(char::is_ascii_digit).rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
        let (_, by_search) = json_of(&w.app, list(&format!("search={digits}"))).await;
        let (_, by_q) = json_of(&w.app, list(&format!("q={digits}"))).await;
        assert!(by_search["total"].as_u64().unwrap() >= 1, "{by_search}");
        assert_eq!(by_search, by_q);
    }

    async fn a_seats_body_that_is_not_the_json_asked_for_is_a_400_problem_and_changes_nothing(db) {
        let w = world(&db).await;
        let path = format!("/api/v1/numbers/{}/seats", w.ours);
        let bodies = [
            json!({"owner": w.owner}),
            json!({"owner": w.owner, "manager": w.manager, "rotate": true}),
            json!(["not", "an", "object"]),
            // The members' values in order: serde would take it, a script never means it.
            json!([w.owner, w.manager]),
        ];
        for body in bodies {
            let response = send(&w.app, call("PUT", &path, Some(&w.admin), Some(body.clone()))).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(header(&response, "content-type"), "application/problem+json", "{body}");
            let problem: Value = serde_json::from_str(&text(response).await).unwrap();
            assert_eq!(problem["field"], "body", "{problem}");
        }
        // A member given twice is not settled by the last one: which did the script mean?
        let twice = Request::builder().method("PUT").uri(&path).header(header::HOST, "127.0.0.1:8080")
            .header(header::AUTHORIZATION, format!("Bearer {}", w.admin))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(format!(r#"{{"owner": "{0}", "manager": "{1}", "owner": "{1}"}}"#, w.owner, w.manager)))
            .unwrap();
        let (status, problem) = json_of(&w.app, twice).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
        assert_eq!(problem["field"], "body", "{problem}");
        assert!(problem["detail"].as_str().unwrap_or_default().contains("duplicate field `owner`"), "{problem}");
        let no_type = Request::builder().method("PUT").uri(&path).header(header::HOST, "127.0.0.1:8080")
            .header(header::AUTHORIZATION, format!("Bearer {}", w.admin))
            .body(Body::from(json!({"owner": w.owner, "manager": w.manager}).to_string())).unwrap();
        let (status, problem) = json_of(&w.app, no_type).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
        assert!(problem["detail"].as_str().unwrap_or_default().contains("Content-Type: application/json"), "{problem}");
        let (_, record) = json_of(&w.app, call("GET", &format!("/api/v1/numbers/{}", w.ours), Some(&w.admin), None)).await;
        assert!(record["owner"].is_null() && record["manager"].is_null(), "{record}");
    }

    async fn a_numbers_record_is_served_and_another_orgs_number_is_not_found(db) {
        let w = world(&db).await;
        let (status, record) = json_of(&w.app, call("GET", &format!("/api/v1/numbers/{}", w.ours), Some(&w.auditor), None)).await;
        assert_eq!(status, StatusCode::OK, "{record}");
        assert_eq!(record["meta"]["phone_number_id"], w.ours.as_str());
        assert_eq!(record["pin_state"], "unknown");

        let (status, problem) = json_of(&w.app, call("GET", &format!("/api/v1/numbers/{}", w.theirs), Some(&w.admin), None)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
        let (status, _) = json_of(&w.app, call("PUT", &format!("/api/v1/numbers/{}/seats", w.theirs), Some(&w.admin),
            Some(json!({"owner": w.owner, "manager": w.manager})))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = json_of(&w.app, call("POST", &format!("/api/v1/numbers/{}/rotate", w.theirs), Some(&w.admin), None)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    async fn an_admin_token_assigns_the_seats(db) {
        let w = world(&db).await;
        let (status, record) = json_of(&w.app, call("PUT", &format!("/api/v1/numbers/{}/seats", w.ours), Some(&w.admin),
            Some(json!({"owner": w.owner, "manager": w.manager})))).await;
        assert_eq!(status, StatusCode::OK, "{record}");
        assert_eq!(record["owner"]["member_id"], w.owner.as_str());
        assert_eq!(record["manager"]["member_id"], w.manager.as_str());
        assert_eq!(record["events"][0]["action"], "number.assigned", "{record}");
    }

    async fn seats_put_with_the_if_match_read_are_refused_412_once_someone_changed_them(db) {
        let w = world(&db).await;
        let path = format!("/api/v1/numbers/{}/seats", w.ours);
        let response = send(&w.app, call("GET", &path, Some(&w.auditor), None)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let empty = header(&response, "etag").to_owned();
        assert_eq!(serde_json::from_str::<Value>(&text(response).await).unwrap(), json!({"owner": null, "manager": null}));
        let put = |body: Value, tag: Option<&str>| {
            let mut request = call("PUT", &path, Some(&w.admin), Some(body));
            if let Some(tag) = tag {
                request.headers_mut().insert(header::IF_MATCH, tag.parse().unwrap());
            }
            send(&w.app, request)
        };
        let chosen = json!({"owner": w.owner, "manager": w.manager});
        let swapped = json!({"owner": w.manager, "manager": w.owner});

        // Someone seats the two; a script that read the empty seats then swaps them.
        let response = put(chosen.clone(), Some(&empty)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let seated = header(&response, "etag").to_owned();
        assert_ne!(seated, empty, "other holders, another tag");
        let response = put(swapped.clone(), Some(&empty)).await;
        assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
        assert_eq!(header(&response, "content-type"), "application/problem+json");
        let problem: Value = serde_json::from_str(&text(response).await).unwrap();
        assert!(problem["detail"].as_str().unwrap().contains("changed since the entity tag in If-Match was read"), "{problem}");
        let (_, record) = json_of(&w.app, call("GET", &format!("/api/v1/numbers/{}", w.ours), Some(&w.admin), None)).await;
        assert_eq!(record["owner"]["member_id"], w.owner.as_str(), "nothing changed: {record}");

        // The same choice sent again finds it made; the tag read now, or `*`, lets a change through.
        assert_eq!(put(chosen.clone(), Some(&empty)).await.status(), StatusCode::OK);
        let response = put(swapped.clone(), Some(&format!("W/{seated}, {seated}"))).await;
        assert_eq!(response.status(), StatusCode::OK);
        let swapped_tag = header(&response, "etag").to_owned();
        let response = send(&w.app, call("GET", &path, Some(&w.auditor), None)).await;
        assert_eq!(header(&response, "etag"), swapped_tag);
        assert_eq!(serde_json::from_str::<Value>(&text(response).await).unwrap(), swapped);
        assert_eq!(put(chosen.clone(), Some(&format!("W/{swapped_tag}"))).await.status(), StatusCode::PRECONDITION_FAILED, "a weak tag never matches");
        assert_eq!(put(chosen.clone(), Some("*")).await.status(), StatusCode::OK);

        let response = put(swapped, Some("not-a-tag")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let problem: Value = serde_json::from_str(&text(response).await).unwrap();
        assert_eq!(problem["field"], "If-Match", "{problem}");
        let (status, _) = json_of(&w.app, call("GET", &format!("/api/v1/numbers/{}/seats", w.theirs), Some(&w.admin), None)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "another org's seats");
    }

    async fn seats_for_the_same_person_are_a_400_naming_manager_and_change_nothing(db) {
        let w = world(&db).await;
        let (status, problem) = json_of(&w.app, call("PUT", &format!("/api/v1/numbers/{}/seats", w.ours), Some(&w.admin),
            Some(json!({"owner": w.owner, "manager": w.owner})))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
        assert_eq!(problem["field"], "manager");
        let (_, record) = json_of(&w.app, call("GET", &format!("/api/v1/numbers/{}", w.ours), Some(&w.admin), None)).await;
        assert!(record["owner"].is_null() && record["manager"].is_null(), "{record}");
    }

    async fn an_auditor_token_may_read_but_not_assign_or_run_custody(db) {
        let w = world(&db).await;
        let (status, problem) = json_of(&w.app, call("PUT", &format!("/api/v1/numbers/{}/seats", w.ours), Some(&w.auditor),
            Some(json!({"owner": w.owner, "manager": w.manager})))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
        for action in ["rotate", "take-custody"] {
            let (status, _) = json_of(&w.app, call("POST", &format!("/api/v1/numbers/{}/{action}", w.ours), Some(&w.auditor), None)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{action}");
        }
    }

    async fn without_a_token_or_with_a_bad_one_the_api_answers_401(db) {
        let w = world(&db).await;
        for token in [None, Some("pw_nonsense")] {
            for (method, path) in [("GET", "/api/v1/numbers".to_owned()), ("GET", format!("/api/v1/numbers/{}", w.ours)), ("GET", "/api/v1/members".to_owned())] {
                let response = send(&w.app, call(method, &path, token, None)).await;
                assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path} {token:?}");
                assert_eq!(header(&response, "content-type"), "application/problem+json");
                let problem: Value = serde_json::from_str(&text(response).await).unwrap();
                let detail = problem["detail"].as_str().unwrap();
                assert!(detail.contains("Authorization: Bearer <token>") && !detail.contains("sign in"), "a script's words: {detail}");
                assert!(detail.contains("Settings → API tokens") && detail.contains("pinward admin token create"), "where a token comes from: {detail}");
            }
        }
    }

    async fn a_token_lists_its_orgs_members(db) {
        let w = world(&db).await;
        let (status, members) = json_of(&w.app, call("GET", "/api/v1/members", Some(&w.auditor), None)).await;
        assert_eq!(status, StatusCode::OK, "{members}");
        let emails: Vec<&str> = members.as_array().unwrap().iter().map(|m| m["email"].as_str().unwrap()).collect();
        assert_eq!(emails, ["manager@ours.example", "owner@ours.example"]);
    }

    async fn the_openapi_document_lists_every_endpoint(db) {
        let app = app(&db, None).await;
        let (_, document) = json_of(&app, get("/api/v1/openapi.json")).await;
        for (path, method) in [
            ("/api/v1/numbers", "get"),
            ("/api/v1/numbers/{phone_number_id}", "get"),
            ("/api/v1/numbers/{phone_number_id}/seats", "get"),
            ("/api/v1/numbers/{phone_number_id}/seats", "put"),
            ("/api/v1/numbers/{phone_number_id}/rotate", "post"),
            ("/api/v1/numbers/{phone_number_id}/take-custody", "post"),
            ("/api/v1/members", "get"),
        ] {
            assert!(document["paths"][path][method].is_object(), "{method} {path}");
        }
        // Client generators need one id per operation, and every operation may answer 401.
        let mut ids = std::collections::BTreeSet::new();
        for (path, methods) in document["paths"].as_object().unwrap() {
            for (method, operation) in methods.as_object().unwrap() {
                let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
                assert!(ids.insert(id.to_owned()), "operationId {id} of {method} {path} is taken");
                let unauthorized = &operation["responses"]["401"];
                assert_eq!(unauthorized["content"]["application/problem+json"]["schema"]["$ref"], "#/components/schemas/Problem", "{method} {path}: {unauthorized}");
            }
        }
        assert_eq!(ids.len(), 11, "{ids:?}");
        let put = &document["paths"]["/api/v1/numbers/{phone_number_id}/seats"]["put"];
        assert!(put["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "If-Match" && p["in"] == "header"), "{put}");
        assert!(put["responses"]["412"].is_object() && put["responses"]["200"]["headers"]["ETag"].is_object(), "{put}");
    }

    async fn query_parameters_say_their_type_and_the_words_they_take(db) {
        let w = world(&db).await;
        let (_, document) = json_of(&w.app, get("/api/v1/openapi.json")).await;
        let schema = |path: &str, name: &str| -> serde_json::Value {
            let parameters = document["paths"][path]["get"]["parameters"].as_array().unwrap();
            parameters.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{path} {name}"))["schema"].clone()
        };
        assert_eq!(schema("/api/v1/numbers", "per_page")["type"], "integer");
        assert_eq!(schema("/api/v1/numbers", "per_page")["maximum"], 200);
        assert_eq!(schema("/api/v1/numbers", "page")["minimum"], 1);
        let states = schema("/api/v1/numbers", "state")["enum"].clone();
        assert_eq!(states, json!(["unknown", "escrowed", "rotating", "uncertain", "released"]));
        let problems = schema("/api/v1/numbers", "problem")["enum"].as_array().unwrap().clone();
        assert!(problems.contains(&json!("no_owner")) && problems.contains(&json!("unhealthy")), "{problems:?}");
        assert_eq!(schema("/api/v1/numbers", "search")["type"], "string", "free text stays text");
        assert_eq!(schema("/api/v1/ledger/export", "format")["enum"], json!(["jsonl", "csv"]));
        assert!(schema("/api/v1/ledger/export", "from")["type"].to_string().contains("integer"));
        assert!(schema("/api/v1/ledger/status", "full")["type"].to_string().contains("boolean"));

        // Every word the document lists is one the API takes.
        for value in states.as_array().unwrap().iter().chain(&problems) {
            let name = if states.as_array().unwrap().contains(value) { "state" } else { "problem" };
            let path = format!("/api/v1/numbers?{name}={}", value.as_str().unwrap());
            let (status, _) = json_of(&w.app, call("GET", &path, Some(&w.auditor), None)).await;
            assert_eq!(status, StatusCode::OK, "{name}={value}");
        }
    }

    async fn descriptions_are_plain_words_for_api_users_without_rustdoc_links(db) {
        let app = app(&db, None).await;
        let (_, document) = json_of(&app, get("/api/v1/openapi.json")).await;
        let mut leaks = Vec::new();
        fn walk(value: &Value, at: &str, leaks: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    for (key, v) in map {
                        if key == "description" && let Some(text) = v.as_str() && (text.contains("[`") || text.contains("::")) {
                            leaks.push(format!("{at}: {text}"));
                        }
                        walk(v, &format!("{at}/{key}"), leaks);
                    }
                }
                Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| walk(v, &format!("{at}/{i}"), leaks)),
                _ => {}
            }
        }
        walk(&document, "", &mut leaks);
        assert!(leaks.is_empty(), "{leaks:#?}");
    }

    async fn every_successful_api_answer_has_a_schema_with_its_fields(db) {
        // A script writer generates a client from the document: an empty `{}` schema tells
        // them nothing about what comes back.
        let app = app(&db, None).await;
        let (_, document) = json_of(&app, get("/api/v1/openapi.json")).await;
        let mut checked = 0;
        for (path, methods) in document["paths"].as_object().unwrap() {
            for (method, operation) in methods.as_object().unwrap() {
                let ok = &operation["responses"]["200"]["content"]["application/json"]["schema"];
                if ok.is_null() {
                    continue;
                }
                checked += 1;
                assert_ne!(ok, &json!({}), "{method} {path} answers an empty schema");
            }
        }
        assert!(checked >= 8, "{checked} JSON answers checked");
        let schemas = &document["components"]["schemas"];
        for (name, field) in [("Summary", "health"), ("Record", "versions"), ("Member", "display_name"), ("SyncReport", "numbers_discovered")] {
            assert!(schemas[name]["properties"][field].is_object(), "{name}.{field}: {}", schemas[name]);
        }
        assert!(schemas["PinState"]["enum"].as_array().unwrap().contains(&json!("escrowed")), "{}", schemas["PinState"]);
        // A number's health is a list of problem codes, not of error documents (`Problem`).
        assert_eq!(schemas["Summary"]["properties"]["health"]["items"]["$ref"], "#/components/schemas/HealthProblem", "{}", schemas["Summary"]);
        assert!(schemas["HealthProblem"]["enum"].as_array().unwrap().contains(&json!("no_owner")), "{}", schemas["HealthProblem"]);
        assert_eq!(schemas["Problem"]["type"], "object", "the error document keeps its name");
        // Fields with a closed set of values list them.
        assert_eq!(schemas["Role"]["enum"], json!(["admin", "ops", "auditor", "business_admin"]), "{}", schemas["Role"]);
        assert_eq!(schemas["Member"]["properties"]["role"]["$ref"], "#/components/schemas/Role", "{}", schemas["Member"]);
        assert_eq!(schemas["OutcomeKind"]["enum"], json!(["confirmed", "rejected", "uncertain", "idle"]), "{}", schemas["OutcomeKind"]);
        assert_eq!(schemas["CustodyOutcome"]["properties"]["outcome"]["$ref"], "#/components/schemas/OutcomeKind", "{}", schemas["CustodyOutcome"]);
    }
}
