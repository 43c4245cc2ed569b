//! The errors of `audit`.
//!
//! Policy: every fallible function of this crate returns [`Error`], one closed enum. A variant
//! says what went wrong in words an operator can act on and carries only non-secret context
//! (a file path, a sequence number, a line number). Nothing here ever holds key material or
//! echoes the content of a key file. Ledger content is not secret by design (`details` never
//! holds a PIN or token), but messages still name members rather than quote values, so an
//! error line stays short.
//!
//! Verification of an export is the one place where "error" is the expected outcome of a
//! good run on bad input: it yields [`Error::Verify`] with a [`VerifyError`], the 1-based line
//! of the first bad line and a typed [`Reason`]. I/O failures while reading the export stay
//! [`Error::Io`], so a caller can tell "this file was tampered with" from "I could not read it".

use std::path::PathBuf;

/// Everything that can go wrong in `audit`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A JSON number in ledger data that is not an integer (floats have no place in events).
    #[error("JSON numbers in the ledger must be integers, found a fraction or exponent")]
    FloatNotAllowed,
    /// An integer outside ±(2^53−1), which JCS (RFC 8785) cannot represent exactly.
    #[error("JSON integers in the ledger must lie within ±(2^53−1)")]
    IntegerOutOfRange,
    /// `details` of an event must be a JSON object.
    #[error("event details must be a JSON object")]
    DetailsNotObject,
    /// `details` nested deeper than the ledger allows.
    #[error("event details are nested deeper than {max} levels")]
    DetailsTooDeep {
        /// The limit.
        max: usize,
    },
    /// `details` larger (as canonical JSON) than the ledger allows.
    #[error("event details exceed {max} bytes of canonical JSON")]
    DetailsTooLarge {
        /// The limit in bytes.
        max: usize,
    },
    /// An action name that is not lowercase dotted segments (`pin.rotated`).
    #[error("invalid action name: expected at least two dot-separated segments of [a-z][a-z0-9_]*")]
    InvalidAction,
    /// An actor that is not `system`, `user:<id>` or `token:<id>`.
    #[error(
        "invalid actor: expected system, user:<id> or token:<id> with id of [A-Za-z0-9._-]{{1,128}}"
    )]
    InvalidActor,
    /// An empty organisation id.
    #[error("invalid org id: must not be empty")]
    InvalidOrg,
    /// A timestamp outside years 0001–9999, a leap second, or text not of the form
    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    #[error("invalid timestamp: expected UTC YYYY-MM-DDTHH:MM:SS.ffffffZ in years 0001-9999")]
    InvalidTimestamp,
    /// A hash that is not 64 lowercase hexadecimal digits.
    #[error("invalid hash: expected 64 lowercase hex digits")]
    InvalidHash,
    /// The per-org sequence reached 2^53−1.
    #[error("ledger sequence exhausted (2^53-1 events)")]
    SeqExhausted,
    /// A stored event whose recomputed hash differs from the stored one.
    #[error("stored event seq {seq}: recomputed hash differs from the stored hash")]
    HashMismatch {
        /// Sequence number of the event.
        seq: u64,
    },
    /// A stored event with seq 1 whose `prev` is not the zero hash, or seq 0.
    #[error(
        "stored event seq {seq}: seq must be at least 1 and event 1 must link to the zero hash"
    )]
    BadGenesis {
        /// Sequence number of the event.
        seq: u64,
    },
    /// Events handed to an export writer that do not form one contiguous chain of one org.
    #[error(
        "export: event seq {seq} does not continue the chain (expected seq {expected_seq} of the same org, linked to the previous hash)"
    )]
    ChainBroken {
        /// Sequence number of the offending event.
        seq: u64,
        /// The sequence number that was expected.
        expected_seq: u64,
    },
    /// A checkpoint handed to an export writer that does not cover its last event.
    #[error("export: the checkpoint must cover the last exported event (same org, seq and head)")]
    CheckpointMismatch,
    /// A signed checkpoint whose signature does not verify.
    #[error("checkpoint signature does not verify")]
    BadSignature,
    /// A public key or signature that is not canonical standard base64 of the right length,
    /// or not a usable Ed25519 public key.
    #[error("invalid {what}: expected standard padded base64 of a valid Ed25519 {what}")]
    BadEncoding {
        /// `public key` or `signature`.
        what: &'static str,
    },
    /// The signing key file does not exist.
    #[error("checkpoint signing key {path} does not exist")]
    KeyMissing {
        /// The path that was tried.
        path: PathBuf,
    },
    /// A key file that already exists where a new one was to be created.
    #[error("checkpoint signing key {path} already exists")]
    KeyExists {
        /// The path.
        path: PathBuf,
    },
    /// A signing key file readable or writable by group or others.
    #[error(
        "checkpoint signing key {path} has mode {mode:04o}; group and others must have no access (chmod 600)"
    )]
    KeyPermissions {
        /// The path.
        path: PathBuf,
        /// The permission bits found.
        mode: u32,
    },
    /// A key file whose content is not in the documented format (see `key`).
    #[error("{path} is not a pinward key file (one base64 line of 32 bytes, '#' comments)")]
    KeyFormat {
        /// The path.
        path: PathBuf,
    },
    /// Reading or writing a key file failed.
    #[error("key file {path}: {source}")]
    KeyIo {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Reading an export or writing one failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Writing CSV failed.
    #[error("CSV error: {0}")]
    Csv(#[from] csv::Error),
    /// Serializing JSON failed (only the writer can make this happen).
    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
    /// An export failed verification.
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

/// The first bad line of an export and why it is bad.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct VerifyError {
    /// 1-based line (JSONL) or starting line of the record (CSV).
    pub line: usize,
    /// What is wrong with it.
    pub reason: Reason,
}

/// Why a line of an export fails verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    /// Not UTF-8, not JSON, not a CSV record, or not a JSON object.
    #[error("not a well-formed JSON object")]
    Malformed,
    /// A line longer than the verifier accepts.
    #[error("line longer than {max} bytes")]
    LineTooLong {
        /// The limit in bytes.
        max: usize,
    },
    /// The file does not end with a newline after its last line.
    #[error("last line is not terminated by a newline")]
    MissingNewline,
    /// A required member is absent.
    #[error("missing member `{0}`")]
    MissingMember(&'static str),
    /// A member that does not belong (the name is cut to 64 characters).
    #[error("unexpected member `{0}`")]
    UnexpectedMember(String),
    /// A member of the wrong JSON type.
    #[error("member `{member}` must be {expected}")]
    WrongType {
        /// The member.
        member: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// A float or an integer beyond ±(2^53−1) anywhere in the line.
    #[error("numbers must be integers within ±(2^53-1)")]
    BadNumber,
    /// Valid JSON, but not its RFC 8785 canonical form (whitespace, member order, escapes,
    /// duplicate members, CSV quoting or neutralization).
    #[error("not in canonical form")]
    NotCanonical,
    /// A member whose value breaks its format (timestamp, actor, action, hash, org, seq).
    #[error("member `{0}` has an invalid value")]
    BadValue(&'static str),
    /// The recomputed hash differs from the `hash` member.
    #[error("hash does not match the event's content")]
    HashMismatch,
    /// The first event of the export is not the one expected (seq 1 for a full export).
    #[error("export starts at seq {found}, expected seq {expected}")]
    UnexpectedStart {
        /// Expected first seq.
        expected: u64,
        /// Found first seq.
        found: u64,
    },
    /// An event whose seq does not follow the previous one.
    #[error("seq {found} does not follow seq {previous}")]
    SeqGap {
        /// Previous event's seq.
        previous: u64,
        /// This event's seq.
        found: u64,
    },
    /// An event whose `prev` is not the previous event's hash (or not 64 zeros at seq 1).
    #[error("prev does not match the previous event's hash")]
    BrokenLink,
    /// An event or checkpoint of another org than the first event.
    #[error("org differs from the first event's org")]
    OrgChanged,
    /// The file ends without a checkpoint line.
    #[error("missing checkpoint line at end of export")]
    MissingCheckpoint,
    /// Anything after the checkpoint line.
    #[error("content after the checkpoint line")]
    AfterCheckpoint,
    /// A checkpoint whose seq/head is not the last exported event's.
    #[error("checkpoint does not cover the last event (seq or head differ)")]
    CheckpointNotLast,
    /// The checkpoint key or signature is not valid base64 of a key/signature.
    #[error("checkpoint {0} is not valid")]
    BadEncoding(&'static str),
    /// The checkpoint was signed by another key than the pinned one.
    #[error("checkpoint signed by a key other than the pinned key")]
    KeyNotPinned,
    /// The checkpoint signature does not verify.
    #[error("checkpoint signature does not verify")]
    BadSignature,
    /// The CSV header row is not the documented one.
    #[error("CSV header must be seq,org,at,actor,action,subject,details,prev,hash")]
    BadHeader,
}
