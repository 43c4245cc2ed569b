//! `pinward graph-sandbox` standalone: it prints its base URL and a token, and answers
//! Graph calls with them the way Meta does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pinward_tests::PinwardProcess;

#[tokio::test]
async fn the_standalone_sandbox_serves_the_numbers_it_announces() {
    let mut process = PinwardProcess::spawn(
        &[
            "graph-sandbox",
            "--listen",
            "127.0.0.1:0",
            "--seed",
            "7",
            "--numbers",
            "30",
            "--json",
        ],
        &[],
    );
    let line = process.wait_for_line("\"system_user_token\"");
    let summary: serde_json::Value = serde_json::from_str(&line).unwrap();
    let base = summary["base_url"]
        .as_str()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let token = summary["system_user_token"].as_str().unwrap();
    let business = summary["business_ids"][0].as_str().unwrap();
    assert_eq!(summary["numbers"], 30);

    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let wabas: serde_json::Value = http
        .get(format!(
            "{base}/v26.0/{business}/owned_whatsapp_business_accounts"
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!wabas["data"].as_array().unwrap().is_empty(), "{wabas}");

    let refused = http
        .get(format!(
            "{base}/v26.0/{business}/owned_whatsapp_business_accounts"
        ))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    let status = refused.status();
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(status == 401 || status == 400, "{status}");
    assert_eq!(body["error"]["code"], 190, "{body}");

    process.signal("TERM");
    let (status, output) = process.wait();
    assert!(status.success(), "{output}");
}
