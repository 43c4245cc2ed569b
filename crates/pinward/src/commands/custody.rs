//! `pinward sync`, `pinward rotate …` and `pinward escrow export`: inventory and PIN
//! custody from the command line.
//!
//! The org's Graph token is the credential stored with `pinward credentials set`;
//! `PINWARD_GRAPH_TOKEN` overrides it (for a one-off run with another token). The
//! On-Premises admin login comes from `PINWARD_ONPREM_USERNAME` / `PINWARD_ONPREM_PASSWORD`
//! (the configuration's `on_prem`).
//! New PINs are sealed to the org's recovery recipients (`pinward recovery add`) and to
//! those of `--recovery FILE`. A progress bar is drawn on a terminal only.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use audit::Actor;
use governance::Store;
use governance::custody::{Custodian, MetaAccess, Settings};
use governance::jobs::{self, JobStatus, Selection};
use graph::{AccessToken, BusinessId, GraphClient, GraphConfig, PhoneNumberId};
use indicatif::{ProgressBar, ProgressStyle};
use vault::Recipient;

use crate::cli::{RunArgs, SyncArgs};
use crate::config::Config;

pub(crate) fn graph_client(config: &Config) -> anyhow::Result<GraphClient> {
    let mut graph_config = GraphConfig::new(config.graph_base_url.clone());
    graph_config.version = config.graph_version;
    GraphClient::new(graph_config).context("cannot build the Graph client")
}

/// The org's id, from its id or slug.
pub(crate) async fn org_id(store: &Store, org: &str) -> anyhow::Result<String> {
    let found = governance::orgs::find(store, org)
        .await
        .with_context(|| format!("--org {org}"))?;
    Ok(found.id)
}

/// How to reach Meta for `org`: `PINWARD_GRAPH_TOKEN` if set, else the org's stored
/// credential (opened with the service identity).
async fn meta_access(config: &Config, store: &Store, org: &str) -> anyhow::Result<MetaAccess> {
    let token = match std::env::var("PINWARD_GRAPH_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        Some(token) => AccessToken::from(token),
        None => {
            let escrow = super::keys::open_escrow(store, config).await?;
            governance::credentials::open(store, &escrow, org)
                .await
                .context("the org has no Graph token: store one with `pinward credentials set --org ORG` (or set PINWARD_GRAPH_TOKEN)")?
        }
    };
    let graph = graph_client(config)?;
    Ok(MetaAccess {
        graph,
        token,
        on_prem: config.on_prem.clone(),
    })
}

fn stdout_line(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(())
}

fn bar(total: u64, message: &'static str) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} {elapsed_precise}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message);
    Some(bar)
}

pub async fn sync(config: &Config, args: &SyncArgs) -> anyhow::Result<()> {
    let businesses = args
        .businesses
        .iter()
        .map(|b| {
            BusinessId::parse(b)
                .map_err(|error| anyhow::anyhow!("--business {}: {error}", graph::described(b)))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let store = super::open_store(config).await?;
    let org = org_id(&store, &args.org).await?;
    let meta = meta_access(config, &store, &org).await?;
    let spinner = bar(0, "reading from Meta");
    let options = governance::sync::SyncOptions {
        on_prem_url_template: args.on_prem_url_template.clone(),
    };
    let report = governance::sync::run(
        &store,
        &org,
        &Actor::system(),
        &meta,
        &businesses,
        &options,
        &mut |p| {
            if let Some(bar) = &spinner {
                bar.set_length(p.numbers as u64);
                bar.set_position(p.numbers as u64);
            }
        },
    )
    .await
    .context("sync failed; nothing was changed")?;
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    store.close().await;
    if args.json {
        stdout_line(&serde_json::to_string(&report)?)
    } else {
        stdout_line(&format!(
            "synced {} WABAs and {} numbers: {} new numbers, {} updated, {} vanished, {} back; {} changes ledgered",
            report.wabas_seen,
            report.numbers_seen,
            report.numbers_discovered,
            report.numbers_updated,
            report.numbers_vanished,
            report.numbers_reappeared,
            report.changes()
        ))
    }
}

/// The org's stored recovery recipients plus those of `--recovery FILE`.
async fn recovery_recipients(
    store: &Store,
    org: &str,
    path: Option<&Path>,
) -> anyhow::Result<Vec<Recipient>> {
    let mut recipients = governance::recovery::recipients_of(store, org).await?;
    for extra in recovery_file(path)? {
        if !recipients
            .iter()
            .any(|r| r.to_string() == extra.to_string())
        {
            recipients.push(extra);
        }
    }
    Ok(recipients)
}

fn recovery_file(path: Option<&Path>) -> anyhow::Result<Vec<Recipient>> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--recovery {}: cannot read it", path.display()))?;
    let recipients = vault::Recipients::parse_new(&text)
        .with_context(|| format!("--recovery {}", path.display()))?;
    Ok(recipients.iter().cloned().collect())
}

async fn custodian(config: &Config, run: &RunArgs) -> anyhow::Result<(Store, Custodian, String)> {
    let store = super::open_store(config).await?;
    let org = org_id(&store, &run.org).await?;
    let meta = meta_access(config, &store, &org).await?;
    let escrow = super::keys::open_escrow(&store, config).await?;
    let settings = Settings {
        lease: Duration::from_secs(run.lease_seconds),
        ..Settings::default()
    };
    let custodian = Custodian::new(store.clone(), Arc::new(escrow), Arc::new(meta), settings);
    Ok((store, custodian, org))
}

/// Works on the job until it is finished, paused or cancelled, waiting for the leases of
/// dead workers to expire so their items are taken over.
async fn work(
    custodian: &Custodian,
    run: &RunArgs,
    org: &str,
    job: &str,
) -> anyhow::Result<JobStatus> {
    let store = custodian.store();
    let recovery = recovery_recipients(store, org, run.recovery.as_deref()).await?;
    let initial = jobs::status(store, org, job).await?;
    let progress = bar(u64::try_from(initial.total).unwrap_or(0), "rotating");
    let show = |status: &JobStatus, _: Option<&governance::custody::Outcome>| {
        if let Some(bar) = &progress {
            bar.set_position(u64::try_from(status.finished()).unwrap_or(0));
        }
    };
    let status = loop {
        let status = jobs::run(custodian, org, &Actor::system(), job, &recovery, &show).await?;
        if status.status != "running" || status.running == 0 {
            break status;
        }
        // Items still claimed by another (maybe dead) worker: wait for their leases.
        tokio::time::sleep(Duration::from_millis(500).min(Duration::from_secs(run.lease_seconds)))
            .await;
    };
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    Ok(status)
}

fn print_status(status: &JobStatus, json: bool) -> anyhow::Result<()> {
    if json {
        stdout_line(&serde_json::to_string(status)?)
    } else {
        stdout_line(&format!(
            "job {} {}: {} of {} done, {} failed, {} skipped, {} queued, {} running",
            status.id,
            status.status,
            status.done,
            status.total,
            status.failed,
            status.skipped,
            status.queued,
            status.running
        ))
    }
}

pub async fn rotate_start(
    config: &Config,
    run: &RunArgs,
    all: bool,
    numbers: &[String],
    concurrency: u32,
) -> anyhow::Result<()> {
    let selection = if all {
        Selection::All
    } else {
        let ids = numbers
            .iter()
            .map(|n| {
                PhoneNumberId::parse(n)
                    .map_err(|error| anyhow::anyhow!("--number {}: {error}", graph::described(n)))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Selection::Numbers(ids)
    };
    // A bad --recovery file stops the command before a job is created and ledgered.
    recovery_file(run.recovery.as_deref())?;
    let (store, custodian, org) = custodian(config, run).await?;
    let job = jobs::start(&store, &org, &Actor::system(), &selection, concurrency).await?;
    stdout_line(&format!("rotation job {job} started"))?;
    let status = work(&custodian, run, &org, &job).await?;
    store.close().await;
    print_status(&status, run.json)?;
    if status.failed > 0 {
        bail!(
            "{} number(s) failed: see `pinward rotate status {job}` and the ledger",
            status.failed
        );
    }
    Ok(())
}

pub async fn rotate_resume(config: &Config, run: &RunArgs, job: &str) -> anyhow::Result<()> {
    let (store, custodian, org) = custodian(config, run).await?;
    let current = jobs::status(&store, &org, job).await?;
    if current.status == "paused" {
        jobs::control(&store, &org, &Actor::system(), job, jobs::Command::Resume).await?;
    }
    let status = work(&custodian, run, &org, job).await?;
    store.close().await;
    print_status(&status, run.json)
}

pub async fn rotate_status(
    config: &Config,
    org: &str,
    job: &str,
    json: bool,
) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    let org = org_id(&store, org).await?;
    let status = jobs::status(&store, &org, job).await?;
    store.close().await;
    print_status(&status, json)
}

pub async fn rotate_control(
    config: &Config,
    org: &str,
    job: &str,
    command: jobs::Command,
) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    let org = org_id(&store, org).await?;
    let status = jobs::control(&store, &org, &Actor::system(), job, command).await?;
    store.close().await;
    print_status(&status, false)
}

pub async fn escrow_export(config: &Config, org: &str, out: &Path) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    let org = org_id(&store, org).await?;
    let manifest = match governance::escrow::export(&store, &org, &Actor::system(), out).await {
        Err(governance::Error::Invalid {
            field: "out",
            problem,
        }) => bail!("--out: {problem}"),
        other => other?,
    };
    store.close().await;
    let versions: usize = manifest.numbers.iter().map(|n| n.versions.len()).sum();
    stdout_line(&format!(
        "exported {} numbers ({} sealed versions) to {}; open a file with `age -d -i ORG_KEY FILE`",
        manifest.numbers.len(),
        versions,
        out.display()
    ))
}
