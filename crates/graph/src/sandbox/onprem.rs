//! The sandbox's On-Premises deployments: one per On-Premises number, under
//! `/onprem/{phone-number-id}/v1/…`, sharing the number's PIN with the Graph side.
//!
//! Assumed behaviour (see `crate::onprem`): login with basic auth answers
//! `{"users":[{"token","expires_after":"YYYY-MM-DD HH:MM:SS+00:00"}]}` with a 7-day token;
//! wrong credentials or token → 401 code 1005; a bad PIN → 400 code 1009; an unknown
//! deployment → 404 code 1006.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};

use super::Sandbox;
use super::counters::Route;
use super::envelope::onprem_error;
use super::server::ConnCtl;
use super::state::{OnPremSession, World, is_pin, random_token};

pub(crate) fn router() -> Router<Sandbox> {
    Router::new()
        .route("/onprem/{phone}/v1/users/login", post(login))
        .route(
            "/onprem/{phone}/v1/settings/account/two-step",
            post(set_pin).delete(disable),
        )
}

fn meta() -> Value {
    json!({"api_status": "stable", "version": "2.55.3"})
}

fn deployment_exists(w: &World, phone: &str) -> bool {
    w.numbers.get(phone).is_some_and(|n| n.onprem)
}

fn not_found() -> Response {
    onprem_error(
        StatusCode::NOT_FOUND,
        1006,
        "Resource not found",
        "Unknown deployment",
    )
}

fn denied(details: &str) -> Response {
    onprem_error(StatusCode::UNAUTHORIZED, 1005, "Access denied", details)
}

async fn login(
    State(sb): State<Sandbox>,
    Path(phone): Path<String>,
    ctl: Option<Extension<ConnCtl>>,
    headers: HeaderMap,
) -> Response {
    let ctl = ctl.map(|Extension(c)| c);
    sb.run(Route::OnpremLogin, Some(&phone), ctl, false, |w| {
        if !deployment_exists(w, &phone) {
            return not_found();
        }
        let creds = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .ok()
            })
            .and_then(|b| String::from_utf8(b).ok());
        let ok = creds
            .as_deref()
            .and_then(|c| c.split_once(':'))
            .is_some_and(|(u, p)| u == w.onprem_user && p == w.onprem_password);
        if !ok {
            return denied("Invalid credentials");
        }
        let token = random_token(&mut w.rng, "onprem-");
        let expires = w.now() + chrono::Duration::days(7);
        w.onprem_sessions.insert(
            token.clone(),
            OnPremSession {
                number: phone.clone(),
                expires,
            },
        );
        (
            StatusCode::OK,
            Json(json!({
                "users": [{
                    "token": token,
                    "expires_after": expires.format("%Y-%m-%d %H:%M:%S+00:00").to_string(),
                }],
                "meta": meta(),
            })),
        )
            .into_response()
    })
    .await
}

fn session_ok(w: &World, phone: &str, headers: &HeaderMap) -> bool {
    let now = w.now();
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| w.onprem_sessions.get(t.trim()))
        .is_some_and(|s| s.number == phone && s.expires > now)
}

async fn set_pin(
    State(sb): State<Sandbox>,
    Path(phone): Path<String>,
    ctl: Option<Extension<ConnCtl>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctl = ctl.map(|Extension(c)| c);
    sb.run(Route::OnpremSetPin, Some(&phone), ctl, false, |w| {
        if !deployment_exists(w, &phone) {
            return not_found();
        }
        if !session_ok(w, &phone, &headers) {
            return denied("Invalid or expired token");
        }
        let pin = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("pin").and_then(Value::as_str).map(str::to_owned));
        let Some(pin) = pin.filter(|p| is_pin(p)) else {
            return onprem_error(
                StatusCode::BAD_REQUEST,
                1009,
                "Parameter value is not valid",
                "pin must be exactly six digits",
            );
        };
        let hash = w.pin_hash(&pin);
        if let Some(n) = w.numbers.get_mut(&phone) {
            n.pin = hash;
        }
        (StatusCode::OK, Json(json!({"meta": meta()}))).into_response()
    })
    .await
}

async fn disable(
    State(sb): State<Sandbox>,
    Path(phone): Path<String>,
    ctl: Option<Extension<ConnCtl>>,
    headers: HeaderMap,
) -> Response {
    let ctl = ctl.map(|Extension(c)| c);
    sb.run(Route::OnpremDisablePin, Some(&phone), ctl, false, |w| {
        if !deployment_exists(w, &phone) {
            return not_found();
        }
        if !session_ok(w, &phone, &headers) {
            return denied("Invalid or expired token");
        }
        if let Some(n) = w.numbers.get_mut(&phone) {
            n.pin = None;
        }
        (StatusCode::OK, Json(json!({"meta": meta()}))).into_response()
    })
    .await
}
