//! `POST /api/v1/numbers/{id}/take-custody` and `/rotate` that succeed: a script sets a
//! fresh PIN at Meta (the in-process Graph sandbox) and escrows it, on both databases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::custody::custody_world;
use common::*;
use governance::access::{Caller, Role};
use graph::sandbox::{Fault, FaultPlan, FaultRule, Route};
use pinward_tests::on_both_databases;
use serde_json::{Value, json};

async fn post_api(app: &axum::Router, path: &str, token: &str) -> (StatusCode, Value) {
    post_api_with(app, path, &format!("Bearer {token}"), "").await
}

/// A POST to `path` with this `Authorization` header and `body` (JSON).
async fn post_api_with(
    app: &axum::Router,
    path: &str,
    authorization: &str,
    body: &str,
) -> (StatusCode, Value) {
    let request = Request::post(path)
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::AUTHORIZATION, authorization)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = send(app, request).await;
    let status = response.status();
    (status, serde_json::from_str(&text(response).await).unwrap())
}

on_both_databases! {
    async fn a_script_takes_custody_then_rotates_and_meta_holds_each_escrowed_pin(db) {
        let w = custody_world(&db).await;
        let (_, secret) = governance::tokens::create(&w.store, &Caller::cli(&w.org), "ops script", Role::Ops)
            .await
            .unwrap();
        let token = secret.expose();
        let number = w.unknown.as_str();

        let (status, body) = post_api(&w.app, &format!("/api/v1/numbers/{number}/take-custody"), token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({ "outcome": "confirmed", "version": 1, "needs_attention": false }));
        let first = w.escrowed_pin(&w.unknown).await;
        assert!(w.meta_holds(&w.unknown, &first));

        let (status, body) = post_api(&w.app, &format!("/api/v1/numbers/{number}/rotate"), token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({ "outcome": "confirmed", "version": 2, "needs_attention": false }));
        let second = w.escrowed_pin(&w.unknown).await;
        assert!(w.meta_holds(&w.unknown, &second) && !w.meta_holds(&w.unknown, &first));

        let record = w.record(&w.unknown).await;
        let actions: Vec<&str> = record.events.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions.iter().filter(|a| **a == "pin.rotated").count(), 2, "{actions:?}");
        let by_token = record.events.iter().filter(|e| e.action == "pin.rotated" && e.actor.starts_with("token:")).count();
        assert_eq!(by_token, 2, "the token is the ledgered actor");
    }

    async fn a_script_taking_custody_of_a_released_number_is_refused_and_the_client_keeps_its_pin(db) {
        let w = custody_world(&db).await;
        let client = w.record(&w.escrowed).await.client.id;
        let key = vault::Identity::generate();
        sql(&db, &[format!("UPDATE clients SET age_recipient = '{}' WHERE id = '{client}'", key.recipient())]).await;
        let ops = w.browser(common::custody::OPS).await;
        let (status, _, _) = w.post(&ops, &format!("/numbers/{}/release", w.escrowed.as_str()), "").await;
        assert_eq!(status, StatusCode::OK, "released: the sealed PIN is the answer");
        let handed_over = w.escrowed_pin(&w.escrowed).await;
        let (_, secret) = governance::tokens::create(&w.store, &Caller::cli(&w.org), "ops script", Role::Ops).await.unwrap();
        let before = w.ledger_len().await;
        let (status, problem) = post_api(&w.app, &format!("/api/v1/numbers/{}/take-custody", w.escrowed.as_str()), secret.expose()).await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains("takes it back into custody from its page"), "{problem}");
        assert_eq!(w.ledger_len().await, before, "nothing changed");
        assert_eq!(w.record(&w.escrowed).await.pin_state.as_str(), "released");
        assert!(w.meta_holds(&w.escrowed, &handed_over), "the client's PIN still works");
    }

    async fn a_custody_call_with_a_query_string_or_a_body_is_refused_before_anything_is_done(db) {
        let w = custody_world(&db).await;
        let (_, secret) = governance::tokens::create(&w.store, &Caller::cli(&w.org), "ops script", Role::Ops)
            .await
            .unwrap();
        let bearer = format!("Bearer {}", secret.expose());
        let number = w.unknown.as_str();
        let before = w.record(&w.unknown).await.events.len();
        for (path, body) in [
            (format!("/api/v1/numbers/{number}/take-custody?dry_run=true"), ""),
            (format!("/api/v1/numbers/{number}/take-custody"), "{\"dry_run\": true}"),
            (format!("/api/v1/numbers/{number}/rotate"), "not json at all"),
        ] {
            let (status, problem) = post_api_with(&w.app, &path, &bearer, body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}: {problem}");
            let said = problem["detail"].as_str().unwrap();
            assert!(said.contains("this call takes no query parameters") || said.contains("this call takes no body"), "{problem}");
        }
        let record = w.record(&w.unknown).await;
        assert_eq!((record.pin_state.as_str(), record.events.len()), ("unknown", before), "nothing was done");

        // `{}`, which many clients send with every POST, is no body; the scheme's name is
        // case-insensitive.
        let lower = format!("bearer {}", secret.expose());
        let (status, body) = post_api_with(&w.app, &format!("/api/v1/numbers/{number}/take-custody"), &lower, "{}").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["outcome"], "confirmed");
    }

    async fn a_refused_token_is_told_apart_from_a_missing_one(db) {
        let w = custody_world(&db).await;
        let path = format!("/api/v1/numbers/{}/rotate", w.unknown.as_str());
        let challenge = async |authorization: Option<&str>| {
            let mut request = Request::post(path.as_str()).header(header::HOST, "127.0.0.1:8080");
            if let Some(value) = authorization {
                request = request.header(header::AUTHORIZATION, value);
            }
            let response = send(&w.app, request.body(Body::empty()).unwrap()).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{authorization:?}");
            header(&response, "www-authenticate").to_owned()
        };
        assert_eq!(challenge(None).await, "Bearer realm=\"pinward\"", "no token: the challenge alone");
        for refused in ["Bearer pwt_unknown", "Basic YTpi", "Bearer", "Bearer  "] {
            let said = challenge(Some(refused)).await;
            assert!(said.starts_with("Bearer realm=\"pinward\", error=\"invalid_token\""), "{refused}: {said}");
        }
    }

    async fn rotating_through_the_api_runs_the_rotation_a_reveal_queued_instead_of_a_second_one(db) {
        let w = custody_world(&db).await;
        let owner = w.browser(common::custody::OWNER).await;
        let reveal = format!("/numbers/{}/reveal", w.escrowed.as_str());
        let (status, _, _) = w.reveal(&owner, &reveal, "reason=re-registering").await;
        assert_eq!(status, StatusCode::OK, "the reveal (policy: rotate after it)");
        let queued = governance::jobs::queued_for(&w.store, &Caller::cli(&w.org), &w.escrowed).await.unwrap();
        assert!(queued.is_some(), "the reveal queued a rotation");

        let rotations = |record: &governance::numbers::Record| record.events.iter().filter(|e| e.action == "pin.rotated").count();
        let before = rotations(&w.record(&w.escrowed).await);
        let (_, secret) = governance::tokens::create(&w.store, &Caller::cli(&w.org), "ops script", Role::Ops)
            .await
            .unwrap();
        let path = format!("/api/v1/numbers/{}/rotate", w.escrowed.as_str());
        let (status, body) = post_api(&w.app, &path, secret.expose()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({ "outcome": "confirmed", "version": 2, "needs_attention": false }));
        assert_eq!(
            governance::jobs::queued_for(&w.store, &Caller::cli(&w.org), &w.escrowed).await.unwrap(),
            None,
            "the queued job ran; serve will not rotate again"
        );
        assert_eq!(rotations(&w.record(&w.escrowed).await), before + 1, "one rotation");
    }

    async fn without_custody_the_api_answers_503_with_a_problem_saying_so(db) {
        let w = custody_world(&db).await;
        let (_, secret) = governance::tokens::create(&w.store, &Caller::cli(&w.org), "ops script", Role::Ops)
            .await
            .unwrap();
        let app = router(w.store.clone(), &db, None);
        for action in ["take-custody", "rotate"] {
            let path = format!("/api/v1/numbers/{}/{action}", w.unknown.as_str());
            let (status, body) = post_api(&app, &path, secret.expose()).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{action}: {body}");
            assert!(body["detail"].as_str().unwrap().contains("without custody"), "{body}");
        }
        assert_eq!(w.record(&w.unknown).await.pin_state.as_str(), "unknown", "nothing changed");
    }

    async fn rotating_a_number_whose_new_pin_meta_left_unconfirmed_sends_that_same_pin_again(db) {
        let w = custody_world(&db).await;
        let (_, secret) = governance::tokens::create(&w.store, &Caller::cli(&w.org), "ops script", Role::Ops)
            .await
            .unwrap();
        let token = secret.expose();
        let number = w.escrowed.as_str();
        let rotate = format!("/api/v1/numbers/{number}/rotate");
        w.sandbox.set_faults(FaultPlan::single(FaultRule::always(Route::SetPin, Fault::ServerError).for_number(number)));
        let (status, body) = post_api(&w.app, &rotate, token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!((body["outcome"].as_str(), body["version"].as_i64()), (Some("uncertain"), Some(2)), "{body}");

        w.sandbox.set_faults(FaultPlan::none());
        let (status, body) = post_api(&w.app, &rotate, token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({ "outcome": "confirmed", "version": 2, "needs_attention": false }), "version 2 itself, not a third");
        let versions: Vec<(i64, String)> = w.record(&w.escrowed).await.versions.into_iter().map(|v| (v.version, v.status)).collect();
        assert_eq!(versions, [(1, "previous".to_owned()), (2, "current".to_owned())]);
        assert!(w.meta_holds(&w.escrowed, &w.escrowed_pin(&w.escrowed).await));
    }

    async fn a_rejected_rotation_answers_needs_attention_as_the_number_then_shows(db) {
        let w = custody_world(&db).await;
        let (_, secret) = governance::tokens::create(&w.store, &Caller::cli(&w.org), "ops script", Role::Ops)
            .await
            .unwrap();
        let number = w.escrowed.as_str();
        w.sandbox.set_faults(FaultPlan::single(FaultRule::always(Route::SetPin, Fault::MetaError { code: 133005 }).for_number(number)));
        let (status, body) = post_api(&w.app, &format!("/api/v1/numbers/{number}/rotate"), secret.expose()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({ "outcome": "rejected", "version": 2, "code": 133005, "needs_attention": true }));
        let request = Request::get(format!("/api/v1/numbers/{number}"))
            .header(header::HOST, "127.0.0.1:8080")
            .header(header::AUTHORIZATION, format!("Bearer {}", secret.expose()))
            .body(Body::empty())
            .unwrap();
        let response = send(&w.app, request).await;
        let status = response.status();
        let shown: Value = serde_json::from_str(&text(response).await).unwrap();
        assert_eq!(status, StatusCode::OK, "{shown}");
        assert!(shown["health"].as_array().unwrap().iter().any(|h| h == "needs_attention"), "{shown}");
    }
}
