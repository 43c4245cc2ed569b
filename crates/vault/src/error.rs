//! The one error type of the vault crate.
//!
//! Policy: every fallible function of this crate returns [`Error`], a closed enum with one
//! variant per thing a caller may want to act on. No message ever carries a secret or the
//! input that held one: a bad PIN is reported as "not six digits" without the digits, a bad
//! line of a recipients or identity file by its number and a [`LineProblem`], never by its
//! text. File paths and `age1…` recipients are public and may appear.

use std::{fmt, io, path::PathBuf};

/// Everything that can go wrong in the vault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The text is not exactly six ASCII digits (the text itself is not kept).
    #[error("a PIN is exactly six ASCII digits")]
    InvalidPin,

    /// A recipient list was empty: a secret sealed to nobody could never be opened.
    #[error("no recipients: a secret must be sealed to at least one age recipient")]
    NoRecipients,

    /// A single recipient string is not an `age1…` X25519 recipient.
    #[error("invalid recipient: {0}")]
    InvalidRecipient(LineProblem),

    /// A line of a recipients file is not an `age1…` X25519 recipient.
    #[error("recipients file, line {line}: {problem}")]
    InvalidRecipientLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        problem: LineProblem,
    },

    /// The identity file does not exist. The binary refuses to start on this when the
    /// database already holds sealed versions, instead of creating a fresh identity that
    /// could open none of them.
    #[error("identity file {} does not exist", path.display())]
    IdentityMissing {
        /// Where the file was expected.
        path: PathBuf,
    },

    /// The identity file may be read or written by the group or by others.
    #[error(
        "identity file {} has mode {mode:03o}, which lets the group or others access it; \
         restrict it with `chmod 600`",
        path.display()
    )]
    IdentityPermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits (`0o777` mask).
        mode: u32,
    },

    /// Identity text (not read from a file) is not one age X25519 identity.
    #[error("identity, line {line}: {problem}")]
    InvalidIdentity {
        /// 1-based line number (0 when the text holds no identity at all).
        line: usize,
        /// What is wrong with it.
        problem: LineProblem,
    },

    /// An identity file is not one age X25519 identity.
    #[error("identity file {}, line {line}: {problem}", path.display())]
    InvalidIdentityFile {
        /// The file.
        path: PathBuf,
        /// 1-based line number (0 when the file holds no identity at all).
        line: usize,
        /// What is wrong with it.
        problem: LineProblem,
    },

    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// age could not seal (in practice unreachable with X25519 recipients and an in-memory
    /// buffer; kept typed rather than panicking).
    #[error("sealing failed: {reason}")]
    Seal {
        /// age's description, which holds no plaintext.
        reason: String,
    },

    /// A sealed secret could not be opened.
    #[error("cannot open the sealed secret: {0}")]
    Open(OpenFailure),

    /// Stored fingerprint text is not 64 hexadecimal digits.
    #[error("a PIN fingerprint is 64 hexadecimal digits")]
    InvalidFingerprint,

    /// A fingerprint key must be exactly 64 bytes.
    #[error("a fingerprint key is exactly 64 bytes")]
    InvalidFingerprintKey,
}

/// Why a line of a recipients or identity file (or a single recipient string) was refused.
/// It names the kind of problem, never the line's text, which may hold a secret key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineProblem {
    /// The text is empty.
    Empty,
    /// An `AGE-SECRET-KEY-1…` identity where a public recipient was expected.
    SecretKeyNotRecipient,
    /// An `age1…` public recipient where a secret identity was expected.
    RecipientNotSecretKey,
    /// A post-quantum, plugin or SSH key: pinward seals and opens X25519 only.
    UnsupportedKeyType,
    /// Starts like an X25519 key but its Bech32 encoding, checksum or length is wrong.
    InvalidEncoding,
    /// Neither a comment nor a key.
    NotAKey,
    /// A well-formed X25519 key of low order: every exchange with it gives the all-zero
    /// secret, so whatever is sealed to it could be opened by anyone. A broken or forged key.
    LowOrderKey,
    /// A second identity: pinward's identity file holds exactly one.
    MoreThanOneIdentity,
    /// The file holds no identity at all.
    NoIdentity,
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty",
            Self::SecretKeyNotRecipient => {
                "this is a secret key (AGE-SECRET-KEY-1…), not a public recipient (age1…)"
            }
            Self::RecipientNotSecretKey => {
                "this is a public recipient (age1…), not a secret key (AGE-SECRET-KEY-1…)"
            }
            Self::UnsupportedKeyType => {
                "unsupported key type: only age X25519 keys are accepted (no post-quantum, plugin or SSH keys)"
            }
            Self::InvalidEncoding => "malformed key (bad Bech32 encoding, checksum or length)",
            Self::NotAKey => "not a key or a comment",
            Self::LowOrderKey => {
                "a key of low order, to which nothing can be sealed secretly (a broken or forged key)"
            }
            Self::MoreThanOneIdentity => "more than one identity; exactly one is expected",
            Self::NoIdentity => "no identity found",
        })
    }
}

/// Why a sealed secret could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenFailure {
    /// Sealed to other recipients: this identity holds none of their keys.
    NoMatchingIdentity,
    /// ASCII armor that is not canonical age armor.
    Armor,
    /// The age header is malformed, truncated, of an unknown version, or carries a stanza
    /// that a matching key must refuse (e.g. a low-order X25519 share).
    Header,
    /// The header's MAC does not verify: the header was altered.
    HeaderMac,
    /// The encrypted payload is truncated, altered or followed by garbage.
    Payload,
    /// The plaintext opened fine but is not what the caller asked for (e.g. not a PIN).
    UnexpectedPlaintext,
}

impl fmt::Display for OpenFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoMatchingIdentity => "it was not sealed to this identity",
            Self::Armor => "malformed ASCII armor",
            Self::Header => "malformed age header",
            Self::HeaderMac => "the age header's MAC does not verify",
            Self::Payload => "the encrypted payload is truncated or altered",
            Self::UnexpectedPlaintext => "the plaintext is not of the expected kind",
        })
    }
}
