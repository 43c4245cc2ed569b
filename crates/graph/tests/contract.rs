//! The contract: GRAPH_API.md's sample shapes (tests/fixtures) are decoded by the client, and
//! the sandbox's answers to the same calls have the same shape, so the client's decoder and
//! the sandbox's encoder cannot drift apart silently.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use graph::sandbox::{SandboxConfig, TokenSpec};
use graph::{
    AppUsage, BusinessUseCaseUsage, CodeVerificationStatus, DebugTokenResponse, Expiry,
    LoginResponse, MetaError, NameStatus, Page, PhoneNumber, PlatformType, QualityRating,
    SuccessResponse, Targets, TokenKind, Waba, WabaRelation,
};
use serde_json::Value;

use common::*;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn fixture_bytes(name: &str) -> Vec<u8> {
    serde_json::to_vec(&fixture(name)).unwrap()
}

/// Every member the sandbox writes exists in the fixture with the same JSON type (arrays:
/// compared element-wise against the fixture's first element); with `exact`, the fixture has
/// no member the sandbox omitted either.
fn assert_shape(sandbox: &Value, fixture: &Value, exact: bool, path: &str) {
    use Value::*;
    match (sandbox, fixture) {
        (Object(s), Object(f)) => {
            for (k, v) in s {
                let fv = f.get(k).unwrap_or_else(|| {
                    panic!("{path}.{k}: written by the sandbox, not in the fixture")
                });
                assert_shape(v, fv, exact, &format!("{path}.{k}"));
            }
            if exact {
                for k in f.keys() {
                    assert!(
                        s.contains_key(k),
                        "{path}.{k}: in the fixture, not written by the sandbox"
                    );
                }
            }
        }
        (Array(s), Array(f)) => {
            if let Some(f0) = f.first() {
                for (i, v) in s.iter().enumerate() {
                    assert_shape(v, f0, exact, &format!("{path}[{i}]"));
                }
            }
        }
        (Number(_), Number(_)) | (String(_), String(_)) | (Bool(_), Bool(_)) | (Null, Null) => {}
        (s, f) => panic!("{path}: sandbox wrote {s}, fixture has {f}"),
    }
}

async fn get_json(sb: &graph::sandbox::SandboxHandle, path: &str, token: &str) -> (u16, Value) {
    let resp = raw()
        .get(url(sb, path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

// ---- the client decodes the fixtures ------------------------------------------------------

#[test]
fn the_client_decodes_the_documented_phone_number() {
    let n: PhoneNumber = serde_json::from_value(fixture("phone_number")).unwrap();
    assert_eq!(n.id.as_str(), "106540352242922");
    assert_eq!(
        n.code_verification_status,
        Some(CodeVerificationStatus::Verified)
    );
    assert_eq!(n.quality_rating, Some(QualityRating::Green));
    assert_eq!(n.platform_type, Some(PlatformType::CloudApi));
    assert_eq!(n.name_status, Some(NameStatus::Approved));
    assert_eq!(n.is_pin_enabled, Some(true));
    assert_eq!(n.throughput.unwrap().level.as_deref(), Some("STANDARD"));
}

#[test]
fn an_unknown_enum_value_from_meta_does_not_break_decoding() {
    let mut v = fixture("phone_number");
    v["quality_rating"] = Value::String("PURPLE".into());
    let n: PhoneNumber = serde_json::from_value(v).unwrap();
    assert_eq!(n.quality_rating, Some(QualityRating::Unrecognized));
}

#[test]
fn the_client_decodes_the_documented_pages() {
    let p: Page<PhoneNumber> = serde_json::from_value(fixture("phone_numbers_page")).unwrap();
    assert!(p.has_next());
    assert_eq!(p.after(), Some("QVFIUmx"));
    assert_eq!(p.summary.unwrap().total_count, Some(3));
    let w: Page<Waba> = serde_json::from_value(fixture("wabas_page")).unwrap();
    assert_eq!(w.data[0].currency.as_deref(), Some("USD"));
    let one: Waba = serde_json::from_value(fixture("waba")).unwrap();
    assert_eq!(one.ownership_type.as_deref(), Some("CLIENT_OWNED"));
}

#[test]
fn the_client_decodes_the_documented_token_facts() {
    let su: DebugTokenResponse =
        serde_json::from_value(fixture("debug_token_system_user")).unwrap();
    assert_eq!(su.data.kind, Some(TokenKind::SystemUser));
    assert_eq!(su.data.expiry(), Expiry::Never);
    assert_eq!(
        su.data.targets("whatsapp_business_messaging"),
        Targets::Unrestricted
    );
    let bi: DebugTokenResponse =
        serde_json::from_value(fixture("debug_token_integration")).unwrap();
    assert_eq!(bi.data.waba_ids().len(), 2);
    assert_eq!(bi.data.targets("business_management"), Targets::NotGranted);
    let bad: DebugTokenResponse = serde_json::from_value(fixture("debug_token_invalid")).unwrap();
    assert!(!bad.data.is_valid);
    assert_eq!(bad.data.error.unwrap().code, Some(190));
}

#[test]
fn the_client_decodes_the_documented_error_envelopes() {
    let m = MetaError::from_graph_body(&fixture_bytes("error_pin_mismatch")).unwrap();
    assert_eq!(m.code, 133005);
    assert_eq!(m.fbtrace_id.as_deref(), Some("AazL1RrNF3zDXE4kc0rBVCa"));
    assert!(m.details.is_some());
    let t = MetaError::from_graph_body(&fixture_bytes("error_token_invalid")).unwrap();
    assert_eq!((t.code, t.subcode), (190, Some(463)));
    let r = MetaError::from_graph_body(&fixture_bytes("error_rate_limit_80008")).unwrap();
    assert_eq!(r.code, 80008);
    let o = MetaError::from_onprem_body(&fixture_bytes("onprem_error")).unwrap();
    assert_eq!((o.code, o.message.as_str()), (1005, "Access denied"));
}

#[test]
fn the_client_decodes_the_documented_usage_headers_and_small_answers() {
    let app: AppUsage = serde_json::from_value(fixture("x_app_usage")).unwrap();
    assert_eq!(app.call_count, 28);
    let buc: BTreeMap<String, Vec<BusinessUseCaseUsage>> =
        serde_json::from_value(fixture("x_business_use_case_usage")).unwrap();
    assert_eq!(
        buc["102290129340398"][0].estimated_time_to_regain_access,
        19
    );
    let ok: SuccessResponse = serde_json::from_value(fixture("success")).unwrap();
    assert!(ok.success);
    let login: LoginResponse = serde_json::from_value(fixture("onprem_login")).unwrap();
    assert_eq!(
        login.users[0].expires_after.as_deref(),
        Some("2018-03-01 15:29:26+00:00")
    );
}

// ---- the sandbox writes the fixtures' shapes ----------------------------------------------

#[tokio::test]
async fn the_sandbox_writes_a_phone_number_as_documented() {
    let sb = sandbox().await;
    let facts = cloud_number(&sb);
    let fixture = fixture("phone_number");
    let fields: Vec<&str> = fixture
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let (status, body) = get_json(
        &sb,
        &format!("v26.0/{}?fields={}", facts.id, fields.join(",")),
        sb.system_user_token().expose(),
    )
    .await;
    assert_eq!(status, 200);
    assert_shape(&body, &fixture, true, "phone_number");
    let _: PhoneNumber = serde_json::from_value(body).unwrap();
}

#[tokio::test]
async fn the_sandbox_writes_pages_as_documented() {
    let sb = sandbox().await;
    let waba = sb.numbers()[0].waba.clone();
    let (_, body) = get_json(
        &sb,
        &format!(
            "v26.0/{waba}/phone_numbers?limit=1&summary=total_count&after={}",
            {
                // Start on the second page so both `next` and `previous` are present.
                let (_, first) = get_json(
                    &sb,
                    &format!("v26.0/{waba}/phone_numbers?limit=1"),
                    sb.system_user_token().expose(),
                )
                .await;
                first["paging"]["cursors"]["after"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        ),
        sb.system_user_token().expose(),
    )
    .await;
    assert_shape(&body, &fixture("phone_numbers_page"), true, "phone_numbers");
    let _: Page<PhoneNumber> = serde_json::from_value(body).unwrap();

    let business = &sb.business_ids()[0];
    let (_, body) = get_json(
        &sb,
        &format!("v26.0/{business}/client_whatsapp_business_accounts?limit=1"),
        sb.system_user_token().expose(),
    )
    .await;
    assert_shape(&body, &fixture("wabas_page"), true, "client_wabas");

    let waba = &sb.waba_ids(business, WabaRelation::Client)[0];
    let f = fixture("waba");
    let fields: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
    let (_, body) = get_json(
        &sb,
        &format!("v26.0/{waba}?fields={}", fields.join(",")),
        sb.system_user_token().expose(),
    )
    .await;
    assert_shape(&body, &f, true, "waba");
}

#[tokio::test]
async fn the_sandbox_writes_token_facts_as_documented() {
    let sb = sandbox().await;
    let token = sb.system_user_token();
    let (_, body) = get_json(
        &sb,
        &format!("v26.0/debug_token?input_token={}", token.expose()),
        token.expose(),
    )
    .await;
    assert_shape(
        &body,
        &fixture("debug_token_system_user"),
        true,
        "debug_token",
    );

    let waba = sb.numbers()[0].waba.to_string();
    let mut spec = TokenSpec {
        scopes: vec![
            "whatsapp_business_management".into(),
            "whatsapp_business_messaging".into(),
        ],
        ..Default::default()
    };
    spec.target_ids
        .insert("whatsapp_business_management".into(), vec![waba.clone()]);
    spec.target_ids
        .insert("whatsapp_business_messaging".into(), vec![waba]);
    let restricted = sb.issue_token(&spec);
    let (_, body) = get_json(
        &sb,
        &format!("v26.0/debug_token?input_token={}", restricted.expose()),
        token.expose(),
    )
    .await;
    assert_shape(
        &body,
        &fixture("debug_token_integration"),
        true,
        "debug_token integration",
    );

    let (_, body) = get_json(
        &sb,
        "v26.0/debug_token?input_token=EAAnothing",
        token.expose(),
    )
    .await;
    assert_shape(
        &body,
        &fixture("debug_token_invalid"),
        true,
        "debug_token invalid",
    );
}

#[tokio::test]
async fn the_sandbox_writes_errors_and_usage_headers_as_documented() {
    let sb = sandbox_with(SandboxConfig {
        rate_limits: graph::sandbox::RateLimitConfig {
            waba_calls_per_hour: 1,
            active_waba_calls_per_hour: 1,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let facts = cloud_number(&sb);
    let token = sb.system_user_token();
    let path = format!("v26.0/{}", facts.id);
    let first = raw()
        .get(url(&sb, &path))
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap();
    let app: Value =
        serde_json::from_str(first.headers()["x-app-usage"].to_str().unwrap()).unwrap();
    assert_shape(&app, &fixture("x_app_usage"), true, "x-app-usage");
    let (_, body) = get_json(&sb, &path, token.expose()).await;
    assert_shape(&body, &fixture("error_rate_limit_80008"), false, "80008");
    let resp = raw()
        .get(url(&sb, &path))
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap();
    let buc: Value = serde_json::from_str(
        resp.headers()["x-business-use-case-usage"]
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let entry = &buc[facts.waba.as_str()];
    let fixture_buc = fixture("x_business_use_case_usage");
    assert_shape(
        entry,
        &fixture_buc["102290129340398"],
        true,
        "x-business-use-case-usage",
    );

    let (status, body) = get_json(&sb, &path, "EAAnope").await;
    assert_eq!(status, 401);
    assert_shape(&body, &fixture("error_token_invalid"), false, "190");

    let (c, _) = client(&sb);
    let err = c
        .register(
            &token,
            &facts.id,
            &graph::PinSecret::new("000009").unwrap(),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(133005));
    // Past the "guessed too fast" interval, so the next wrong PIN is a plain mismatch.
    sb.advance_clock(std::time::Duration::from_secs(11));
    let resp = raw()
        .post(url(&sb, &format!("v26.0/{}/register", facts.id)))
        .bearer_auth(token.expose())
        .json(&serde_json::json!({"messaging_product": "whatsapp", "pin": "000008"}))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_shape(&body, &fixture("error_pin_mismatch"), false, "133005");
}

#[tokio::test]
async fn the_sandbox_writes_write_answers_and_the_exchange_as_documented() {
    let sb = sandbox().await;
    let facts = cloud_number(&sb);
    let token = sb.system_user_token();
    let resp = raw()
        .post(url(&sb, &format!("v26.0/{}", facts.id)))
        .bearer_auth(token.expose())
        .json(&serde_json::json!({"pin": "121212"}))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_shape(&body, &fixture("success"), true, "set_pin");

    let sb2 = sandbox_with(SandboxConfig {
        integration_token_ttl_s: Some(5_183_944),
        ..Default::default()
    })
    .await;
    let app = sb2.app();
    let code = sb2.issue_signup_code(&[sb2.numbers()[0].waba.clone()]);
    let resp = raw()
        .post(url(&sb2, "v26.0/oauth/access_token"))
        .form(&[
            ("client_id", app.id.as_str()),
            ("client_secret", app.secret.expose()),
            ("code", code.expose()),
            ("grant_type", "authorization_code"),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_shape(&body, &fixture("oauth_access_token"), true, "oauth");
}

#[tokio::test]
async fn the_sandbox_writes_onprem_answers_as_documented() {
    let sb = sandbox().await;
    let facts = number(&sb, |n| n.onprem);
    let (user, password) = sb.onprem_admin();
    let login_url = format!("{}v1/users/login", sb.onprem_base_url(&facts.id));
    let resp = raw()
        .post(&login_url)
        .basic_auth(&user, Some(password.expose()))
        .send()
        .await
        .unwrap();
    let mut body: Value = resp.json().await.unwrap();
    body.as_object_mut().unwrap().remove("meta");
    assert_shape(&body, &fixture("onprem_login"), true, "onprem login");
    let resp = raw()
        .post(&login_url)
        .basic_auth(&user, Some("wrong"))
        .send()
        .await
        .unwrap();
    let mut body: Value = resp.json().await.unwrap();
    body.as_object_mut().unwrap().remove("meta");
    assert_shape(&body, &fixture("onprem_error"), true, "onprem error");
}
