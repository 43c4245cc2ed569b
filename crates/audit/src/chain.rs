//! The hash chain: event hashes, the head of an org's chain, and sealing a draft onto it.
//!
//! Each org has one chain. Event `n` carries `prev` = hash of event `n−1` (64 `0`s for the
//! first event) and `hash` = lowercase hex SHA-256 of the event's JCS text without `hash`.
//! Storage (governance) keeps the events and locks the head inside the transaction that
//! changes state; this module is the pure step from (head, time, draft) to a sealed event.

use std::fmt;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::canonical::MAX_SAFE_INTEGER;
use crate::event::{Event, EventDraft};
use crate::time::Timestamp;
use crate::{Error, event};

/// A SHA-256 digest, shown as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash([u8; 32]);

impl Hash {
    /// The `prev` of event 1: 64 `0`s.
    pub const ZERO: Hash = Hash([0; 32]);

    /// Wraps raw digest bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw digest bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses exactly 64 lowercase hex digits (uppercase is refused: the ledger has one
    /// spelling of each hash).
    ///
    /// # Errors
    /// [`Error::InvalidHash`].
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        // An export decodes two of these per event, so this is one pass that checks and
        // decodes at once (the hex crate's general decoder took an eighth of an export).
        let digits = text.as_bytes();
        if digits.len() != 64 {
            return Err(Error::InvalidHash);
        }
        let mut bytes = [0; 32];
        let mut seen = 0_u8;
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            if let [high, low] = *pair {
                let (high, low) = (HEX_VALUE[usize::from(high)], HEX_VALUE[usize::from(low)]);
                seen |= high | low;
                *byte = (high << 4) | (low & 0x0f);
            }
        }
        if seen & NOT_HEX != 0 {
            return Err(Error::InvalidHash);
        }
        Ok(Self(bytes))
    }

    /// The 64 lowercase hex digits.
    #[must_use]
    pub fn to_hex(&self) -> String {
        let mut digits = [0_u8; 64];
        // Both lengths are fixed (32 bytes → 64 digits), so this cannot fail.
        if hex::encode_to_slice(self.0, &mut digits).is_err() {
            digits.fill(b'0');
        }
        digits.iter().map(|&digit| char::from(digit)).collect()
    }

    /// SHA-256 of the concatenation of `parts`.
    pub(crate) fn of_parts(parts: &[&[u8]]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update(part);
        }
        Self(hasher.finalize().into())
    }
}

/// Marks a byte that is not a lowercase hex digit in [`HEX_VALUE`].
const NOT_HEX: u8 = 0x80;

/// The value of each lowercase hex digit; every other byte maps to [`NOT_HEX`].
const HEX_VALUE: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut digit = 0;
    while digit < 16 {
        let ascii = if digit < 10 {
            b'0' + digit
        } else {
            b'a' + digit - 10
        };
        table[ascii as usize] = digit;
        digit += 1;
    }
    table
};

pub(crate) fn is_lower_hex64(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

/// The last event of an org's chain: what the next event links to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainHead {
    /// Seq of the last event; 0 for an empty chain.
    pub seq: u64,
    /// Hash of the last event; [`Hash::ZERO`] for an empty chain.
    pub hash: Hash,
}

impl ChainHead {
    /// The head of an org without events.
    pub const GENESIS: ChainHead = ChainHead {
        seq: 0,
        hash: Hash::ZERO,
    };
}

impl From<&Event> for ChainHead {
    fn from(event: &Event) -> Self {
        Self {
            seq: event.seq(),
            hash: event.hash(),
        }
    }
}

/// Seals `draft` as the event after `head` in `org`'s chain, at `at` truncated to
/// microseconds.
///
/// The caller must hold the head locked (inside its transaction) so no other event takes
/// the same seq; the database's uniqueness on (org, seq) is the backstop.
///
/// # Errors
/// [`Error::InvalidOrg`] for an empty org, [`Error::InvalidTimestamp`] for a time outside
/// 0001–9999 or a leap second, [`Error::SeqExhausted`] after 2^53−1 events,
/// [`Error::BadGenesis`] for a seq-0 head whose hash is not [`Hash::ZERO`].
pub fn seal(
    org: &str,
    head: &ChainHead,
    at: DateTime<Utc>,
    draft: EventDraft,
) -> Result<Event, Error> {
    if org.is_empty() {
        return Err(Error::InvalidOrg);
    }
    if head.seq == 0 && head.hash != Hash::ZERO {
        return Err(Error::BadGenesis { seq: 1 });
    }
    let seq = head.seq.checked_add(1).ok_or(Error::SeqExhausted)?;
    if seq > MAX_SAFE_INTEGER {
        return Err(Error::SeqExhausted);
    }
    let at = Timestamp::new(at)?;
    event::assemble(seq, org.to_owned(), at, draft, head.hash)
}
