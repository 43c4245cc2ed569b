//! Streaming export writers: push events in seq order, then the signed checkpoint.
//!
//! Memory stays constant whatever the ledger size: governance reads rows from its database
//! in pages and pushes each [`Event`] here. Both writers refuse input that would not verify:
//! events of another org, a seq that does not follow, a `prev` that is not the previous
//! hash, or a checkpoint that does not cover the last event written.
//!
//! # JSON Lines
//!
//! One canonical (RFC 8785) JSON object per line, each line ending in `\n`, no blank lines:
//! the events in seq order (members `action, actor, at, details, hash, org, prev, seq,
//! subject`), then the checkpoint line (see [`crate::checkpoint`]).
//!
//! # CSV
//!
//! RFC 4180 via the `csv` crate: comma separated, CRLF line ends, fields quoted only when
//! they contain a comma, quote, CR or LF (quotes doubled inside). Rows:
//!
//! 1. header: `seq,org,at,actor,action,subject,details,prev,hash`;
//! 2. one row per event, the JSONL members in that column order, `details` as its JCS text,
//!    `seq` in decimal;
//! 3. last, the checkpoint row: first cell `checkpoint`, the `details` cell holding exactly
//!    the JSONL checkpoint line (without newline), every other cell empty.
//!
//! Spreadsheet formula injection is neutralized reversibly: a cell whose text starts with
//! `=`, `+`, `-`, `@`, tab, CR or `'` is written with one extra leading `'`; a reader strips
//! one leading `'` to get the value back.
//!
//! # Ranges
//!
//! An export may start after seq 1 (`--from`): its first event's `prev` then links to an
//! event outside the file. The checkpoint must cover the last exported event (its seq and
//! hash), so a range is verifiable on its own; see [`crate::verify::Start`].

use std::io::{BufWriter, Write};

use crate::checkpoint::SignedCheckpoint;
use crate::event::Event;
use crate::{ChainHead, Error, Hash};

/// The header row of a CSV export.
pub const CSV_HEADER: [&str; 9] = [
    "seq", "org", "at", "actor", "action", "subject", "details", "prev", "hash",
];

/// First cell of the CSV checkpoint row.
pub const CSV_CHECKPOINT_MARK: &str = "checkpoint";

/// Characters that make a spreadsheet treat a cell as a formula (plus `'`, so that the
/// neutralizing prefix can be undone without ambiguity).
pub(crate) fn needs_neutralizing(cell: &str) -> bool {
    matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\'')
    )
}

fn neutralize(cell: &str) -> std::borrow::Cow<'_, str> {
    if needs_neutralizing(cell) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// Tracks that pushed events form one contiguous chain of one org.
#[derive(Default)]
struct Continuity {
    org: Option<String>,
    last: Option<ChainHead>,
}

impl Continuity {
    fn push(&mut self, event: &Event) -> Result<(), Error> {
        if let (Some(org), Some(last)) = (&self.org, &self.last) {
            let expected_seq = last.seq.saturating_add(1);
            if event.org() != org || event.seq() != expected_seq || event.prev() != last.hash {
                return Err(Error::ChainBroken {
                    seq: event.seq(),
                    expected_seq,
                });
            }
        } else {
            self.org = Some(event.org().to_owned());
        }
        self.last = Some(ChainHead::from(event));
        Ok(())
    }

    fn check(&self, signed: &SignedCheckpoint) -> Result<(), Error> {
        let checkpoint = signed.checkpoint();
        let covered = match (&self.org, &self.last) {
            (Some(org), Some(last)) => checkpoint.org() == org && checkpoint.chain_head() == *last,
            _ => checkpoint.seq() == 0 && checkpoint.head() == Hash::ZERO,
        };
        if covered {
            Ok(())
        } else {
            Err(Error::CheckpointMismatch)
        }
    }
}

/// Writes a JSON Lines export.
pub struct JsonlWriter<W: Write> {
    out: BufWriter<W>,
    line: Vec<u8>,
    chain: Continuity,
}

impl<W: Write> JsonlWriter<W> {
    /// A writer onto `out` (buffered internally).
    pub fn new(out: W) -> Self {
        Self {
            out: BufWriter::with_capacity(64 * 1024, out),
            line: Vec::with_capacity(512),
            chain: Continuity::default(),
        }
    }

    /// Appends one event line.
    ///
    /// # Errors
    /// [`Error::ChainBroken`] if `event` does not continue the events written so far,
    /// [`Error::Io`].
    pub fn write_event(&mut self, event: &Event) -> Result<(), Error> {
        self.chain.push(event)?;
        self.line.clear();
        event.write_json(&mut self.line, true)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        Ok(())
    }

    /// Appends the checkpoint line, flushes, and returns the underlying writer.
    ///
    /// # Errors
    /// [`Error::CheckpointMismatch`] unless `checkpoint` covers the last event written (or
    /// is the genesis checkpoint, seq 0, when none was), [`Error::Io`].
    pub fn finish(mut self, checkpoint: &SignedCheckpoint) -> Result<W, Error> {
        self.chain.check(checkpoint)?;
        self.line.clear();
        checkpoint.write_line(&mut self.line)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        self.out.into_inner().map_err(|e| Error::Io(e.into_error()))
    }
}

/// Writes a CSV export.
pub struct CsvWriter<W: Write> {
    out: csv::Writer<W>,
    chain: Continuity,
}

pub(crate) fn csv_writer_builder() -> csv::WriterBuilder {
    let mut builder = csv::WriterBuilder::new();
    builder
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .flexible(false);
    builder
}

impl<W: Write> CsvWriter<W> {
    /// A writer onto `out`; writes the header row.
    ///
    /// # Errors
    /// [`Error::Csv`].
    pub fn new(out: W) -> Result<Self, Error> {
        let mut out = csv_writer_builder().from_writer(out);
        out.write_record(CSV_HEADER)?;
        Ok(Self {
            out,
            chain: Continuity::default(),
        })
    }

    /// Appends one event row.
    ///
    /// # Errors
    /// [`Error::ChainBroken`] if `event` does not continue the events written so far,
    /// [`Error::Csv`].
    pub fn write_event(&mut self, event: &Event) -> Result<(), Error> {
        self.chain.push(event)?;
        let seq = event.seq().to_string();
        let at = event.at().to_string();
        let prev = event.prev().to_hex();
        let hash = event.hash().to_hex();
        let cells = [
            seq.as_str(),
            event.org(),
            &at,
            event.actor().as_str(),
            event.action().as_str(),
            event.subject(),
            event.details().canonical(),
            &prev,
            &hash,
        ];
        self.out
            .write_record(cells.iter().map(|c| neutralize(c).into_owned()))?;
        Ok(())
    }

    /// Appends the checkpoint row, flushes, and returns the underlying writer.
    ///
    /// # Errors
    /// [`Error::CheckpointMismatch`] unless `checkpoint` covers the last event written (or
    /// is the genesis checkpoint, seq 0, when none was), [`Error::Csv`], [`Error::Io`].
    pub fn finish(mut self, checkpoint: &SignedCheckpoint) -> Result<W, Error> {
        self.chain.check(checkpoint)?;
        let line = checkpoint.to_line()?;
        self.out
            .write_record([CSV_CHECKPOINT_MARK, "", "", "", "", "", &line, "", ""])?;
        self.out
            .into_inner()
            .map_err(|e| Error::Io(std::io::Error::other(e.error().to_string())))
    }
}
