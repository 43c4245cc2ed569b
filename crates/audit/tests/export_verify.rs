//! Exports verify; the verifier names the first bad line and why.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use audit::{
    ChainHead, Checkpoint, CheckpointKey, CsvWriter, Error, JsonlWriter, Reason, Start,
    VerifyOptions, verify_csv, verify_jsonl,
};
use common::{ORG, at, chain, chain_from, checkpoint_after, csv, jsonl, lines};

fn pinned(key: &CheckpointKey) -> VerifyOptions {
    VerifyOptions {
        pinned_key: Some(key.public_key()),
        start: Start::Genesis,
    }
}

fn reason_at(result: Result<audit::Report, Error>) -> (usize, Reason) {
    match result {
        Err(Error::Verify(e)) => (e.line, e.reason),
        other => panic!("expected a verification failure, got {other:?}"),
    }
}

#[test]
fn a_full_jsonl_export_verifies_with_the_pinned_key() {
    let key = CheckpointKey::generate();
    let events = chain(30);
    let export = jsonl(&events, &checkpoint_after(&key, ORG, &events, 99));
    let report = verify_jsonl(export.as_slice(), &pinned(&key)).unwrap();
    assert_eq!(report.events, 30);
    assert_eq!(report.org, ORG);
    assert_eq!(report.first_seq, Some(1));
    assert_eq!(report.last_seq, 30);
    assert_eq!(report.head, events[29].hash());
    assert_eq!(report.key, key.public_key());
    assert!(report.key_pinned);
    assert_eq!(lines(&export).len(), 31);
}

#[test]
fn the_checkpoint_line_has_exactly_the_documented_members() {
    let key = CheckpointKey::generate();
    let events = chain(2);
    let export = jsonl(&events, &checkpoint_after(&key, ORG, &events, 5));
    let last = String::from_utf8(lines(&export).pop().unwrap()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&last).unwrap();
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["checkpoint", "key", "signature"]);
    let cp: Vec<_> = v["checkpoint"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(cp, ["at", "head", "org", "seq"]);
    assert_eq!(v["checkpoint"]["seq"], 2);
    assert_eq!(v["key"], key.public_key().to_base64());
    assert!(last.starts_with("{\"checkpoint\":{\"at\":"));
    assert!(last.ends_with("\"}\n"));
}

#[test]
fn an_export_of_an_empty_ledger_carries_the_genesis_checkpoint() {
    let key = CheckpointKey::generate();
    let export = jsonl(&[], &checkpoint_after(&key, ORG, &[], 0));
    let report = verify_jsonl(export.as_slice(), &pinned(&key)).unwrap();
    assert_eq!(
        (report.events, report.last_seq, report.first_seq),
        (0, 0, None)
    );
}

#[test]
fn a_range_export_verifies_when_its_start_is_given_and_only_then() {
    let key = CheckpointKey::generate();
    let all = chain(200);
    let range = &all[100..150];
    let export = jsonl(range, &checkpoint_after(&key, ORG, range, 7));
    let mut options = pinned(&key);
    options.start = Start::Seq(101);
    let report = verify_jsonl(export.as_slice(), &options).unwrap();
    assert_eq!(
        (report.events, report.first_seq, report.last_seq),
        (50, Some(101), 150)
    );
    options.start = Start::Any;
    assert!(verify_jsonl(export.as_slice(), &options).is_ok());
    // By default a file must start at seq 1: a range looks exactly like a cut-off export.
    assert_eq!(
        reason_at(verify_jsonl(export.as_slice(), &pinned(&key))),
        (
            1,
            Reason::UnexpectedStart {
                expected: 1,
                found: 101
            }
        )
    );
    options.start = Start::Seq(100);
    assert_eq!(
        reason_at(verify_jsonl(export.as_slice(), &options)),
        (
            1,
            Reason::UnexpectedStart {
                expected: 100,
                found: 101
            }
        )
    );
}

#[test]
fn the_writers_refuse_events_that_do_not_continue_the_chain() {
    let events = chain(5);
    let mut w = JsonlWriter::new(Vec::new());
    w.write_event(&events[0]).unwrap();
    assert!(matches!(
        w.write_event(&events[2]),
        Err(Error::ChainBroken {
            seq: 3,
            expected_seq: 2
        })
    ));
    let other_org = chain_from("other", ChainHead::GENESIS, 2);
    assert!(matches!(
        w.write_event(&other_org[1]),
        Err(Error::ChainBroken { .. })
    ));
    let mut c = CsvWriter::new(Vec::new()).unwrap();
    c.write_event(&events[1]).unwrap();
    assert!(matches!(
        c.write_event(&events[1]),
        Err(Error::ChainBroken { .. })
    ));
}

#[test]
fn the_writers_refuse_a_checkpoint_that_does_not_cover_the_last_event() {
    let key = CheckpointKey::generate();
    let events = chain(5);
    let old = checkpoint_after(&key, ORG, &events[..4], 1);
    let mut w = JsonlWriter::new(Vec::new());
    for e in &events {
        w.write_event(e).unwrap();
    }
    assert!(matches!(w.finish(&old), Err(Error::CheckpointMismatch)));
    let other = checkpoint_after(&key, "other", &events, 1);
    let mut w = CsvWriter::new(Vec::new()).unwrap();
    for e in &events {
        w.write_event(e).unwrap();
    }
    assert!(matches!(w.finish(&other), Err(Error::CheckpointMismatch)));
}

#[test]
fn a_csv_export_verifies_and_carries_the_same_columns() {
    let key = CheckpointKey::generate();
    let events = chain(30);
    let cp = checkpoint_after(&key, ORG, &events, 99);
    let export = csv(&events, &cp);
    let report = verify_csv(export.as_slice(), &pinned(&key)).unwrap();
    assert_eq!(
        (report.events, report.last_seq, report.head),
        (30, 30, events[29].hash())
    );

    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(export.as_slice());
    let rows: Vec<::csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(
        &rows[0],
        vec![
            "seq", "org", "at", "actor", "action", "subject", "details", "prev", "hash"
        ]
    );
    for (row, event) in rows[1..31].iter().zip(&events) {
        assert_eq!(&row[0], event.seq().to_string());
        assert_eq!(&row[6], event.details().canonical());
        assert_eq!(&row[8], event.hash().to_hex());
    }
    let last = &rows[31];
    assert_eq!(&last[0], "checkpoint");
    assert_eq!(&last[6], cp.to_line().unwrap());
    assert!((1..9).filter(|i| *i != 6).all(|i| last[i].is_empty()));
    assert!(export.ends_with(b"\r\n"));
}

#[test]
fn csv_cells_that_a_spreadsheet_would_run_as_formulas_are_neutralized() {
    let key = CheckpointKey::generate();
    let events = chain(10);
    let export = csv(&events, &checkpoint_after(&key, ORG, &events, 9));
    let mut reader = ::csv::ReaderBuilder::new().from_reader(export.as_slice());
    for (row, event) in reader.records().map(Result::unwrap).zip(&events) {
        let cell = &row[5];
        let subject = event.subject();
        if subject.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']) {
            assert_eq!(cell, format!("'{subject}"), "{subject:?}");
        } else {
            assert_eq!(cell, subject);
        }
        for c in row.iter() {
            assert!(!c.starts_with(['=', '+', '-', '@', '\t', '\r']), "{c:?}");
        }
    }
}

#[test]
fn an_unneutralized_formula_cell_is_not_canonical() {
    let key = CheckpointKey::generate();
    let events = chain(3);
    let export = csv(&events, &checkpoint_after(&key, ORG, &events, 9));
    let text = String::from_utf8(export).unwrap();
    // Row 3 (seq 2) has the subject =HYPERLINK(...) written as '=HYPERLINK(...).
    let edited = text.replacen("\"'=HYPERLINK", "\"=HYPERLINK", 1);
    assert_ne!(edited, text);
    assert_eq!(
        reason_at(verify_csv(edited.as_bytes(), &pinned(&key))),
        (3, Reason::NotCanonical)
    );
}

#[test]
fn a_jsonl_line_that_is_valid_json_but_not_canonical_is_refused() {
    let key = CheckpointKey::generate();
    let events = chain(3);
    let export = jsonl(&events, &checkpoint_after(&key, ORG, &events, 9));
    let mut ls = lines(&export);
    let spaced = String::from_utf8(ls[1].clone())
        .unwrap()
        .replacen("\":", "\": ", 1);
    ls[1] = spaced.into_bytes();
    assert_eq!(
        reason_at(verify_jsonl(ls.concat().as_slice(), &pinned(&key))),
        (2, Reason::NotCanonical)
    );
}

#[test]
fn the_first_bad_line_and_the_reason_are_named() {
    let key = CheckpointKey::generate();
    let events = chain(6);
    let cp = checkpoint_after(&key, ORG, &events, 9);
    let export = jsonl(&events, &cp);
    let base = lines(&export);
    let check = |ls: Vec<Vec<u8>>, expected: (usize, Reason)| {
        assert_eq!(
            reason_at(verify_jsonl(ls.concat().as_slice(), &pinned(&key))),
            expected
        );
    };
    let edit = |i: usize, f: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
        let mut ls = base.clone();
        let mut v: serde_json::Value = serde_json::from_slice(&ls[i]).unwrap();
        f(v.as_object_mut().unwrap());
        let mut line = audit::canonical::to_canonical_string(&v)
            .unwrap()
            .into_bytes();
        line.push(b'\n');
        ls[i] = line;
        ls
    };

    check(
        edit(2, &|m| {
            m.insert("extra".into(), 1.into());
        }),
        (3, Reason::UnexpectedMember("extra".into())),
    );
    check(
        edit(2, &|m| {
            m.remove("actor");
        }),
        (3, Reason::MissingMember("actor")),
    );
    check(
        edit(2, &|m| {
            m.insert("seq".into(), "3".into());
        }),
        (
            3,
            Reason::WrongType {
                member: "seq",
                expected: "an integer",
            },
        ),
    );
    check(
        edit(2, &|m| {
            m.insert("details".into(), serde_json::json!({"x": 1}));
        }),
        (3, Reason::HashMismatch),
    );
    check(
        edit(2, &|m| {
            m.insert("action".into(), "PIN.rotated".into());
        }),
        (3, Reason::BadValue("action")),
    );
    check(
        edit(2, &|m| {
            m.insert("at".into(), "2026-11-23T10:00:00Z".into());
        }),
        (3, Reason::BadValue("at")),
    );
    check(
        edit(6, &|m| {
            m["checkpoint"]["org"] = "other".into();
        }),
        (7, Reason::OrgChanged),
    );
    // An event of another org, re-hashed so that only the org is wrong.
    check(
        edit(3, &|m| {
            m.insert("org".into(), "other".into());
            m.remove("hash");
            let text = audit::canonical::to_canonical_string(&serde_json::Value::Object(m.clone()))
                .unwrap();
            m.insert(
                "hash".into(),
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text)).into(),
            );
        }),
        (4, Reason::OrgChanged),
    );
    let mut ls = base.clone();
    ls.swap(2, 3);
    check(
        ls,
        (
            3,
            Reason::SeqGap {
                previous: 2,
                found: 4,
            },
        ),
    );
    let mut ls = base.clone();
    ls.remove(6);
    check(ls, (7, Reason::MissingCheckpoint));
    let mut ls = base.clone();
    ls.push(base[0].clone());
    check(ls, (8, Reason::AfterCheckpoint));
    let mut ls = base.clone();
    ls.remove(5);
    check(ls, (6, Reason::CheckpointNotLast));
    let mut ls = base.clone();
    ls[6].pop();
    check(ls, (7, Reason::MissingNewline));
    let mut ls = base.clone();
    ls[0] = b"{\"seq\":1.5}\n".to_vec();
    check(ls, (1, Reason::MissingMember("action")));
    let mut ls = base.clone();
    ls[0] = b"not json\n".to_vec();
    check(ls, (1, Reason::Malformed));
    check(Vec::new(), (1, Reason::MissingCheckpoint));

    // A chain re-hashed by someone else and signed with their key.
    let forger = CheckpointKey::generate();
    let forged = jsonl(&events, &checkpoint_after(&forger, ORG, &events, 9));
    assert_eq!(
        reason_at(verify_jsonl(forged.as_slice(), &pinned(&key))),
        (7, Reason::KeyNotPinned)
    );
    // Without a pinned key it verifies: only pinning ties an export to the service.
    let report = verify_jsonl(forged.as_slice(), &VerifyOptions::default()).unwrap();
    assert!(!report.key_pinned);
}

#[test]
fn a_line_beyond_the_limit_is_refused_without_reading_it_all() {
    let mut huge = vec![b' '; audit::verify::MAX_LINE_BYTES + 10];
    huge.push(b'\n');
    assert_eq!(
        reason_at(verify_jsonl(huge.as_slice(), &VerifyOptions::default())),
        (
            1,
            Reason::LineTooLong {
                max: audit::verify::MAX_LINE_BYTES
            }
        )
    );
}

#[test]
fn a_checkpoint_must_be_signed_over_what_it_claims() {
    let key = CheckpointKey::generate();
    let events = chain(3);
    // A signature of another checkpoint pasted onto this one.
    let real = checkpoint_after(&key, ORG, &events, 1);
    let other = key
        .sign(Checkpoint::new(ORG, &ChainHead::from(&events[2]), at(2)).unwrap())
        .unwrap();
    let export = jsonl(&events, &real);
    let text = String::from_utf8(export)
        .unwrap()
        .replace(&real.signature_base64(), &other.signature_base64());
    assert_eq!(
        reason_at(verify_jsonl(text.as_bytes(), &pinned(&key))),
        (4, Reason::BadSignature)
    );
}

#[test]
fn lines_that_still_parse_but_are_not_the_ledger_format_get_their_reason() {
    let key = CheckpointKey::generate();
    let events = chain(6);
    let export = jsonl(&events, &checkpoint_after(&key, ORG, &events, 50));
    let base = lines(&export);
    let line = String::from_utf8(base[3].clone()).unwrap();
    let seq = format!("\"seq\":{}", events[3].seq());
    let hash = events[3].hash().to_hex();
    let cases: Vec<(String, Reason)> = vec![
        (
            line.replacen("{\"action\":\"p", "{\"action\":\"\\u0070", 1),
            Reason::NotCanonical,
        ),
        (
            line.replacen('{', &format!("{{{seq},"), 1),
            Reason::NotCanonical,
        ),
        (
            line.replacen("\"details\":{", "\"details\":{\"f\":1.5,", 1),
            Reason::BadNumber,
        ),
        (
            line.replacen("\"details\":{", "\"details\":{\"a\":9007199254740992,", 1),
            Reason::BadNumber,
        ),
        (line.replacen(&seq, "\"seq\":-0", 1), Reason::BadNumber),
        (
            line.replacen(&seq, "\"seq\":\"4\"", 1),
            Reason::WrongType {
                member: "seq",
                expected: "an integer",
            },
        ),
        (line.replacen("}\n", "} \n", 1), Reason::NotCanonical),
        (line.replacen("}\n", "}\r\n", 1), Reason::NotCanonical),
        (
            line.replacen("\"subject\":\"", "\"subject\":\"\\ud800", 1),
            Reason::Malformed,
        ),
        (
            line.replacen(&hash, &hash.to_uppercase(), 1),
            Reason::BadValue("hash"),
        ),
        (
            line.replacen(&hash, &"0".repeat(64), 1),
            Reason::HashMismatch,
        ),
        (
            line.replacen(
                "\"details\":{",
                "\"details\":{\"\u{e000}\":1,\"\u{1f600}\":2,",
                1,
            ),
            Reason::NotCanonical,
        ),
        (
            line.replacen("\"details\":{", "\"details\":[{", 1)
                .replacen("},\"hash\"", "}],\"hash\"", 1),
            Reason::WrongType {
                member: "details",
                expected: "an object",
            },
        ),
    ];
    for (edited, reason) in cases {
        assert_ne!(edited, line);
        let mut ls = base.clone();
        ls[3] = edited.clone().into_bytes();
        assert_eq!(
            reason_at(verify_jsonl(ls.concat().as_slice(), &pinned(&key))),
            (4, reason),
            "{edited}"
        );
    }
}
