//! Passwords: held zeroized, hashed with Argon2id, never printed.

use std::fmt;
use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;
use zeroize::Zeroizing;

use crate::Error;

/// Shortest password pinward accepts for a new account (NIST SP 800-63B asks for at least 8;
/// an escrow of business PINs deserves more).
pub const MIN_LEN: usize = 12;
/// Longest password, in bytes: enough for any passphrase, and a bound on hashing work.
pub const MAX_LEN: usize = 1024;
/// Length of a generated password (62 symbols: about 143 bits).
const GENERATED_LEN: usize = 24;

/// A password as typed or generated. Zeroized when dropped; no `Display`, and `Debug`
/// prints nothing of it.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps a password as given (for sign-in: no policy is applied to what is checked).
    #[must_use]
    pub fn new(text: String) -> Self {
        Password(Zeroizing::new(text))
    }

    /// A fresh random password from the OS's generator, for accounts created without one.
    #[must_use]
    pub fn generate() -> Self {
        Password(Zeroizing::new(
            Alphanumeric.sample_string(&mut OsRng, GENERATED_LEN),
        ))
    }

    /// The password's text (to show a generated password once, or to hash it).
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Checks the policy for a new password: `MIN_LEN` characters to `MAX_LEN` bytes.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `password` (never quoting it).
    pub fn check_policy(&self) -> Result<(), Error> {
        if self.0.chars().count() < MIN_LEN || self.0.len() > MAX_LEN {
            return Err(Error::Invalid {
                field: "password",
                problem: format!("must be at least {MIN_LEN} characters (at most {MAX_LEN} bytes)"),
            });
        }
        Ok(())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(redacted)")
    }
}

/// The PHC string (`$argon2id$v=19$…`) of `password`, with a fresh salt. Argon2 is slow on
/// purpose, so this runs on the blocking pool.
pub(crate) async fn hash(password: &Password) -> Result<String, Error> {
    let password = password.clone();
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|_| Error::Background("password hashing"))?
}

fn hash_now(password: &Password) -> Result<String, Error> {
    let mut salt = [0_u8; 16];
    OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|_| Error::Background("password salt"))?;
    let hash = Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map_err(|_| Error::Background("password hashing"))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `stored`; with `None` (no such user, or an
/// account without a password) a dummy hash is checked, so the answer takes as long as for
/// a real account and timing does not tell which emails exist.
pub(crate) async fn verify(password: &Password, stored: Option<String>) -> Result<bool, Error> {
    let password = password.clone();
    tokio::task::spawn_blocking(move || {
        let (stored, real) = match stored {
            Some(stored) => (stored, true),
            None => (dummy_hash()?.to_owned(), false),
        };
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return Ok(false);
        };
        let matches = Argon2::default()
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok();
        #[cfg(test)]
        if !real {
            DUMMY_CHECKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(real && matches)
    })
    .await
    .map_err(|_| Error::Background("password check"))?
}

/// Checks made against the dummy hash, for a test that they are made: the time they take
/// is what hides an unknown email, and no test can measure it reliably.
#[cfg(test)]
pub(super) static DUMMY_CHECKS: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// Held by every test that checks against the dummy hash, so each counts only its own.
#[cfg(test)]
pub(super) static DUMMY_CHECKERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A hash of a random password with the same parameters as real ones, made once.
fn dummy_hash() -> Result<&'static str, Error> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash);
    }
    let hash = hash_now(&Password::generate())?;
    Ok(DUMMY.get_or_init(|| hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_password() {
        let password = Password::new("correct horse battery".to_owned());
        assert_eq!(format!("{password:?}"), "Password(redacted)");
    }

    #[test]
    fn a_short_password_is_refused_naming_the_field_not_the_value() {
        let error = Password::new("short".to_owned())
            .check_policy()
            .unwrap_err();
        assert!(matches!(
            &error,
            Error::Invalid {
                field: "password",
                ..
            }
        ));
        assert!(!error.to_string().contains("short"), "{error}");
    }

    #[test]
    fn generated_passwords_meet_the_policy_and_differ() {
        let a = Password::generate();
        a.check_policy().unwrap();
        assert_ne!(a.expose(), Password::generate().expose());
    }

    #[tokio::test]
    async fn a_hash_is_argon2id_and_verifies_only_its_password() {
        let _alone = DUMMY_CHECKERS.lock().await;
        let password = Password::new("correct horse battery".to_owned());
        let stored = hash(&password).await.unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains("correct horse"));
        assert!(verify(&password, Some(stored.clone())).await.unwrap());
        let wrong = Password::new("correct horse battery!".to_owned());
        assert!(!verify(&wrong, Some(stored)).await.unwrap());
        assert!(!verify(&password, None).await.unwrap());
    }

    #[tokio::test]
    async fn no_account_still_costs_a_full_check_against_a_hash_made_like_a_real_one() {
        let real = hash(&Password::generate()).await.unwrap();
        let (real, dummy) = (
            PasswordHash::new(&real).unwrap(),
            PasswordHash::new(dummy_hash().unwrap()).unwrap(),
        );
        assert_eq!(
            (real.algorithm, real.version, &real.params),
            (dummy.algorithm, dummy.version, &dummy.params),
            "the same algorithm, version and cost"
        );
        let _alone = DUMMY_CHECKERS.lock().await;
        let checked = || DUMMY_CHECKS.load(std::sync::atomic::Ordering::Relaxed);
        let before = checked();
        assert!(!verify(&Password::generate(), None).await.unwrap());
        assert_eq!(checked(), before + 1, "Argon2 ran against the dummy hash");
    }
}
