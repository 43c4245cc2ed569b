//! CSV: records parsed by the `csv` crate, checked field by field like JSON lines, and the
//! raw bytes compared with what [`crate::CsvWriter`] writes for those fields, so that quoting,
//! line ends, blank lines and neutralization are covered too.

use std::cell::RefCell;
use std::io::Read;

use super::canonical_details::write_canonical_object;
use super::jsonl::check_checkpoint_line;
use super::{Buffers, Chain, EventFields, Report, VerifyOptions, verify_error};
use crate::Error;
use crate::canonical::{MAX_SAFE_INTEGER, Str};
use crate::error::Reason;
use crate::event::{EventView, write_event_json};
use crate::export::{CSV_CHECKPOINT_MARK, CSV_HEADER, csv_writer_builder, needs_neutralizing};

pub(super) fn verify<R: Read>(input: R, options: &VerifyOptions) -> Result<Report, Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(Tee {
            inner: input,
            seen: Vec::new(),
        });
    let mut rewriter = csv_writer_builder().from_writer(SharedBuf::default());
    let mut chain = Chain::new(options);
    let mut buf = Buffers::default();
    let mut record = csv::ByteRecord::new();
    let mut report: Option<Report> = None;
    let mut header_seen = false;
    // Line of the next record. Counted from the re-encoded records, which are known to match
    // the file byte for byte up to here; csv's own positions lag a line behind after CRLF.
    let mut line = 1_usize;
    loop {
        let fail = |reason| verify_error(line, reason);
        let more = match reader.read_byte_record(&mut record) {
            Ok(more) => more,
            Err(e) => {
                if let csv::ErrorKind::Io(_) = e.kind() {
                    return Err(Error::Csv(e));
                }
                return Err(fail(Reason::Malformed));
            }
        };
        if !more {
            // Bytes the parser skipped (blank lines) or a missing final CRLF show up here.
            let rest = rewriter.get_ref().take();
            if reader.get_ref().seen != rest {
                return Err(fail(Reason::NotCanonical));
            }
            return report.ok_or(fail(Reason::MissingCheckpoint));
        }
        if report.is_some() {
            return Err(fail(Reason::AfterCheckpoint));
        }
        if record.len() != CSV_HEADER.len() {
            return Err(fail(Reason::Malformed));
        }
        // The file must be exactly what the writer makes of these fields.
        let start = rewriter.get_ref().len();
        rewriter.write_byte_record(&record).map_err(Error::Csv)?;
        rewriter.flush()?;
        let newlines = rewriter.get_ref().newlines_from(start);
        if !rewriter.get_ref().take_pending(&mut reader.get_mut().seen) {
            return Err(fail(Reason::NotCanonical));
        }
        let fields: Vec<&str> = match record
            .iter()
            .map(std::str::from_utf8)
            .collect::<Result<Vec<&str>, _>>()
        {
            Ok(fields) => fields,
            Err(_) => return Err(fail(Reason::Malformed)),
        };
        if header_seen {
            report = check_row(&fields, &mut chain, &mut buf).map_err(fail)?;
        } else if fields != CSV_HEADER {
            return Err(fail(Reason::BadHeader));
        } else {
            header_seen = true;
        }
        line += newlines;
    }
}

/// Checks one data row; `Some` once the checkpoint row verified.
fn check_row(
    fields: &[&str],
    chain: &mut Chain<'_>,
    buf: &mut Buffers,
) -> Result<Option<Report>, Reason> {
    if fields[0] == CSV_CHECKPOINT_MARK {
        let only_details = fields
            .iter()
            .enumerate()
            .all(|(i, f)| i == 0 || i == 6 || f.is_empty());
        if !only_details {
            return Err(Reason::NotCanonical);
        }
        return check_checkpoint_line(fields[6], chain, buf).map(Some);
    }
    let mut values = [""; 9];
    for (value, cell) in values.iter_mut().zip(fields) {
        *value = unneutralize(cell)?;
    }
    let [seq, org, at, actor, action, subject, details, prev, hash] = values;
    let seq = parse_seq(seq)?;
    buf.details.clear();
    write_canonical_object(details, &mut buf.details).map_err(|reason| match reason {
        Reason::Malformed => Reason::BadValue("details"),
        other => other,
    })?;
    if buf.details != details.as_bytes() {
        return Err(Reason::NotCanonical);
    }
    let fields = EventFields {
        view: EventView {
            seq,
            org: Str::Escape(org),
            at: Str::Escape(at),
            actor: Str::Escape(actor),
            action: Str::Escape(action),
            subject: Str::Escape(subject),
            details: &buf.details,
            prev: Str::Escape(prev),
        },
        hash: Str::Escape(hash),
    };
    buf.canonical.clear();
    let span =
        write_event_json(&mut buf.canonical, &fields.view, None).map_err(super::number_reason)?;
    chain.event(&fields, &buf.canonical, span).map(|()| None)
}

/// A CSV `seq` cell: canonical decimal 1 … 2^53−1.
fn parse_seq(text: &str) -> Result<u64, Reason> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && !(text.len() > 1 && text.starts_with('0'));
    let seq = text
        .parse::<u64>()
        .ok()
        .filter(|_| canonical)
        .ok_or(Reason::BadValue("seq"))?;
    if seq > MAX_SAFE_INTEGER {
        return Err(Reason::BadNumber);
    }
    Ok(seq)
}

/// Undoes formula neutralization; a cell the writer would have written differently is not
/// canonical.
fn unneutralize(cell: &str) -> Result<&str, Reason> {
    match cell.strip_prefix('\'') {
        Some(value) if needs_neutralizing(value) => Ok(value),
        Some(_) => Err(Reason::NotCanonical),
        None if needs_neutralizing(cell) => Err(Reason::NotCanonical),
        None => Ok(cell),
    }
}

/// A reader that keeps a copy of what it hands out, so the raw bytes can be compared with
/// what the writer would have produced.
struct Tee<R> {
    inner: R,
    seen: Vec<u8>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// The sink of the re-encoding CSV writer; `RefCell` because `csv::Writer` only lends `&W`.
#[derive(Default)]
struct SharedBuf(RefCell<Vec<u8>>);

impl std::io::Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.get_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuf {
    fn len(&self) -> usize {
        self.0.borrow().len()
    }

    fn newlines_from(&self, start: usize) -> usize {
        self.0.borrow()[start..]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
    }

    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.borrow_mut())
    }

    /// Matches the re-encoded bytes against the raw bytes read so far and drops the common
    /// prefix of both; `false` on the first difference. Whatever one side has beyond the
    /// other (read-ahead, or a record's last byte not read yet) waits for the next call.
    fn take_pending(&self, seen: &mut Vec<u8>) -> bool {
        let mut expected = self.0.borrow_mut();
        let common = expected.len().min(seen.len());
        if expected[..common] != seen[..common] {
            return false;
        }
        expected.drain(..common);
        seen.drain(..common);
        true
    }
}
