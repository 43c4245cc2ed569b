//! The service's age identity: it opens every escrowed PIN and sealed token.
//!
//! It is created on first start. Once anything has been sealed to it, a missing identity
//! file is an error, never a reason to make a new one: a new identity would open nothing
//! that is already in escrow.

use std::path::Path;

use vault::{Created, Identity};

use crate::store::Store;
use crate::{Error, on_pool, on_tx};

/// Loads the service identity at `path`, creating it (mode 0600) when absent and nothing
/// is sealed yet. The file work runs on the blocking pool.
pub async fn service_identity(store: &Store, path: &Path) -> Result<(Identity, Created), Error> {
    let sealed = sealed_items(store).await?;
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        if sealed > 0 && !path.exists() {
            return Err(Error::IdentityMissing { path, sealed });
        }
        Identity::load_or_create(&path).map_err(Error::Vault)
    })
    .await
    .map_err(|_| Error::Background("loading the service identity"))?
}

/// A shared hold on the service identity, kept for as long as a process may open or seal
/// with it. [`rotate`] needs the hold exclusively, so a key rotation cannot re-seal escrow
/// to a new identity under a running service, which would then open nothing. The hold is
/// an OS file lock on `<identity file>.lock`: it ends with the process, even a killed one.
#[derive(Debug)]
pub struct InUse {
    _lock: std::fs::File,
}

/// The lock file beside the identity at `active`.
#[must_use]
pub fn lock_path(active: &Path) -> std::path::PathBuf {
    let mut name = active
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    name.push(".lock");
    active.with_file_name(name)
}

/// Opens the lock file, creating it empty. A lock needs no write access, so it is opened
/// for reading, and created readable by all: whichever account made it (the service's, or
/// root running `keys show`), every other can still lock it.
fn open_lock(active: &Path) -> Result<(std::fs::File, std::path::PathBuf), Error> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let path = lock_path(active);
    let file = match std::fs::File::open(&path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o644)
            .open(&path)
            // The umask may have narrowed the mode; the lock holds no secret.
            .and_then(|_| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)))
            .and_then(|()| std::fs::File::open(&path)),
        opened => opened,
    }
    .map_err(file_error(&path))?;
    Ok((file, path))
}

/// Holds the identity at `active` in use until the [`InUse`] is dropped; waits while a key
/// rotation runs.
///
/// # Errors
/// [`Error::File`] if the lock file cannot be created or locked.
pub async fn hold(active: &Path) -> Result<InUse, Error> {
    let active = active.to_owned();
    tokio::task::spawn_blocking(move || {
        let (file, path) = open_lock(&active)?;
        match file.try_lock_shared() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                tracing::warn!(lock = %path.display(), "a key rotation holds the service identity; waiting for it to finish");
                file.lock_shared().map_err(file_error(&path))?;
            }
            Err(std::fs::TryLockError::Error(source)) => return Err(Error::File { path, source }),
        }
        Ok(InUse { _lock: file })
    })
    .await
    .map_err(|_| Error::Background("holding the service identity"))?
}

/// Reads the identity file without creating it (for `/readyz`): its recipient.
pub async fn check_identity(path: &Path) -> Result<vault::Recipient, Error> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        Identity::load(&path)
            .map(|identity| identity.recipient())
            .map_err(Error::Vault)
    })
    .await
    .map_err(|_| Error::Background("reading the service identity"))?
}

/// How many sealed items the database holds, all of which need the service identity.
async fn sealed_items(store: &Store) -> Result<i64, Error> {
    let secrets = count(store, "SELECT COUNT(*) FROM service_secrets").await?;
    let per_org = count_per_org(
        store,
        "SELECT (SELECT COUNT(*) FROM pin_versions WHERE org_id = $1) \
         + (SELECT COUNT(*) FROM graph_credentials WHERE org_id = $1)",
    )
    .await?;
    Ok(secrets + per_org)
}

/// Every org's id. Key work is the one deliberate cross-org path besides checkpoints and
/// login: it visits the orgs one by one, each inside its own tenant, so row-level security
/// holds throughout.
async fn org_ids(store: &Store) -> Result<Vec<String>, Error> {
    let sql = "SELECT id FROM orgs ORDER BY id";
    Ok(on_pool!(store, pool => sqlx::query_scalar(sql).fetch_all(pool).await)?)
}

/// The sum over every org of `sql` (one `$1`: the org id), each read in its tenant.
async fn count_per_org(store: &Store, sql: &'static str) -> Result<i64, Error> {
    let mut total = 0;
    for org in org_ids(store).await? {
        let n: i64 = crate::on_read!(store, &org, conn => sqlx::query_scalar(sql).bind(&org).fetch_one(conn).await)?;
        total += n;
    }
    Ok(total)
}

/// What [`rotate`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyRotation {
    /// Sealed items re-sealed to the new identity.
    pub resealed: usize,
    /// The new service recipient.
    pub recipient: String,
    /// Where the old identity was kept (absent when a crashed rotation was only finished).
    pub retired: Option<std::path::PathBuf>,
}

/// The file next to `active` named `<stem>.<suffix>.txt`.
fn sibling(active: &Path, suffix: &str) -> std::path::PathBuf {
    let stem = active
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "identity".to_owned());
    active.with_file_name(format!("{stem}.{suffix}.txt"))
}

fn file_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + use<> {
    let path = path.to_owned();
    move |source| Error::File { path, source }
}

/// Re-seals every sealed item (PIN versions, service secrets, orgs' Graph tokens) from the identity at `active`
/// to a new identity, then makes the new one active and keeps the old one as
/// `<stem>.retired-<time>.txt` (0600). Refused with [`Error::IdentityInUse`] while a
/// process [holds](hold) the identity: run it with the service stopped.
///
/// Crash-safe and resumable: the new identity is written first as `<stem>.next.txt`;
/// re-sealed copies go to `sealed_next` beside `sealed`, so every item opens with the old
/// or the new identity at every moment (custody tries both); every copy is test-opened with
/// the new identity and compared with the old plaintext before the files are swapped (a
/// hard link keeps the old file, a rename makes the new one active); finally one
/// transaction moves `sealed_next` into `sealed` and ledgers `keys.rotated` for each org.
/// Running it again after a crash at any point finishes the job.
pub async fn rotate(
    store: &Store,
    active: &Path,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> Result<KeyRotation, Error> {
    let (exclusive, lock) = open_lock(active)?;
    match exclusive.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(Error::IdentityInUse { lock }),
        Err(std::fs::TryLockError::Error(source)) => {
            return Err(Error::File { path: lock, source });
        }
    }
    let next_path = sibling(active, "next");
    let waiting = count_per_org(
        store,
        "SELECT (SELECT COUNT(*) FROM pin_versions WHERE org_id = $1 AND sealed_next IS NOT NULL) \
         + (SELECT COUNT(*) FROM graph_credentials WHERE org_id = $1 AND sealed_next IS NOT NULL)",
    )
    .await?
        + count(
            store,
            "SELECT COUNT(*) FROM service_secrets WHERE sealed_next IS NOT NULL",
        )
        .await?;
    if !next_path.exists() && waiting > 0 {
        // A crash after the file swap: the active identity is already the new one.
        let new = Identity::load(active)?;
        verify(store, None, &new).await?;
        let resealed = swap_database(store, &new).await?;
        return Ok(KeyRotation {
            resealed,
            recipient: new.recipient().to_string(),
            retired: None,
        });
    }
    let old = Identity::load(active)?;
    let (new, _) = Identity::load_or_create(&next_path)?;
    if new.recipient() == old.recipient() {
        return Err(Error::KeyRotation(
            "the next identity equals the active one".to_owned(),
        ));
    }
    reseal(store, &old, &new, progress).await?;
    crate::failpoint::window(crate::failpoint::KEYS_AFTER_RESEAL)?;
    verify(store, Some(&old), &new).await?;

    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
    let retired = sibling(active, &format!("retired-{stamp}"));
    std::fs::hard_link(active, &retired).map_err(file_error(&retired))?;
    std::fs::rename(&next_path, active).map_err(file_error(active))?;
    if let Some(dir) = active.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(file_error(dir))?;
    }
    crate::failpoint::window(crate::failpoint::KEYS_AFTER_SWAP)?;
    let resealed = swap_database(store, &new).await?;
    Ok(KeyRotation {
        resealed,
        recipient: new.recipient().to_string(),
        retired: Some(retired),
    })
}

async fn count(store: &Store, sql: &'static str) -> Result<i64, Error> {
    Ok(on_pool!(store, pool => sqlx::query_scalar(sql).fetch_one(pool).await)?)
}

/// Writes `sealed_next` for every item that has none: the same plaintext sealed to the new
/// service recipient plus the item's recovery recipients.
async fn reseal(
    store: &Store,
    old: &Identity,
    new: &Identity,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> Result<(), Error> {
    let mut versions: Vec<(String, String, String, String)> = Vec::new();
    let mut tokens: Vec<(String, String)> = Vec::new();
    for org in org_ids(store).await? {
        let rows: Vec<(String, String, String)> = crate::on_read!(store, &org, conn => sqlx::query_as(
            "SELECT id, sealed, recovery_recipients FROM pin_versions WHERE org_id = $1 AND sealed_next IS NULL ORDER BY id")
            .bind(&org).fetch_all(conn).await)?;
        versions.extend(
            rows.into_iter()
                .map(|(id, sealed, recovery)| (org.clone(), id, sealed, recovery)),
        );
        let token: Option<String> = crate::on_read!(store, &org, conn => sqlx::query_scalar(
            "SELECT sealed FROM graph_credentials WHERE org_id = $1 AND sealed_next IS NULL")
            .bind(&org).fetch_optional(conn).await)?;
        tokens.extend(token.map(|sealed| (org.clone(), sealed)));
    }
    let secrets: Vec<(String, String)> = on_pool!(store, pool => sqlx::query_as(
        "SELECT name, sealed FROM service_secrets WHERE sealed_next IS NULL").fetch_all(pool).await)?;
    let total = u64::try_from(versions.len() + secrets.len() + tokens.len()).unwrap_or(u64::MAX);
    let mut done = 0u64;
    for (org, id, sealed, recovery) in versions {
        let mut recipients = vec![new.recipient()];
        for line in recovery.lines().map(str::trim).filter(|l| !l.is_empty()) {
            recipients.push(vault::Recipient::parse(line)?);
        }
        let pin: vault::Pin = vault::open(sealed.as_bytes(), old)?;
        let next = vault::seal(&pin, &vault::Recipients::new(recipients)?)?;
        let mut tx = store.begin_for(&org).await?;
        on_tx!(tx, conn => sqlx::query("UPDATE pin_versions SET sealed_next = $2 WHERE id = $1 AND sealed = $3")
            .bind(&id).bind(next.as_str()).bind(&sealed).execute(conn).await.map(|r| r.rows_affected()))?;
        tx.commit().await?;
        done += 1;
        progress(done, total);
    }
    for (name, sealed) in secrets {
        let secret: vault::Secret = vault::open(sealed.as_bytes(), old)?;
        let next = vault::seal(&secret, &vault::Recipients::new([new.recipient()])?)?;
        on_pool!(store, pool => sqlx::query("UPDATE service_secrets SET sealed_next = $2 WHERE name = $1 AND sealed = $3")
            .bind(&name).bind(next.as_str()).bind(&sealed).execute(pool).await.map(|r| r.rows_affected()))?;
        done += 1;
        progress(done, total);
    }
    // Orgs' Graph tokens are sealed to the service identity alone, like service secrets.
    for (org, sealed) in tokens {
        let secret: vault::Secret = vault::open(sealed.as_bytes(), old)?;
        let next = vault::seal(&secret, &vault::Recipients::new([new.recipient()])?)?;
        let mut tx = store.begin_for(&org).await?;
        on_tx!(tx, conn => sqlx::query("UPDATE graph_credentials SET sealed_next = $2 WHERE org_id = $1 AND sealed = $3")
            .bind(&org).bind(next.as_str()).bind(&sealed).execute(conn).await.map(|r| r.rows_affected()))?;
        tx.commit().await?;
        done += 1;
        progress(done, total);
    }
    Ok(())
}

/// Every item has a `sealed_next` that opens with `new` (and, when `old` is given, holds the
/// same plaintext as `sealed` under `old`).
async fn verify(store: &Store, old: Option<&Identity>, new: &Identity) -> Result<(), Error> {
    let mut versions: Vec<(String, Option<String>)> = Vec::new();
    let mut secrets: Vec<(String, Option<String>)> = on_pool!(store, pool => sqlx::query_as(
        "SELECT sealed, sealed_next FROM service_secrets").fetch_all(pool).await)?;
    for org in org_ids(store).await? {
        let rows: Vec<(String, Option<String>)> = crate::on_read!(store, &org, conn => sqlx::query_as(
            "SELECT sealed, sealed_next FROM pin_versions WHERE org_id = $1").bind(&org).fetch_all(conn).await)?;
        versions.extend(rows);
        let tokens: Vec<(String, Option<String>)> = crate::on_read!(store, &org, conn => sqlx::query_as(
            "SELECT sealed, sealed_next FROM graph_credentials WHERE org_id = $1").bind(&org).fetch_all(conn).await)?;
        secrets.extend(tokens);
    }
    let broken = |what: &str| Error::KeyRotation(format!("{what}; run `keys rotate` again"));
    for (sealed, next) in versions {
        let next = next.ok_or_else(|| broken("a PIN version was added during the rotation"))?;
        let fresh: vault::Pin = vault::open(next.as_bytes(), new)
            .map_err(|_| broken("a re-sealed PIN does not open"))?;
        if let Some(old) = old {
            let before: vault::Pin = vault::open(sealed.as_bytes(), old)?;
            if before != fresh {
                return Err(broken("a re-sealed PIN differs from the original"));
            }
        }
    }
    for (sealed, next) in secrets {
        let next = next.ok_or_else(|| broken("a service secret was added during the rotation"))?;
        let fresh: vault::Secret = vault::open(next.as_bytes(), new)
            .map_err(|_| broken("a re-sealed secret does not open"))?;
        if let Some(old) = old {
            let before: vault::Secret = vault::open(sealed.as_bytes(), old)?;
            if before != fresh {
                return Err(broken("a re-sealed secret differs from the original"));
            }
        }
    }
    Ok(())
}

/// One transaction: `sealed_next` becomes `sealed`; `keys.rotated` for every org with
/// sealed versions. The transaction moves its tenant from org to org, so the swap stays
/// atomic under row-level security.
async fn swap_database(store: &Store, new: &Identity) -> Result<usize, Error> {
    let orgs = org_ids(store).await?;
    let mut tx = store.begin().await?;
    let secrets = on_tx!(tx, conn => sqlx::query(
        "UPDATE service_secrets SET sealed = sealed_next, sealed_next = NULL WHERE sealed_next IS NOT NULL")
        .execute(conn).await.map(|r| r.rows_affected()))?;
    let mut versions = 0;
    let mut tokens = 0;
    let now = chrono::Utc::now();
    for org in orgs {
        tx.set_tenant(&org).await?;
        let count = on_tx!(tx, conn => sqlx::query(
            "UPDATE pin_versions SET sealed = sealed_next, sealed_next = NULL WHERE org_id = $1 AND sealed_next IS NOT NULL")
            .bind(&org).execute(conn).await.map(|r| r.rows_affected()))?;
        tokens += on_tx!(tx, conn => sqlx::query(
            "UPDATE graph_credentials SET sealed = sealed_next, sealed_next = NULL WHERE org_id = $1 AND sealed_next IS NOT NULL")
            .bind(&org).execute(conn).await.map(|r| r.rows_affected()))?;
        if count == 0 {
            continue;
        }
        versions += count;
        let draft = crate::custody::protocol_event(
            "keys.rotated",
            format!("org:{org}"),
            &audit::Actor::system(),
            serde_json::json!({ "recipient": new.recipient().to_string(), "versions": count }),
        )?;
        crate::ledger::append(&mut tx, &org, now, draft).await?;
    }
    tx.commit().await?;
    Ok(usize::try_from(versions + secrets + tokens).unwrap_or(usize::MAX))
}
