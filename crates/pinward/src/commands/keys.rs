//! `pinward keys show`: the public halves of the service's keys, to pin or to share.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use audit::CheckpointKey;
use governance::Store;
use governance::custody::Escrow;
use vault::{Created, Identity};

use crate::config::Config;

/// This process's hold on the service identity (`governance::keys::hold`), kept until it
/// exits: whatever opened the identity may seal or open with it until then.
static IN_USE: std::sync::OnceLock<governance::keys::InUse> = std::sync::OnceLock::new();

/// Loads the service identity, creating it on first start (see `governance::keys`), and
/// holds it in use for the rest of the process so `pinward keys rotate` waits for us.
pub async fn open_identity(store: &Store, config: &Config) -> anyhow::Result<Identity> {
    if IN_USE.get().is_none() {
        match governance::keys::hold(&config.identity_file).await {
            Ok(held) => drop(IN_USE.set(held)),
            // A read-only key folder still serves; only the guard against rotation is lost.
            Err(error) => tracing::warn!(
                %error,
                "cannot lock the service identity: `pinward keys rotate` would not know this process uses it"
            ),
        }
    }
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

/// Refuses `recipient` when it is the service identity's own key. An identity file not
/// made yet holds no key to compare with; one that cannot be read stops the command.
pub async fn check_apart_from_service(
    config: &Config,
    recipient: &str,
    of: governance::recovery::KeyFor,
) -> anyhow::Result<()> {
    if !tokio::fs::try_exists(&config.identity_file)
        .await
        .unwrap_or(true)
    {
        return Ok(());
    }
    let service = governance::keys::check_identity(&config.identity_file)
        .await
        .context(
            "cannot read the service identity (PINWARD_IDENTITY_FILE) to check the key against it",
        )?;
    governance::recovery::check_apart_from_service(recipient, &service, of)?;
    Ok(())
}

/// The service identity ([`open_identity`]) with the escrow keys the database holds sealed
/// to it; an identity that opens nothing there is named as the wrong file.
pub async fn open_escrow(store: &Store, config: &Config) -> anyhow::Result<Escrow> {
    let identity = open_identity(store, config).await?;
    Escrow::load(store, identity)
        .await
        .map_err(|error| match error {
            governance::Error::Vault(_) => anyhow::Error::new(error).context(format!(
                "the service identity {} does not open the escrow in this database: restore the \
             file that goes with it, or, if `pinward keys rotate` ran on another host, copy \
             the identity it made",
                config.identity_file.display()
            )),
            other => anyhow::Error::new(other).context("cannot open the escrow keys"),
        })
}

/// Loads the key that signs ledger checkpoints, creating it (0600) on first start.
pub async fn open_checkpoint_key(config: &Config) -> anyhow::Result<CheckpointKey> {
    let path = config.checkpoint_key_file.clone();
    let (key, created) = tokio::task::spawn_blocking(move || {
        let existed = path.exists();
        CheckpointKey::load_or_create(&path).map(|key| (key, !existed))
    })
    .await
    .context("loading the checkpoint key was interrupted")?
    .context("cannot open the checkpoint key (PINWARD_CHECKPOINT_KEY_FILE)")?;
    if created {
        tracing::warn!(
            path = %config.checkpoint_key_file.display(),
            public_key = %key.public_key(),
            "created a new checkpoint key: publish its public key to your auditors and back the file up"
        );
    }
    Ok(key)
}

pub async fn show(config: &Config, json: bool, key_out: Option<&Path>) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    let identity = open_identity(&store, config).await?;
    store.close().await;
    let checkpoint_key = open_checkpoint_key(config).await?.public_key();
    if let Some(path) = key_out {
        std::fs::write(path, checkpoint_key.to_file_contents())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let recipient = identity.recipient().to_string();
    let mut out = std::io::stdout().lock();
    if json {
        let keys = serde_json::json!({
            "age_recipient": recipient,
            "checkpoint_public_key": checkpoint_key.to_base64(),
        });
        writeln!(out, "{keys}")?;
    } else {
        writeln!(out, "age recipient (service identity): {recipient}")?;
        writeln!(out, "checkpoint public key (Ed25519): {checkpoint_key}")?;
    }
    Ok(())
}

/// `pinward keys rotate`: re-seal everything to a new service identity (see
/// `governance::keys::rotate`); run again after a crash to finish.
pub async fn rotate(config: &Config, json: bool) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_message("re-sealing");
        bar
    });
    let show = |done: u64, total: u64| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    };
    let rotation = governance::keys::rotate(&store, &config.identity_file, &show)
        .await
        .context("key rotation stopped; run `pinward keys rotate` again to finish it")?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    store.close().await;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(&rotation)?)?;
    } else {
        writeln!(
            out,
            "re-sealed {} item(s) to the new service identity {}{}",
            rotation.resealed,
            rotation.recipient,
            rotation
                .retired
                .as_ref()
                .map(|p| format!("; the old identity is kept at {}", p.display()))
                .unwrap_or_default()
        )?;
    }
    Ok(())
}
