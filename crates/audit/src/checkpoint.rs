//! Signed checkpoints: the service's Ed25519 key vouches for an org's chain head.
//!
//! The signed message is the JCS text of the checkpoint object, members in this order:
//!
//! ```json
//! {"at":"2026-11-23T10:00:00.123456Z","head":"<64 hex>","org":"acme","seq":200}
//! ```
//!
//! An export ends with the checkpoint line, also canonical JSON (so `key` sorts before
//! `signature`):
//!
//! ```json
//! {"checkpoint":{"at":"…","head":"…","org":"acme","seq":200},"key":"<base64 public key>","signature":"<base64 signature>"}
//! ```
//!
//! `key` is the 32-byte Ed25519 public key and `signature` the 64-byte Ed25519 signature
//! (RFC 8032, pure Ed25519, no context), both in standard base64 with padding (44 and 88
//! characters). Only canonical base64 is accepted: no whitespace, no non-zero trailing bits.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, VerifyingKey};

use crate::canonical::{MAX_SAFE_INTEGER, Sink as _, write_string};
use crate::chain::{ChainHead, Hash};
use crate::time::Timestamp;
use crate::{Error, key};

/// What a checkpoint vouches for: org `org`'s chain had `seq` events ending in `head` at `at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    org: String,
    seq: u64,
    head: Hash,
    at: Timestamp,
}

impl Checkpoint {
    /// A checkpoint of `org` at `head`, taken at `at` (truncated to microseconds).
    ///
    /// # Errors
    /// [`Error::InvalidOrg`], [`Error::InvalidTimestamp`], or [`Error::SeqExhausted`] for a
    /// seq beyond 2^53−1.
    pub fn new(org: &str, head: &ChainHead, at: DateTime<Utc>) -> Result<Self, Error> {
        if org.is_empty() {
            return Err(Error::InvalidOrg);
        }
        if head.seq > MAX_SAFE_INTEGER {
            return Err(Error::SeqExhausted);
        }
        Ok(Self {
            org: org.to_owned(),
            seq: head.seq,
            head: head.hash,
            at: Timestamp::new(at)?,
        })
    }

    /// The org.
    #[must_use]
    pub fn org(&self) -> &str {
        &self.org
    }
    /// Seq of the last event covered (0 for an empty chain).
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.seq
    }
    /// Hash of that event.
    #[must_use]
    pub fn head(&self) -> Hash {
        self.head
    }
    /// When the checkpoint was taken.
    #[must_use]
    pub fn at(&self) -> Timestamp {
        self.at
    }
    /// The chain head this checkpoint covers.
    #[must_use]
    pub fn chain_head(&self) -> ChainHead {
        ChainHead {
            seq: self.seq,
            hash: self.head,
        }
    }

    /// The signed message: the JCS text of `{"at","head","org","seq"}`.
    ///
    /// # Errors
    /// Only [`Error::Json`], which writing to memory does not produce.
    pub fn to_jcs(&self) -> Result<String, Error> {
        let mut out = Vec::with_capacity(160);
        self.write_jcs(&mut out)?;
        String::from_utf8(out).map_err(|_| Error::Json(serde::ser::Error::custom("non-UTF-8")))
    }

    pub(crate) fn write_jcs(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        write_checkpoint_jcs(
            out,
            &self.at.to_string(),
            &self.head.to_hex(),
            &self.org,
            self.seq,
        )
    }
}

/// The one layout of the signed checkpoint object, shared by signer and verifier.
pub(crate) fn write_checkpoint_jcs(
    out: &mut Vec<u8>,
    at: &str,
    head: &str,
    org: &str,
    seq: u64,
) -> Result<(), Error> {
    out.extend_from_slice(b"{\"at\":");
    write_string(at, out)?;
    out.extend_from_slice(b",\"head\":");
    write_string(head, out)?;
    out.extend_from_slice(b",\"org\":");
    write_string(org, out)?;
    out.extend_from_slice(b",\"seq\":");
    out.integer(i64::try_from(seq).map_err(|_| Error::IntegerOutOfRange)?);
    out.push(b'}');
    Ok(())
}

/// The layout of the checkpoint line around an already written checkpoint object.
pub(crate) fn write_checkpoint_line(
    out: &mut Vec<u8>,
    checkpoint_jcs: &[u8],
    key_b64: &str,
    signature_b64: &str,
) -> Result<(), Error> {
    out.extend_from_slice(b"{\"checkpoint\":");
    out.extend_from_slice(checkpoint_jcs);
    out.extend_from_slice(b",\"key\":");
    write_string(key_b64, out)?;
    out.extend_from_slice(b",\"signature\":");
    write_string(signature_b64, out)?;
    out.push(b'}');
    Ok(())
}

/// A checkpoint with a signature that verified under `key`. Only [`key::CheckpointKey::sign`]
/// and [`SignedCheckpoint::from_parts`] make one, so holding one means the signature is good.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    signature: Signature,
    key: PublicKey,
}

impl SignedCheckpoint {
    pub(crate) fn new_unchecked(
        checkpoint: Checkpoint,
        signature: Signature,
        key: PublicKey,
    ) -> Self {
        Self {
            checkpoint,
            signature,
            key,
        }
    }

    /// Rebuilds a stored signed checkpoint, verifying its signature.
    ///
    /// # Errors
    /// [`Error::BadEncoding`] for malformed base64, [`Error::BadSignature`] when the signature
    /// does not verify under `key_b64`.
    pub fn from_parts(
        checkpoint: Checkpoint,
        signature_b64: &str,
        key_b64: &str,
    ) -> Result<Self, Error> {
        let key = PublicKey::from_base64(key_b64)?;
        let signature = signature_from_base64(signature_b64)?;
        let message = checkpoint.to_jcs()?;
        key.verify(message.as_bytes(), &signature)?;
        Ok(Self {
            checkpoint,
            signature,
            key,
        })
    }

    /// The checkpoint.
    #[must_use]
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }
    /// The key that signed it.
    #[must_use]
    pub fn key(&self) -> &PublicKey {
        &self.key
    }
    /// The signature, standard base64 (88 characters).
    #[must_use]
    pub fn signature_base64(&self) -> String {
        STANDARD.encode(self.signature.to_bytes())
    }

    /// The export's last line (canonical JSON), without newline.
    ///
    /// # Errors
    /// Only [`Error::Json`], which writing to memory does not produce.
    pub fn to_line(&self) -> Result<String, Error> {
        let mut out = Vec::with_capacity(320);
        self.write_line(&mut out)?;
        String::from_utf8(out).map_err(|_| Error::Json(serde::ser::Error::custom("non-UTF-8")))
    }

    pub(crate) fn write_line(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        let mut jcs = Vec::with_capacity(160);
        self.checkpoint.write_jcs(&mut jcs)?;
        write_checkpoint_line(out, &jcs, &self.key.to_base64(), &self.signature_base64())
    }
}

/// Decodes a signature from canonical standard base64.
pub(crate) fn signature_from_base64(text: &str) -> Result<Signature, Error> {
    let bad = || Error::BadEncoding { what: "signature" };
    let bytes: [u8; 64] = decode_canonical(text)
        .and_then(|v| v.try_into().ok())
        .ok_or_else(bad)?;
    Ok(Signature::from_bytes(&bytes))
}

/// Standard padded base64 that re-encodes to the same text, or `None`.
fn decode_canonical(text: &str) -> Option<Vec<u8>> {
    let bytes = STANDARD.decode(text).ok()?;
    (STANDARD.encode(&bytes) == text).then_some(bytes)
}

/// An Ed25519 public key that checks checkpoint signatures; written as standard base64 of
/// its 32 bytes (what `pinward keys show` prints and auditors pin).
///
/// Public key file (for `pinward ledger verify --key FILE`): UTF-8 text, lines starting
/// with `#` and blank lines ignored, exactly one other line holding the base64 key;
/// surrounding spaces are trimmed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    pub(crate) fn from_verifying_key(key: VerifyingKey) -> Self {
        Self(key)
    }

    /// Parses canonical standard base64 of 32 bytes that encode a usable Ed25519 point (not
    /// one of the small-order points, which would let anyone forge signatures).
    ///
    /// # Errors
    /// [`Error::BadEncoding`].
    pub fn from_base64(text: &str) -> Result<Self, Error> {
        let bad = || Error::BadEncoding { what: "public key" };
        let bytes: [u8; 32] = decode_canonical(text)
            .and_then(|v| v.try_into().ok())
            .ok_or_else(bad)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| bad())?;
        if key.is_weak() {
            return Err(bad());
        }
        Ok(Self(key))
    }

    /// Reads a public key file (format in the type's documentation).
    ///
    /// # Errors
    /// [`Error::KeyMissing`], [`Error::KeyIo`], [`Error::KeyFormat`].
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| key::io_error(path, e))?;
        let line = key::single_payload_line(&text).ok_or_else(|| Error::KeyFormat {
            path: path.to_owned(),
        })?;
        Self::from_base64(line).map_err(|_| Error::KeyFormat {
            path: path.to_owned(),
        })
    }

    /// The content of a public key file for this key.
    #[must_use]
    pub fn to_file_contents(&self) -> String {
        format!(
            "# pinward ledger checkpoint public key (Ed25519, base64)\n{}\n",
            self.to_base64()
        )
    }

    /// Standard padded base64 of the 32 key bytes (44 characters).
    #[must_use]
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.as_bytes())
    }

    /// The 32 key bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    pub(crate) fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), Error> {
        self.0
            .verify_strict(message, signature)
            .map_err(|_| Error::BadSignature)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}
