//! `pinward ledger verify`: check an exported ledger offline, without a database.

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
    let format = format.unwrap_or_else(|| {
        if file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        {
            LedgerFormat::Csv
        } else {
            LedgerFormat::Jsonl
        }
    });
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
