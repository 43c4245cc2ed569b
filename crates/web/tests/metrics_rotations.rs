//! `/metrics` after a real custody attempt through the JSON API: the number taken into
//! custody from the Graph sandbox counts as a rotation that ended `rotated`, and the
//! numbers gauges follow it, on both databases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;
use governance::access::{Caller, Role};
use governance::custody::{Escrow, MetaAccess, Settings};
use graph::GraphClient;
use graph::sandbox::{Sandbox, SandboxSeed, TokenSpec};
use pinward_tests::on_both_databases;

fn value(metrics: &str, series: &str) -> u64 {
    let line = metrics
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .unwrap_or_else(|| panic!("{series}: {metrics}"));
    line[series.len()..].trim().parse().unwrap()
}

on_both_databases! {
    async fn a_number_taken_into_custody_through_the_api_counts_as_a_rotated_pin(db) {
        let sandbox = Sandbox::seeded(SandboxSeed { seed: 11, numbers: 3, businesses: 1 }).start().await.unwrap();
        let store = store(&db).await;
        let org = governance::orgs::create(&store, &audit::Actor::system(), "acme", "Acme").await.unwrap().id;
        let business = sandbox.business_ids()[0].clone();
        let token = sandbox.issue_token(&TokenSpec { businesses: Some(vec![business.to_string()]), ..TokenSpec::default() });
        let graph = GraphClient::new(sandbox.graph_config()).unwrap();
        let meta = MetaAccess { graph: graph.clone(), token: token.clone(), on_prem: None };
        governance::sync::run(&store, &org, &audit::Actor::system(), &meta, std::slice::from_ref(&business),
            &governance::sync::SyncOptions::default(), &mut |_| {}).await.unwrap();
        let identity_path = db.dir().join("identity.txt");
        let (identity, _) = vault::Identity::load_or_create(&identity_path).unwrap();
        let escrow = Escrow::load(&store, identity).await.unwrap();
        governance::credentials::set(&store, &escrow, &graph, &Caller::cli(&org), &token).await.unwrap();
        let (_, secret) = governance::tokens::create(&store, &Caller::cli(&org), "ops script", Role::Ops).await.unwrap();
        let cloud = sandbox.numbers().into_iter().find(|n| !n.onprem).unwrap().id;
        let settings = Settings {
            lease: Duration::from_secs(30),
            max_sends: 3,
            backoff_base: Duration::from_millis(1),
            backoff_max: Duration::from_millis(5),
        };
        let app = web::app(
            web::AppState::new(store, identity_path, None).with_custody(web::Custody {
                escrow: Arc::new(escrow),
                graph,
                settings,
                on_prem: None,
            }),
        );

        let before = text(send(&app, get("/metrics")).await).await;
        assert_eq!(value(&before, "pinward_pin_rotations_total{outcome=\"rotated\"}"), 0);
        let unknown_before = value(&before, "pinward_numbers{state=\"unknown\",health=\"all\"}");
        assert!(unknown_before >= 1, "{before}");

        let take = Request::post(format!("/api/v1/numbers/{}/take-custody", cloud.as_str()))
            .header(header::HOST, "127.0.0.1:8080")
            .header(header::AUTHORIZATION, format!("Bearer {}", secret.expose()))
            .body(Body::empty())
            .unwrap();
        let response = send(&app, take).await;
        assert_eq!(response.status(), StatusCode::OK);
        let outcome = text(response).await;
        assert!(outcome.contains("\"outcome\":\"confirmed\""), "{outcome}");

        let after = text(send(&app, get("/metrics")).await).await;
        assert_eq!(value(&after, "pinward_pin_rotations_total{outcome=\"rotated\"}"), 1);
        assert_eq!(value(&after, "pinward_pin_rotations_total{outcome=\"rejected\"}"), 0);
        assert_eq!(value(&after, "pinward_numbers{state=\"escrowed\",health=\"all\"}"), 1);
        assert_eq!(value(&after, "pinward_numbers{state=\"unknown\",health=\"all\"}"), unknown_before - 1);
    }
}
