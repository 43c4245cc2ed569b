//! Every typed call of the client against the sandbox, on the happy path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use futures_util::TryStreamExt;
use graph::sandbox::{Route, SandboxConfig, TokenSpec};
use graph::{
    AccountMode, AppSecret, ErrorClass, Expiry, GraphClient, ListOptions, NumberSort,
    PhoneNumberField, PinSecret, PlatformType, Targets, TokenKind, WabaListOptions, WabaRelation,
};

use common::*;

#[tokio::test]
async fn owned_and_client_wabas_of_a_business_are_listed_across_pages() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let token = sb.system_user_token();
    let business = &sb.business_ids()[0];
    let opts = WabaListOptions {
        limit: Some(2),
        ..Default::default()
    };
    for relation in [WabaRelation::Owned, WabaRelation::Client] {
        let got: BTreeSet<String> = c
            .wabas(&token, business, relation, &opts)
            .map_ok(|w| w.id.to_string())
            .try_collect()
            .await
            .unwrap();
        let want: BTreeSet<String> = sb
            .waba_ids(business, relation)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(got, want, "{relation:?}");
        assert!(!got.is_empty());
    }
}

#[tokio::test]
async fn wabas_come_oldest_first_when_asked() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let token = sb.system_user_token();
    let business = &sb.business_ids()[0];
    let opts = WabaListOptions {
        oldest_first: true,
        ..Default::default()
    };
    let got: Vec<String> = c
        .wabas(&token, business, WabaRelation::Client, &opts)
        .map_ok(|w| w.id.to_string())
        .try_collect()
        .await
        .unwrap();
    let seeded: Vec<String> = sb
        .waba_ids(business, WabaRelation::Client)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(got, seeded, "seeding order is creation order");
}

#[tokio::test]
async fn every_number_of_a_waba_is_streamed_following_after_until_next_is_absent() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let token = sb.system_user_token();
    let waba = sb.numbers()[0].waba.clone();
    let want: BTreeSet<String> = sb
        .numbers_of(&waba)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(want.len() > 3, "the test needs several pages");
    let opts = ListOptions {
        limit: Some(3),
        fields: PhoneNumberField::INVENTORY.to_vec(),
        ..Default::default()
    };
    let got: Vec<_> = c
        .phone_numbers(&token, &waba, &opts)
        .try_collect()
        .await
        .unwrap();
    let ids: BTreeSet<String> = got.iter().map(|n| n.id.to_string()).collect();
    assert_eq!(ids, want);
    assert_eq!(got.len(), want.len(), "no number twice");
    assert!(
        got.iter()
            .all(|n| n.is_pin_enabled.is_some() && n.platform_type.is_some())
    );
    let pages = sb.counters().route(Route::PhoneNumbers);
    assert_eq!(pages as usize, want.len().div_ceil(3));
}

#[tokio::test]
async fn a_trailing_empty_page_with_next_still_ends_the_stream() {
    let sb = sandbox_with(SandboxConfig {
        trailing_empty_page: true,
        ..Default::default()
    })
    .await;
    let (c, _) = client(&sb);
    let token = sb.system_user_token();
    let waba = sb.numbers()[0].waba.clone();
    let n = sb.numbers_of(&waba).len();
    let opts = ListOptions {
        limit: Some(1),
        ..Default::default()
    };
    let got: Vec<_> = c
        .phone_numbers(&token, &waba, &opts)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(got.len(), n);
    assert_eq!(sb.counters().route(Route::PhoneNumbers) as usize, n + 1);
}

#[tokio::test]
async fn a_page_reports_the_total_count_and_honours_sort_and_filter() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let token = sb.system_user_token();
    let waba = sb.numbers()[0].waba.clone();
    let n = sb.numbers_of(&waba).len() as u64;
    let mut opts = ListOptions {
        limit: Some(100),
        total_count: true,
        sort: Some(NumberSort::Ascending),
        fields: vec![
            PhoneNumberField::LastOnboardedTime,
            PhoneNumberField::AccountMode,
        ],
        ..Default::default()
    };
    let page = c
        .phone_numbers_page(&token, &waba, &opts, None)
        .await
        .unwrap();
    assert_eq!(page.summary.unwrap().total_count, Some(n));
    let times: Vec<String> = page
        .data
        .iter()
        .map(|p| p.last_onboarded_time.clone().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "ascending");
    opts.account_mode = Some(AccountMode::Sandbox);
    let filtered = c
        .phone_numbers_page(&token, &waba, &opts, None)
        .await
        .unwrap();
    assert!(
        filtered
            .data
            .iter()
            .all(|p| p.account_mode == Some(AccountMode::Sandbox))
    );
}

#[tokio::test]
async fn one_number_reads_with_the_inventory_fields() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let token = sb.system_user_token();
    let facts = cloud_number(&sb);
    let n = c.phone_number(&token, &facts.id, &[]).await.unwrap();
    assert_eq!(n.id, facts.id);
    assert_eq!(n.is_pin_enabled, Some(true));
    assert_eq!(n.platform_type, Some(PlatformType::CloudApi));
    assert!(n.display_phone_number.unwrap().starts_with("+1 555-"));
}

#[tokio::test]
async fn a_waba_reads_with_its_fields() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let token = sb.system_user_token();
    let business = &sb.business_ids()[0];
    let waba = &sb.waba_ids(business, WabaRelation::Client)[0];
    let w = c.waba(&token, waba).await.unwrap();
    assert_eq!(&w.id, waba);
    assert_eq!(w.ownership_type.as_deref(), Some("CLIENT_OWNED"));
    assert_eq!(w.account_review_status.as_deref(), Some("APPROVED"));
}

#[tokio::test]
async fn debug_token_describes_a_system_user_token_and_a_restricted_one() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let token = sb.system_user_token();
    let info = c.debug_token(&token, &token).await.unwrap();
    assert!(info.is_valid);
    assert_eq!(info.kind, Some(TokenKind::SystemUser));
    assert_eq!(info.expiry(), Expiry::Never);
    assert_eq!(
        info.targets("whatsapp_business_management"),
        Targets::Unrestricted
    );

    let waba = sb.numbers()[0].waba.clone();
    let mut spec = TokenSpec {
        expires_in_s: Some(3600),
        ..Default::default()
    };
    for scope in [
        "whatsapp_business_management",
        "whatsapp_business_messaging",
    ] {
        spec.target_ids.insert(scope.into(), vec![waba.to_string()]);
    }
    let restricted = sb.issue_token(&spec);
    let info = c.debug_token(&token, &restricted).await.unwrap();
    assert!(matches!(info.expiry(), Expiry::At(_)));
    assert!(info.can_manage_pins_of(&waba));
    assert_eq!(info.waba_ids(), vec![waba]);
}

#[tokio::test]
async fn debug_token_says_an_unknown_token_is_invalid() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let info = c
        .debug_token(&sb.system_user_token(), &"EAAnot-a-token".into())
        .await
        .unwrap();
    assert!(!info.is_valid);
    assert_eq!(info.error.unwrap().code, Some(190));
}

#[tokio::test]
async fn set_pin_changes_the_pin_meta_holds_without_any_register_call() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let token = sb.system_user_token();
    let facts = cloud_number(&sb);
    let pin = PinSecret::new("482913").unwrap();
    assert_eq!(sb.pin_matches(&facts.id, &pin), Some(false));
    c.set_pin(&token, &facts.id, &pin).await.unwrap();
    assert_eq!(sb.pin_matches(&facts.id, &pin), Some(true));
    let counters = sb.counters();
    assert_eq!(counters.number(facts.id.as_str(), Route::SetPin), 1);
    assert_eq!(counters.route(Route::Register), 0);
    assert_eq!(counters.access_tokens_in_query, 0, "bearer header only");
}

#[tokio::test]
async fn register_with_the_current_pin_succeeds_and_deregister_unregisters() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let token = sb.system_user_token();
    let facts = cloud_number(&sb);
    let pin = PinSecret::new("246810").unwrap();
    c.set_pin(&token, &facts.id, &pin).await.unwrap();
    c.deregister(&token, &facts.id).await.unwrap();
    let n = c
        .phone_number(&token, &facts.id, &[PhoneNumberField::PlatformType])
        .await
        .unwrap();
    assert_eq!(n.platform_type, Some(PlatformType::NotApplicable));
    c.register(&token, &facts.id, &pin, Some("DE".parse().unwrap()))
        .await
        .unwrap();
    let n = c
        .phone_number(&token, &facts.id, &[PhoneNumberField::PlatformType])
        .await
        .unwrap();
    assert_eq!(n.platform_type, Some(PlatformType::CloudApi));
}

#[tokio::test]
async fn register_with_2sv_off_adopts_the_pin_sent() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let token = sb.system_user_token();
    let facts = cloud_number(&sb);
    assert!(sb.set_pin_out_of_band(&facts.id, None));
    let pin = PinSecret::new("135790").unwrap();
    c.register(&token, &facts.id, &pin, None).await.unwrap();
    assert_eq!(sb.pin_matches(&facts.id, &pin), Some(true));
}

#[tokio::test]
async fn an_embedded_signup_code_becomes_a_token_for_the_customers_wabas_once() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let waba = sb.numbers()[0].waba.clone();
    let code = sb.issue_signup_code(std::slice::from_ref(&waba));
    let app = sb.app();
    let exchanged = c.exchange_code(&app, &code).await.unwrap();
    assert_eq!(exchanged.expires_in, None);
    let info = c
        .debug_token(&sb.system_user_token(), &exchanged.access_token)
        .await
        .unwrap();
    assert_eq!(info.waba_ids(), vec![waba.clone()]);
    let numbers: Vec<_> = c
        .phone_numbers(&exchanged.access_token, &waba, &ListOptions::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(numbers.len(), sb.numbers_of(&waba).len());

    let again = c.exchange_code(&app, &code).await.unwrap_err();
    assert_eq!(again.class(), ErrorClass::Rejected);
    assert_eq!(again.meta().unwrap().subcode, Some(36009));
}

#[tokio::test]
async fn an_exchanged_token_reports_its_lifetime_when_meta_gives_one() {
    let sb = sandbox_with(SandboxConfig {
        integration_token_ttl_s: Some(5_184_000),
        ..Default::default()
    })
    .await;
    let (c, _) = client(&sb);
    let code = sb.issue_signup_code(&[sb.numbers()[0].waba.clone()]);
    let t = c.exchange_code(&sb.app(), &code).await.unwrap();
    assert_eq!(
        t.expires_in,
        Some(std::time::Duration::from_secs(5_184_000))
    );
}

#[tokio::test]
async fn a_wrong_app_secret_fails_the_exchange_as_a_rejection() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let code = sb.issue_signup_code(&[sb.numbers()[0].waba.clone()]);
    let mut app = sb.app();
    app.secret = AppSecret::from("not-the-secret");
    let err = c.exchange_code(&app, &code).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Rejected);
}

#[tokio::test]
async fn appsecret_proof_is_sent_when_configured_and_required_by_the_app() {
    let sb = sandbox_with(SandboxConfig {
        require_appsecret_proof: true,
        ..Default::default()
    })
    .await;
    let token = sb.system_user_token();
    let facts = cloud_number(&sb);
    let (without, _) = client(&sb);
    let err = without
        .phone_number(&token, &facts.id, &[])
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Rejected);
    assert_eq!(err.code(), Some(100));

    let mut cfg = sb.graph_config();
    cfg.app_secret = Some(sb.app().secret);
    let with = GraphClient::new(cfg).unwrap();
    with.phone_number(&token, &facts.id, &[]).await.unwrap();

    let mut cfg = sb.graph_config();
    cfg.app_secret = Some(AppSecret::from("wrong-secret"));
    let wrong = GraphClient::new(cfg).unwrap();
    assert_eq!(
        wrong
            .phone_number(&token, &facts.id, &[])
            .await
            .unwrap_err()
            .code(),
        Some(100)
    );
}

#[tokio::test]
async fn the_client_keeps_the_last_usage_headers() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let facts = cloud_number(&sb);
    c.phone_number(&sb.system_user_token(), &facts.id, &[])
        .await
        .unwrap();
    let usage = c.last_usage().unwrap();
    assert!(usage.app.is_some());
    assert!(usage.business.contains_key(facts.waba.as_str()));
}

#[tokio::test]
async fn an_older_api_version_is_served_too() {
    let sb = sandbox().await;
    let mut cfg = sb.graph_config();
    cfg.version = "v24.0".parse().unwrap();
    let c = GraphClient::new(cfg).unwrap();
    let facts = cloud_number(&sb);
    c.phone_number(&sb.system_user_token(), &facts.id, &[])
        .await
        .unwrap();
}
