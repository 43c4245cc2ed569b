//! The X25519 recipient stanza of an age file, with aws-lc's X25519 for the key exchange.
//!
//! Why not age's own `x25519::Recipient`: a seal makes one X25519 exchange per recipient, each
//! with a fresh ephemeral key, and that exchange is almost all of a seal's cost. age computes
//! it with curve25519-dalek (~75 µs a stanza on the build machine), aws-lc with assembly
//! (~40 µs). At 1 + 3 recipients that is ~3,000 against ~5,500 seals per second per core.
//!
//! Only the exchange is aws-lc's. The rest is age-core's own functions, called exactly as
//! age's recipient calls them: HKDF-SHA-256 over the shared secret with the salt
//! `ephemeral share ‖ recipient key` and the label `age-encryption.org/v1/X25519`, then
//! ChaCha20-Poly1305 of the file key under that key. The stanza is `-> X25519 <share>` with the
//! share in unpadded base64, the format of the age specification (C2SP `age`, "X25519
//! recipient stanza"). age's identity, the `age` CLI and [`crate::open`] read it; the crate's
//! tests open every seal with all three.
//!
//! Unlike age's recipient, a recipient key of low order (whose exchange gives the all-zero
//! secret, so the file key would be wrapped under a key anyone can compute) is an error here:
//! aws-lc refuses that exchange. age's recipient panics on it.

use std::{collections::HashSet, io};

use age::EncryptError;
use age_core::{
    format::{FileKey, Stanza},
    primitives::{aead_encrypt, bech32_decode, hkdf},
    secrecy::ExposeSecret,
};
use aws_lc_rs::{
    agreement::{self, EphemeralPrivateKey, UnparsedPublicKey, X25519},
    error::Unspecified,
    rand::SystemRandom,
};
use base64::{Engine, prelude::BASE64_STANDARD_NO_PAD};
use zeroize::Zeroizing;

use crate::Recipient;

const TAG: &str = "X25519";
const KEY_LABEL: &[u8] = b"age-encryption.org/v1/X25519";
const KEY_LEN: usize = 32;

/// Wraps a file key for one [`Recipient`]; what [`crate::seal`] hands to age's encryptor.
pub(crate) struct X25519Stanza<'a>(pub(crate) &'a Recipient);

impl age::Recipient for X25519Stanza<'_> {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), EncryptError> {
        let recipient_key = public_key(self.0)?;
        let ephemeral =
            EphemeralPrivateKey::generate(&X25519, &SystemRandom::new()).map_err(failed)?;
        let share = ephemeral.compute_public_key().map_err(failed)?;
        let share: [u8; KEY_LEN] = share.as_ref().try_into().map_err(|_| failed(Unspecified))?;

        let mut salt = [0u8; 2 * KEY_LEN];
        salt[..KEY_LEN].copy_from_slice(&share);
        salt[KEY_LEN..].copy_from_slice(&recipient_key);
        let wrap_key = agreement::agree_ephemeral(
            ephemeral,
            UnparsedPublicKey::new(&X25519, &recipient_key),
            Unspecified,
            |shared_secret| Ok(Zeroizing::new(hkdf(&salt, KEY_LABEL, shared_secret))),
        )
        // X25519 fails only when the result is all zeros, i.e. for a key of low order.
        .map_err(|_| EncryptError::Io(io::Error::other(LowOrderKey)))?;

        let stanza = Stanza {
            tag: TAG.to_owned(),
            args: vec![BASE64_STANDARD_NO_PAD.encode(share)],
            body: aead_encrypt(&wrap_key, file_key.expose_secret()),
        };
        Ok((vec![stanza], HashSet::new()))
    }
}

/// Whether `recipient` is a key of low order, to which [`X25519Stanza`] refuses to wrap.
///
/// One exchange with a fixed private key tells, without randomness: a clamped X25519 scalar
/// is a multiple of the cofactor, so the result is all zeros exactly when the key has no
/// component in the prime-order subgroup. `Err` is aws-lc failing, not the key.
pub(crate) fn is_low_order(recipient: &Recipient) -> Result<bool, crate::Error> {
    let backend = |reason: &str| crate::Error::Seal {
        reason: reason.to_owned(),
    };
    let key = public_key(recipient).map_err(|_| backend("malformed X25519 recipient"))?;
    let probe = agreement::PrivateKey::from_private_key(&X25519, &[0x5a; KEY_LEN])
        .map_err(|_| backend("aws-lc refused the probe key"))?;
    Ok(agreement::agree(
        &probe,
        UnparsedPublicKey::new(&X25519, &key),
        (),
        |_| Ok(()),
    )
    .is_err())
}

/// What [`X25519Stanza`] fails with for a key of low order, inside age's `EncryptError::Io`,
/// so that [`crate::seal`] can report it as [`crate::LineProblem::LowOrderKey`].
#[derive(Debug)]
pub(crate) struct LowOrderKey;

impl std::fmt::Display for LowOrderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a recipient's key is of low order: nothing can be sealed to it secretly")
    }
}

impl std::error::Error for LowOrderKey {}

/// The recipient's 32 key bytes, read back from its `age1…` form (which age parsed and checked).
fn public_key(recipient: &Recipient) -> Result<[u8; KEY_LEN], EncryptError> {
    let malformed = || EncryptError::Io(io::Error::other("malformed X25519 recipient"));
    bech32_decode(
        &recipient.to_string(),
        |_| malformed(),
        |hrp| {
            if hrp.as_str() == "age" {
                Ok(())
            } else {
                Err(malformed())
            }
        },
        |_, bytes| {
            bytes
                .collect::<Vec<u8>>()
                .try_into()
                .map_err(|_| malformed())
        },
    )
}

fn failed(_: Unspecified) -> EncryptError {
    EncryptError::Io(io::Error::other("aws-lc's X25519 failed"))
}
