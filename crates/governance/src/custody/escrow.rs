//! The keys custody works with: the service identity, and the PIN fingerprint key.
//!
//! The fingerprint key (HMAC key of `vault::FingerprintKey`) lets TX1 refuse a new PIN equal
//! to another current PIN of the org without decrypting anything. It is generated once per
//! deployment and stored **in the database**, sealed to the service identity, in
//! `service_secrets` under the name `pin_fingerprint_key`: every instance sharing the
//! database shares it, `keys rotate` re-seals it with the PINs, and a database backup is
//! useless without the identity file.

use chrono::Utc;
use vault::{FingerprintKey, Identity, Pin, Recipients, Secret};

use crate::store::Store;
use crate::{Error, on_pool};

const FINGERPRINT_KEY: &str = "pin_fingerprint_key";

/// The service identity plus the org-independent fingerprint key.
pub struct Escrow {
    identity: Identity,
    fingerprints: FingerprintKey,
}

impl std::fmt::Debug for Escrow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Escrow")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Escrow {
    /// Loads the fingerprint key sealed in the database, creating it on first use.
    pub async fn load(store: &Store, identity: Identity) -> Result<Escrow, Error> {
        let fresh = FingerprintKey::generate();
        let sealed = vault::seal(
            &fresh.to_secret(),
            &Recipients::new([identity.recipient()])?,
        )?;
        // Two instances starting at once: the first insert wins, both read the winner.
        let insert = "INSERT INTO service_secrets (name, sealed, created_at) VALUES ($1, $2, $3) \
                      ON CONFLICT (name) DO NOTHING";
        let select = "SELECT sealed, sealed_next FROM service_secrets WHERE name = $1";
        let (stored, next): (String, Option<String>) = on_pool!(store, pool => {
            sqlx::query(insert)
                .bind(FINGERPRINT_KEY)
                .bind(sealed.as_str())
                .bind(Utc::now())
                .execute(pool)
                .await?;
            sqlx::query_as(select).bind(FINGERPRINT_KEY).fetch_one(pool).await
        })?;
        let secret: Secret = open_either(&identity, &stored, next.as_deref())?;
        let fingerprints = FingerprintKey::from_secret(&secret)?;
        Ok(Escrow {
            identity,
            fingerprints,
        })
    }

    /// The service identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub(crate) fn fingerprints(&self) -> &FingerprintKey {
        &self.fingerprints
    }
}

/// Opens a sealed item with `identity`: the stored copy, or — during `keys rotate`, when
/// the identity may already be the next one — the re-sealed copy.
pub(crate) fn open_either<P: vault::Plaintext>(
    identity: &Identity,
    sealed: &str,
    sealed_next: Option<&str>,
) -> Result<P, Error> {
    match vault::open::<P>(sealed, identity) {
        Ok(plain) => Ok(plain),
        Err(first) => match sealed_next {
            Some(next) => Ok(vault::open::<P>(next, identity)?),
            None => Err(first.into()),
        },
    }
}

/// Opens a sealed PIN version.
pub(crate) fn open_pin(
    identity: &Identity,
    sealed: &str,
    sealed_next: Option<&str>,
) -> Result<Pin, Error> {
    open_either(identity, sealed, sealed_next)
}
