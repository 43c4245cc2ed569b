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

use crate::store::{Store, Tx};
use crate::{Error, on_pool, on_tx};

const FINGERPRINT_KEY: &str = "pin_fingerprint_key";

/// The service identity plus the org-independent fingerprint key.
pub struct Escrow {
    identity: Identity,
    fingerprints: FingerprintKey,
    /// The fingerprint key as the database held it sealed to `identity`. `keys rotate`
    /// re-seals it with everything else, so another text in the database means escrow went
    /// to another identity since this escrow was loaded.
    sealed_key: String,
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
        // During a rotation the new identity opens only the re-sealed copy, which becomes
        // the stored one when the rotation ends.
        let (secret, opened): (Secret, &str) = open_which(&identity, &stored, next.as_deref())?;
        let sealed_key = opened.to_owned();
        let fingerprints = FingerprintKey::from_secret(&secret)?;
        Ok(Escrow {
            identity,
            fingerprints,
            sealed_key,
        })
    }

    /// Refuses with [`Error::IdentityRotated`] when the database's escrow is no longer
    /// sealed to this identity (`keys rotate` ran on another host since this process
    /// started, and what it sealed now would open only with the retired identity), and with
    /// [`Error::KeyRotationUnfinished`] while a rotation re-seals or after one stopped. It
    /// compares text, no decryption, and holds the row so that a rotation's re-seal waits
    /// for this transaction: cheap enough for every transaction that seals.
    pub(crate) async fn check_current(&self, tx: &mut Tx) -> Result<(), Error> {
        let sql = crate::store::dialect::select_service_secret_for_share(tx.backend());
        let stored: Option<(String, Option<String>)> = on_tx!(tx, conn => sqlx::query_as(sql).bind(FINGERPRINT_KEY).fetch_optional(conn).await)?;
        self.matches(stored)
    }

    /// [`Escrow::check_current`] outside a transaction, for readiness probes and before
    /// asking Meta about a token to seal.
    ///
    /// # Errors
    /// [`Error::IdentityRotated`] when escrow went to another identity,
    /// [`Error::KeyRotationUnfinished`] while a rotation runs or after one stopped;
    /// database errors.
    pub async fn is_current(&self, store: &Store) -> Result<(), Error> {
        let sql = "SELECT sealed, sealed_next FROM service_secrets WHERE name = $1";
        let stored: Option<(String, Option<String>)> = on_pool!(store, pool => sqlx::query_as(sql).bind(FINGERPRINT_KEY).fetch_optional(pool).await)?;
        self.matches(stored)
    }

    fn matches(&self, stored: Option<(String, Option<String>)>) -> Result<(), Error> {
        match stored {
            Some((_, Some(_))) => Err(Error::KeyRotationUnfinished),
            Some((sealed, None)) if sealed == self.sealed_key => Ok(()),
            _ => Err(Error::IdentityRotated),
        }
    }

    /// `error`, or why it happened when it is a failure to open something sealed:
    /// [`Error::IdentityRotated`] (escrow went to another identity since this process
    /// started) or [`Error::KeyRotationUnfinished`].
    pub async fn explain(&self, store: &Store, error: Error) -> Error {
        match error {
            Error::Vault(_) => match self.is_current(store).await {
                Err(rotated @ (Error::IdentityRotated | Error::KeyRotationUnfinished)) => rotated,
                _ => error,
            },
            other => other,
        }
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
    open_which(identity, sealed, sealed_next).map(|(plain, _)| plain)
}

/// [`open_either`], with the copy that opened.
fn open_which<'a, P: vault::Plaintext>(
    identity: &Identity,
    sealed: &'a str,
    sealed_next: Option<&'a str>,
) -> Result<(P, &'a str), Error> {
    match vault::open::<P>(sealed, identity) {
        Ok(plain) => Ok((plain, sealed)),
        Err(first) => match sealed_next {
            Some(next) => Ok((vault::open::<P>(next, identity)?, next)),
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
