//! web: pinward over HTTP — the dashboard, the JSON API, health and metrics endpoints.
//!
//! [`app`] composes every route and middleware in one place; [`serve`] takes a bound
//! listener and a shutdown future, so the binary decides where to listen and when to
//! stop, and tests bind port 0.
//!
//! Middleware, outermost first: request id and tracing; security headers; metrics by
//! route template; the session; error presentation (HTML page or problem+json); the CSRF
//! check of every state-changing request. Authorization is per route, declared by the
//! handler's [`auth::Authorized`] extractor.

pub mod api;
pub mod assets;
pub mod auth;
pub mod charts;
pub mod error;
mod health;
mod inventory;
mod ledger_download;
pub mod metrics;
pub mod page;
mod pages;
pub mod security;
mod state;
mod trace;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;
use governance::sessions::SessionTable;
use tokio::net::TcpListener;
use tower_sessions::ExpiredDeletion;

pub use error::AppError;
pub use state::{AppState, Custody, Site};

/// Every route of pinward with its middleware.
pub fn app(state: AppState) -> Router {
    let sessions = auth::session::layer(SessionTable::new(state.store.clone()), &state.site);
    let routes = Router::new()
        .merge(health::routes())
        .merge(pages::routes())
        .merge(api::routes())
        .merge(assets::routes())
        .route("/metrics", get(metrics::metrics))
        .fallback(|| async { AppError::NoRoute })
        .layer(from_fn_with_state(state.clone(), auth::csrf::check))
        .layer(from_fn(error::present))
        .layer(sessions)
        .layer(from_fn_with_state(state.clone(), metrics::track))
        .layer(from_fn_with_state(state.clone(), security::headers));
    trace::layer(routes).with_state(state)
}

/// How often expired sessions are swept from the database.
const SESSION_SWEEP: Duration = Duration::from_secs(15 * 60);

/// Serves pinward on `listener` until `shutdown` completes, then finishes the requests
/// in flight and returns.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(sweep_sessions(SessionTable::new(state.store.clone())));
    let app = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    sweeper.abort();
    served
}

/// Deletes expired sessions now and every [`SESSION_SWEEP`]; runs until aborted.
async fn sweep_sessions(table: SessionTable) {
    let mut ticks = tokio::time::interval(SESSION_SWEEP);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(error) = table.delete_expired().await {
            tracing::warn!(%error, "sweeping expired sessions failed; will retry");
        }
    }
}
