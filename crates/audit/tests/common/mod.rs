//! Shared fixtures: sample chains with awkward content, and exports of them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use audit::{
    Action, Actor, ChainHead, Checkpoint, CheckpointKey, CsvWriter, Details, Event, EventDraft,
    JsonlWriter, SignedCheckpoint, seal,
};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

pub const ORG: &str = "org-0190f5e2";

pub fn at(second: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_795_000_000 + second, 123_456_789)
        .unwrap()
}

/// Subjects that exercise escaping, CSV quoting and formula neutralization.
const SUBJECTS: [&str; 10] = [
    "phone:109876543210987",
    "=HYPERLINK(\"http://evil\")",
    "+1 555 0100",
    "-2",
    "@SUM(A1)",
    "\tindented",
    "'quoted",
    "comma, \"quote\" and\nnewline\r\n",
    "ünïcödé 😀 \u{2028} \u{e000} \u{7f}",
    "",
];

pub fn draft(i: usize) -> EventDraft {
    let actor = match i % 3 {
        0 => Actor::system(),
        1 => Actor::user(&format!("u-{i}")).unwrap(),
        _ => Actor::token(&format!("tok_{i}.x")).unwrap(),
    };
    let details = match i % 4 {
        0 => Details::empty(),
        1 => Details::new(json!({"version": i, "neg": -(i as i64), "max": 9_007_199_254_740_991_u64})).unwrap(),
        2 => Details::new(json!({
            "nested": {"b": [true, false, null, {"z": "\u{0}\u{1f}\"\\/"}], "a": []},
            "\u{20ac}": "euro", "\r": "cr", "\u{fb33}": "dalet", "1": "one",
            "\u{1f600}": "emoji", "\u{80}": "ctl", "\u{f6}": "o"
        }))
        .unwrap(),
        _ => Details::new(json!({"reason": format!("scheduled, run {i}"), "attempt_id": format!("0190f5e2-7c4b-7d3a-9e1f-{i:012}")})).unwrap(),
    };
    EventDraft {
        actor,
        action: Action::parse(if i.is_multiple_of(2) {
            "pin.rotated"
        } else {
            "pin.rotation.started"
        })
        .unwrap(),
        subject: SUBJECTS[i % SUBJECTS.len()].to_owned(),
        details,
    }
}

/// `n` events of `org` continuing from `head`.
pub fn chain_from(org: &str, head: ChainHead, n: usize) -> Vec<Event> {
    let start = head.seq as usize;
    let mut head = head;
    (0..n)
        .map(|i| {
            let e = seal(org, &head, at(i as i64), draft(start + i)).unwrap();
            head = ChainHead::from(&e);
            e
        })
        .collect()
}

pub fn chain(n: usize) -> Vec<Event> {
    chain_from(ORG, ChainHead::GENESIS, n)
}

pub fn checkpoint_after(
    key: &CheckpointKey,
    org: &str,
    events: &[Event],
    second: i64,
) -> SignedCheckpoint {
    let head = events.last().map_or(ChainHead::GENESIS, ChainHead::from);
    key.sign(Checkpoint::new(org, &head, at(second)).unwrap())
        .unwrap()
}

pub fn jsonl(events: &[Event], checkpoint: &SignedCheckpoint) -> Vec<u8> {
    let mut w = JsonlWriter::new(Vec::new());
    for e in events {
        w.write_event(e).unwrap();
    }
    w.finish(checkpoint).unwrap()
}

pub fn csv(events: &[Event], checkpoint: &SignedCheckpoint) -> Vec<u8> {
    let mut w = CsvWriter::new(Vec::new()).unwrap();
    for e in events {
        w.write_event(e).unwrap();
    }
    w.finish(checkpoint).unwrap()
}

/// Splits an export into its lines, each with its `\n`.
pub fn lines(export: &[u8]) -> Vec<Vec<u8>> {
    export
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}
