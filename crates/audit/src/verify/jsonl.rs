//! JSON Lines: split lines in the reader's buffer, parse each with serde into borrowed
//! members, compare the line byte for byte with the canonical text of those members (without
//! writing it out), then run the chain checks.

use std::borrow::Cow;
use std::io::BufRead;

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::canonical_details::{CanonicalObject, MaybeBorrowed, is_number_error};
use super::{Buffers, Chain, CheckpointFields, EventFields, MAX_LINE_BYTES, Report, VerifyOptions};
use crate::Error;
use crate::canonical::{Matcher, Str, integer_of, to_canonical_string};
use crate::error::{Reason, VerifyError};
use crate::event::{EventView, write_event_json};

pub(super) fn verify<R: BufRead>(mut input: R, options: &VerifyOptions) -> Result<Report, Error> {
    let mut chain = Chain::new(options);
    let mut buf = Buffers::default();
    // A line is checked in place in the reader's buffer; only one that straddles two fills is
    // copied here first.
    let mut carry: Vec<u8> = Vec::new();
    let mut number = 0_usize;
    let mut report: Option<Report> = None;
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() {
            break;
        }
        let fail = |reason| {
            Error::Verify(VerifyError {
                line: number + 1,
                reason,
            })
        };
        if report.is_some() {
            return Err(fail(Reason::AfterCheckpoint));
        }
        let Some(end) = memchr::memchr(b'\n', available) else {
            carry.extend_from_slice(available);
            let consumed = available.len();
            input.consume(consumed);
            if carry.len() > MAX_LINE_BYTES {
                return Err(fail(Reason::LineTooLong {
                    max: MAX_LINE_BYTES,
                }));
            }
            continue;
        };
        let checked = if carry.is_empty() {
            check_bounded_line(&available[..end], &mut chain, &mut buf)
        } else {
            carry.extend_from_slice(&available[..end]);
            let checked = check_bounded_line(&carry, &mut chain, &mut buf);
            carry.clear();
            checked
        };
        report = checked.map_err(fail)?;
        number += 1;
        input.consume(end + 1);
    }
    let fail = |reason| {
        Error::Verify(VerifyError {
            line: number + 1,
            reason,
        })
    };
    if !carry.is_empty() {
        return Err(fail(if carry.len() > MAX_LINE_BYTES {
            Reason::LineTooLong {
                max: MAX_LINE_BYTES,
            }
        } else {
            Reason::MissingNewline
        }));
    }
    report.ok_or_else(|| fail(Reason::MissingCheckpoint))
}

fn check_bounded_line(
    line: &[u8],
    chain: &mut Chain<'_>,
    buf: &mut Buffers,
) -> Result<Option<Report>, Reason> {
    if line.len() > MAX_LINE_BYTES {
        return Err(Reason::LineTooLong {
            max: MAX_LINE_BYTES,
        });
    }
    check_line(line, chain, buf)
}

/// An event line's members; `details` goes straight into a buffer as canonical text.
struct EventLine<'a> {
    action: &'a str,
    actor: &'a str,
    at: &'a str,
    hash: &'a str,
    org: Cow<'a, str>,
    prev: &'a str,
    seq: u64,
    subject: Cow<'a, str>,
}

const EVENT_FIELDS: &[&str] = &[
    "action", "actor", "at", "details", "hash", "org", "prev", "seq", "subject",
];

/// Parses an event object, writing the canonical text of its `details` to `details`.
///
/// Written out rather than derived so that `details` can be handed a seed (derive cannot),
/// which spares capturing it as raw text and parsing it a second time. Member names and the
/// members whose canonical form never has an escape (action, actor, at, hash, prev) must be
/// borrowed `&str`: an escaped one fails here and is then diagnosed as not canonical.
struct EventLineSeed<'b> {
    details: &'b mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for EventLineSeed<'_> {
    type Value = EventLine<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EventLineSeed<'_> {
    type Value = EventLine<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a ledger event")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        fn once<T, E: de::Error>(
            slot: &mut Option<T>,
            value: T,
            name: &'static str,
        ) -> Result<(), E> {
            if slot.replace(value).is_some() {
                return Err(E::duplicate_field(name));
            }
            Ok(())
        }
        let (mut action, mut actor, mut at, mut hash, mut prev) = (None, None, None, None, None);
        let (mut org, mut subject, mut seq, mut details) = (None, None, None, None);
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                "action" => once(&mut action, map.next_value()?, "action")?,
                "actor" => once(&mut actor, map.next_value()?, "actor")?,
                "at" => once(&mut at, map.next_value()?, "at")?,
                "hash" => once(&mut hash, map.next_value()?, "hash")?,
                "prev" => once(&mut prev, map.next_value()?, "prev")?,
                "seq" => once(&mut seq, map.next_value::<u64>()?, "seq")?,
                "org" => once(&mut org, map.next_value::<MaybeBorrowed<'de>>()?.0, "org")?,
                "subject" => {
                    once(
                        &mut subject,
                        map.next_value::<MaybeBorrowed<'de>>()?.0,
                        "subject",
                    )?;
                }
                "details" => {
                    map.next_value_seed(CanonicalObject {
                        out: &mut *self.details,
                    })?;
                    once(&mut details, (), "details")?;
                }
                other => return Err(de::Error::unknown_field(other, EVENT_FIELDS)),
            }
        }
        details.ok_or_else(|| de::Error::missing_field("details"))?;
        Ok(EventLine {
            action: action.ok_or_else(|| de::Error::missing_field("action"))?,
            actor: actor.ok_or_else(|| de::Error::missing_field("actor"))?,
            at: at.ok_or_else(|| de::Error::missing_field("at"))?,
            hash: hash.ok_or_else(|| de::Error::missing_field("hash"))?,
            org: org.ok_or_else(|| de::Error::missing_field("org"))?,
            prev: prev.ok_or_else(|| de::Error::missing_field("prev"))?,
            seq: seq.ok_or_else(|| de::Error::missing_field("seq"))?,
            subject: subject.ok_or_else(|| de::Error::missing_field("subject"))?,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CheckpointLine<'a> {
    #[serde(borrow)]
    checkpoint: CheckpointMembers<'a>,
    #[serde(borrow)]
    key: Cow<'a, str>,
    #[serde(borrow)]
    signature: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointMembers<'a> {
    #[serde(borrow)]
    at: Cow<'a, str>,
    #[serde(borrow)]
    head: Cow<'a, str>,
    #[serde(borrow)]
    org: Cow<'a, str>,
    seq: u64,
}

impl<'a> CheckpointLine<'a> {
    fn fields(&'a self) -> CheckpointFields<'a> {
        let m = &self.checkpoint;
        CheckpointFields {
            at: Str::of_cow(&m.at),
            head: Str::of_cow(&m.head),
            org: Str::of_cow(&m.org),
            seq: m.seq,
            key: Str::of_cow(&self.key),
            signature: Str::of_cow(&self.signature),
        }
    }
}

/// Checks one line (without its newline); `Some` once the checkpoint line verified.
fn check_line(
    line: &[u8],
    chain: &mut Chain<'_>,
    buf: &mut Buffers,
) -> Result<Option<Report>, Reason> {
    // Validating UTF-8 once lets serde borrow strings without re-validating each.
    let text = std::str::from_utf8(line).map_err(|_| Reason::Malformed)?;
    if line.starts_with(b"{\"checkpoint\":") {
        return check_checkpoint_line(text, chain, buf).map(Some);
    }
    buf.details.clear();
    let mut de = serde_json::Deserializer::from_str(text);
    let e = EventLineSeed {
        details: &mut buf.details,
    }
    .deserialize(&mut de)
    .and_then(|e| de.end().map(|()| e))
    .map_err(|_| diagnose(text))?;
    super::check_seq(e.seq, 1)?;
    let fields = EventFields {
        view: EventView {
            seq: e.seq,
            org: Str::of_cow(&e.org),
            at: Str::Verbatim(e.at),
            actor: Str::Verbatim(e.actor),
            action: Str::Verbatim(e.action),
            subject: Str::of_cow(&e.subject),
            details: &buf.details,
            prev: Str::Verbatim(e.prev),
        },
        hash: Str::Verbatim(e.hash),
    };
    // Compare what the writer would write with the line itself, without writing it.
    let mut matcher = Matcher::new(line);
    let span = write_event_json(&mut matcher, &fields.view, Some(fields.hash))
        .map_err(super::number_reason)?;
    if !matcher.matched() {
        return Err(Reason::NotCanonical);
    }
    chain.event(&fields, line, span).map(|()| None)
}

pub(super) fn check_checkpoint_line(
    text: &str,
    chain: &mut Chain<'_>,
    buf: &mut Buffers,
) -> Result<Report, Reason> {
    let parsed: CheckpointLine<'_> = serde_json::from_str(text).map_err(|_| diagnose(text))?;
    chain.checkpoint(&parsed.fields(), text.as_bytes(), buf)
}

/// The members of an event line, with the JSON type each must have.
const EVENT_MEMBERS: [(&str, Kind); 9] = [
    ("action", Kind::String),
    ("actor", Kind::String),
    ("at", Kind::String),
    ("details", Kind::Object),
    ("hash", Kind::String),
    ("org", Kind::String),
    ("prev", Kind::String),
    ("seq", Kind::Integer),
    ("subject", Kind::String),
];
const CHECKPOINT_LINE_MEMBERS: [(&str, Kind); 3] = [
    ("checkpoint", Kind::Object),
    ("key", Kind::String),
    ("signature", Kind::String),
];
const CHECKPOINT_MEMBERS: [(&str, Kind); 4] = [
    ("at", Kind::String),
    ("head", Kind::String),
    ("org", Kind::String),
    ("seq", Kind::Integer),
];

#[derive(Clone, Copy)]
enum Kind {
    String,
    Object,
    Integer,
}

/// Names what is wrong with a line the typed parse refused (the slow path: only bad lines
/// come here).
fn diagnose(text: &str) -> Reason {
    let value = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Reason::Malformed,
        Err(e) if is_number_error(&e) => return Reason::BadNumber,
        Err(_) => return Reason::Malformed,
    };
    let found = if value.contains_key("checkpoint") {
        check_members(&value, &CHECKPOINT_LINE_MEMBERS).or_else(|| match value.get("checkpoint") {
            Some(Value::Object(inner)) => check_members(inner, &CHECKPOINT_MEMBERS),
            _ => None,
        })
    } else {
        check_members(&value, &EVENT_MEMBERS)
    };
    if let Some(reason) = found {
        return reason;
    }
    // All members there with the right types: a float or a huge integer somewhere, or a
    // member given twice (the typed parse refuses duplicates, `Value` keeps the last).
    match to_canonical_string(&Value::Object(value)) {
        Err(_) => Reason::BadNumber,
        Ok(_) => Reason::NotCanonical,
    }
}

fn check_members(
    map: &serde_json::Map<String, Value>,
    spec: &[(&'static str, Kind)],
) -> Option<Reason> {
    for (name, _) in spec {
        if !map.contains_key(*name) {
            return Some(Reason::MissingMember(name));
        }
    }
    if let Some(extra) = map.keys().find(|k| !spec.iter().any(|(n, _)| n == *k)) {
        return Some(Reason::UnexpectedMember(extra.chars().take(64).collect()));
    }
    for (name, kind) in spec {
        let value = map.get(*name)?;
        let reason = match (kind, value) {
            (Kind::String, Value::String(_)) | (Kind::Object, Value::Object(_)) => continue,
            (Kind::Integer, Value::Number(n)) => match integer_of(n) {
                Ok(i) if i >= 0 => continue,
                Ok(_) => Reason::BadValue(name),
                Err(_) => Reason::BadNumber,
            },
            (Kind::String, _) => Reason::WrongType {
                member: name,
                expected: "a string",
            },
            (Kind::Object, _) => Reason::WrongType {
                member: name,
                expected: "an object",
            },
            (Kind::Integer, _) => Reason::WrongType {
                member: name,
                expected: "an integer",
            },
        };
        return Some(reason);
    }
    None
}
