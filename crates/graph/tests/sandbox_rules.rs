//! The sandbox refuses what Meta refuses, never returns a PIN, counts calls, seeds
//! deterministically, and exposes its control path — checked over raw HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use graph::sandbox::{Route, Sandbox, SandboxSeed};
use graph::{PhoneNumberField, PinSecret};
use serde_json::{Value, json};

use common::*;

async fn json_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn a_request_without_a_token_is_refused() {
    let sb = sandbox().await;
    let facts = cloud_number(&sb);
    let (status, body) = json_of(
        raw()
            .get(url(&sb, &format!("v26.0/{}", facts.id)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], 104);
    assert!(body["error"]["fbtrace_id"].is_string());
}

#[tokio::test]
async fn a_wrong_token_gets_meta_envelope_with_code_190() {
    let sb = sandbox().await;
    let facts = cloud_number(&sb);
    let (status, body) = json_of(
        raw()
            .get(url(&sb, &format!("v26.0/{}", facts.id)))
            .bearer_auth("EAAnope")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], 190);
    assert_eq!(body["error"]["type"], "OAuthException");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("(#190) ")
    );
}

#[tokio::test]
async fn a_malformed_pin_is_refused_with_code_100_and_not_echoed() {
    let sb = sandbox().await;
    let facts = cloud_number(&sb);
    let token = sb.system_user_token();
    for bad in [
        json!({"pin": "12345"}),
        json!({"pin": "12345x"}),
        json!({"pin": 123456}),
        json!({}),
    ] {
        let resp = raw()
            .post(url(&sb, &format!("v26.0/{}", facts.id)))
            .bearer_auth(token.expose())
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{bad}");
        let text = resp.text().await.unwrap();
        assert!(text.contains("\"code\":100"), "{text}");
        assert!(!text.contains("12345"), "{text}");
    }
}

#[tokio::test]
async fn an_unknown_id_and_an_unknown_edge_are_refused() {
    let sb = sandbox().await;
    let token = sb.system_user_token();
    let (status, body) = json_of(
        raw()
            .get(url(&sb, "v26.0/424242424242424"))
            .bearer_auth(token.expose())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(100)));
    assert_eq!(body["error"]["error_subcode"], 33);
    let facts = cloud_number(&sb);
    let (status, body) = json_of(
        raw()
            .get(url(&sb, &format!("v26.0/{}/secrets", facts.id)))
            .bearer_auth(token.expose())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(2500)));
}

#[tokio::test]
async fn a_bad_version_is_an_unknown_path() {
    let sb = sandbox().await;
    let facts = cloud_number(&sb);
    let token = sb.system_user_token();
    for path in [format!("v26.1/{}", facts.id), format!("26/{}", facts.id)] {
        let (status, body) = json_of(
            raw()
                .get(url(&sb, &path))
                .bearer_auth(token.expose())
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_i64()),
            (400, Some(2500)),
            "{path}"
        );
    }
}

#[tokio::test]
async fn no_graph_route_ever_returns_the_pin() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let token = sb.system_user_token();
    let facts = cloud_number(&sb);
    c.set_pin(&token, &facts.id, &PinSecret::new("482913").unwrap())
        .await
        .unwrap();
    let all_fields: Vec<&str> = [
        PhoneNumberField::Id,
        PhoneNumberField::DisplayPhoneNumber,
        PhoneNumberField::VerifiedName,
        PhoneNumberField::CodeVerificationStatus,
        PhoneNumberField::QualityRating,
        PhoneNumberField::PlatformType,
        PhoneNumberField::Throughput,
        PhoneNumberField::NameStatus,
        PhoneNumberField::NewNameStatus,
        PhoneNumberField::LastOnboardedTime,
        PhoneNumberField::IsPinEnabled,
        PhoneNumberField::Status,
        PhoneNumberField::AccountMode,
        PhoneNumberField::MessagingLimitTier,
        PhoneNumberField::WhatsappBusinessManagerMessagingLimit,
        PhoneNumberField::IsOfficialBusinessAccount,
        PhoneNumberField::HealthStatus,
        PhoneNumberField::WebhookConfiguration,
        PhoneNumberField::Certificate,
        PhoneNumberField::IsOnBizApp,
        PhoneNumberField::IsPreverifiedNumber,
    ]
    .iter()
    .map(|f| f.as_str())
    .collect();
    let fields = all_fields.join(",");
    let paths = [
        format!("v26.0/{}?fields={fields}", facts.id),
        format!(
            "v26.0/{}/phone_numbers?limit=100&fields={fields}",
            facts.waba
        ),
        format!("v26.0/{}", facts.waba),
        format!("v26.0/debug_token?input_token={}", token.expose()),
    ];
    for path in paths {
        let resp = raw()
            .get(url(&sb, &path))
            .bearer_auth(token.expose())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        let text = resp.text().await.unwrap();
        assert!(!text.contains("482913"), "{path}: {text}");
    }
    let (status, body) = json_of(
        raw()
            .get(url(&sb, &format!("v26.0/{}?fields=pin", facts.id)))
            .bearer_auth(token.expose())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(100)));
}

#[tokio::test]
async fn the_pin_check_answers_only_whether_it_matches() {
    let sb = sandbox().await;
    let facts = cloud_number(&sb);
    sb.set_pin_out_of_band(&facts.id, Some(&PinSecret::new("314159").unwrap()));
    for (pin, want) in [("314159", true), ("271828", false), ("31415", false)] {
        let (status, body) = json_of(
            raw()
                .post(url(&sb, "_sandbox/pin-check"))
                .json(&json!({"phone_number_id": facts.id.as_str(), "pin": pin}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body, json!({"matches": want}));
    }
    let resp = raw()
        .post(url(&sb, "_sandbox/pin-check"))
        .json(&json!({"phone_number_id": "1", "pin": "314159"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert_eq!(
        sb.counters().route(Route::Register),
        0,
        "checking is not guessing"
    );
}

#[tokio::test]
async fn faults_and_counters_are_controlled_over_http() {
    let sb = sandbox().await;
    let token = sb.system_user_token();
    let facts = cloud_number(&sb);
    let plan =
        json!({"seed": 1, "rules": [{"route": "phone_number", "fault": {"kind": "server_error"}}]});
    let resp = raw()
        .post(url(&sb, "_sandbox/faults"))
        .json(&plan)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (status, body) = json_of(
        raw()
            .get(url(&sb, &format!("v26.0/{}", facts.id)))
            .bearer_auth(token.expose())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_i64()),
        (500, Some(131000))
    );
    let (_, counters) = json_of(
        raw()
            .get(url(&sb, "_sandbox/counters"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(counters["routes"]["phone_number"], 1);
    assert_eq!(counters["numbers"][facts.id.as_str()]["phone_number"], 1);
    raw()
        .delete(url(&sb, "_sandbox/counters"))
        .send()
        .await
        .unwrap();
    assert_eq!(sb.counters().route(Route::PhoneNumber), 0);
}

#[tokio::test]
async fn a_429_fault_carries_retry_after() {
    let sb = sandbox().await;
    sb.set_faults(graph::sandbox::FaultPlan::single(
        graph::sandbox::FaultRule::always(
            Route::PhoneNumber,
            graph::sandbox::Fault::TooManyRequests { retry_after_s: 9 },
        ),
    ));
    let resp = raw()
        .get(url(&sb, &format!("v26.0/{}", cloud_number(&sb).id)))
        .bearer_auth(sb.system_user_token().expose())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "9");
}

#[tokio::test]
async fn reads_carry_both_usage_headers() {
    let sb = sandbox().await;
    let facts = cloud_number(&sb);
    let resp = raw()
        .get(url(&sb, &format!("v26.0/{}", facts.id)))
        .bearer_auth(sb.system_user_token().expose())
        .send()
        .await
        .unwrap();
    let app: Value = serde_json::from_str(resp.headers()["x-app-usage"].to_str().unwrap()).unwrap();
    assert!(app["call_count"].is_u64());
    let buc: Value = serde_json::from_str(
        resp.headers()["x-business-use-case-usage"]
            .to_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        buc[facts.waba.as_str()][0]["estimated_time_to_regain_access"],
        0
    );
}

#[tokio::test]
async fn a_token_in_the_query_is_accepted_like_meta_but_counted() {
    let sb = sandbox().await;
    let facts = cloud_number(&sb);
    let resp = raw()
        .get(url(
            &sb,
            &format!(
                "v26.0/{}?access_token={}",
                facts.id,
                sb.system_user_token().expose()
            ),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(sb.counters().access_tokens_in_query, 1);
}

#[tokio::test]
async fn the_code_exchange_also_works_as_a_get_with_query_parameters() {
    let sb = sandbox().await;
    let app = sb.app();
    let code = sb.issue_signup_code(&[sb.numbers()[0].waba.clone()]);
    let (status, body) = json_of(
        raw()
            .get(url(
                &sb,
                &format!(
                    "v26.0/oauth/access_token?client_id={}&client_secret={}&code={}",
                    app.id,
                    app.secret.expose(),
                    code.expose()
                ),
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "bearer");
    assert!(body["access_token"].is_string());
}

#[tokio::test]
async fn the_same_seed_builds_the_same_world_and_another_seed_another() {
    let seed = SandboxSeed {
        seed: 11,
        numbers: 40,
        businesses: 3,
    };
    let a = Sandbox::seeded(seed);
    let b = Sandbox::seeded(seed);
    let base = "http://127.0.0.1:1/".parse().unwrap();
    assert_eq!(a.summary(&base), b.summary(&base));
    assert_eq!(a.numbers(), b.numbers());
    let c = Sandbox::seeded(SandboxSeed { seed: 12, ..seed });
    assert_ne!(a.summary(&base).business_ids, c.summary(&base).business_ids);
    let s = a.summary(&base);
    assert_eq!((s.numbers, s.business_ids.len()), (40, 3));
}

#[tokio::test]
async fn thousands_of_numbers_are_seeded_and_listed() {
    let sb = Sandbox::seeded(SandboxSeed {
        seed: 5,
        numbers: 5_000,
        businesses: 3,
    });
    let base = "http://127.0.0.1:1/".parse().unwrap();
    let s = sb.summary(&base);
    assert_eq!(s.numbers, 5_000);
    assert!(s.wabas >= 5_000 / 8);
    assert!(!s.onprem_deployments.is_empty());
    let total: usize = sb
        .business_ids()
        .iter()
        .flat_map(|b| {
            let mut w = sb.waba_ids(b, graph::WabaRelation::Owned);
            w.extend(sb.waba_ids(b, graph::WabaRelation::Client));
            w
        })
        .map(|w| sb.numbers_of(&w).len())
        .sum();
    assert_eq!(
        total, 5_000,
        "every number sits in a WABA of a seeded business"
    );
    let human = s.to_string();
    assert!(human.contains(&s.system_user_token) && human.contains("5000"));
}

#[tokio::test]
async fn a_rotation_of_many_numbers_makes_zero_register_calls() {
    let sb = sandbox().await;
    let (c, _) = client(&sb);
    let token = sb.system_user_token();
    let numbers: Vec<_> = sb
        .numbers()
        .into_iter()
        .filter(|n| !n.onprem)
        .take(20)
        .collect();
    for (i, n) in numbers.iter().enumerate() {
        let pin = PinSecret::new(format!("{:06}", 100_000 + i * 7)).unwrap();
        c.set_pin(&token, &n.id, &pin).await.unwrap();
        assert_eq!(sb.pin_matches(&n.id, &pin), Some(true));
    }
    let counters = sb.counters();
    assert_eq!(counters.route(Route::SetPin), 20);
    assert_eq!(counters.route(Route::Register), 0);
    assert_eq!(counters.route(Route::Deregister), 0);
}

#[tokio::test]
async fn the_summary_is_served_on_the_control_path() {
    let sb = sandbox().await;
    let (status, body) = json_of(
        raw()
            .get(url(&sb, "_sandbox/summary"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["base_url"], sb.base_url().as_str());
    assert_eq!(body["system_user_token"], sb.system_user_token().expose());
}

#[tokio::test]
async fn the_sandbox_stops_when_asked_even_with_a_request_hanging() {
    let sb = sandbox().await;
    sb.set_faults(graph::sandbox::FaultPlan::single(
        graph::sandbox::FaultRule::always(
            Route::PhoneNumber,
            graph::sandbox::Fault::Hang { ms: 600_000 },
        ),
    ));
    let request = raw()
        .get(url(&sb, &format!("v26.0/{}", cloud_number(&sb).id)))
        .bearer_auth(sb.system_user_token().expose())
        .send();
    let pending = tokio::spawn(request);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while sb.counters().route(Route::PhoneNumber) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the request never arrived"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    tokio::time::timeout(std::time::Duration::from_secs(5), sb.shutdown())
        .await
        .expect("shutdown does not wait for the hang")
        .unwrap();
    let _ = pending.await;
}
