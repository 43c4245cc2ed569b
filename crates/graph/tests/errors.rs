//! Every error class, produced by the sandbox and classified by the client; retries and the
//! unknown outcome of writes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use graph::sandbox::{
    Fault, FaultPlan, FaultRule, RateLimitConfig, Route, SandboxConfig, TokenSpec,
};
use graph::{AccessToken, Error, ErrorClass, Failure, GraphClient, PinSecret, WaitHint};

use common::*;

// ---- AUTH ---------------------------------------------------------------------------------

#[tokio::test]
async fn an_unknown_token_is_an_auth_error_with_code_190() {
    let sb = sandbox().await;
    let (c, sleeper) = client(&sb);
    let facts = cloud_number(&sb);
    let err = c
        .phone_number(&AccessToken::from("EAAwrong"), &facts.id, &[])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Auth { status: 401, .. }), "{err:?}");
    assert_eq!(err.code(), Some(190));
    assert!(err.fbtrace_id().is_some_and(|t| !t.is_empty()));
    assert!(sleeper.delays().is_empty(), "auth errors are not retried");
}

#[tokio::test]
async fn an_expired_or_revoked_token_is_an_auth_error() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let facts = cloud_number(&sb);
    let expired = sb.issue_token(&TokenSpec {
        expires_in_s: Some(60),
        ..Default::default()
    });
    c.phone_number(&expired, &facts.id, &[]).await.unwrap();
    sb.advance_clock(Duration::from_secs(61));
    let err = c.phone_number(&expired, &facts.id, &[]).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Auth);
    assert_eq!(err.meta().unwrap().subcode, Some(463));

    let revoked = sb.issue_token(&TokenSpec::default());
    assert!(sb.revoke_token(&revoked));
    let err = c.phone_number(&revoked, &facts.id, &[]).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Auth);
}

#[tokio::test]
async fn a_token_errors_http_400_variant_is_still_auth() {
    let sb = sandbox_with(SandboxConfig {
        auth_error_status: 400,
        ..Default::default()
    })
    .await;
    let (c, _) = client(&sb);
    let err = c
        .phone_number(&AccessToken::from("EAAwrong"), &cloud_number(&sb).id, &[])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Auth { status: 400, .. }), "{err:?}");
}

#[tokio::test]
async fn a_token_without_the_asset_or_the_scope_is_an_auth_error_with_code_200() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let facts = cloud_number(&sb);
    let other_waba = sb
        .numbers()
        .into_iter()
        .find(|n| n.waba != facts.waba)
        .unwrap()
        .waba;
    let mut spec = TokenSpec::default();
    spec.target_ids.insert(
        "whatsapp_business_management".into(),
        vec![other_waba.to_string()],
    );
    let elsewhere = sb.issue_token(&spec);
    let err = c
        .phone_number(&elsewhere, &facts.id, &[])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Auth { status: 403, .. }), "{err:?}");
    assert_eq!(err.code(), Some(200));

    let read_only = sb.issue_token(&TokenSpec {
        scopes: vec!["whatsapp_business_management".into()],
        ..Default::default()
    });
    c.phone_number(&read_only, &facts.id, &[]).await.unwrap();
    let err = c
        .set_pin(&read_only, &facts.id, &PinSecret::new("111222").unwrap())
        .await
        .unwrap_err();
    assert_eq!((err.class(), err.code()), (ErrorClass::Auth, Some(200)));
    assert_eq!(
        sb.pin_matches(&facts.id, &PinSecret::new("111222").unwrap()),
        Some(false)
    );

    let no_business = sb.issue_token(&TokenSpec {
        businesses: Some(vec![]),
        ..Default::default()
    });
    let err = c
        .phone_number(&no_business, &facts.id, &[])
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Auth);
}

// ---- REJECT -------------------------------------------------------------------------------

#[tokio::test]
async fn an_unknown_id_is_rejected_with_code_100() {
    let sb = sandbox().await;
    let (c, sleeper) = client(&sb);
    let err = c
        .phone_number(
            &sb.system_user_token(),
            &"999999999999999".parse().unwrap(),
            &[],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Rejected { status: 400, .. }),
        "{err:?}"
    );
    assert_eq!(err.meta().unwrap().subcode, Some(33));
    assert!(sleeper.delays().is_empty());
}

#[tokio::test]
async fn register_with_a_wrong_pin_is_a_pin_mismatch_and_never_retried() {
    let sb = sandbox().await;
    let (c, sleeper) = client(&sb);
    let facts = cloud_number(&sb);
    let err = c
        .register(
            &sb.system_user_token(),
            &facts.id,
            &PinSecret::new("000001").unwrap(),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.class(), err.code()),
        (ErrorClass::Rejected, Some(133005))
    );
    assert!(err.meta().unwrap().details.is_some());
    assert_eq!(sb.counters().route(Route::Register), 1);
    assert!(sleeper.delays().is_empty());
}

#[tokio::test]
async fn register_of_an_unverified_number_needs_otp_verification() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let facts = number(&sb, |n| !n.verified && !n.onprem);
    let err = c
        .register(
            &sb.system_user_token(),
            &facts.id,
            &PinSecret::new("123450").unwrap(),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(133006));
    assert_eq!(err.class(), ErrorClass::Rejected);
}

#[tokio::test]
async fn an_injected_policy_or_deregistration_error_is_a_rejection() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let facts = cloud_number(&sb);
    sb.set_faults(FaultPlan::single(FaultRule::always(
        Route::Deregister,
        Fault::MetaError { code: 133000 },
    )));
    let err = c
        .deregister(&sb.system_user_token(), &facts.id)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Rejected { status: 500, .. }),
        "{err:?}"
    );
}

// ---- WAIT ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_429_with_retry_after_is_rate_limited_with_that_wait() {
    let sb = sandbox().await;
    let (c, sleeper) = client(&sb);
    sb.set_faults(FaultPlan::single(FaultRule::always(
        Route::PhoneNumber,
        Fault::TooManyRequests { retry_after_s: 7 },
    )));
    let err = c
        .phone_number(&sb.system_user_token(), &cloud_number(&sb).id, &[])
        .await
        .unwrap_err();
    match err {
        Error::RateLimited { wait, hint, .. } => {
            assert_eq!(wait, Duration::from_secs(7));
            assert_eq!(hint, WaitHint::RetryAfter);
        }
        other => panic!("{other:?}"),
    }
    assert!(sleeper.delays().is_empty(), "the caller schedules the wait");
    assert_eq!(sb.counters().route(Route::PhoneNumber), 1);
}

#[tokio::test]
async fn exceeding_the_waba_limit_is_80008_with_the_usage_headers_wait() {
    let sb = sandbox_with(SandboxConfig {
        rate_limits: RateLimitConfig {
            waba_calls_per_hour: 3,
            active_waba_calls_per_hour: 3,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let (c, _) = client(&sb);
    let token = sb.system_user_token();
    let facts = cloud_number(&sb);
    for _ in 0..3 {
        c.phone_number(&token, &facts.id, &[]).await.unwrap();
    }
    let err = c.phone_number(&token, &facts.id, &[]).await.unwrap_err();
    match &err {
        Error::RateLimited { wait, hint, meta } => {
            assert_eq!(*hint, WaitHint::BusinessUseCaseUsage);
            assert!(*wait > Duration::from_secs(55 * 60) && *wait <= Duration::from_secs(3600));
            assert_eq!(meta.as_ref().unwrap().code, 80008);
        }
        other => panic!("{other:?}"),
    }
    sb.advance_clock(Duration::from_secs(3600));
    c.phone_number(&token, &facts.id, &[]).await.unwrap();
}

#[tokio::test]
async fn the_eleventh_registration_in_72_hours_waits_72_hours() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let token = sb.system_user_token();
    let facts = cloud_number(&sb);
    let pin = PinSecret::new("975310").unwrap();
    c.set_pin(&token, &facts.id, &pin).await.unwrap();
    for _ in 0..10 {
        c.register(&token, &facts.id, &pin, None).await.unwrap();
    }
    let err = c.register(&token, &facts.id, &pin, None).await.unwrap_err();
    match &err {
        Error::RateLimited { wait, hint, .. } => {
            assert_eq!(*wait, Duration::from_secs(72 * 3600));
            assert_eq!(*hint, WaitHint::ErrorCode);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.code(), Some(133016));
    sb.advance_clock(Duration::from_secs(72 * 3600 + 1));
    c.register(&token, &facts.id, &pin, None).await.unwrap();
}

#[tokio::test]
async fn too_many_wrong_pins_lock_registration_out() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let token = sb.system_user_token();
    let facts = cloud_number(&sb);
    let wrong = PinSecret::new("000002").unwrap();
    let mut codes = Vec::new();
    for _ in 0..6 {
        codes.push(
            c.register(&token, &facts.id, &wrong, None)
                .await
                .unwrap_err()
                .code(),
        );
        sb.advance_clock(Duration::from_secs(11));
    }
    assert_eq!(&codes[..5], &[Some(133005); 5]);
    assert_eq!(codes[5], Some(133008));
    let quick = c
        .register(&token, &facts.id, &wrong, None)
        .await
        .unwrap_err();
    assert_eq!(quick.class(), ErrorClass::RateLimited);
}

#[tokio::test]
async fn a_second_wrong_pin_in_quick_succession_is_guessed_too_fast() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let token = sb.system_user_token();
    let facts = cloud_number(&sb);
    let wrong = PinSecret::new("000003").unwrap();
    c.register(&token, &facts.id, &wrong, None)
        .await
        .unwrap_err();
    let err = c
        .register(&token, &facts.id, &wrong, None)
        .await
        .unwrap_err();
    assert_eq!(
        (err.class(), err.code()),
        (ErrorClass::RateLimited, Some(133009))
    );
}

// ---- RETRY --------------------------------------------------------------------------------

#[tokio::test]
async fn transient_server_errors_on_a_read_are_retried_with_growing_backoff() {
    let sb = sandbox().await;
    let (c, sleeper) = client(&sb);
    sb.set_faults(FaultPlan::single(
        FaultRule::always(Route::PhoneNumber, Fault::ServerError).times(2),
    ));
    c.phone_number(&sb.system_user_token(), &cloud_number(&sb).id, &[])
        .await
        .unwrap();
    let delays = sleeper.delays();
    assert_eq!(delays.len(), 2);
    assert!(delays[0] >= Duration::from_millis(5) && delays[0] <= Duration::from_millis(10));
    assert!(delays[1] >= Duration::from_millis(10) && delays[1] <= Duration::from_millis(20));
    assert_eq!(sb.counters().route(Route::PhoneNumber), 3);
}

#[tokio::test]
async fn every_transient_fault_on_a_read_is_retried_until_it_succeeds() {
    let faults = [
        Fault::Unavailable { code: 2 },
        Fault::Unavailable { code: 133004 },
        Fault::BadGateway,
        Fault::GatewayTimeout,
        Fault::Reset,
        Fault::Truncate,
        Fault::Hang { ms: 5_000 },
        Fault::MetaError { code: 1 },
    ];
    let sb = sandbox().await;
    let token = sb.system_user_token();
    let facts = cloud_number(&sb);
    for fault in faults {
        let (c, sleeper) = client(&sb);
        sb.set_faults(FaultPlan::single(
            FaultRule::always(Route::PhoneNumber, fault.clone()).times(1),
        ));
        let n = c.phone_number(&token, &facts.id, &[]).await;
        assert!(n.is_ok(), "{fault:?}: {n:?}");
        assert_eq!(sleeper.delays().len(), 1, "{fault:?}");
    }
}

#[tokio::test]
async fn a_read_that_keeps_failing_ends_transient_after_the_last_attempt() {
    let sb = sandbox().await;
    let (c, sleeper) = client(&sb);
    sb.set_faults(FaultPlan::single(FaultRule::always(
        Route::PhoneNumber,
        Fault::Unavailable { code: 2 },
    )));
    let err = c
        .phone_number(&sb.system_user_token(), &cloud_number(&sb).id, &[])
        .await
        .unwrap_err();
    match &err {
        Error::Transient {
            attempts: 4,
            cause: Failure::Status { status: 503, meta },
        } => assert_eq!(meta.as_ref().unwrap().code, 2),
        other => panic!("{other:?}"),
    }
    let delays = sleeper.delays();
    assert_eq!(delays.len(), 3);
    assert!(
        delays.iter().all(|d| *d <= Duration::from_millis(40)),
        "capped"
    );
}

#[tokio::test]
async fn a_share_of_faults_is_ridden_out_by_retries() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let token = sb.system_user_token();
    let facts = cloud_number(&sb);
    sb.set_faults(FaultPlan {
        seed: 3,
        rules: vec![FaultRule::always(Route::PhoneNumber, Fault::ServerError).share(0.3)],
    });
    for _ in 0..30 {
        c.phone_number(&token, &facts.id, &[]).await.unwrap();
    }
    assert!(sb.counters().route(Route::PhoneNumber) > 30);
}

// ---- UNKNOWN OUTCOME ----------------------------------------------------------------------

async fn write_outcome(fault: Fault, apply_first: bool) -> (Error, bool, u64) {
    let sb = sandbox().await;
    let (c, sleeper) = client(&sb);
    let facts = cloud_number(&sb);
    let mut rule = FaultRule::always(Route::SetPin, fault);
    rule.apply_first = apply_first;
    sb.set_faults(FaultPlan::single(rule));
    let pin = PinSecret::new("864209").unwrap();
    let err = c
        .set_pin(&sb.system_user_token(), &facts.id, &pin)
        .await
        .unwrap_err();
    assert!(sleeper.delays().is_empty(), "a write is never repeated");
    let applied = sb.pin_matches(&facts.id, &pin).unwrap();
    (err, applied, sb.counters().route(Route::SetPin))
}

#[tokio::test]
async fn a_pin_write_applied_then_failed_is_an_unknown_outcome() {
    for fault in [
        Fault::ServerError,
        Fault::Reset,
        Fault::Truncate,
        Fault::BadGateway,
    ] {
        let (err, applied, calls) = write_outcome(fault.clone(), true).await;
        assert!(
            matches!(err, Error::UnknownOutcome { .. }),
            "{fault:?}: {err:?}"
        );
        assert!(applied, "{fault:?}: the sandbox applied it");
        assert_eq!(calls, 1);
    }
}

#[tokio::test]
async fn a_pin_write_that_timed_out_is_an_unknown_outcome() {
    let (err, applied, _) = write_outcome(Fault::Hang { ms: 5_000 }, false).await;
    assert!(
        matches!(
            err,
            Error::UnknownOutcome {
                cause: Failure::Timeout
            }
        ),
        "{err:?}"
    );
    assert!(!applied);
}

#[tokio::test]
async fn a_pin_write_answered_5xx_is_an_unknown_outcome_even_if_not_applied() {
    let (err, applied, _) = write_outcome(Fault::Unavailable { code: 133004 }, false).await;
    assert!(
        matches!(
            &err,
            Error::UnknownOutcome {
                cause: Failure::Status { status: 503, .. }
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), Some(133004));
    assert!(!applied);
    let (err, _, _) = write_outcome(Fault::Reset, false).await;
    assert!(
        matches!(
            err,
            Error::UnknownOutcome {
                cause: Failure::ConnectionLost
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_write_that_could_not_connect_is_retried_and_ends_transient() {
    // A port that was just free: connection refused, nothing sent.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let sleeper = std::sync::Arc::new(RecordingSleeper::default());
    let mut cfg = graph::GraphConfig::new(format!("http://{addr}/").parse().unwrap());
    cfg.retry = policy();
    let c = GraphClient::with_sleeper(cfg, sleeper.clone()).unwrap();
    let err = c
        .set_pin(
            &AccessToken::from("EAAx"),
            &"123".parse().unwrap(),
            &PinSecret::new("123456").unwrap(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transient {
                attempts: 4,
                cause: Failure::NotSent
            }
        ),
        "{err:?}"
    );
    assert_eq!(sleeper.delays().len(), 3);
}

#[tokio::test]
async fn a_pin_write_rate_limited_by_a_429_was_not_applied() {
    let (err, applied, _) = write_outcome(Fault::TooManyRequests { retry_after_s: 2 }, false).await;
    assert_eq!(err.class(), ErrorClass::RateLimited);
    assert!(!applied);
}
