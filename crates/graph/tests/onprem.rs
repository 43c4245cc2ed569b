//! The On-Premises connector against the sandbox's On-Premises deployments.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use graph::sandbox::{Fault, FaultPlan, FaultRule, Route};
use graph::{
    AccessToken, AdminPassword, Error, ErrorClass, OnPremClient, OnPremConfig, PhoneNumberField,
    PinSecret,
};

use common::*;

fn onprem_client(
    sb: &graph::sandbox::SandboxHandle,
    phone: &graph::PhoneNumberId,
) -> (OnPremClient, Arc<RecordingSleeper>) {
    let sleeper = Arc::new(RecordingSleeper::default());
    let mut cfg = OnPremConfig::new(sb.onprem_base_url(phone));
    cfg.retry = policy();
    cfg.timeout = Duration::from_millis(400);
    (
        OnPremClient::with_sleeper(cfg, sleeper.clone()).unwrap(),
        sleeper,
    )
}

#[tokio::test]
async fn an_admin_login_gives_a_token_that_sets_and_disables_the_pin() {
    let sb = sandbox().await;
    let facts = number(&sb, |n| n.onprem);
    let (c, _) = onprem_client(&sb, &facts.id);
    let (user, password) = sb.onprem_admin();
    let session = c.login(&user, &password).await.unwrap();
    let expires = session.expires_after.unwrap();
    assert!(expires > sb.now() + chrono::Duration::days(6));

    let pin = PinSecret::new("550011").unwrap();
    c.set_pin(&session.token, &pin).await.unwrap();
    assert_eq!(sb.pin_matches(&facts.id, &pin), Some(true));

    c.disable_two_step(&session.token).await.unwrap();
    let (graph, _) = client(&sb);
    let n = graph
        .phone_number(
            &sb.system_user_token(),
            &facts.id,
            &[PhoneNumberField::IsPinEnabled],
        )
        .await
        .unwrap();
    assert_eq!(n.is_pin_enabled, Some(false));
    assert_eq!(
        sb.counters().number(facts.id.as_str(), Route::OnpremSetPin),
        1
    );
}

#[tokio::test]
async fn wrong_credentials_or_a_wrong_token_are_auth_errors() {
    let sb = sandbox().await;
    let facts = number(&sb, |n| n.onprem);
    let (c, _) = onprem_client(&sb, &facts.id);
    let (user, _) = sb.onprem_admin();
    let err = c
        .login(&user, &AdminPassword::from("guess"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Auth { status: 401, .. }), "{err:?}");
    assert_eq!(err.code(), Some(1005));
    let err = c
        .set_pin(
            &AccessToken::from("onprem-nope"),
            &PinSecret::new("550011").unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Auth);
}

#[tokio::test]
async fn a_number_without_a_deployment_is_rejected() {
    let sb = sandbox().await;
    let facts = cloud_number(&sb);
    let (c, _) = onprem_client(&sb, &facts.id);
    let (user, password) = sb.onprem_admin();
    let err = c.login(&user, &password).await.unwrap_err();
    assert!(
        matches!(err, Error::Rejected { status: 404, .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), Some(1006));
}

#[tokio::test]
async fn a_login_is_retried_but_a_pin_write_is_not() {
    let sb = sandbox().await;
    let facts = number(&sb, |n| n.onprem);
    let (c, sleeper) = onprem_client(&sb, &facts.id);
    let (user, password) = sb.onprem_admin();
    sb.set_faults(FaultPlan::single(
        FaultRule::always(Route::OnpremLogin, Fault::ServerError).times(1),
    ));
    let session = c.login(&user, &password).await.unwrap();
    assert_eq!(sleeper.delays().len(), 1);

    sb.set_faults(FaultPlan::single(
        FaultRule::always(Route::OnpremSetPin, Fault::Unavailable { code: 2 }).apply_first(),
    ));
    let pin = PinSecret::new("660022").unwrap();
    let err = c.set_pin(&session.token, &pin).await.unwrap_err();
    assert!(matches!(err, Error::UnknownOutcome { .. }), "{err:?}");
    assert_eq!(err.code(), Some(1011));
    assert_eq!(sb.pin_matches(&facts.id, &pin), Some(true));
    assert_eq!(sleeper.delays().len(), 1, "no retry of the write");
}

#[tokio::test]
async fn a_malformed_pin_reaching_the_deployment_is_rejected() {
    // The typed client cannot send one; the sandbox still refuses it like the API would.
    let sb = sandbox().await;
    let facts = number(&sb, |n| n.onprem);
    let (c, _) = onprem_client(&sb, &facts.id);
    let (user, password) = sb.onprem_admin();
    let session = c.login(&user, &password).await.unwrap();
    let resp = raw()
        .post(format!(
            "{}v1/settings/account/two-step",
            sb.onprem_base_url(&facts.id)
        ))
        .bearer_auth(session.token.expose())
        .json(&serde_json::json!({"pin": "12"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], 1009);
}
