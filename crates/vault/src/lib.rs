//! vault: the PIN type, PIN generation and age escrow — pure, no database and no HTTP.
//!
//! - [`Pin`] (six ASCII digits) and [`Secret`] (other small secrets): zeroized, never shown;
//! - [`generate`]: a uniform non-trivial PIN from the OS CSPRNG;
//! - [`FingerprintKey`] / [`PinFingerprint`]: keyed PIN hashes to detect reuse without plaintext;
//! - [`seal`] / [`open`]: age X25519 encryption to [`Recipients`], armored output (the
//!   recipient stanzas use aws-lc's X25519; see the `stanza` module);
//! - [`Identity`]: the service's age identity file (load, create `0600`, its [`Recipient`]).
//!
//! Everything fails with the one [`Error`] enum.

mod error;
mod fingerprint;
mod generate;
mod identity;
mod pin;
mod recipients;
mod seal;
mod stanza;

pub use error::{Error, LineProblem, OpenFailure};
pub use fingerprint::{FINGERPRINT_KEY_LEN, FingerprintKey, PinFingerprint};
pub use generate::{generate, generate_with};
pub use identity::{Created, Identity};
pub use pin::{PIN_LEN, Pin, Secret};
pub use recipients::{Recipient, Recipients};
pub use seal::{Plaintext, Sealed, open, seal};
