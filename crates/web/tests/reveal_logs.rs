//! A revealed PIN is never logged: everything pinward logs (at every level) while a PIN is
//! revealed and shown is captured, and the PIN is not in it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::StatusCode;
use common::custody::{OWNER, custody_world};
use common::*;
use pinward_tests::on_both_databases;

/// Everything logged in this process.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process's log, installed once (tests may share a process).
fn captured() -> Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Captured::default();
        let writer = log.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .without_time()
            .with_writer(move || writer.clone())
            .init();
        log
    })
    .clone()
}

on_both_databases! {
    async fn the_revealed_pin_is_in_the_response_and_in_no_log_line(db) {
        let log = captured();
        let w = custody_world(&db).await;
        let owner = w.browser(OWNER).await;
        let path = format!("/numbers/{}/reveal", w.escrowed.as_str());
        let fields = w.reveal_fields(&owner, &path, "reason=re-registering").await;
        // Only what is logged from the reveal on: fewer digits that could match by chance.
        let from = log.0.lock().unwrap().len();
        let response = send(&w.app, same_origin_post(&path, &owner, &fields)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body = text(response).await;
        let marker = "id=\"pin\">";
        let start = body.find(marker).unwrap() + marker.len();
        let pin = &body[start..start + 6];
        assert!(w.meta_holds(&w.escrowed, pin));
        let logged = String::from_utf8_lossy(&log.0.lock().unwrap()[from..]).into_owned();
        assert!(logged.contains("/reveal"), "the reveal request was logged: {logged}");
        assert!(!logged.contains(pin), "the PIN is in the log");
    }

    async fn a_refusal_is_logged_with_the_status_the_caller_got(db) {
        // The API answers bad input 400 where the dashboard answers 422: the log must say
        // which, or an operator matching logs to a script's errors is misled.
        let log = captured();
        let w = custody_world(&db).await;
        let (_, secret) = governance::tokens::create(&w.store, &governance::access::Caller::cli(&w.org), "script", governance::access::Role::Ops)
            .await
            .unwrap();
        let from = log.0.lock().unwrap().len();
        let request = axum::http::Request::get("/api/v1/numbers?state=lost")
            .header("host", "127.0.0.1:8080")
            .header("authorization", format!("Bearer {}", secret.expose()))
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(send(&w.app, request).await.status(), StatusCode::BAD_REQUEST);
        let logged = String::from_utf8_lossy(&log.0.lock().unwrap()[from..]).into_owned();
        let refused: Vec<&str> = logged.lines().filter(|l| l.contains("request refused")).collect();
        assert_eq!(refused.len(), 1, "{logged}");
        assert!(refused[0].contains("status=400"), "{}", refused[0]);
    }
}
