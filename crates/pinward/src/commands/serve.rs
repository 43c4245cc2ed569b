//! `pinward serve`: run the service until SIGINT or SIGTERM.

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

use crate::config::Config;

pub async fn run(config: &Config) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    super::keys::open_identity(&store, config).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (PINWARD_LISTEN)", config.listen))?;
    let address = listener.local_addr()?;
    let shutdown = shutdown_signal()?;
    let state = web::AppState {
        store: store.clone(),
        identity_file: config.identity_file.clone(),
    };
    tracing::info!(settings = %config.summary(), "starting");
    tracing::info!(
        backend = store.backend().name(),
        "listening on http://{address}"
    );
    web::serve(state, listener, shutdown)
        .await
        .context("server failed")?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on the first SIGINT (Ctrl-C) or SIGTERM (systemd, Kubernetes).
pub(crate) fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    Ok(async move {
        let name = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        tracing::info!(signal = name, "shutting down: finishing requests in flight");
    })
}
