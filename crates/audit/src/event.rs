//! Ledger events: what a caller supplies ([`EventDraft`]), what the ledger keeps ([`Event`]),
//! how it is stored ([`StoredEvent`]), and the one canonical JSON layout of an event.
//!
//! An event is a JSON object with exactly the members `action`, `actor`, `at`, `details`,
//! `org`, `prev`, `seq`, `subject` (its hash pre-image, JCS), plus `hash` in an export line:
//!
//! ```json
//! {"action":"pin.rotated","actor":"user:42","at":"2026-11-23T10:00:00.123456Z","details":{"version":3},"hash":"<64 hex>","org":"acme","prev":"<64 hex>","seq":7,"subject":"phone:1093"}
//! ```
//!
//! Value rules (checked by the types at construction and again by the verifier):
//! - `seq`: integer 1 … 2^53−1.
//! - `org`: non-empty string.
//! - `at`: UTC `YYYY-MM-DDTHH:MM:SS.ffffffZ`, exactly 6 fractional digits, years 0001–9999,
//!   seconds 00–59.
//! - `actor`: `system`, `user:<id>` or `token:<id>`, id of 1–128 `[A-Za-z0-9._-]`.
//! - `action`: two or more `[a-z][a-z0-9_]*` segments joined by `.`.
//! - `subject`: any string.
//! - `details`: a JSON object without floats, integers within ±(2^53−1), nested at most
//!   [`MAX_DETAILS_DEPTH`](crate::details::MAX_DETAILS_DEPTH) levels, at most
//!   [`MAX_DETAILS_BYTES`](crate::details::MAX_DETAILS_BYTES) bytes as canonical JSON.
//! - `prev`, `hash`: 64 lowercase hex digits.

use std::ops::Range;

use chrono::{DateTime, Utc};

use crate::Error;
use crate::canonical::{MAX_SAFE_INTEGER, Sink, Str};
use crate::chain::Hash;
use crate::details::Details;
use crate::names::{Action, Actor};
use crate::time::Timestamp;

/// What a caller supplies for a new event; [`crate::seal`] adds seq, org, time and links.
#[derive(Clone, Debug)]
pub struct EventDraft {
    /// Who.
    pub actor: Actor,
    /// What.
    pub action: Action,
    /// On what, e.g. `phone:<meta id>`.
    pub subject: String,
    /// Facts, never secrets.
    pub details: Details,
}

/// A sealed ledger event.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Event {
    seq: u64,
    org: String,
    at: Timestamp,
    actor: Actor,
    action: Action,
    subject: String,
    details: Details,
    prev: Hash,
    hash: Hash,
}

impl Event {
    /// 1, 2, 3, … per org.
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.seq
    }
    /// The org whose chain this event belongs to.
    #[must_use]
    pub fn org(&self) -> &str {
        &self.org
    }
    /// When.
    #[must_use]
    pub fn at(&self) -> Timestamp {
        self.at
    }
    /// Who.
    #[must_use]
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
    /// What.
    #[must_use]
    pub fn action(&self) -> &Action {
        &self.action
    }
    /// On what.
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.subject
    }
    /// Facts.
    #[must_use]
    pub fn details(&self) -> &Details {
        &self.details
    }
    /// Hash of the previous event ([`Hash::ZERO`] for seq 1).
    #[must_use]
    pub fn prev(&self) -> Hash {
        self.prev
    }
    /// SHA-256 of the canonical JSON of this event without `hash`.
    #[must_use]
    pub fn hash(&self) -> Hash {
        self.hash
    }

    /// The export line of this event (canonical JSON including `hash`), without newline.
    ///
    /// # Errors
    /// Only [`Error::Json`], which writing to memory does not produce.
    pub fn to_line(&self) -> Result<String, Error> {
        let mut out = Vec::with_capacity(256);
        self.write_json(&mut out, true)?;
        String::from_utf8(out).map_err(|_| Error::Json(serde::ser::Error::custom("non-UTF-8")))
    }

    /// Appends the canonical JSON of this event (with or without `hash`) to `out`.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>, with_hash: bool) -> Result<(), Error> {
        let at = self.at.to_bytes();
        let mut prev = [0_u8; 64];
        let mut hash = [0_u8; 64];
        hex_into(&self.prev, &mut prev);
        hex_into(&self.hash, &mut hash);
        // Actor, action, timestamp and hex digits are validated ASCII without `"`, `\\` or
        // controls, so they need no escaping.
        let view = EventView {
            seq: self.seq,
            org: Str::Escape(&self.org),
            at: Str::Verbatim(ascii(&at)),
            actor: Str::Verbatim(self.actor.as_str()),
            action: Str::Verbatim(self.action.as_str()),
            subject: Str::Escape(&self.subject),
            details: self.details.canonical().as_bytes(),
            prev: Str::Verbatim(ascii(&prev)),
        };
        write_event_json(out, &view, with_hash.then(|| Str::Verbatim(ascii(&hash))))?;
        Ok(())
    }

    /// The columns to store this event under (governance keeps these in its ledger table).
    #[must_use]
    pub fn to_stored(&self) -> StoredEvent {
        StoredEvent {
            seq: self.seq,
            org: self.org.clone(),
            at: self.at.as_datetime(),
            actor: self.actor.as_str().to_owned(),
            action: self.action.as_str().to_owned(),
            subject: self.subject.clone(),
            details: self.details.canonical().to_owned(),
            prev: self.prev.to_hex(),
            hash: self.hash.to_hex(),
        }
    }

    /// Rebuilds an event from stored columns, re-validating every value and recomputing the
    /// hash, so a row edited in the database never reaches an export unnoticed.
    ///
    /// # Errors
    /// A validation error of the offending value, [`Error::BadGenesis`] for seq 0 or an event
    /// 1 not linked to the zero hash, [`Error::HashMismatch`] when the stored hash is wrong.
    pub fn from_stored(stored: StoredEvent) -> Result<Self, Error> {
        let StoredEvent {
            seq,
            org,
            at,
            actor,
            action,
            subject,
            details,
            prev,
            hash,
        } = stored;
        if org.is_empty() {
            return Err(Error::InvalidOrg);
        }
        if seq == 0 || seq > MAX_SAFE_INTEGER {
            return Err(Error::BadGenesis { seq });
        }
        let prev = Hash::from_hex(&prev)?;
        if seq == 1 && prev != Hash::ZERO {
            return Err(Error::BadGenesis { seq });
        }
        let stored_hash = Hash::from_hex(&hash)?;
        let (actor, action, at) = (
            Actor::parse(&actor)?,
            Action::parse(&action)?,
            Timestamp::new(at)?,
        );
        // Details are stored as the canonical text they were hashed as. Hashing that text
        // as it is and getting the stored hash proves it is that text (SHA-256 resists
        // second pre-images, and the members around it are escaped), so the common case
        // needs no JSON parse; any other text is parsed and re-canonicalized below.
        let mut event = Event {
            seq,
            org,
            at,
            actor,
            action,
            subject,
            details: Details::proven_canonical(details),
            prev,
            hash: Hash::ZERO,
        };
        let mut preimage = Vec::with_capacity(256);
        event.write_json(&mut preimage, false)?;
        event.hash = Hash::of_parts(&[&preimage]);
        if event.hash == stored_hash {
            return Ok(event);
        }
        let draft = EventDraft {
            actor: event.actor,
            action: event.action,
            subject: event.subject,
            details: Details::from_json(event.details.canonical())?,
        };
        let event = assemble(seq, event.org, event.at, draft, prev)?;
        if event.hash != stored_hash {
            return Err(Error::HashMismatch { seq });
        }
        Ok(event)
    }
}

/// An event as database columns: plain values for sqlx, validated again by
/// [`Event::from_stored`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// `seq`.
    pub seq: u64,
    /// `org`.
    pub org: String,
    /// `at` (microsecond precision; both SQLite text and PostgreSQL `timestamptz` keep it).
    pub at: DateTime<Utc>,
    /// `actor`.
    pub actor: String,
    /// `action`.
    pub action: String,
    /// `subject`.
    pub subject: String,
    /// `details` as JSON text (canonical when written; any JSON of the same value reads back).
    pub details: String,
    /// `prev`, 64 lowercase hex.
    pub prev: String,
    /// `hash`, 64 lowercase hex.
    pub hash: String,
}

/// Builds and hashes an event from validated parts.
pub(crate) fn assemble(
    seq: u64,
    org: String,
    at: Timestamp,
    draft: EventDraft,
    prev: Hash,
) -> Result<Event, Error> {
    let mut event = Event {
        seq,
        org,
        at,
        actor: draft.actor,
        action: draft.action,
        subject: draft.subject,
        details: draft.details,
        prev,
        hash: Hash::ZERO,
    };
    let mut preimage = Vec::with_capacity(256);
    event.write_json(&mut preimage, false)?;
    event.hash = Hash::of_parts(&[&preimage]);
    Ok(event)
}

fn hex_into(hash: &Hash, out: &mut [u8; 64]) {
    // Both lengths are fixed (32 bytes → 64 digits), so this cannot fail.
    if hex::encode_to_slice(hash.as_bytes(), out).is_err() {
        out.fill(b'0');
    }
}

/// Bytes known to be ASCII (hex digits, timestamp) as `&str`.
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// Borrowed event members, the input of the one canonical event layout.
pub(crate) struct EventView<'a> {
    pub(crate) seq: u64,
    pub(crate) org: Str<'a>,
    pub(crate) at: Str<'a>,
    pub(crate) actor: Str<'a>,
    pub(crate) action: Str<'a>,
    pub(crate) subject: Str<'a>,
    /// Already canonical JSON text of the details object.
    pub(crate) details: &'a [u8],
    pub(crate) prev: Str<'a>,
}

/// Appends the canonical JSON of an event to `out`, with the `hash` member when given, and
/// returns the byte range in `out` of `,"hash":"…"` (empty where it would be, when absent).
///
/// The member names are ASCII, so JCS order is byte order: action, actor, at, details,
/// hash, org, prev, seq, subject. The hash pre-image is the same text without that range.
pub(crate) fn write_event_json<S: Sink>(
    out: &mut S,
    e: &EventView<'_>,
    hash: Option<Str<'_>>,
) -> Result<Range<usize>, Error> {
    out.bytes(b"{\"action\":");
    out.string(e.action)?;
    out.bytes(b",\"actor\":");
    out.string(e.actor)?;
    out.bytes(b",\"at\":");
    out.string(e.at)?;
    out.bytes(b",\"details\":");
    out.bytes(e.details);
    let hash_start = out.position();
    if let Some(hash) = hash {
        out.bytes(b",\"hash\":");
        out.string(hash)?;
    }
    let hash_end = out.position();
    out.bytes(b",\"org\":");
    out.string(e.org)?;
    out.bytes(b",\"prev\":");
    out.string(e.prev)?;
    out.bytes(b",\"seq\":");
    out.integer(i64::try_from(e.seq).map_err(|_| Error::IntegerOutOfRange)?);
    out.bytes(b",\"subject\":");
    out.string(e.subject)?;
    out.bytes(b"}");
    Ok(hash_start..hash_end)
}
