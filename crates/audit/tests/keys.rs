//! The checkpoint signing key: its file, its permissions, and what it never shows.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt as _;

use audit::{ChainHead, Checkpoint, CheckpointKey, Error, PublicKey, SignedCheckpoint};
use base64::Engine as _;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_created_key_file_has_mode_0600_and_loads_back_to_the_same_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.key");
    let created = CheckpointKey::create(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    let loaded = CheckpointKey::load(&path).unwrap();
    assert_eq!(loaded.public_key(), created.public_key());
    // Only the key file remains: no temporary name left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn creating_over_an_existing_file_is_refused_and_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.key");
    let first = CheckpointKey::create(&path).unwrap();
    assert!(matches!(
        CheckpointKey::create(&path),
        Err(Error::KeyExists { .. })
    ));
    assert_eq!(
        CheckpointKey::load(&path).unwrap().public_key(),
        first.public_key()
    );
}

#[test]
fn load_or_create_creates_once_then_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    let a = CheckpointKey::load_or_create(&path).unwrap();
    let b = CheckpointKey::load_or_create(&path).unwrap();
    assert_eq!(a.public_key(), b.public_key());
}

#[test]
fn a_missing_key_file_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        CheckpointKey::load(&dir.path().join("absent")),
        Err(Error::KeyMissing { .. })
    ));
}

#[test]
fn a_key_file_readable_by_group_or_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    CheckpointKey::create(&path).unwrap();
    for bad in [0o640, 0o604, 0o660, 0o644, 0o610] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(bad)).unwrap();
        match CheckpointKey::load(&path) {
            Err(Error::KeyPermissions { mode, .. }) => assert_eq!(mode, bad),
            other => panic!("mode {bad:o}: {other:?}"),
        }
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    assert!(CheckpointKey::load(&path).is_ok());
}

#[test]
fn a_key_file_in_another_format_is_refused_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    let secret_looking = base64::engine::general_purpose::STANDARD.encode([9_u8; 31]);
    for content in [
        secret_looking.clone(),
        format!("{secret_looking}\n{secret_looking}\n"),
        "# only a comment\n".to_owned(),
        "not base64 at all".to_owned(),
    ] {
        std::fs::write(&path, &content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = CheckpointKey::load(&path).unwrap_err();
        assert!(matches!(err, Error::KeyFormat { .. }), "{err:?}");
        assert!(!err.to_string().contains(&secret_looking));
        assert!(!format!("{err:?}").contains(&secret_looking));
    }
}

#[test]
fn a_hand_written_key_file_with_comments_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    let seed = base64::engine::general_purpose::STANDARD.encode([7_u8; 32]);
    std::fs::write(
        &path,
        format!("# comment\n\n  {seed}  \n# trailing comment\n"),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let key = CheckpointKey::load(&path).unwrap();
    let expected = ed25519_dalek::SigningKey::from_bytes(&[7_u8; 32]).verifying_key();
    assert_eq!(key.public_key().as_bytes(), expected.as_bytes());
}

#[test]
fn debug_output_shows_the_public_key_and_never_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    let key = CheckpointKey::create(&path).unwrap();
    let file = std::fs::read_to_string(&path).unwrap();
    let seed_line = file.lines().find(|l| !l.starts_with('#')).unwrap();
    let debug = format!("{key:?} {:?}", key.public_key());
    assert!(debug.contains(&key.public_key().to_base64()));
    assert!(!debug.contains(seed_line));
}

#[test]
fn the_public_key_is_44_characters_of_padded_base64_and_round_trips_through_a_file() {
    let key = CheckpointKey::generate();
    let b64 = key.public_key().to_base64();
    assert_eq!(b64.len(), 44);
    assert!(b64.ends_with('='));
    assert_eq!(PublicKey::from_base64(&b64).unwrap(), key.public_key());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pub");
    std::fs::write(&path, key.public_key().to_file_contents()).unwrap();
    assert_eq!(PublicKey::load(&path).unwrap(), key.public_key());
}

#[test]
fn public_keys_that_are_not_canonical_or_are_weak_are_refused() {
    let key = CheckpointKey::generate().public_key().to_base64();
    for bad in [
        key.trim_end_matches('=').to_owned(),
        format!(" {key}"),
        key.replace('=', "A"),
        base64::engine::general_purpose::STANDARD.encode([0_u8; 31]),
        // The identity point: small order, would accept forged signatures.
        base64::engine::general_purpose::STANDARD.encode({
            let mut b = [0_u8; 32];
            b[0] = 1;
            b
        }),
    ] {
        assert!(PublicKey::from_base64(&bad).is_err(), "{bad}");
    }
}

#[test]
fn a_signed_checkpoint_rebuilt_from_its_parts_verifies_and_a_forged_one_does_not() {
    let key = CheckpointKey::generate();
    let cp = Checkpoint::new("acme", &ChainHead::GENESIS, chrono::Utc::now()).unwrap();
    let signed = key.sign(cp.clone()).unwrap();
    let again = SignedCheckpoint::from_parts(
        cp.clone(),
        &signed.signature_base64(),
        &signed.key().to_base64(),
    )
    .unwrap();
    assert_eq!(again, signed);
    let other = CheckpointKey::generate();
    assert!(matches!(
        SignedCheckpoint::from_parts(
            cp,
            &signed.signature_base64(),
            &other.public_key().to_base64()
        ),
        Err(Error::BadSignature)
    ));
}

#[test]
fn the_signed_message_is_the_jcs_of_at_head_org_seq() {
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123456Z").unwrap();
    let cp = Checkpoint::new("acme", &ChainHead::GENESIS, at.into()).unwrap();
    assert_eq!(
        cp.to_jcs().unwrap(),
        format!(
            "{{\"at\":\"2026-11-23T10:00:00.123456Z\",\"head\":\"{}\",\"org\":\"acme\",\"seq\":0}}",
            "0".repeat(64)
        )
    );
}
