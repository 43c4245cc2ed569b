//! Sandbox-only control routes under `/_sandbox/` (a prefix Meta never uses): faults,
//! PIN check, counters, clock, tokens, signup codes, out-of-band PIN changes, summary.
//! Answers never contain a PIN; the PIN check answers only `{"matches": bool}`.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::Sandbox;
use super::faults::FaultPlan;
use super::state::TokenSpec;
use crate::ids::{PhoneNumberId, WabaId};
use crate::secret::{AccessToken, PinSecret};

pub(crate) fn router() -> Router<Sandbox> {
    Router::new()
        .route("/_sandbox/faults", get(get_faults).post(set_faults))
        .route("/_sandbox/pin-check", post(pin_check))
        .route("/_sandbox/counters", get(counters).delete(reset_counters))
        .route("/_sandbox/clock", post(clock))
        .route("/_sandbox/tokens", post(issue_token))
        .route("/_sandbox/tokens/revoke", post(revoke_token))
        .route("/_sandbox/signup-codes", post(signup_code))
        .route("/_sandbox/out-of-band-pin", post(out_of_band_pin))
        .route("/_sandbox/summary", get(summary))
}

fn bad(msg: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg}))).into_response()
}

fn unknown_number() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": "unknown phone_number_id"})),
    )
        .into_response()
}

async fn get_faults(State(sb): State<Sandbox>) -> Response {
    Json(sb.faults()).into_response()
}

async fn set_faults(State(sb): State<Sandbox>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<FaultPlan>(&body) {
        Ok(plan) => {
            sb.set_faults(plan.clone());
            Json(plan).into_response()
        }
        Err(_) => bad("body must be a fault plan: {\"seed\":u64,\"rules\":[…]}"),
    }
}

#[derive(Deserialize)]
struct PinCheck {
    phone_number_id: String,
    pin: String,
}

async fn pin_check(State(sb): State<Sandbox>, body: axum::body::Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<PinCheck>(&body) else {
        return bad("body must be {\"phone_number_id\",\"pin\"}");
    };
    // A malformed PIN cannot match; the number must still exist.
    match sb.lock().pin_matches(&req.phone_number_id, &req.pin) {
        Some(m) => Json(json!({"matches": m})).into_response(),
        None => unknown_number(),
    }
}

async fn counters(State(sb): State<Sandbox>) -> Response {
    Json(sb.counters()).into_response()
}

async fn reset_counters(State(sb): State<Sandbox>) -> Response {
    sb.reset_counters();
    Json(sb.counters()).into_response()
}

#[derive(Deserialize)]
struct Clock {
    advance_s: u64,
}

async fn clock(State(sb): State<Sandbox>, body: axum::body::Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<Clock>(&body) else {
        return bad("body must be {\"advance_s\": seconds}");
    };
    sb.advance_clock(Duration::from_secs(req.advance_s));
    Json(json!({"now": sb.now().to_rfc3339()})).into_response()
}

async fn issue_token(State(sb): State<Sandbox>, body: axum::body::Bytes) -> Response {
    let spec = if body.is_empty() {
        TokenSpec::default()
    } else {
        match serde_json::from_slice::<TokenSpec>(&body) {
            Ok(s) => s,
            Err(_) => return bad("body must be a token spec"),
        }
    };
    let token = sb.issue_token(&spec);
    Json(json!({"access_token": token.expose()})).into_response()
}

#[derive(Deserialize)]
struct Revoke {
    access_token: String,
}

async fn revoke_token(State(sb): State<Sandbox>, body: axum::body::Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<Revoke>(&body) else {
        return bad("body must be {\"access_token\"}");
    };
    let revoked = sb.revoke_token(&AccessToken::from(req.access_token));
    Json(json!({"revoked": revoked})).into_response()
}

#[derive(Deserialize)]
struct CodeReq {
    waba_ids: Vec<String>,
}

async fn signup_code(State(sb): State<Sandbox>, body: axum::body::Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<CodeReq>(&body) else {
        return bad("body must be {\"waba_ids\":[…]}");
    };
    let Ok(wabas) = req
        .waba_ids
        .iter()
        .map(|id| WabaId::parse(id))
        .collect::<Result<Vec<_>, _>>()
    else {
        return bad("waba_ids must be numeric ids");
    };
    let code = sb.issue_signup_code(&wabas);
    Json(json!({"code": code.expose()})).into_response()
}

#[derive(Deserialize)]
struct OutOfBand {
    phone_number_id: String,
    pin: Option<String>,
}

async fn out_of_band_pin(State(sb): State<Sandbox>, body: axum::body::Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<OutOfBand>(&body) else {
        return bad("body must be {\"phone_number_id\",\"pin\"}");
    };
    let Ok(phone) = PhoneNumberId::parse(&req.phone_number_id) else {
        return unknown_number();
    };
    let pin = match req.pin.map(PinSecret::new).transpose() {
        Ok(p) => p,
        Err(_) => return bad("pin must be six digits or null"),
    };
    if sb.set_pin_out_of_band(&phone, pin.as_ref()) {
        Json(json!({"ok": true})).into_response()
    } else {
        unknown_number()
    }
}

async fn summary(State(sb): State<Sandbox>, headers: axum::http::HeaderMap) -> Response {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    match url::Url::parse(&format!("http://{host}/")) {
        Ok(base) => Json(sb.summary(&base)).into_response(),
        Err(_) => bad("bad Host header"),
    }
}
