//! `/healthz` (the process answers) and `/readyz` (it can do its work: the database takes
//! queries and the service identity is readable). Load balancers route on `/readyz`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    checks: Checks,
}

#[derive(Serialize)]
struct Checks {
    database: String,
    identity: String,
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let database = match state.store.ping().await {
        Ok(()) => Ok(()),
        Err(error) => {
            tracing::warn!(%error, "readiness: database unreachable");
            Err(format!("unreachable: {error}"))
        }
    };
    let identity = match governance::keys::check_identity(&state.identity_file).await {
        Ok(()) => Ok(()),
        Err(error) => {
            tracing::warn!(%error, "readiness: identity unreadable");
            Err(format!("unreadable: {error}"))
        }
    };
    let ready = database.is_ok() && identity.is_ok();
    let body = Readiness {
        status: if ready { "ready" } else { "unavailable" },
        checks: Checks {
            database: database.err().unwrap_or_else(|| "ok".to_owned()),
            identity: identity.err().unwrap_or_else(|| "ok".to_owned()),
        },
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
