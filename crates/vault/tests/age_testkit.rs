//! Every C2SP/CCTV age test vector through pinward's `open`, with its expected outcome.
//!
//! The vectors are read at test time from `/work/shared/age-testkit` (never copied into the
//! repository). Each file is `key: value` header lines, a blank line, then the age file,
//! zlib-compressed when `compressed: zlib` (see that directory's LICENSE.md).
//!
//! pinward opens with exactly one X25519 identity, so the vectors are run like this:
//!
//! - **X25519 vectors** (an `AGE-SECRET-KEY-1…` identity, or no key at all, like `empty`):
//!   opened with that identity (or the kit's usual X25519 identity) and held to the vector's
//!   exact outcome: `success` must open and the plaintext's SHA-256 must equal `payload`;
//!   each failure must be the matching [`OpenFailure`] (`no match` → `NoMatchingIdentity`,
//!   `HMAC failure` → `HeaderMac`, `header failure` → `Header`, `payload failure` → `Payload`,
//!   `armor failure` → `Armor`). `hybrid_x25519_arg` also holds an X25519 identity and is run
//!   this way.
//! - **Deliberate deviation 1: scrypt and hybrid (ML-KEM-768 + X25519) vectors** (a
//!   `passphrase`, or only `AGE-SECRET-KEY-PQ-1…` identities): pinward holds no passphrase or
//!   post-quantum identity (its identity file accepts X25519 only, and `Identity` cannot hold
//!   anything else), so it cannot open these files. They are opened with the kit's X25519
//!   identity, to which none of them is encrypted, and **must fail** whatever the vector
//!   expects. The failure is `NoMatchingIdentity` when the header is well-formed and `Header`
//!   when it is structurally invalid for any reader (`scrypt_and_x25519`, `scrypt_double`:
//!   an scrypt stanza must be alone); stanza-level checks that only a scrypt or hybrid
//!   identity performs (bad salt, work factor…) never run, so those vectors end in
//!   `NoMatchingIdentity` instead of their `header failure`. The exact class is asserted
//!   below, so a change in age's behaviour shows up.
//! - **Deliberate deviation 2: legacy stanza bodies are accepted** (`stanza_missing_body`,
//!   `stanza_missing_final_line`: a stanza whose body does not end with a short line). age
//!   0.12.1 parses these on purpose, for files written by pre-1.0 age/rage betas (age-core
//!   `format::read::legacy_age_stanza`), and pinward does not re-parse headers by hand to be
//!   stricter than its age library. Harmless: the header MAC still authenticates the header as
//!   written, and the files open to the kit's expected plaintext, which the test checks.
//! - **Deliberate deviation 3: leading garbage before armor** (`armor_garbage_leading`) is
//!   reported as `Header`, not `Armor`: text that neither starts with `age-encryption.org/`
//!   nor (after whitespace) with `-----` is read as a binary age file, so pinward cannot tell
//!   "garbage, then armor" from a garbage binary file. It fails either way.
//! - **Deliberate deviation 4: partial plaintext.** For `payload failure` vectors the kit's
//!   `payload` is the hash of the chunks a streaming reader releases before the error.
//!   pinward's `open` releases nothing on failure (it returns an error and wipes the partial
//!   buffer), so that hash is not compared; the failure itself is.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{collections::BTreeMap, fs, io::Read, path::PathBuf};

use sha2::{Digest, Sha256};
use vault::{Error, Identity, OpenFailure, Secret, open};

const KIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/age-testkit");

/// The X25519 identity most of the kit's vectors are encrypted to.
const KIT_IDENTITY: &str =
    "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0";

struct Vector {
    name: String,
    expect: String,
    payload: Option<String>,
    identities: Vec<String>,
    passphrases: usize,
    age_file: Vec<u8>,
}

fn read_vector(path: PathBuf) -> Vector {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let bytes = fs::read(&path).unwrap();
    let split = bytes
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or_else(|| panic!("{name}: no blank line after the header"));
    let header = std::str::from_utf8(&bytes[..split]).unwrap();
    let mut body = bytes[split + 2..].to_vec();
    let mut fields: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for line in header.lines() {
        let (key, value) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("{name}: bad header line"));
        fields.entry(key).or_default().push(value);
    }
    let one = |key: &str| fields.get(key).map(|values| values[0].to_owned());
    match one("compressed").as_deref() {
        None => {}
        Some("zlib") => {
            let mut inflated = Vec::new();
            flate2::read::ZlibDecoder::new(body.as_slice())
                .read_to_end(&mut inflated)
                .unwrap();
            body = inflated;
        }
        Some(other) => panic!("{name}: unknown compression {other}"),
    }
    Vector {
        expect: one("expect").unwrap_or_else(|| panic!("{name}: no expect")),
        payload: one("payload"),
        identities: fields
            .get("identity")
            .map(|v| v.iter().map(|s| (*s).to_owned()).collect())
            .unwrap_or_default(),
        passphrases: fields.get("passphrase").map_or(0, Vec::len),
        age_file: body,
        name,
    }
}

fn vectors() -> Vec<Vector> {
    let mut paths: Vec<PathBuf> = fs::read_dir(KIT)
        .unwrap_or_else(|e| panic!("cannot read the age test kit at {KIT}: {e}"))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.file_name().is_some_and(|n| n != "LICENSE.md"))
        .collect();
    paths.sort();
    paths.into_iter().map(read_vector).collect()
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Success { sha256: String },
    Failure(OpenFailure),
}

fn open_vector(vector: &Vector, identity: &Identity) -> Outcome {
    match open::<Secret>(&vector.age_file, identity) {
        Ok(plaintext) => Outcome::Success {
            sha256: hex::encode(Sha256::digest(plaintext.expose())),
        },
        Err(Error::Open(failure)) => Outcome::Failure(failure),
        Err(other) => panic!("{}: unexpected error kind {other:?}", vector.name),
    }
}

fn expected_failure(expect: &str) -> OpenFailure {
    match expect {
        "no match" => OpenFailure::NoMatchingIdentity,
        "HMAC failure" => OpenFailure::HeaderMac,
        "header failure" => OpenFailure::Header,
        "payload failure" => OpenFailure::Payload,
        "armor failure" => OpenFailure::Armor,
        other => panic!("unknown expectation {other}"),
    }
}

/// Deviation 1: the scrypt and hybrid vectors whose header is invalid for any reader (a lone
/// scrypt stanza rule, or a stanza body that is not canonical base64).
const STRUCTURALLY_INVALID_FOR_ANY_READER: &[&str] = &[
    "scrypt_and_x25519",
    "scrypt_double",
    "scrypt_not_canonical_body",
    "hybrid_not_canonical_body",
];

/// Deviations 2 and 3: X25519 vectors whose outcome in pinward differs from the kit's.
fn deviation(name: &str, payload: Option<&String>) -> Option<Outcome> {
    match name {
        "stanza_missing_body" | "stanza_missing_final_line" => Some(Outcome::Success {
            sha256: payload
                .cloned()
                .unwrap_or_else(|| X25519_PAYLOAD.to_owned()),
        }),
        "armor_garbage_leading" => Some(Outcome::Failure(OpenFailure::Header)),
        _ => None,
    }
}

/// SHA-256 of the plaintext of the kit's basic X25519 vector (the legacy-stanza vectors, which
/// carry no `payload` line because the kit expects them to fail, hold the same plaintext).
const X25519_PAYLOAD: &str = "013f54400c82da08037759ada907a8b864e97de81c088a182062c4b5622fd2ab";

#[test]
fn every_age_test_vector_has_its_expected_outcome_in_pinward() {
    let vectors = vectors();
    assert!(
        vectors.len() >= 140,
        "only {} vectors found in {KIT}",
        vectors.len()
    );

    let mut mismatches = Vec::new();
    let (mut x25519, mut foreign) = (0, 0);
    for vector in &vectors {
        let x25519_key = vector
            .identities
            .iter()
            .find(|key| key.starts_with("AGE-SECRET-KEY-1"));
        let is_foreign =
            x25519_key.is_none() && (vector.passphrases > 0 || !vector.identities.is_empty());
        let identity = Identity::parse(x25519_key.map_or(KIT_IDENTITY, String::as_str))
            .unwrap_or_else(|e| panic!("{}: identity does not parse: {e}", vector.name));

        let expected = if is_foreign {
            foreign += 1;
            Outcome::Failure(
                if STRUCTURALLY_INVALID_FOR_ANY_READER.contains(&vector.name.as_str()) {
                    OpenFailure::Header
                } else {
                    OpenFailure::NoMatchingIdentity
                },
            )
        } else {
            x25519 += 1;
            if let Some(outcome) = deviation(&vector.name, vector.payload.as_ref()) {
                outcome
            } else {
                match vector.expect.as_str() {
                    "success" => Outcome::Success {
                        sha256: vector
                            .payload
                            .clone()
                            .expect("success vectors have a payload"),
                    },
                    other => Outcome::Failure(expected_failure(other)),
                }
            }
        };
        let found = open_vector(vector, &identity);
        if found != expected {
            mismatches.push(format!(
                "{} (kit expects {}): expected {expected:?}, got {found:?}",
                vector.name, vector.expect
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} vectors mismatched:\n{}",
        mismatches.len(),
        vectors.len(),
        mismatches.join("\n")
    );
    // Both kinds were exercised (the kit has ~100 X25519 vectors, ~40 scrypt/hybrid).
    assert!(
        x25519 >= 90 && foreign >= 30,
        "x25519 {x25519}, foreign {foreign}"
    );
}

#[test]
fn every_listed_deviation_names_a_vector_of_the_kit() {
    let names: Vec<String> = vectors().into_iter().map(|v| v.name).collect();
    let listed = STRUCTURALLY_INVALID_FOR_ANY_READER.iter().chain(&[
        "stanza_missing_body",
        "stanza_missing_final_line",
        "armor_garbage_leading",
    ]);
    for name in listed {
        assert!(names.iter().any(|n| n == name), "{name} is not in the kit");
    }
}
