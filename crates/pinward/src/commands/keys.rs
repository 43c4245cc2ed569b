//! `pinward keys show`: the public halves of the service's keys, to pin or to share.

use std::io::Write;

use anyhow::Context;
use governance::Store;
use vault::{Created, Identity};

use crate::config::Config;

/// Loads the service identity, creating it on first start (see `governance::keys`).
pub async fn open_identity(store: &Store, config: &Config) -> anyhow::Result<Identity> {
    let (identity, created) = governance::keys::service_identity(store, &config.identity_file)
        .await
        .context("cannot open the service identity (PINWARD_IDENTITY_FILE)")?;
    if matches!(created, Created::Yes) {
        tracing::warn!(
            path = %config.identity_file.display(),
            recipient = %identity.recipient(),
            "created a new service identity: back this file up, it opens every escrowed PIN"
        );
    }
    Ok(identity)
}

pub async fn show(config: &Config, json: bool) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    let identity = open_identity(&store, config).await?;
    store.close().await;
    let recipient = identity.recipient().to_string();
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::json!({ "age_recipient": recipient }))?;
    } else {
        writeln!(out, "age recipient (service identity): {recipient}")?;
    }
    Ok(())
}
