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
    let escrow = super::keys::open_escrow(&store, config).await?;
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
        on_prem: config.on_prem.clone(),
    })
    .with_checkpoint_key(std::sync::Arc::clone(&checkpoint_key));
    tracing::info!(settings = %config.summary(), "starting");
    for unused in config.not_yet_used() {
        tracing::warn!("{unused}");
    }
    tracing::info!(
        backend = store.backend().name(),
        "listening on http://{address}"
    );
    let checkpoints = tokio::spawn(sign_checkpoints(store.clone(), checkpoint_key));
    let reveals = state.custody.clone().map(|custody| {
        let metrics = std::sync::Arc::clone(&state.metrics);
        tokio::spawn(rotate_after_reveals(store.clone(), custody, metrics))
    });
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
/// Rotate PIN; and tries again, after a growing wait, those that failed. Runs until
/// aborted; a failed org is logged and tried again at the next tick. Each attempt counts
/// in `/metrics`, as one made from the dashboard does.
async fn rotate_after_reveals(
    store: Store,
    custody: std::sync::Arc<web::Custody>,
    metrics: std::sync::Arc<web::metrics::Metrics>,
) {
    let mut ticks = tokio::time::interval(REVEAL_ROTATION_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut warnings = Warnings::default();
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
            match rotate_revealed(&store, &custody, &metrics, &org.id).await {
                Ok(jobs) => {
                    ran += jobs;
                    warnings.cleared(&org.id);
                }
                Err(error) => {
                    let error = error.to_string();
                    if warnings.is_news(&org.id, &error, std::time::Instant::now()) {
                        tracing::warn!(org = %org.slug, %error, "rotating after reveals failed; will retry (the same failure is logged again hourly)");
                    }
                }
            }
        }
        // At debug level so a quiet minute stays quiet; it tells a reader (and the tests)
        // that a round ended, including one that found nothing due.
        tracing::debug!(ran, "looked for rotations reveals queued");
    }
}

/// How often a failure that persists (an org without a Graph credential, say) is logged
/// again: once a minute would bury every other line.
const REPEAT_WARNING_EVERY: Duration = Duration::from_secs(60 * 60);

/// The failure last logged for each org, and when.
#[derive(Debug, Default)]
struct Warnings(std::collections::HashMap<String, (String, std::time::Instant)>);

impl Warnings {
    /// Whether `error` for `org` is worth logging at `now` (new, changed, or last logged
    /// [`REPEAT_WARNING_EVERY`] ago); remembers it if so.
    fn is_news(&mut self, org: &str, error: &str, now: std::time::Instant) -> bool {
        let news = self.0.get(org).is_none_or(|(last, at)| {
            last != error || now.duration_since(*at) >= REPEAT_WARNING_EVERY
        });
        if news {
            self.0.insert(org.to_owned(), (error.to_owned(), now));
        }
        news
    }

    /// Forgets `org`'s failure: it succeeded, so the next failure is news.
    fn cleared(&mut self, org: &str) {
        self.0.remove(org);
    }
}

/// Runs `org`'s due rotations and returns how many jobs it ran: first the retries of
/// rotations that failed since a reveal ([`governance::jobs::failed_after_reveal`]), then
/// the rotations reveals queued that waited out their grace. Each is found due at the
/// moment it starts: a run can take minutes of Meta calls, and a reveal meanwhile
/// restarts its job's grace. Nothing is queued for an org whose custody cannot be loaded
/// (no Graph credential): its error is returned instead.
async fn rotate_revealed(
    store: &Store,
    custody: &web::Custody,
    metrics: &web::metrics::Metrics,
    org: &str,
) -> Result<usize, governance::Error> {
    let revealed_by = || chrono::Utc::now() - governance::jobs::REVEAL_GRACE;
    let retries =
        governance::jobs::failed_after_reveal(store, org, revealed_by(), chrono::Utc::now())
            .await?;
    let mut ran: Vec<String> = Vec::new();
    if retries.is_empty() && next_waiting(store, org, &ran).await?.is_none() {
        return Ok(0);
    }
    let (custodian, recovery) = custody.for_org(store, org).await?;
    // A job is run only while nothing touched it since `queued_by`: a reveal meanwhile
    // restarts its grace (see `jobs::run_waiting`).
    let run = |job: String, queued_by: chrono::DateTime<chrono::Utc>| {
        let (custodian, recovery) = (&custodian, &recovery);
        async move {
            let status = governance::jobs::run_waiting(
                custodian,
                org,
                &audit::Actor::system(),
                &job,
                queued_by,
                recovery,
                &|_, attempt| {
                    if let Some(outcome) = attempt {
                        metrics.record_custody(outcome);
                    }
                },
            )
            .await?;
            Ok::<_, governance::Error>((job, status))
        }
    };
    for phone in retries {
        let queued =
            governance::jobs::retry_rotation(store, org, &phone, revealed_by(), chrono::Utc::now())
                .await?;
        if let Some(job) = queued {
            let (job, status) = run(job, chrono::Utc::now()).await?;
            tracing::info!(%job, status = %status.status, done = status.done, "retried the failed rotation of a revealed PIN");
            ran.push(job);
        }
    }
    while let Some((job, queued_by)) = next_waiting(store, org, &ran).await? {
        let (job, status) = run(job, queued_by).await?;
        tracing::info!(%job, status = %status.status, done = status.done, "ran a rotation a reveal queued");
        ran.push(job);
    }
    Ok(ran.len())
}

/// The oldest rotation of `org` a reveal queued that has waited out its grace and is not
/// among `ran`, with the moment it was last queued by at the latest.
async fn next_waiting(
    store: &Store,
    org: &str,
    ran: &[String],
) -> Result<Option<(String, chrono::DateTime<chrono::Utc>)>, governance::Error> {
    let due = chrono::Utc::now() - governance::jobs::REVEAL_GRACE;
    let waiting = governance::jobs::waiting_since(store, org, due).await?;
    Ok(waiting
        .into_iter()
        .find(|job| !ran.contains(job))
        .map(|job| (job, due)))
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{REPEAT_WARNING_EVERY, Warnings};

    #[test]
    fn a_repeated_failure_is_logged_once_an_hour_and_a_new_one_at_once() {
        let mut warnings = Warnings::default();
        let start = Instant::now();
        let minute = Duration::from_secs(60);
        assert!(warnings.is_news("acme", "no Graph credential", start));
        assert!(!warnings.is_news("acme", "no Graph credential", start + minute));
        assert!(
            warnings.is_news("globex", "no Graph credential", start + minute),
            "another org's is its own"
        );
        assert!(
            warnings.is_news("acme", "Meta is down", start + 2 * minute),
            "a different failure"
        );
        assert!(!warnings.is_news("acme", "Meta is down", start + 3 * minute));
        assert!(warnings.is_news(
            "acme",
            "Meta is down",
            start + 2 * minute + REPEAT_WARNING_EVERY
        ));
    }

    #[test]
    fn after_a_success_the_same_failure_is_news_again() {
        let mut warnings = Warnings::default();
        let start = Instant::now();
        assert!(warnings.is_news("acme", "no Graph credential", start));
        warnings.cleared("acme");
        assert!(warnings.is_news(
            "acme",
            "no Graph credential",
            start + Duration::from_secs(60)
        ));
    }
}
