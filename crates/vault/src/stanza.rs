//! The X25519 recipient stanza of an age file, with aws-lc's X25519 for the key exchange.
//!
//! Why not age's own `x25519::Recipient`: a seal makes one X25519 exchange per recipient, each
//! with a fresh ephemeral key, and that exchange is almost all of a seal's cost. age computes
//! it with curve25519-dalek (~75 µs a stanza on the build machine), aws-lc with assembly
//! (~35 µs). At 1 + 3 recipients that is ~3,000 against ~5,500 seals per second per core.
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
        .map_err(|_| {
            EncryptError::Io(io::Error::other(
                "the recipient's key is of low order: no secret can be sealed to it",
            ))
        })?;

        let stanza = Stanza {
            tag: TAG.to_owned(),
            args: vec![BASE64_STANDARD_NO_PAD.encode(share)],
            body: aead_encrypt(&wrap_key, file_key.expose_secret()),
        };
        Ok((vec![stanza], HashSet::new()))
    }
}

/// Whether a file key can be wrapped for `recipient`: false for a key of low order.
pub(crate) fn can_seal_to(recipient: &Recipient) -> bool {
    let probe = FileKey::new(Box::new([0; 16]));
    age::Recipient::wrap_file_key(&X25519Stanza(recipient), &probe).is_ok()
}

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
