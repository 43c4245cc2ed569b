//! `pinward migrate`: apply database migrations and exit.

use crate::config::Config;

pub async fn run(config: &Config) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    let applied = store.applied_migrations().await?;
    store.close().await;
    tracing::info!(
        backend = store.backend().name(),
        ?applied,
        "database is up to date"
    );
    Ok(())
}
