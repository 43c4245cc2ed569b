//! The independent Python verifier (tests/verify_ledger.py, written from DESIGN.md) and this
//! crate agree on valid exports and on mutated ones: same verdict, same first bad line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use audit::{CheckpointKey, Error, Start, VerifyOptions, verify_jsonl};
use common::{ORG, chain, checkpoint_after, jsonl, lines};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/verify_ledger.py");
const MUTATIONS: usize = 160;

/// `Ok(events)` or `Err(line)`.
type Verdict = Result<u64, usize>;

fn python(file: &Path, args: &[&str]) -> Verdict {
    // -S: the script needs only the standard library, and skipping site-packages start-up
    // hooks halves the cost of each of the ~170 runs.
    let out = Command::new("python3")
        .arg("-S")
        .arg(SCRIPT)
        .arg(file)
        .args(args)
        .output()
        .expect("python3 must be installed to run the independent verifier");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    match out.status.code() {
        Some(0) => {
            let n = stdout
                .trim()
                .strip_prefix("ok ")
                .and_then(|s| s.strip_suffix(" events"));
            Ok(n.unwrap_or_else(|| panic!("unexpected output {stdout:?}"))
                .parse()
                .unwrap())
        }
        Some(1) => {
            let rest = stderr
                .lines()
                .find_map(|l| l.strip_prefix("error: line "))
                .unwrap_or_else(|| panic!("unexpected stderr {stderr:?}"));
            Err(rest.split(':').next().unwrap().parse().unwrap())
        }
        other => panic!("python verifier exited with {other:?}: {stderr}"),
    }
}

fn rust(bytes: &[u8], options: &VerifyOptions) -> Verdict {
    match verify_jsonl(bytes, options) {
        Ok(report) => Ok(report.events),
        Err(Error::Verify(e)) => Err(e.line),
        Err(other) => panic!("{other}"),
    }
}

fn agree(dir: &Path, name: &str, bytes: &[u8], options: &VerifyOptions, args: &[&str]) -> Verdict {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let (ours, theirs) = (rust(bytes, options), python(&path, args));
    assert_eq!(ours, theirs, "{name}: Rust and Python verifiers disagree");
    ours
}

#[test]
fn both_verifiers_accept_valid_exports_with_the_same_count() {
    let dir = tempfile::tempdir().unwrap();
    let key = CheckpointKey::generate();
    let b64 = key.public_key().to_base64();
    let key_file = dir.path().join("pinned.pub");
    std::fs::write(&key_file, key.public_key().to_file_contents()).unwrap();
    let pinned = VerifyOptions {
        pinned_key: Some(key.public_key()),
        start: Start::Genesis,
    };

    let events = chain(40);
    let full = jsonl(&events, &checkpoint_after(&key, ORG, &events, 50));
    assert_eq!(
        agree(dir.path(), "full", &full, &pinned, &["--key", &b64]),
        Ok(40)
    );
    assert_eq!(
        agree(
            dir.path(),
            "full-keyfile",
            &full,
            &pinned,
            &["--key", key_file.to_str().unwrap()]
        ),
        Ok(40)
    );
    assert_eq!(
        agree(
            dir.path(),
            "unpinned",
            &full,
            &VerifyOptions::default(),
            &[]
        ),
        Ok(40)
    );

    let range = &events[10..25];
    let ranged = jsonl(range, &checkpoint_after(&key, ORG, range, 51));
    let from = VerifyOptions {
        pinned_key: Some(key.public_key()),
        start: Start::Seq(11),
    };
    assert_eq!(
        agree(
            dir.path(),
            "range",
            &ranged,
            &from,
            &["--key", &b64, "--from", "11"]
        ),
        Ok(15)
    );
    // Without --from, a range is refused on its first line by both.
    assert_eq!(
        agree(
            dir.path(),
            "range-as-full",
            &ranged,
            &pinned,
            &["--key", &b64]
        ),
        Err(1)
    );

    let empty = jsonl(&[], &checkpoint_after(&key, ORG, &[], 1));
    assert_eq!(
        agree(dir.path(), "empty", &empty, &pinned, &["--key", &b64]),
        Ok(0)
    );

    let other = CheckpointKey::generate();
    assert_eq!(
        agree(
            dir.path(),
            "other-key",
            &full,
            &VerifyOptions {
                pinned_key: Some(other.public_key()),
                start: Start::Genesis
            },
            &["--key", &other.public_key().to_base64()]
        ),
        Err(41)
    );
}

#[test]
fn both_verifiers_refuse_mutated_exports_on_the_same_line() {
    let dir = tempfile::tempdir().unwrap();
    let key = CheckpointKey::generate();
    let b64 = key.public_key().to_base64();
    let pinned = VerifyOptions {
        pinned_key: Some(key.public_key()),
        start: Start::Genesis,
    };
    let events = chain(20);
    let export = jsonl(&events, &checkpoint_after(&key, ORG, &events, 50));
    let base = lines(&export);
    let mut rng = StdRng::seed_from_u64(0x5eed_1ed6e5);
    let mut refused = 0;
    for m in 0..MUTATIONS {
        let kind = m % 10;
        let mut ls = base.clone();
        let mutated = match kind {
            0 | 1 => {
                let mut bytes = export.clone();
                let pos = rng.gen_range(0..bytes.len());
                bytes[pos] ^= rng.gen_range(1..=255_u8);
                bytes
            }
            2 => {
                let mut bytes = export.clone();
                let pos = rng.gen_range(0..bytes.len());
                bytes.insert(pos, rng.r#gen());
                bytes
            }
            3 => {
                let (i, j) = (rng.gen_range(0..ls.len()), rng.gen_range(0..ls.len()));
                if i == j {
                    ls.remove(i);
                } else {
                    ls.swap(i, j);
                }
                ls.concat()
            }
            4 => {
                let i = rng.gen_range(0..ls.len());
                let line = ls[i].clone();
                ls.insert(rng.gen_range(0..=ls.len()), line);
                ls.concat()
            }
            5 => export[..rng.gen_range(0..export.len())].to_vec(),
            6 => {
                let i = rng.gen_range(0..events.len());
                let mut v: serde_json::Value = serde_json::from_slice(&ls[i]).unwrap();
                v["details"]["edited"] = rng.gen_range(-5..5).into();
                ls[i] = format!("{}\n", audit::canonical::to_canonical_string(&v).unwrap())
                    .into_bytes();
                ls.concat()
            }
            7 => {
                let i = rng.gen_range(0..ls.len());
                let at = rng.gen_range(1..ls[i].len() - 1);
                ls[i].insert(at, b' ');
                ls.concat()
            }
            8 => {
                let k = rng.gen_range(0..events.len());
                let old = checkpoint_after(&key, ORG, &events[..k], rng.gen_range(0..1000));
                let last = ls.len() - 1;
                ls[last] = format!("{}\n", old.to_line().unwrap()).into_bytes();
                ls.concat()
            }
            _ => {
                let forger = CheckpointKey::generate();
                let last = ls.len() - 1;
                let cp = checkpoint_after(&forger, ORG, &events, rng.gen_range(0..1000));
                ls[last] = format!("{}\n", cp.to_line().unwrap()).into_bytes();
                ls.concat()
            }
        };
        if mutated == export {
            continue;
        }
        let verdict = agree(
            dir.path(),
            &format!("m{m}-kind{kind}"),
            &mutated,
            &pinned,
            &["--key", &b64],
        );
        assert!(verdict.is_err(), "mutation {m} (kind {kind}) verified");
        refused += 1;
    }
    assert!(
        refused >= MUTATIONS * 9 / 10,
        "only {refused} mutations checked"
    );
}

#[test]
fn both_verifiers_refuse_crafted_lines_that_still_parse_on_the_same_line() {
    let dir = tempfile::tempdir().unwrap();
    let key = CheckpointKey::generate();
    let b64 = key.public_key().to_base64();
    let pinned = VerifyOptions {
        pinned_key: Some(key.public_key()),
        start: Start::Genesis,
    };
    let events = chain(6);
    let export = jsonl(&events, &checkpoint_after(&key, ORG, &events, 50));
    let base = lines(&export);
    let line = String::from_utf8(base[3].clone()).unwrap();
    let seq = format!("\"seq\":{}", events[3].seq());
    let crafted: Vec<(&str, String)> = vec![
        (
            "escaped letter",
            line.replacen("{\"action\":\"p", "{\"action\":\"\\u0070", 1),
        ),
        (
            "duplicate member",
            line.replacen('{', &format!("{{{seq},"), 1),
        ),
        (
            "float in details",
            line.replacen("\"details\":{", "\"details\":{\"f\":1.5,", 1),
        ),
        (
            "exponent in details",
            line.replacen("\"details\":{", "\"details\":{\"f\":1e2,", 1),
        ),
        (
            "NaN in details",
            line.replacen("\"details\":{", "\"details\":{\"f\":NaN,", 1),
        ),
        (
            "huge integer",
            line.replacen("\"details\":{", "\"details\":{\"a\":9007199254740992,", 1),
        ),
        ("negative zero seq", line.replacen(&seq, "\"seq\":-0", 1)),
        (
            "seq as string",
            line.replacen(&seq, &format!("\"seq\":\"{}\"", events[3].seq()), 1),
        ),
        ("seq as true", line.replacen(&seq, "\"seq\":true", 1)),
        ("trailing space", line.replacen("}\n", "} \n", 1)),
        ("CRLF", line.replacen("}\n", "}\r\n", 1)),
        (
            "lone surrogate",
            line.replacen("\"subject\":\"", "\"subject\":\"\\ud800", 1),
        ),
        (
            "uppercase hash",
            line.replacen(
                &events[3].hash().to_hex(),
                &events[3].hash().to_hex().to_uppercase(),
                1,
            ),
        ),
        (
            "code point key order",
            line.replacen(
                "\"details\":{",
                "\"details\":{\"\u{e000}\":1,\"\u{1f600}\":2,",
                1,
            ),
        ),
        (
            "array details",
            line.replacen("\"details\":{", "\"details\":[{", 1)
                .replacen("},\"hash\"", "}],\"hash\"", 1),
        ),
        ("not an object", "[1,2]\n".to_owned()),
        ("empty line", "\n".to_owned()),
    ];
    for (name, edited) in crafted {
        assert_ne!(edited, line, "{name}: edit did not apply");
        let mut ls = base.clone();
        ls[3] = edited.into_bytes();
        let verdict = agree(dir.path(), name, &ls.concat(), &pinned, &["--key", &b64]);
        assert_eq!(verdict, Err(4), "{name}");
    }
    let mut bom = b"\xef\xbb\xbf".to_vec();
    bom.extend_from_slice(&export);
    assert_eq!(
        agree(dir.path(), "bom", &bom, &pinned, &["--key", &b64]),
        Err(1)
    );
}
