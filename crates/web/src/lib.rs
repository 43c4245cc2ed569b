//! web: pinward over HTTP — health endpoints now; the dashboard and JSON API build on them.
//!
//! [`serve`] takes a bound listener and a shutdown future, so the binary decides where to
//! listen and when to stop, and tests bind port 0.

mod health;
mod state;
mod trace;

use std::future::Future;

use axum::Router;
use tokio::net::TcpListener;

pub use state::AppState;

/// Every route of pinward, with request ids and tracing.
pub fn router(state: AppState) -> Router {
    let routes = Router::new().merge(health::routes());
    trace::layer(routes).with_state(state)
}

/// Serves pinward on `listener` until `shutdown` completes, then finishes the requests
/// in flight and returns.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
