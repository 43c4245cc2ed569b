//! `pinward ledger export` streams an org's ledger with a signed checkpoint;
//! `pinward ledger verify` checks an export offline, without a database.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::Path;

use anyhow::Context;
use audit::{PublicKey, Start, VerifyOptions};

use crate::cli::LedgerFormat;

pub fn verify(
    file: &Path,
    key: Option<&Path>,
    from: Option<u64>,
    format: Option<LedgerFormat>,
) -> anyhow::Result<()> {
    let pinned_key = key
        .map(|path| {
            PublicKey::load(path)
                .with_context(|| format!("cannot use the key file {}", path.display()))
        })
        .transpose()?;
    let options = VerifyOptions {
        pinned_key,
        start: from.map_or(Start::Genesis, Start::Seq),
    };
    let format = format.unwrap_or_else(|| format_of(Some(file)));
    let input = File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let input = BufReader::with_capacity(1 << 16, input);
    let report = match format {
        LedgerFormat::Jsonl => audit::verify_jsonl(input, &options),
        LedgerFormat::Csv => audit::verify_csv(input, &options),
    }
    .with_context(|| format!("{} does not verify", file.display()))?;
    if !report.key_pinned {
        tracing::warn!(
            key = %report.key,
            "no --key given: the export is consistent with the key inside it, which proves nothing \
             against a rewrite; pin the key from `pinward keys show` or the dashboard"
        );
    }
    writeln!(std::io::stdout().lock(), "ok {} events", report.events)?;
    Ok(())
}

/// What `pinward ledger export` was asked for.
pub struct ExportRequest {
    pub org: String,
    pub format: Option<LedgerFormat>,
    pub range: governance::export::Range,
    pub out: Option<std::path::PathBuf>,
}

pub async fn export(config: &crate::config::Config, request: ExportRequest) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    // The org first: a wrong --org is named as such before any key is read or created.
    let org = super::custody::org_id(&store, &request.org).await?;
    let key = super::keys::open_checkpoint_key(config).await?;
    let format = match request
        .format
        .unwrap_or_else(|| format_of(request.out.as_deref()))
    {
        LedgerFormat::Jsonl => governance::export::Format::Jsonl,
        LedgerFormat::Csv => governance::export::Format::Csv,
    };
    let now = chrono::Utc::now();
    let summary = match &request.out {
        Some(path) => {
            // Written next to the target and renamed when complete, so an interrupted
            // export never leaves a plausible-looking partial file behind.
            let dir = match path.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir,
                _ => Path::new("."),
            };
            let partial = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("cannot write in {}", dir.display()))?;
            let (partial, summary) =
                governance::export::export(&store, &org, request.range, format, &key, now, partial)
                    .await
                    .map_err(export_failed)?;
            partial.as_file().sync_all()?;
            partial
                .persist(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            summary
        }
        None => {
            let (_, summary) = governance::export::export(
                &store,
                &org,
                request.range,
                format,
                &key,
                now,
                std::io::stdout(),
            )
            .await
            .map_err(export_failed)?;
            summary
        }
    };
    store.close().await;
    tracing::info!(
        org = %summary.org_id,
        events = summary.events,
        checkpoint_seq = summary.checkpoint.checkpoint().seq(),
        key = %summary.checkpoint.key(),
        "ledger exported"
    );
    Ok(())
}

fn format_of(path: Option<&Path>) -> LedgerFormat {
    if path
        .and_then(Path::extension)
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    {
        LedgerFormat::Csv
    } else {
        LedgerFormat::Jsonl
    }
}

/// An export's error in the command line's words: a bad range names its flag.
fn export_failed(error: governance::Error) -> anyhow::Error {
    match error {
        governance::Error::Invalid { field, problem } if matches!(field, "from" | "to") => {
            anyhow::anyhow!("export failed: --{field}: {problem}")
        }
        other => anyhow::Error::new(other).context("export failed"),
    }
}
