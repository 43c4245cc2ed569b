//! `/healthz` (the process answers) and `/readyz` (it can do its work: the database takes
//! queries and the service identity is readable and the one loaded at start). Load
//! balancers route on `/readyz`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use std::time::Duration;

use serde::Serialize;
use tokio::time::timeout;

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
    // A probe wants an answer, not a wait: a check slower than this counts as failed.
    let limit = Duration::from_secs(2);
    let database = match timeout(limit, state.store.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: database unreachable");
            Err("unreachable (see the log)".to_owned())
        }
        Err(_) => Err("unreachable: no answer within 2 s".to_owned()),
    };
    let identity = match timeout(
        limit,
        governance::keys::check_identity(&state.identity_file),
    )
    .await
    {
        Ok(Ok(on_disk)) => match &state.custody {
            // The identity file changed under this process (the key rotated elsewhere and its
            // new identity copied here): escrow is sealed to an identity this process has
            // not loaded. A rotation whose new file never reaches this host goes unseen.
            Some(custody) if custody.escrow.identity().recipient() != on_disk => {
                tracing::warn!(
                    "readiness: the service identity file changed since start; restart pinward"
                );
                Err(
                    "changed on disk since start (pinward keys rotate?): restart pinward"
                        .to_owned(),
                )
            }
            // The key rotated on another host and its new file never came here: the
            // database's escrow no longer opens with this identity.
            // (Skipped when the database did not answer: a probe gets its answer in ~2 s.)
            Some(custody) if database.is_ok() => {
                match timeout(limit, custody.escrow.is_current(&state.store)).await {
                    Ok(Err(governance::Error::IdentityRotated)) => {
                        tracing::warn!(
                            "readiness: escrow in the database is sealed to a newer service identity"
                        );
                        Err("escrow in the database is sealed to a newer identity (pinward keys rotate on another host?): put the new identity file here and restart pinward".to_owned())
                    }
                    Ok(Err(governance::Error::KeyRotationUnfinished)) => {
                        tracing::warn!(
                            "readiness: a service key rotation is under way or unfinished"
                        );
                        Err("a service key rotation is under way or stopped before it finished: nothing can be sealed until `pinward keys rotate` ends".to_owned())
                    }
                    // The database check above says whether the database answers.
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        },
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: identity unreadable");
            Err("unreadable (see the log)".to_owned())
        }
        Err(_) => Err("unreadable: no answer within 2 s".to_owned()),
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
