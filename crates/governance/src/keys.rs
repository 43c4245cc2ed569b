//! The service's age identity: it opens every escrowed PIN and sealed token.
//!
//! It is created on first start. Once anything has been sealed to it, a missing identity
//! file is an error, never a reason to make a new one: a new identity would open nothing
//! that is already in escrow.

use std::path::Path;

use vault::{Created, Identity};

use crate::store::Store;
use crate::{Error, on_pool};

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
    let sql = "SELECT COUNT(*) FROM pin_versions";
    let count = on_pool!(store, pool => sqlx::query_scalar(sql).fetch_one(pool).await)?;
    Ok(count)
}
