//! The identity file on disk: created 0600 once, loaded after, refused when missing, exposed
//! to the group or others, or malformed — never overwritten.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::{
    fs::{self, OpenOptions},
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::Path,
    sync::{Arc, Barrier},
};

use vault::{Created, Error, Identity, LineProblem};

const KEY: &str = "AGE-SECRET-KEY-1XSZ0FGJV7SX0QX4YCFG3SMJNSMR6EXCUVQF36NKXNTDGE7A0QL8QL4QSD4";
const PUBLIC: &str = "age1294qy9uw54gjuj4ffwp20950ryc63vrutzdvl5sajkl46hxumeysa3g9g7";

fn write_with_mode(path: &Path, text: &str, mode: u32) {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
    // The test sets exotic modes on purpose; umask must not interfere.
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_missing_identity_file_is_its_own_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identity.txt");
    match Identity::load(&path) {
        Err(Error::IdentityMissing { path: reported }) => assert_eq!(reported, path),
        other => panic!("{other:?}"),
    }
}

#[test]
fn load_or_create_creates_a_0600_file_once_then_loads_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identity.txt");

    let (created, first) = Identity::load_or_create(&path).unwrap();
    assert_eq!(first, Created::Yes);
    assert_eq!(mode_of(&path), 0o600);
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.contains(&format!("# public key: {}\n", created.recipient())));
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .count(),
        1
    );

    let (loaded, second) = Identity::load_or_create(&path).unwrap();
    assert_eq!(second, Created::No);
    assert_eq!(loaded.recipient(), created.recipient());
    assert_eq!(
        Identity::load(&path).unwrap().recipient(),
        created.recipient()
    );

    // No temporary file is left behind.
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("identity.txt")]);
}

#[test]
fn racing_creators_all_end_up_with_the_same_identity() {
    let dir = tempfile::tempdir().unwrap();
    let path = Arc::new(dir.path().join("identity.txt"));
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (path, barrier) = (Arc::clone(&path), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let (identity, created) = Identity::load_or_create(&path).unwrap();
                (identity.recipient().to_string(), created)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|(_, c)| *c == Created::Yes).count(),
        1
    );
    assert!(results.iter().all(|(r, _)| *r == results[0].0));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_file_the_group_or_others_may_access_is_refused() {
    for mode in [0o640, 0o604, 0o620, 0o602, 0o644, 0o660, 0o610, 0o601] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.txt");
        write_with_mode(&path, KEY, mode);
        match Identity::load(&path) {
            Err(error @ Error::IdentityPermissions { .. }) => {
                assert!(matches!(error, Error::IdentityPermissions { mode: m, .. } if m == mode));
                assert!(error.to_string().contains("chmod 600"), "{error}");
            }
            other => panic!("mode {mode:o}: {other:?}"),
        }
        // load_or_create refuses too, and leaves the file alone.
        assert!(matches!(
            Identity::load_or_create(&path),
            Err(Error::IdentityPermissions { .. })
        ));
        assert_eq!(fs::read_to_string(&path).unwrap(), KEY);
    }
}

#[test]
fn owner_only_modes_are_accepted() {
    for mode in [0o600, 0o400] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.txt");
        write_with_mode(&path, &format!("# comment\n{KEY}\n"), mode);
        assert_eq!(
            Identity::load(&path).unwrap().recipient().to_string(),
            PUBLIC
        );
    }
}

#[test]
fn a_malformed_file_is_refused_by_line_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identity.txt");
    let broken = format!("# pinward\n\n{}X\n", &KEY[..KEY.len() - 1]);
    write_with_mode(&path, &broken, 0o600);
    for result in [
        Identity::load(&path).map(|_| ()),
        Identity::load_or_create(&path).map(|_| ()),
    ] {
        match result {
            Err(
                error @ Error::InvalidIdentityFile {
                    line: 3,
                    problem: LineProblem::InvalidEncoding,
                    ..
                },
            ) => {
                let shown = format!("{error} {error:?}");
                assert!(!shown.contains("XSZ0FGJV"), "{shown}");
                assert!(shown.contains("identity.txt"), "{shown}");
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(fs::read_to_string(&path).unwrap(), broken);
}

#[test]
fn an_empty_or_binary_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.txt");
    write_with_mode(&empty, "", 0o600);
    assert!(matches!(
        Identity::load(&empty),
        Err(Error::InvalidIdentityFile {
            line: 0,
            problem: LineProblem::NoIdentity,
            ..
        })
    ));
    let binary = dir.path().join("binary.txt");
    fs::write(&binary, b"# ok\n\xff\xfe\n").unwrap();
    fs::set_permissions(&binary, fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(
        Identity::load(&binary),
        Err(Error::InvalidIdentityFile {
            line: 2,
            problem: LineProblem::NotAKey,
            ..
        })
    ));
}

#[test]
fn creating_in_a_missing_directory_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("identity.txt");
    assert!(matches!(
        Identity::load_or_create(&path),
        Err(Error::Io { .. })
    ));
}

#[test]
fn a_directory_is_not_an_identity_file() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    assert!(matches!(Identity::load(dir.path()), Err(Error::Io { .. })));
}

#[test]
fn a_described_identity_file_starts_with_its_one_line_description_and_loads_as_any_other() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("client.txt");
    let (created, first) =
        Identity::load_or_create_described(&path, "demo client Acme\nAGE-SECRET-KEY-1X").unwrap();
    assert_eq!(first, Created::Yes);
    assert_eq!(mode_of(&path), 0o600);
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("# demo client Acme AGE-SECRET-KEY-1X\n# public key: age1"),
        "a newline in the description stays inside the comment"
    );
    assert!(!text.contains("service identity"));
    let (loaded, second) = Identity::load_or_create_described(&path, "other").unwrap();
    assert_eq!(second, Created::No);
    assert_eq!(loaded.recipient(), created.recipient());
}
