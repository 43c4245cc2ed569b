//! Sealing secrets to age recipients and opening them with an identity.
//!
//! [`seal`] encrypts a [`Pin`] or a [`Secret`] to every recipient of a [`Recipients`] list (for
//! pinward: the service identity plus the org's recovery recipients) and returns the standard
//! ASCII-armored age file, so an org can open its escrow export with `age -d -i key.txt`.
//! [`open`] decrypts with one [`Identity`] and accepts both armored and binary age files (what
//! `age -r …` writes with and without `-a`).
//!
//! # Calling from async code
//!
//! Both functions are synchronous, CPU-bound and do no I/O. Their cost is almost entirely one
//! X25519 key agreement per recipient (seal) or per stanza tried (open). Sealing makes its
//! recipient stanzas with aws-lc's X25519 ([`crate::stanza`] says why and how); opening is age's
//! own identity. Measured with `cargo bench -p vault --bench seal` (release build, CPU time of
//! one thread, on the 2-vCPU build VM): sealing a PIN to 1 recipient ≈ 0.05 ms, to 1 + 3
//! recipients ≈ 0.18 ms; opening with the first-listed (service) identity ≈ 0.1 ms, with the
//! last of four ≈ 0.38 ms.
//!
//! So: one seal or open per request may run inline in an async handler (a few hundred µs
//! at most, like a small query's CPU). Anything that loops — a bulk rotation, re-sealing every
//! version on `keys rotate`, an escrow export — must run off the async workers with
//! `tokio::task::spawn_blocking` (every vault type is `Send + Sync`, so share the identity in
//! an `Arc`), in chunks of about a hundred items (~20–40 ms each) so progress can be reported
//! and the blocking pool is not monopolised.
//!
//! # What `open` refuses
//!
//! What the C2SP age test vectors say a reader must refuse (checked by `tests/age_testkit.rs`,
//! which lists the few deliberate deviations): non-canonical armor, malformed or
//! non-canonical headers, a bad header MAC, truncated or altered payloads, trailing data.
//! Armor may be surrounded by whitespace. On failure no plaintext is returned at all, not even
//! the chunks that decrypted before the error; the partial buffer is wiped.

use std::{
    io::{self, Read, Write},
    iter,
};

use age::{
    DecryptError, Decryptor, EncryptError, Encryptor,
    armor::{ArmoredReadError, ArmoredReader, ArmoredWriter, Format},
};
use zeroize::Zeroizing;

use crate::stanza::{LowOrderKey, X25519Stanza};
use crate::{Error, Identity, LineProblem, OpenFailure, Pin, Recipients, Secret};

mod private {
    /// Keeps [`super::Plaintext`] closed and its methods uncallable outside this crate, so it is
    /// not a second way to reach a PIN's digits.
    pub struct Token;
    pub trait Sealed {}
}

/// What can be sealed and opened: [`Pin`] and [`Secret`]. Closed; it has no callable methods
/// outside this crate.
pub trait Plaintext: private::Sealed + Sized {
    #[doc(hidden)]
    fn plaintext(&self, token: private::Token) -> &[u8];
    #[doc(hidden)]
    fn from_plaintext(bytes: Zeroizing<Vec<u8>>, token: private::Token) -> Result<Self, Error>;
}

impl private::Sealed for Pin {}

impl Plaintext for Pin {
    fn plaintext(&self, _: private::Token) -> &[u8] {
        self.expose().as_bytes()
    }

    fn from_plaintext(bytes: Zeroizing<Vec<u8>>, _: private::Token) -> Result<Self, Error> {
        std::str::from_utf8(&bytes)
            .ok()
            .and_then(|text| Pin::parse(text).ok())
            .ok_or(Error::Open(OpenFailure::UnexpectedPlaintext))
    }
}

impl private::Sealed for Secret {}

impl Plaintext for Secret {
    fn plaintext(&self, _: private::Token) -> &[u8] {
        self.expose()
    }

    fn from_plaintext(bytes: Zeroizing<Vec<u8>>, _: private::Token) -> Result<Self, Error> {
        Ok(Secret::from_zeroizing(bytes))
    }
}

/// An ASCII-armored age file (`-----BEGIN AGE ENCRYPTED FILE-----` …). Ciphertext only: safe
/// to store, log or export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed(String);

impl Sealed {
    /// The armored text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The armored text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl AsRef<[u8]> for Sealed {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Display for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Seals `plaintext` to every recipient in `to`, as an ASCII-armored age file.
///
/// A recipient key of low order (to which nothing can be sealed secretly) fails the seal with
/// [`Error::InvalidRecipient`]`(`[`LineProblem::LowOrderKey`]`)`; refuse such keys when they
/// are entered with [`crate::Recipient::parse_new`].
pub fn seal<P: Plaintext>(plaintext: &P, to: &Recipients) -> Result<Sealed, Error> {
    let seal_error = |reason: String| Error::Seal { reason };
    let stanzas: Vec<X25519Stanza<'_>> = to.iter().map(X25519Stanza).collect();
    let encryptor = Encryptor::with_recipients(stanzas.iter().map(|s| s as &dyn age::Recipient))
        .map_err(|error| match &error {
            EncryptError::Io(inner) if inner.get_ref().is_some_and(|e| e.is::<LowOrderKey>()) => {
                Error::InvalidRecipient(LineProblem::LowOrderKey)
            }
            _ => seal_error(error.to_string()),
        })?;
    let mut armored = Vec::with_capacity(512 + 128 * to.len());
    let io = |e: io::Error| seal_error(e.to_string());
    let armor = ArmoredWriter::wrap_output(&mut armored, Format::AsciiArmor).map_err(io)?;
    let mut writer = encryptor.wrap_output(armor).map_err(io)?;
    writer
        .write_all(plaintext.plaintext(private::Token))
        .map_err(io)?;
    writer
        .finish()
        .and_then(|armor| armor.finish())
        .map_err(io)?;
    String::from_utf8(armored)
        .map(Sealed)
        .map_err(|_| seal_error("age armor produced non-UTF-8 output".to_owned()))
}

/// Opens an age file (armored or binary) with `identity`, as a `P` ([`Pin`] or [`Secret`]).
///
/// ```
/// # fn main() -> Result<(), vault::Error> {
/// let identity = vault::Identity::generate();
/// let sealed = vault::seal(&vault::generate(), &vault::Recipients::new([identity.recipient()])?)?;
/// let stored: String = sealed.into_string();
/// let pin: vault::Pin = vault::open(&stored, &identity)?;
/// assert_eq!(pin.expose().len(), 6);
/// # Ok(())
/// # }
/// ```
pub fn open<P: Plaintext>(ciphertext: impl AsRef<[u8]>, identity: &Identity) -> Result<P, Error> {
    let ciphertext = ciphertext.as_ref();
    let input = route(ciphertext).map_err(Error::Open)?;
    let decryptor = Decryptor::new_buffered(ArmoredReader::new(input)).map_err(header_failure)?;
    let mut reader = decryptor
        .decrypt(iter::once(&identity.secret as &dyn age::Identity))
        .map_err(header_failure)?;
    // The plaintext is never longer than the ciphertext, so this buffer never reallocates
    // (a reallocation would leave an unwiped copy of the plaintext behind).
    let mut plaintext = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
    reader
        .read_to_end(&mut plaintext)
        .map_err(|e| Error::Open(io_failure(&e, OpenFailure::Payload)))?;
    P::from_plaintext(plaintext, private::Token)
}

/// The first bytes of every binary age file (any version).
const BINARY_START: &[u8] = b"age-encryption.org/";
/// The first line of an armored age file.
const ARMOR_BEGIN: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";

/// Picks the bytes age should read. Binary files are passed unchanged. Armor may be preceded by
/// whitespace (as the age spec allows; age's reader alone would not skip it), and text that
/// starts with `-----` but not with the exact begin line is refused as bad armor (age's reader
/// would take it for a binary file and report a bad header). Anything else goes to age as a
/// binary file, which reports its header as malformed.
fn route(input: &[u8]) -> Result<&[u8], OpenFailure> {
    if input.starts_with(BINARY_START) {
        return Ok(input);
    }
    let trimmed = input.trim_ascii_start();
    match (
        trimmed.starts_with(b"-----"),
        trimmed.starts_with(ARMOR_BEGIN),
    ) {
        (_, true) => Ok(trimmed),
        (true, false) => Err(OpenFailure::Armor),
        (false, false) => Ok(input),
    }
}

fn header_failure(error: DecryptError) -> Error {
    Error::Open(match error {
        DecryptError::NoMatchingKeys => OpenFailure::NoMatchingIdentity,
        DecryptError::InvalidMac => OpenFailure::HeaderMac,
        DecryptError::Io(e) => io_failure(&e, OpenFailure::Header),
        _ => OpenFailure::Header,
    })
}

/// Armor problems surface as I/O errors wrapping [`ArmoredReadError`], wherever they occur.
fn io_failure(error: &io::Error, otherwise: OpenFailure) -> OpenFailure {
    match error.get_ref() {
        Some(inner) if inner.is::<ArmoredReadError>() => OpenFailure::Armor,
        _ => otherwise,
    }
}
