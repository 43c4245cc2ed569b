//! `pinward ledger verify` as an auditor runs it: offline, on a file, with a pinned key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use audit::{
    Action, Actor, ChainHead, Checkpoint, CheckpointKey, Details, EventDraft, JsonlWriter,
};
use chrono::{TimeZone, Utc};

/// Writes an export of `events` events signed by `key` and returns its text.
fn export(key: &CheckpointKey, events: u64) -> String {
    let mut head = ChainHead::GENESIS;
    let mut writer = JsonlWriter::new(Vec::new());
    for n in 0..events {
        let at = Utc
            .timestamp_opt(1_790_000_000 + i64::try_from(n).unwrap(), 0)
            .unwrap();
        let draft = EventDraft {
            actor: Actor::system(),
            action: Action::parse("pin.rotated").unwrap(),
            subject: format!("phone:10{n}"),
            details: Details::empty(),
        };
        let event = audit::seal("acme", &head, at, draft).unwrap();
        writer.write_event(&event).unwrap();
        head = ChainHead::from(&event);
    }
    let checkpoint =
        Checkpoint::new("acme", &head, Utc.timestamp_opt(1_800_000_000, 0).unwrap()).unwrap();
    let bytes = writer.finish(&key.sign(checkpoint).unwrap()).unwrap();
    String::from_utf8(bytes).unwrap()
}

fn verify(file: &Path, key: Option<&Path>) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pinward"));
    command
        .args(["ledger", "verify"])
        .arg(file)
        .env("PINWARD_LOG", "warn");
    if let Some(key) = key {
        command.arg("--key").arg(key);
    }
    let output = command.output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn a_genuine_export_verifies_against_the_pinned_key_and_any_edit_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let key = CheckpointKey::generate();
    let key_file = dir.path().join("checkpoint.pub");
    std::fs::write(&key_file, key.public_key().to_file_contents()).unwrap();
    let text = export(&key, 5);
    let file = dir.path().join("ledger.jsonl");
    std::fs::write(&file, &text).unwrap();

    let (code, stdout, stderr) = verify(&file, Some(&key_file));
    assert_eq!((code, stdout.as_str()), (0, "ok 5 events\n"), "{stderr}");

    // An edited subject on the third line.
    let edited = text.replacen("phone:102", "phone:999", 1);
    std::fs::write(&file, edited).unwrap();
    let (code, stdout, stderr) = verify(&file, Some(&key_file));
    assert_ne!(code, 0);
    assert_eq!(stdout, "");
    let last = stderr.lines().last().unwrap();
    assert!(
        last.starts_with("error: ") && last.contains("line 3"),
        "{stderr}"
    );
}

#[test]
fn an_export_signed_by_another_key_is_refused_and_an_unpinned_one_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let ours = CheckpointKey::generate();
    let key_file = dir.path().join("checkpoint.pub");
    std::fs::write(&key_file, ours.public_key().to_file_contents()).unwrap();
    let forged = export(&CheckpointKey::generate(), 3);
    let file = dir.path().join("ledger.jsonl");
    std::fs::write(&file, forged).unwrap();

    let (code, _, stderr) = verify(&file, Some(&key_file));
    assert_ne!(code, 0, "{stderr}");

    let (code, stdout, stderr) = verify(&file, None);
    assert_eq!((code, stdout.as_str()), (0, "ok 3 events\n"));
    assert!(stderr.contains("no --key given"), "{stderr}");
}
