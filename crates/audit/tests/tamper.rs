//! Every edit of an export is detected: generated mutations of valid exports, each of which
//! must fail verification with the pinned key. Mutations that leave the file unchanged are
//! not generated (each strategy changes at least one byte, asserted), and every test counts
//! the mutations it checked and asserts the count.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::cell::Cell;
use std::sync::LazyLock;

use audit::canonical::to_canonical_string;
use audit::{
    ChainHead, Checkpoint, CheckpointKey, Error, Event, Report, Start, VerifyOptions, verify_csv,
    verify_jsonl,
};
use common::{ORG, at, chain, chain_from, checkpoint_after, csv, jsonl, lines};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const EVENTS: usize = 24;

const BYTE_FLIPS_JSONL: u32 = 4000;
const BYTE_FLIPS_CSV: u32 = 1500;
const BYTE_INSERTIONS: u32 = 500;
const DETAIL_EDITS: u32 = 1000;
const REORDERS: u32 = 800;
const DELETIONS: u32 = 800;
const INSERTIONS: u32 = 800;
const DUPLICATIONS: u32 = 800;
const TRUNCATIONS: u32 = 800;
const FORGED_CHAINS: u32 = 300;
const OLD_CHECKPOINTS: u32 = 300;
const REFORMATS: u32 = 600;

const TOTAL: u32 = BYTE_FLIPS_JSONL
    + BYTE_FLIPS_CSV
    + BYTE_INSERTIONS
    + DETAIL_EDITS
    + REORDERS
    + DELETIONS
    + INSERTIONS
    + DUPLICATIONS
    + TRUNCATIONS
    + FORGED_CHAINS
    + OLD_CHECKPOINTS
    + REFORMATS;
const _: () = assert!(TOTAL >= 10_000, "at least 10,000 mutations in total");

struct Fixture {
    key: CheckpointKey,
    events: Vec<Event>,
    jsonl: Vec<u8>,
    csv: Vec<u8>,
    lines: Vec<Vec<u8>>,
    /// Lines of other chains (same org from genesis, another org, a continuation) to insert.
    foreign_lines: Vec<Vec<u8>>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let key = CheckpointKey::generate();
    let events = chain(EVENTS);
    let cp = checkpoint_after(&key, ORG, &events, 1000);
    let jsonl = jsonl(&events, &cp);
    let csv = csv(&events, &cp);
    let mut foreign_lines = Vec::new();
    for other in [
        other_chain_of_same_org(3),
        chain_from("another-org", ChainHead::GENESIS, EVENTS + 2),
        chain_from(ORG, ChainHead::from(&events[EVENTS - 1]), 2),
    ] {
        let cp = checkpoint_after(&key, other[0].org(), &other, 5);
        let export = common::jsonl(&other, &cp);
        foreign_lines.extend(lines(&export));
    }
    Fixture {
        lines: lines(&jsonl),
        key,
        events,
        jsonl,
        csv,
        foreign_lines,
    }
});

/// A chain of the same org that differs from the fixture's in every event.
fn other_chain_of_same_org(n: usize) -> Vec<Event> {
    let mut head = ChainHead::GENESIS;
    (0..n)
        .map(|i| {
            let mut draft = common::draft(i);
            draft.subject = format!("other chain {i}");
            let e = audit::seal(ORG, &head, at(i as i64), draft).unwrap();
            head = ChainHead::from(&e);
            e
        })
        .collect()
}

/// Recomputes the hash member of an event object, as a forger would; returns it.
fn rehash(m: &mut serde_json::Map<String, Value>) -> String {
    m.remove("hash");
    let text = to_canonical_string(&Value::Object(m.clone())).unwrap();
    let hash = hex::encode(Sha256::digest(text.as_bytes()));
    m.insert("hash".into(), hash.clone().into());
    hash
}

fn canonical_line(v: &Value) -> Vec<u8> {
    let mut line = to_canonical_string(v).unwrap().into_bytes();
    line.push(b'\n');
    line
}

fn pinned() -> VerifyOptions {
    VerifyOptions {
        pinned_key: Some(FIXTURE.key.public_key()),
        start: Start::Genesis,
    }
}

fn must_fail(result: Result<Report, Error>) -> Result<(), TestCaseError> {
    match result {
        Err(Error::Verify(_)) => Ok(()),
        Err(other) => Err(TestCaseError::fail(format!(
            "not a verification error: {other}"
        ))),
        Ok(report) => Err(TestCaseError::fail(format!(
            "tampered export verified: {report:?}"
        ))),
    }
}

/// Runs `cases` generated mutations of `original`; each must differ from it and fail.
fn run<S: Strategy>(
    cases: u32,
    original: &[u8],
    strategy: S,
    mutate: impl Fn(S::Value) -> Vec<u8>,
    verify: impl Fn(&[u8]) -> Result<Report, Error>,
) {
    assert!(verify(original).is_ok(), "the unmutated export must verify");
    let count = Cell::new(0_u32);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |input| {
            let mutated = mutate(input);
            prop_assert_ne!(
                mutated.as_slice(),
                original,
                "mutation left the export unchanged"
            );
            must_fail(verify(&mutated))?;
            count.set(count.get() + 1);
            Ok(())
        })
        .unwrap();
    assert_eq!(count.get(), cases, "every generated mutation was checked");
}

fn verify_jsonl_pinned(bytes: &[u8]) -> Result<Report, Error> {
    verify_jsonl(bytes, &pinned())
}

fn verify_csv_pinned(bytes: &[u8]) -> Result<Report, Error> {
    verify_csv(bytes, &pinned())
}

#[test]
fn every_byte_flip_of_a_jsonl_export_is_detected() {
    let f = &*FIXTURE;
    run(
        BYTE_FLIPS_JSONL,
        &f.jsonl,
        (0..f.jsonl.len(), 1_u8..=255),
        |(pos, xor)| {
            let mut m = f.jsonl.clone();
            m[pos] ^= xor;
            m
        },
        verify_jsonl_pinned,
    );
}

#[test]
fn every_byte_flip_of_a_csv_export_is_detected() {
    let f = &*FIXTURE;
    run(
        BYTE_FLIPS_CSV,
        &f.csv,
        (0..f.csv.len(), 1_u8..=255),
        |(pos, xor)| {
            let mut m = f.csv.clone();
            m[pos] ^= xor;
            m
        },
        verify_csv_pinned,
    );
}

#[test]
fn every_inserted_or_deleted_byte_is_detected() {
    let f = &*FIXTURE;
    run(
        BYTE_INSERTIONS,
        &f.jsonl,
        (0..f.jsonl.len(), any::<u8>(), any::<bool>()),
        |(pos, byte, insert)| {
            let mut m = f.jsonl.clone();
            if insert {
                m.insert(pos, byte);
            } else {
                m.remove(pos);
            }
            m
        },
        verify_jsonl_pinned,
    );
}

#[derive(Debug, Clone)]
enum DetailEdit {
    Add(String, i64),
    Replace(i64),
    Empty,
}

#[test]
fn every_edit_of_details_is_detected_even_when_the_line_is_rehashed() {
    let f = &*FIXTURE;
    let edit = prop_oneof![
        (any::<String>(), -1000_i64..1000).prop_map(|(k, v)| DetailEdit::Add(k, v)),
        (-1000_i64..1000).prop_map(DetailEdit::Replace),
        Just(DetailEdit::Empty),
    ];
    run(
        DETAIL_EDITS,
        &f.jsonl,
        (0..EVENTS, edit, any::<bool>()),
        |(i, edit, rehash_line)| {
            let mut ls = f.lines.clone();
            let mut v: Value = serde_json::from_slice(&ls[i]).unwrap();
            let details = v["details"].as_object_mut().unwrap();
            match edit {
                // A member the details did not have, or a changed value: never a no-op.
                DetailEdit::Add(k, n) => {
                    let key = format!("{k}\u{1}new");
                    details.insert(key, json!(n));
                }
                DetailEdit::Replace(n) => {
                    details.insert("edited".into(), json!(n));
                }
                DetailEdit::Empty => {
                    let had = !details.is_empty();
                    details.clear();
                    if !had {
                        details.insert("now".into(), json!(1));
                    }
                }
            }
            if rehash_line {
                rehash(v.as_object_mut().unwrap());
            }
            ls[i] = canonical_line(&v);
            ls.concat()
        },
        verify_jsonl_pinned,
    );
}

#[test]
fn every_reordering_of_lines_is_detected() {
    let f = &*FIXTURE;
    let n = f.lines.len();
    run(
        REORDERS,
        &f.jsonl,
        (0..n, 1..n, any::<bool>()),
        |(i, offset, swap)| {
            let j = (i + offset) % n;
            let mut ls = f.lines.clone();
            if swap {
                ls.swap(i, j);
            } else {
                let line = ls.remove(i);
                let j = if j == i { (j + 1) % n } else { j };
                ls.insert(j, line);
            }
            ls.concat()
        },
        verify_jsonl_pinned,
    );
}

#[test]
fn every_deletion_of_lines_is_detected() {
    let f = &*FIXTURE;
    let n = f.lines.len();
    run(
        DELETIONS,
        &f.jsonl,
        (0..n, 1..=3_usize),
        |(i, count)| {
            let mut ls = f.lines.clone();
            ls.drain(i..(i + count).min(n));
            ls.concat()
        },
        verify_jsonl_pinned,
    );
}

#[test]
fn every_insertion_of_a_line_from_another_chain_is_detected() {
    let f = &*FIXTURE;
    let n = f.lines.len();
    run(
        INSERTIONS,
        &f.jsonl,
        (0..=n, 0..f.foreign_lines.len()),
        |(i, k)| {
            let mut ls = f.lines.clone();
            ls.insert(i, f.foreign_lines[k].clone());
            ls.concat()
        },
        verify_jsonl_pinned,
    );
}

#[test]
fn every_duplicated_line_is_detected() {
    let f = &*FIXTURE;
    let n = f.lines.len();
    run(
        DUPLICATIONS,
        &f.jsonl,
        (0..n, 0..=n),
        |(i, j)| {
            let mut ls = f.lines.clone();
            let line = ls[i].clone();
            ls.insert(j, line);
            ls.concat()
        },
        verify_jsonl_pinned,
    );
}

#[test]
fn every_truncation_of_the_tail_is_detected() {
    let f = &*FIXTURE;
    run(
        TRUNCATIONS,
        &f.jsonl,
        0..f.jsonl.len(),
        |len| f.jsonl[..len].to_vec(),
        verify_jsonl_pinned,
    );
}

#[test]
fn a_chain_rehashed_and_signed_with_another_key_fails_against_the_pinned_key() {
    let f = &*FIXTURE;
    run(
        FORGED_CHAINS,
        &f.jsonl,
        (0..EVENTS, -1000_i64..1000, any::<bool>()),
        |(i, n, edit)| {
            // The forger edits event i (or nothing), re-hashes every later link, and signs a
            // fresh checkpoint with a key of their own.
            let forger = CheckpointKey::generate();
            let mut ls = f.lines.clone();
            let mut prev: Option<String> = None;
            for (k, line) in ls.iter_mut().enumerate().take(EVENTS).skip(i) {
                let mut v: Value = serde_json::from_slice(line).unwrap();
                if k == i && edit {
                    v["details"]["forged"] = json!(n);
                }
                if let Some(p) = &prev {
                    v["prev"] = p.clone().into();
                }
                prev = Some(rehash(v.as_object_mut().unwrap()));
                *line = canonical_line(&v);
            }
            let last: Value = serde_json::from_slice(&ls[EVENTS - 1]).unwrap();
            let head = audit::Hash::from_hex(last["hash"].as_str().unwrap()).unwrap();
            let cp = Checkpoint::new(
                ORG,
                &ChainHead {
                    seq: EVENTS as u64,
                    hash: head,
                },
                at(n),
            )
            .unwrap();
            ls[EVENTS] = [
                forger.sign(cp).unwrap().to_line().unwrap().into_bytes(),
                b"\n".to_vec(),
            ]
            .concat();
            let forged = ls.concat();
            // Consistent in itself: it verifies against the key it names...
            assert!(verify_jsonl(forged.as_slice(), &VerifyOptions::default()).is_ok());
            forged
        },
        // ...and only the pinned key exposes it.
        verify_jsonl_pinned,
    );
}

#[test]
fn a_checkpoint_from_an_older_export_is_detected() {
    let f = &*FIXTURE;
    run(
        OLD_CHECKPOINTS,
        &f.jsonl,
        (0..EVENTS, 0_i64..100_000),
        |(k, second)| {
            // A genuine checkpoint, signed by the real key, of the first k events.
            let old = checkpoint_after(&f.key, ORG, &f.events[..k], second);
            let mut ls = f.lines.clone();
            ls[EVENTS] = [old.to_line().unwrap().into_bytes(), b"\n".to_vec()].concat();
            ls.concat()
        },
        verify_jsonl_pinned,
    );
}

#[test]
fn every_reformatting_that_keeps_the_json_value_is_detected() {
    // The edits a byte flip rarely makes: the line still parses to the same JSON value, so
    // hashes would still match if the verifier compared values instead of bytes.
    let f = &*FIXTURE;
    let n = f.lines.len();
    run(
        REFORMATS,
        &f.jsonl,
        (
            0..n,
            0..6_u8,
            1..9_usize,
            prop::sample::select(vec![" ", "\t", "\r", "  "]),
        ),
        |(i, variant, r, ws)| {
            let mut ls = f.lines.clone();
            let line = String::from_utf8(ls[i].clone()).unwrap();
            let body = line.strip_suffix('\n').unwrap();
            let v: Value = serde_json::from_str(body).unwrap();
            let edited = match variant {
                // Whitespace between tokens.
                0 => format!("{{{ws}{}", &body[1..]),
                1 => format!("{}{ws}}}", &body[..body.len() - 1]),
                2 => {
                    let colon = body.rfind("\":").unwrap() + 2;
                    format!("{}{ws}{}", &body[..colon], &body[colon..])
                }
                // An escape where the character itself is canonical.
                3 => {
                    let first = body.find(":\"").unwrap() + 2;
                    let c = body.as_bytes()[first];
                    let escape = if r % 2 == 0 {
                        format!("\\u{:04x}", c)
                    } else {
                        format!("\\u{:04X}", c)
                    };
                    format!("{}{escape}{}", &body[..first], &body[first + 1..])
                }
                // The same members in another order.
                4 => {
                    let members: Vec<(String, String)> = v
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, x)| {
                            (
                                serde_json::to_string(k).unwrap(),
                                to_canonical_string(x).unwrap(),
                            )
                        })
                        .collect();
                    let mut sorted = members.clone();
                    sorted.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
                    let shift = 1 + r % (sorted.len() - 1);
                    sorted.rotate_left(shift);
                    let text: Vec<String> =
                        sorted.iter().map(|(k, x)| format!("{k}:{x}")).collect();
                    format!("{{{}}}", text.join(","))
                }
                // A member repeated with the same value.
                _ => {
                    let (k, x) = v.as_object().unwrap().iter().nth(r % 3).unwrap();
                    format!(
                        "{{{}:{},{}",
                        serde_json::to_string(k).unwrap(),
                        to_canonical_string(x).unwrap(),
                        &body[1..]
                    )
                }
            };
            assert_eq!(
                serde_json::from_str::<Value>(&edited).unwrap(),
                v,
                "{edited}"
            );
            ls[i] = format!("{edited}\n").into_bytes();
            ls.concat()
        },
        verify_jsonl_pinned,
    );
}
