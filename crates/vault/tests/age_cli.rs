//! Interoperability with the reference `age` command-line tool (1.1.1 on the build machine):
//! what pinward seals opens with `age -d -i`, and what `age -r`/`age -R` write (binary and
//! armored) opens in pinward. An org must be able to open its escrow export with plain `age`.
//!
//! These tests need `age` and `age-keygen` on `PATH` and fail (not skip) without them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use vault::{Identity, Pin, Recipient, Recipients, Secret, open, seal};

/// Finds a tool on `PATH`, or fails the test with how to install it.
fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not on PATH: these interoperability tests need the age CLI. \
                 Install it (Debian/Ubuntu: `apt-get install age`; others: \
                 https://github.com/FiloSottile/age#installation) and re-run."
            )
        })
}

/// Runs a command, feeding `stdin`, and returns its stdout; fails the test on a non-zero exit.
fn run(command: &mut Command, stdin: &[u8]) -> Vec<u8> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// `age-keygen -o <dir>/<name>`, returning the key file and its recipient.
fn keygen(dir: &Path, name: &str) -> (PathBuf, Recipient) {
    let key = dir.join(name);
    run(Command::new(tool("age-keygen")).arg("-o").arg(&key), b"");
    let public = run(Command::new(tool("age-keygen")).arg("-y").arg(&key), b"");
    let recipient = Recipient::parse(std::str::from_utf8(&public).unwrap()).unwrap();
    (key, recipient)
}

#[test]
fn the_age_cli_is_installed() {
    let version = run(Command::new(tool("age")).arg("--version"), b"");
    assert!(!version.is_empty());
}

#[test]
fn a_pin_sealed_by_pinward_opens_with_age_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    let (org_key, org_recipient) = keygen(dir.path(), "org.txt");
    let service = Identity::generate();
    let others: Vec<Recipient> = (0..2).map(|_| Identity::generate().recipient()).collect();
    let recipients = Recipients::new(
        [service.recipient(), org_recipient]
            .into_iter()
            .chain(others),
    )
    .unwrap();

    let pin = Pin::parse("071942").unwrap();
    let sealed = dir.path().join("pin.age");
    fs::write(&sealed, seal(&pin, &recipients).unwrap().as_str()).unwrap();

    let plaintext = run(
        Command::new(tool("age"))
            .arg("-d")
            .arg("-i")
            .arg(&org_key)
            .arg(&sealed),
        b"",
    );
    assert_eq!(plaintext, b"071942");
}

#[test]
fn the_age_cli_opens_a_pinward_seal_with_the_key_of_any_of_its_recipients() {
    // Every stanza of a seal is pinward's own (crates/vault/src/stanza.rs), so each must be
    // one the reference implementation accepts, whatever its place in the header.
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<(PathBuf, Recipient)> = (0..4)
        .map(|n| keygen(dir.path(), &format!("key{n}.txt")))
        .collect();
    let recipients = Recipients::new(keys.iter().map(|(_, r)| r.clone())).unwrap();
    let sealed = dir.path().join("token.age");
    let token = Secret::from(String::from("EAAG-token-for-every-recipient"));
    fs::write(&sealed, seal(&token, &recipients).unwrap().as_str()).unwrap();
    for (key, _) in &keys {
        let plaintext = run(
            Command::new(tool("age"))
                .arg("-d")
                .arg("-i")
                .arg(key)
                .arg(&sealed),
            b"",
        );
        assert_eq!(plaintext, b"EAAG-token-for-every-recipient");
    }
}

#[test]
fn pinwards_own_identity_file_works_with_age_and_age_keygen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pinward-identity.txt");
    let (identity, _) = Identity::load_or_create(&path).unwrap();

    // age-keygen derives the same public key from pinward's file.
    let public = run(Command::new(tool("age-keygen")).arg("-y").arg(&path), b"");
    assert_eq!(
        String::from_utf8(public).unwrap().trim(),
        identity.recipient().to_string()
    );

    // age decrypts with pinward's file what pinward sealed to its recipient.
    let token = Secret::from(String::from("EAAG-token"));
    let sealed = seal(&token, &Recipients::new([identity.recipient()]).unwrap()).unwrap();
    let plaintext = run(
        Command::new(tool("age")).arg("-d").arg("-i").arg(&path),
        sealed.as_str().as_bytes(),
    );
    assert_eq!(plaintext, b"EAAG-token");
}

#[test]
fn age_encrypt_to_a_recipient_armored_opens_in_pinward() {
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = keygen(dir.path(), "key.txt");
    let identity = Identity::load(&key).unwrap();
    assert_eq!(identity.recipient(), recipient);

    let armored = run(
        Command::new(tool("age"))
            .arg("-r")
            .arg(recipient.to_string())
            .arg("-a"),
        b"359201",
    );
    assert!(armored.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"));
    let pin: Pin = open(&armored, &identity).unwrap();
    assert_eq!(pin.expose(), "359201");
}

#[test]
fn age_encrypt_with_a_recipients_file_opens_in_pinward_binary_and_armored() {
    let dir = tempfile::tempdir().unwrap();
    let (key, recipient) = keygen(dir.path(), "key.txt");
    let (_, other) = keygen(dir.path(), "other.txt");
    let identity = Identity::load(&key).unwrap();

    // A recipients file as people write them: comments, blank lines, several keys.
    let recipients_file = dir.path().join("recipients.txt");
    let text = format!("# recovery keys of the org\n\n{other}\n# ours\n{recipient}\n");
    fs::write(&recipients_file, &text).unwrap();
    // pinward's parser reads the same file to the same set.
    let parsed = Recipients::parse(&text).unwrap();
    assert_eq!(parsed.iter().collect::<Vec<_>>(), vec![&other, &recipient]);

    let token = b"EAAGm0PX4ZCpsBA-a-longer-graph-token-value".repeat(40);
    for armor in [false, true] {
        let mut command = Command::new(tool("age"));
        command.arg("-R").arg(&recipients_file);
        if armor {
            command.arg("-a");
        }
        let ciphertext = run(&mut command, &token);
        assert_eq!(ciphertext.starts_with(b"age-encryption.org/v1\n"), !armor);
        let opened: Secret = open(&ciphertext, &identity).unwrap();
        assert_eq!(opened.expose(), token.as_slice(), "armor: {armor}");
    }
}
