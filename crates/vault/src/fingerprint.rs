//! Keyed PIN fingerprints, so "is this PIN already current on another number of the org?"
//! can be answered from the database without storing or decrypting any PIN.
//!
//! A [`PinFingerprint`] is HMAC-SHA256 under a [`FingerprintKey`] of a domain-separation label
//! followed by the six digits. With only a million possible PINs an unkeyed hash would be
//! reversed by trying them all; the key is what makes the fingerprint safe to store. Keep one
//! key per org (or per service), store it sealed like any other secret
//! ([`FingerprintKey::to_secret`] → [`crate::seal`]), and compare fingerprints only under the
//! same key: anyone who holds the key can still try all million PINs against a fingerprint.

use std::fmt;

use hmac::{Hmac, Mac, digest::KeyInit};
use rand::{RngCore, rngs::OsRng};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::{Error, Pin, Secret};

type HmacSha256 = Hmac<Sha256>;

/// Bytes in a fingerprint key: SHA-256's block size, HMAC's natural key length.
pub const FINGERPRINT_KEY_LEN: usize = 64;

/// Domain separation, so the key can never produce a MAC that means something elsewhere.
const LABEL: &[u8] = b"pinward/v1/pin-fingerprint\0";

/// The secret key of PIN fingerprints: zeroized on drop, `Debug` redacted, no `Clone`.
pub struct FingerprintKey(Zeroizing<[u8; FINGERPRINT_KEY_LEN]>);

impl FingerprintKey {
    /// A fresh random key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; FINGERPRINT_KEY_LEN]);
        OsRng.fill_bytes(key.as_mut());
        Self(key)
    }

    /// Restores a key from its bytes (as produced by [`FingerprintKey::to_secret`]).
    pub fn from_secret(secret: &Secret) -> Result<Self, Error> {
        let bytes = secret.expose();
        if bytes.len() != FINGERPRINT_KEY_LEN {
            return Err(Error::InvalidFingerprintKey);
        }
        let mut key = Zeroizing::new([0u8; FINGERPRINT_KEY_LEN]);
        key.copy_from_slice(bytes);
        Ok(Self(key))
    }

    /// The key's bytes, to be sealed and stored.
    pub fn to_secret(&self) -> Secret {
        Secret::new(self.0.to_vec())
    }

    /// The fingerprint of `pin` under this key.
    pub fn fingerprint(&self, pin: &Pin) -> PinFingerprint {
        // A 64-byte key is exactly one HMAC-SHA256 block, so `KeyInit::new` applies (it has no
        // error path, unlike `new_from_slice`).
        let key: &[u8; FINGERPRINT_KEY_LEN] = &self.0;
        let mut mac = <HmacSha256 as KeyInit>::new(key.into());
        mac.update(LABEL);
        mac.update(pin.expose().as_bytes());
        PinFingerprint(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FingerprintKey([REDACTED])")
    }
}

/// HMAC-SHA256 of a PIN under a [`FingerprintKey`]: storable (as 64 lowercase hex digits via
/// `Display`/[`PinFingerprint::to_hex`]) and comparable, never the plaintext.
// Plain (not constant-time) equality: a fingerprint is not secret, and a `HashSet` of them
// needs `Hash` consistent with `Eq`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PinFingerprint([u8; 32]);

impl PinFingerprint {
    /// 64 lowercase hexadecimal digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hexadecimal digits (either case).
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| Error::InvalidFingerprint)?;
        Ok(Self(bytes))
    }
}

impl fmt::Display for PinFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PinFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PinFingerprint({})", self.to_hex())
    }
}

impl std::str::FromStr for PinFingerprint {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        Self::from_hex(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(text: &str) -> Pin {
        Pin::parse(text).unwrap()
    }

    #[test]
    fn the_same_pin_under_the_same_key_has_the_same_fingerprint() {
        let key = FingerprintKey::generate();
        assert_eq!(
            key.fingerprint(&pin("480213")),
            key.fingerprint(&pin("480213"))
        );
        assert_ne!(
            key.fingerprint(&pin("480213")),
            key.fingerprint(&pin("480214"))
        );
    }

    #[test]
    fn the_same_pin_under_two_keys_has_unrelated_fingerprints() {
        let (a, b) = (FingerprintKey::generate(), FingerprintKey::generate());
        assert_ne!(a.fingerprint(&pin("480213")), b.fingerprint(&pin("480213")));
    }

    #[test]
    fn a_fingerprint_is_the_hmac_sha256_of_label_and_digits() {
        let key = FingerprintKey::from_secret(&Secret::new(vec![7u8; 64])).unwrap();
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&[7u8; 64]).unwrap();
        mac.update(b"pinward/v1/pin-fingerprint\x00480213");
        let expected = hex::encode(mac.finalize().into_bytes());
        assert_eq!(key.fingerprint(&pin("480213")).to_hex(), expected);
    }

    #[test]
    fn a_fingerprint_round_trips_through_hex_and_shows_no_pin() {
        let key = FingerprintKey::generate();
        let fingerprint = key.fingerprint(&pin("480213"));
        let hex = fingerprint.to_string();
        assert_eq!(hex.len(), 64);
        assert_eq!(hex.parse::<PinFingerprint>().unwrap(), fingerprint);
        assert_eq!(
            PinFingerprint::from_hex(&hex.to_uppercase()).unwrap(),
            fingerprint
        );
        assert!(!format!("{fingerprint:?}").contains("480213"));
        assert!(PinFingerprint::from_hex(&hex[..63]).is_err());
        assert!(PinFingerprint::from_hex(&format!("{}zz", &hex[..62])).is_err());
    }

    #[test]
    fn a_key_round_trips_through_its_secret_and_is_redacted() {
        let key = FingerprintKey::generate();
        let restored = FingerprintKey::from_secret(&key.to_secret()).unwrap();
        assert_eq!(
            key.fingerprint(&pin("480213")),
            restored.fingerprint(&pin("480213"))
        );
        assert_eq!(format!("{key:?}"), "FingerprintKey([REDACTED])");
        assert!(matches!(
            FingerprintKey::from_secret(&Secret::new(vec![0; 32])),
            Err(Error::InvalidFingerprintKey)
        ));
    }
}
