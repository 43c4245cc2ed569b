//! Offline verification of an export, streaming, in constant memory.
//!
//! A JSON Lines export verifies when, line by line:
//!
//! 1. every line ends with `\n` and is at most [`MAX_LINE_BYTES`] bytes long;
//! 2. every line is a UTF-8 JSON object with exactly the documented members and types
//!    (events: `action actor at details hash org prev seq subject`; checkpoint line:
//!    `checkpoint key signature`, with `checkpoint` holding exactly `at head org seq`);
//! 3. every line is byte-for-byte its own JCS text (so no edit, not even of whitespace or of
//!    an escape, goes unnoticed), with no floats and no integer beyond ±(2^53−1);
//! 4. every value has its format (see [`crate::event`]); seq ≥ 1;
//! 5. every event's `hash` is the SHA-256 of its JCS text without `hash`;
//! 6. all events and the checkpoint belong to the first event's org;
//! 7. seqs are consecutive, each `prev` is the previous event's `hash`, and the first event
//!    is where [`Start`] says (by default seq 1, whose `prev` must be 64 `0`s);
//! 8. the last line is the checkpoint line and covers the last event (same seq and head; an
//!    export without events carries the genesis checkpoint, seq 0 and 64 `0`s);
//! 9. the checkpoint key is the pinned key, if one was given, and the signature verifies
//!    (strict RFC 8032 verification) over the JCS text of the checkpoint object.
//!
//! The first failure stops verification and names its 1-based line. A missing checkpoint is
//! reported on the line after the last one.
//!
//! Ranges: `--from` exports start after seq 1, and their first `prev` points outside the
//! file. A full export whose first lines were cut off looks exactly like a range, so a range
//! verifies only when the caller says so ([`Start::Seq`] or [`Start::Any`]); the default
//! ([`Start::Genesis`]) demands seq 1.
//!
//! Without a pinned key, a passing export only proves it is consistent and was signed by
//! the key it names; whoever rewrites the whole file can sign it with a key of their own.
//! Pin the service's key (`pinward keys show`) to rule that out.
//!
//! CSV exports are checked the same way, field by field, and additionally must be
//! byte-for-byte what [`crate::CsvWriter`] writes for those fields (quoting, CRLF, header,
//! neutralization), so layout edits are caught too.

use std::io::{BufRead, Read};

use crate::canonical::{MAX_SAFE_INTEGER, Str};
use crate::chain::is_lower_hex64;
use crate::checkpoint::{
    PublicKey, signature_from_base64, write_checkpoint_jcs, write_checkpoint_line,
};
use crate::error::{Reason, VerifyError};
use crate::event::EventView;
use crate::names::{is_action, is_actor};
use crate::time::{Timestamp, timestamp_fields};
use crate::{Error, Hash};

mod canonical_details;
mod csv_rows;
mod jsonl;

/// Longest line accepted (excluding its newline). Events are far smaller: details are capped
/// at 64 KiB.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

const ZERO_HEX: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Where the export must start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Start {
    /// A full export: the first event is seq 1 with `prev` = 64 `0`s.
    #[default]
    Genesis,
    /// A range export whose first event is exactly this seq (`ledger export --from SEQ`).
    Seq(u64),
    /// Any first seq (a seq 1 must still link to 64 `0`s).
    Any,
}

/// How to verify.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Refuse the export unless its checkpoint was signed by this key.
    pub pinned_key: Option<PublicKey>,
    /// Where the export must start.
    pub start: Start,
}

/// What a verified export contains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Number of events.
    pub events: u64,
    /// The org (from the checkpoint when there are no events).
    pub org: String,
    /// Seq of the first event, `None` without events.
    pub first_seq: Option<u64>,
    /// Seq of the last event (0 without events) = checkpoint seq.
    pub last_seq: u64,
    /// Hash of the last event = checkpoint head.
    pub head: Hash,
    /// The key that signed the checkpoint.
    pub key: PublicKey,
    /// Whether that key was checked against a pinned key.
    pub key_pinned: bool,
    /// When the checkpoint was taken.
    pub checkpoint_at: Timestamp,
}

/// Verifies a JSON Lines export read from `input`.
///
/// # Errors
/// [`Error::Verify`] naming the first bad line; [`Error::Io`] if reading fails.
pub fn verify_jsonl<R: BufRead>(input: R, options: &VerifyOptions) -> Result<Report, Error> {
    jsonl::verify(input, options)
}

/// Verifies a CSV export read from `input`.
///
/// # Errors
/// [`Error::Verify`] naming the (starting) line of the first bad record; [`Error::Io`] or
/// [`Error::Csv`] if reading fails.
pub fn verify_csv<R: Read>(input: R, options: &VerifyOptions) -> Result<Report, Error> {
    csv_rows::verify(input, options)
}

fn verify_error(line: usize, reason: Reason) -> Error {
    Error::Verify(VerifyError { line, reason })
}

/// Chain state carried from line to line, and the checks that need it.
struct Chain<'o> {
    options: &'o VerifyOptions,
    org: Option<String>,
    first_seq: Option<u64>,
    last_seq: u64,
    /// Lowercase hex of the last event's hash (64 `0`s before the first).
    last_hash: [u8; 64],
    events: u64,
}

/// Reusable buffers, so a line costs no allocation beyond parsing.
#[derive(Default)]
struct Buffers {
    /// Canonical text rebuilt from a line's members (checkpoints, CSV rows).
    canonical: Vec<u8>,
    /// The canonical text of an event's details.
    details: Vec<u8>,
    /// The signed checkpoint object.
    signed: Vec<u8>,
}

/// An event line's members, however they were read (JSON line or CSV row).
struct EventFields<'a> {
    view: EventView<'a>,
    hash: Str<'a>,
}

/// A checkpoint line's members.
struct CheckpointFields<'a> {
    at: Str<'a>,
    head: Str<'a>,
    org: Str<'a>,
    seq: u64,
    key: Str<'a>,
    signature: Str<'a>,
}

impl<'o> Chain<'o> {
    fn new(options: &'o VerifyOptions) -> Self {
        let mut last_hash = [0_u8; 64];
        last_hash.copy_from_slice(ZERO_HEX.as_bytes());
        Self {
            options,
            org: None,
            first_seq: None,
            last_seq: 0,
            last_hash,
            events: 0,
        }
    }

    /// Checks one event whose canonical text (with hash) is `canonical`, its hash member
    /// spanning `hash_span` there: values, hash, and the event's place in the chain.
    fn event(
        &mut self,
        e: &EventFields<'_>,
        canonical: &[u8],
        hash_span: std::ops::Range<usize>,
    ) -> Result<(), Reason> {
        let v = &e.view;
        check_seq(v.seq, 1)?;
        if timestamp_fields(v.at.as_str()).is_none() {
            return Err(Reason::BadValue("at"));
        }
        if !is_actor(v.actor.as_str()) {
            return Err(Reason::BadValue("actor"));
        }
        if !is_action(v.action.as_str()) {
            return Err(Reason::BadValue("action"));
        }
        let org = v.org.as_str();
        if org.is_empty() {
            return Err(Reason::BadValue("org"));
        }
        let prev = v.prev.as_str().as_bytes();
        // A prev or hash equal to a hex digest is valid hex; the format is checked on its own
        // only where no such comparison happens (the first prev) or the comparison failed.
        if self.org.is_none() && !is_lower_hex64(v.prev.as_str()) {
            return Err(Reason::BadValue("prev"));
        }
        let recomputed =
            Hash::of_parts(&[&canonical[..hash_span.start], &canonical[hash_span.end..]]);
        let mut recomputed_hex = [0_u8; 64];
        if hex::encode_to_slice(recomputed.as_bytes(), &mut recomputed_hex).is_err()
            || recomputed_hex != e.hash.as_str().as_bytes()
        {
            if !is_lower_hex64(e.hash.as_str()) {
                return Err(Reason::BadValue("hash"));
            }
            return Err(Reason::HashMismatch);
        }
        match &self.org {
            Some(first) => {
                if first != org {
                    return Err(Reason::OrgChanged);
                }
                if v.seq != self.last_seq + 1 {
                    return Err(Reason::SeqGap {
                        previous: self.last_seq,
                        found: v.seq,
                    });
                }
                if prev != self.last_hash {
                    return Err(if is_lower_hex64(v.prev.as_str()) {
                        Reason::BrokenLink
                    } else {
                        Reason::BadValue("prev")
                    });
                }
            }
            None => {
                let expected = match self.options.start {
                    Start::Genesis => Some(1),
                    Start::Seq(s) => Some(s),
                    Start::Any => None,
                };
                if let Some(expected) = expected.filter(|s| *s != v.seq) {
                    return Err(Reason::UnexpectedStart {
                        expected,
                        found: v.seq,
                    });
                }
                if v.seq == 1 && prev != ZERO_HEX.as_bytes() {
                    return Err(Reason::BrokenLink);
                }
                self.org = Some(org.to_owned());
                self.first_seq = Some(v.seq);
            }
        }
        self.last_seq = v.seq;
        self.last_hash = recomputed_hex;
        self.events += 1;
        Ok(())
    }

    /// Checks the checkpoint line `line` (its canonical form, values, coverage, key and
    /// signature) and produces the report.
    fn checkpoint(
        &mut self,
        c: &CheckpointFields<'_>,
        line: &[u8],
        buf: &mut Buffers,
    ) -> Result<Report, Reason> {
        check_seq(c.seq, 0)?;
        buf.signed.clear();
        write_checkpoint_jcs(
            &mut buf.signed,
            c.at.as_str(),
            c.head.as_str(),
            c.org.as_str(),
            c.seq,
        )
        .map_err(number_reason)?;
        buf.canonical.clear();
        write_checkpoint_line(
            &mut buf.canonical,
            &buf.signed,
            c.key.as_str(),
            c.signature.as_str(),
        )
        .map_err(number_reason)?;
        if buf.canonical != line {
            return Err(Reason::NotCanonical);
        }
        let at = Timestamp::parse(c.at.as_str()).map_err(|_| Reason::BadValue("at"))?;
        let head = Hash::from_hex(c.head.as_str()).map_err(|_| Reason::BadValue("head"))?;
        let org = c.org.as_str();
        if org.is_empty() {
            return Err(Reason::BadValue("org"));
        }
        let key = PublicKey::from_base64(c.key.as_str()).map_err(|_| Reason::BadEncoding("key"))?;
        let signature = signature_from_base64(c.signature.as_str())
            .map_err(|_| Reason::BadEncoding("signature"))?;
        match &self.org {
            Some(first) => {
                if first != org {
                    return Err(Reason::OrgChanged);
                }
                if c.seq != self.last_seq || c.head.as_str().as_bytes() != self.last_hash {
                    return Err(Reason::CheckpointNotLast);
                }
            }
            None => {
                if c.seq != 0 || head != Hash::ZERO {
                    return Err(Reason::CheckpointNotLast);
                }
            }
        }
        if self.options.pinned_key.is_some_and(|pinned| pinned != key) {
            return Err(Reason::KeyNotPinned);
        }
        key.verify(&buf.signed, &signature)
            .map_err(|_| Reason::BadSignature)?;
        Ok(Report {
            events: self.events,
            org: org.to_owned(),
            first_seq: self.first_seq,
            last_seq: c.seq,
            head,
            key,
            key_pinned: self.options.pinned_key.is_some(),
            checkpoint_at: at,
        })
    }
}

fn check_seq(seq: u64, min: u64) -> Result<(), Reason> {
    if seq > MAX_SAFE_INTEGER {
        Err(Reason::BadNumber)
    } else if seq < min {
        Err(Reason::BadValue("seq"))
    } else {
        Ok(())
    }
}

fn number_reason(e: Error) -> Reason {
    match e {
        Error::FloatNotAllowed | Error::IntegerOutOfRange => Reason::BadNumber,
        _ => Reason::Malformed,
    }
}
