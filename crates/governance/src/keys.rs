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

/// Reads the identity file without creating it (for `/readyz`).
pub async fn check_identity(path: &Path) -> Result<(), Error> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || Identity::load(&path).map(drop).map_err(Error::Vault))
        .await
        .map_err(|_| Error::Background("reading the service identity"))?
}

/// How many sealed items the database holds, all of which need the service identity.
async fn sealed_items(store: &Store) -> Result<i64, Error> {
    let sql = "SELECT (SELECT COUNT(*) FROM pin_versions) + (SELECT COUNT(*) FROM service_secrets) \
               + (SELECT COUNT(*) FROM graph_credentials)";
    let count = on_pool!(store, pool => sqlx::query_scalar(sql).fetch_one(pool).await)?;
    Ok(count)
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
/// `<stem>.retired-<time>.txt` (0600). Run it with the service stopped.
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
    let next_path = sibling(active, "next");
    let waiting = count(
        store,
        "SELECT COUNT(*) FROM pin_versions WHERE sealed_next IS NOT NULL",
    )
    .await?
        + count(
            store,
            "SELECT COUNT(*) FROM service_secrets WHERE sealed_next IS NOT NULL",
        )
        .await?
        + count(
            store,
            "SELECT COUNT(*) FROM graph_credentials WHERE sealed_next IS NOT NULL",
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
    let versions: Vec<(String, String, String)> = on_pool!(store, pool => sqlx::query_as(
        "SELECT id, sealed, recovery_recipients FROM pin_versions WHERE sealed_next IS NULL ORDER BY id")
        .fetch_all(pool).await)?;
    let secrets: Vec<(String, String)> = on_pool!(store, pool => sqlx::query_as(
        "SELECT name, sealed FROM service_secrets WHERE sealed_next IS NULL").fetch_all(pool).await)?;
    let tokens: Vec<(String, String)> = on_pool!(store, pool => sqlx::query_as(
        "SELECT org_id, sealed FROM graph_credentials WHERE sealed_next IS NULL").fetch_all(pool).await)?;
    let total = u64::try_from(versions.len() + secrets.len() + tokens.len()).unwrap_or(u64::MAX);
    let mut done = 0u64;
    for (id, sealed, recovery) in versions {
        let mut recipients = vec![new.recipient()];
        for line in recovery.lines().map(str::trim).filter(|l| !l.is_empty()) {
            recipients.push(vault::Recipient::parse(line)?);
        }
        let pin: vault::Pin = vault::open(sealed.as_bytes(), old)?;
        let next = vault::seal(&pin, &vault::Recipients::new(recipients)?)?;
        on_pool!(store, pool => sqlx::query("UPDATE pin_versions SET sealed_next = $2 WHERE id = $1 AND sealed = $3")
            .bind(&id).bind(next.as_str()).bind(&sealed).execute(pool).await.map(|r| r.rows_affected()))?;
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
        on_pool!(store, pool => sqlx::query("UPDATE graph_credentials SET sealed_next = $2 WHERE org_id = $1 AND sealed = $3")
            .bind(&org).bind(next.as_str()).bind(&sealed).execute(pool).await.map(|r| r.rows_affected()))?;
        done += 1;
        progress(done, total);
    }
    Ok(())
}

/// Every item has a `sealed_next` that opens with `new` (and, when `old` is given, holds the
/// same plaintext as `sealed` under `old`).
async fn verify(store: &Store, old: Option<&Identity>, new: &Identity) -> Result<(), Error> {
    let versions: Vec<(String, Option<String>)> = on_pool!(store, pool => sqlx::query_as(
        "SELECT sealed, sealed_next FROM pin_versions").fetch_all(pool).await)?;
    let mut secrets: Vec<(String, Option<String>)> = on_pool!(store, pool => sqlx::query_as(
        "SELECT sealed, sealed_next FROM service_secrets").fetch_all(pool).await)?;
    let tokens: Vec<(String, Option<String>)> = on_pool!(store, pool => sqlx::query_as(
        "SELECT sealed, sealed_next FROM graph_credentials").fetch_all(pool).await)?;
    secrets.extend(tokens);
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
/// sealed versions.
async fn swap_database(store: &Store, new: &Identity) -> Result<usize, Error> {
    let mut tx = store.begin().await?;
    let orgs: Vec<(String, i64)> = on_tx!(tx, conn => sqlx::query_as(
        "SELECT org_id, COUNT(*) FROM pin_versions WHERE sealed_next IS NOT NULL GROUP BY org_id ORDER BY org_id")
        .fetch_all(conn).await)?;
    let versions = on_tx!(tx, conn => sqlx::query(
        "UPDATE pin_versions SET sealed = sealed_next, sealed_next = NULL WHERE sealed_next IS NOT NULL")
        .execute(conn).await.map(|r| r.rows_affected()))?;
    let secrets = on_tx!(tx, conn => sqlx::query(
        "UPDATE service_secrets SET sealed = sealed_next, sealed_next = NULL WHERE sealed_next IS NOT NULL")
        .execute(conn).await.map(|r| r.rows_affected()))?;
    let tokens = on_tx!(tx, conn => sqlx::query(
        "UPDATE graph_credentials SET sealed = sealed_next, sealed_next = NULL WHERE sealed_next IS NOT NULL")
        .execute(conn).await.map(|r| r.rows_affected()))?;
    let now = chrono::Utc::now();
    for (org, count) in orgs {
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
