//! Escrow export: the org's sealed PINs as standard age files, for offline recovery.
//!
//! Every version is already sealed to the org's recovery recipients (and the service
//! identity), so the export writes the stored ciphertext as it is: the org opens a file
//! with `age -d -i ORG_KEY FILE`, even if pinward is gone. Per number with an escrowed
//! PIN: `<phone number id>.age` holds the current version; while a send is uncertain,
//! `<phone number id>.pending.age` holds the pending one (Meta holds one of the two).
//! `manifest.json` lists numbers, display numbers, versions, statuses, file names and the
//! SHA-256 of each file. The export is ledgered (`escrow.exported`), without any PIN.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use audit::Actor;
use chrono::Utc;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::custody::protocol_event as event;
use crate::store::Store;
use crate::{Error, ledger};

/// The manifest written beside the files.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Manifest {
    /// The org.
    pub org: String,
    /// When (RFC 3339).
    pub exported_at: String,
    /// One entry per number with at least one exported version.
    pub numbers: Vec<ManifestNumber>,
}

/// One number of the manifest.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ManifestNumber {
    /// Meta's phone number id.
    pub phone_number_id: String,
    /// The display number.
    pub display_phone_number: String,
    /// Its PIN state.
    pub pin_state: String,
    /// Exported versions.
    pub versions: Vec<ManifestVersion>,
}

/// One exported version.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ManifestVersion {
    /// The version number.
    pub version: i64,
    /// `current` or `pending`.
    pub status: String,
    /// The file name in the export folder.
    pub file: String,
    /// Lowercase hex SHA-256 of the file.
    pub sha256: String,
    /// The recovery recipients it is sealed to (besides the service identity).
    pub recovery_recipients: Vec<String>,
}

type Row = (String, String, String, i64, String, String, String);

/// Writes the org's escrow to `out_dir` (created if missing, refused unless empty; files
/// are 0600) and returns the manifest it wrote as `manifest.json`.
pub async fn export(
    store: &Store,
    org: &str,
    actor: &Actor,
    out_dir: &Path,
) -> Result<Manifest, Error> {
    let sql = "SELECT n.meta_phone_number_id, n.display_phone_number, n.pin_state, v.version, v.status, v.sealed, \
               v.recovery_recipients FROM pin_versions v JOIN phone_numbers n ON n.id = v.phone_number_id \
               WHERE v.org_id = $1 AND (v.status = 'current' OR (v.status = 'pending' AND n.pin_state = 'uncertain')) \
               ORDER BY n.meta_phone_number_id, v.version";
    let rows: Vec<Row> =
        crate::on_read!(store, org, conn => sqlx::query_as(sql).bind(org).fetch_all(conn).await)?;
    let file_error = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::File { path, source }
    };
    fs::create_dir_all(out_dir).map_err(file_error(out_dir))?;
    // An older export's files left beside this one's would look like escrow it vouches for.
    let mut entries = fs::read_dir(out_dir).map_err(file_error(out_dir))?;
    if entries.next().is_some() {
        return Err(Error::Invalid {
            field: "out",
            problem: format!(
                "{} is not empty: export into a new or empty folder, so no file of an \
                 earlier export is mistaken for this one's",
                out_dir.display()
            ),
        });
    }
    let mut numbers: Vec<ManifestNumber> = Vec::new();
    let mut files = 0usize;
    for (meta_id, display, state, version, status, sealed, recovery) in rows {
        let file = if status == "current" {
            format!("{meta_id}.age")
        } else {
            format!("{meta_id}.pending.age")
        };
        write_private(&out_dir.join(&file), sealed.as_bytes())
            .map_err(file_error(&out_dir.join(&file)))?;
        files += 1;
        let entry = ManifestVersion {
            version,
            status,
            file,
            sha256: hex::encode(Sha256::digest(sealed.as_bytes())),
            recovery_recipients: recovery
                .lines()
                .map(str::to_owned)
                .filter(|l| !l.is_empty())
                .collect(),
        };
        match numbers.last_mut() {
            Some(last) if last.phone_number_id == meta_id => last.versions.push(entry),
            _ => numbers.push(ManifestNumber {
                phone_number_id: meta_id,
                display_phone_number: display,
                pin_state: state,
                versions: vec![entry],
            }),
        }
    }
    let now = Utc::now();
    let manifest = Manifest {
        org: org.to_owned(),
        exported_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        numbers,
    };
    let text = serde_json::to_vec_pretty(&manifest)
        .map_err(|_| Error::Background("writing the manifest"))?;
    let path = out_dir.join("manifest.json");
    write_private(&path, &text).map_err(file_error(&path))?;
    let mut tx = store.begin_for(org).await?;
    let draft = event(
        "escrow.exported",
        format!("org:{org}"),
        actor,
        json!({ "numbers": manifest.numbers.len(), "files": files }),
    )?;
    ledger::append(&mut tx, org, now, draft).await?;
    tx.commit().await?;
    Ok(manifest)
}

/// Writes `bytes` to `path` (replacing it) with mode 0600 and flushes it to disk.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
