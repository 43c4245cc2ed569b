//! `pinward serve`: run the service until SIGINT or SIGTERM.

use std::time::Duration;

use anyhow::Context;
use audit::CheckpointKey;
use governance::Store;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

use crate::config::Config;

pub async fn run(config: &Config) -> anyhow::Result<()> {
    let listener = bind(config).await?;
    run_on(config, listener).await
}

/// Binds the configured address (`PINWARD_LISTEN`; port 0 picks a free one).
pub async fn bind(config: &Config) -> anyhow::Result<TcpListener> {
    TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (PINWARD_LISTEN)", config.listen))
}

/// Serves on `listener` until SIGINT or SIGTERM.
pub async fn run_on(config: &Config, listener: TcpListener) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    let identity = super::keys::open_identity(&store, config).await?;
    let escrow = governance::custody::Escrow::load(&store, identity)
        .await
        .context("cannot open the escrow keys")?;
    let checkpoint_key = std::sync::Arc::new(super::keys::open_checkpoint_key(config).await?);
    let address = listener.local_addr()?;
    let shutdown = shutdown_signal()?;
    let state = web::AppState::new(
        store.clone(),
        config.identity_file.clone(),
        config.public_url.as_ref(),
    )
    .with_custody(web::Custody {
        escrow: std::sync::Arc::new(escrow),
        graph: super::custody::graph_client(config)?,
        settings: governance::custody::Settings::default(),
    })
    .with_checkpoint_key(std::sync::Arc::clone(&checkpoint_key));
    tracing::info!(settings = %config.summary(), "starting");
    tracing::info!(
        backend = store.backend().name(),
        "listening on http://{address}"
    );
    let checkpoints = tokio::spawn(sign_checkpoints(store.clone(), checkpoint_key));
    let reveals = state
        .custody
        .clone()
        .map(|custody| tokio::spawn(rotate_after_reveals(store.clone(), custody)));
    let served = web::serve(state, listener, shutdown).await;
    checkpoints.abort();
    if let Some(reveals) = reveals {
        reveals.abort();
    }
    served.context("server failed")?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// How often the service signs a checkpoint for every org whose chain moved.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// Signs checkpoints of moved chain heads now and every [`CHECKPOINT_INTERVAL`], so the
/// database keeps a signed trail of heads even between exports. Runs until aborted; a
/// failed round is logged and retried at the next tick.
async fn sign_checkpoints(store: Store, key: std::sync::Arc<CheckpointKey>) {
    let mut ticks = tokio::time::interval(CHECKPOINT_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match governance::checkpoints::sign_moved_heads(&store, &key, chrono::Utc::now()).await {
            Ok(0) => {}
            Ok(signed) => tracing::info!(signed, "signed ledger checkpoints"),
            Err(error) => tracing::warn!(%error, "signing ledger checkpoints failed; will retry"),
        }
    }
}

/// How often the service looks for rotations that reveals queued and nobody ran.
const REVEAL_ROTATION_INTERVAL: Duration = Duration::from_secs(60);

/// Runs, every [`REVEAL_ROTATION_INTERVAL`], each org's rotations that reveals queued under
/// the rotate-after-reveal policy once they are [`governance::jobs::REVEAL_GRACE`] old and
/// still untouched, so a revealed PIN does not stay valid for good when nobody presses
/// Rotate PIN. Runs until aborted; a failed org is logged and tried again at the next tick.
async fn rotate_after_reveals(store: Store, custody: std::sync::Arc<web::Custody>) {
    let mut ticks = tokio::time::interval(REVEAL_ROTATION_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let orgs = match governance::orgs::list(&store).await {
            Ok(orgs) => orgs,
            Err(error) => {
                tracing::warn!(%error, "listing orgs for queued reveal rotations failed; will retry");
                continue;
            }
        };
        let mut ran = 0;
        for org in orgs {
            match rotate_revealed(&store, &custody, &org.id).await {
                Ok(jobs) => ran += jobs,
                Err(error) => {
                    tracing::warn!(org = %org.slug, %error, "rotating after reveals failed; will retry");
                }
            }
        }
        // At debug level so a quiet minute stays quiet; it tells a reader (and the tests)
        // that a round ended, including one that found nothing due.
        tracing::debug!(ran, "looked for rotations reveals queued");
    }
}

/// Runs `org`'s due rotations and returns how many jobs it ran. Each job is found due at
/// the moment it starts: a run can take minutes of Meta calls, and a reveal meanwhile
/// restarts its job's grace.
async fn rotate_revealed(
    store: &Store,
    custody: &web::Custody,
    org: &str,
) -> Result<usize, governance::Error> {
    let mut custody_of_org = None;
    let mut ran: Vec<String> = Vec::new();
    loop {
        let due = chrono::Utc::now() - governance::jobs::REVEAL_GRACE;
        let waiting = governance::jobs::waiting_since(store, org, due).await?;
        let Some(job) = waiting.into_iter().find(|job| !ran.contains(job)) else {
            return Ok(ran.len());
        };
        let (custodian, recovery) = match &custody_of_org {
            Some(loaded) => loaded,
            None => custody_of_org.insert(custody.for_org(store, org).await?),
        };
        let status = governance::jobs::run(
            custodian,
            org,
            &audit::Actor::system(),
            &job,
            recovery,
            &|_| {},
        )
        .await?;
        tracing::info!(%job, status = %status.status, done = status.done, "ran a rotation a reveal queued");
        ran.push(job);
    }
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
