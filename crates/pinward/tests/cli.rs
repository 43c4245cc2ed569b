//! The command line as a user meets it: help, and wrong settings reported in one line.
//!
//! (These tests also make Cargo build the `pinward` binary that `tests/` drives.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn pinward(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_pinward"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn help_lists_the_commands_and_the_variables() {
    let (code, stdout, _) = pinward(&["--help"], &[]);
    assert_eq!(code, 0);
    for word in [
        "serve",
        "migrate",
        "PINWARD_LISTEN",
        "PINWARD_DATABASE_URL",
        "PINWARD_LOG_FORMAT",
    ] {
        assert!(stdout.contains(word), "--help lacks {word}:\n{stdout}");
    }
}

#[test]
fn a_commands_help_lists_its_own_options_apart_from_the_shared_settings() {
    let (code, stdout, _) = pinward(&["ledger", "export", "--help"], &[]);
    assert_eq!(code, 0);
    let (own, shared) = stdout
        .split_once("Settings (any command):")
        .unwrap_or_else(|| panic!("no settings heading:\n{stdout}"));
    for flag in ["--org", "--from", "--to", "--out"] {
        assert!(
            own.contains(flag),
            "{flag} among the command's options:\n{stdout}"
        );
    }
    for flag in ["--data-dir", "--database-url", "--listen", "--log"] {
        assert!(
            !own.contains(flag) && shared.contains(flag),
            "{flag} under the settings:\n{stdout}"
        );
    }
}

#[test]
fn a_wrong_setting_is_one_line_naming_its_variable_and_a_non_zero_exit() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let a_file = data.path().join("file");
    std::fs::write(&a_file, b"").unwrap();
    let cases = [
        ("PINWARD_LISTEN", "nonsense"),
        ("PINWARD_LOG_FORMAT", "yaml"),
        ("PINWARD_DATABASE_URL", "postgres://user:s3cret@"),
        ("PINWARD_DATA_DIR", a_file.to_str().unwrap()),
    ];
    for (var, value) in cases {
        let mut envs = vec![(var, value)];
        if var != "PINWARD_DATA_DIR" {
            envs.push(("PINWARD_DATA_DIR", data_dir));
        }
        let (code, stdout, stderr) = pinward(&["serve"], &envs);
        assert_ne!(code, 0, "{var}={value} was accepted");
        assert_eq!(stdout, "");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{var}: expected one line, got:\n{stderr}");
        assert!(lines[0].starts_with("error: "), "{stderr}");
        assert!(lines[0].contains(var), "{stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{stderr}"
        );
        assert!(!stderr.contains("s3cret"), "{stderr}");
    }
}

#[test]
fn an_unreachable_database_is_an_error_line_not_a_panic() {
    let data = tempfile::tempdir().unwrap();
    // Port 9 (discard) on loopback: nothing listens there.
    let (code, _, stderr) = pinward(
        &["migrate"],
        &[
            ("PINWARD_DATA_DIR", data.path().to_str().unwrap()),
            (
                "PINWARD_DATABASE_URL",
                "postgres://pinward:s3cret@127.0.0.1:9/pinward?connect_timeout=5",
            ),
            ("PINWARD_LOG", "off"),
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    let line = stderr.lines().last().unwrap();
    assert!(
        line.starts_with("error: cannot open the database"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
}

#[test]
fn a_command_on_an_orgs_data_in_a_folder_without_a_database_says_so_and_creates_nothing() {
    let parent = tempfile::tempdir().unwrap();
    let mistyped = parent.path().join("pinward-dta");
    let commands: [&[&str]; 7] = [
        &["ledger", "export", "--org", "acme"],
        &["escrow", "export", "--org", "acme", "--out", "escrow.age"],
        &["sync", "--org", "acme", "--business", "1"],
        &["rotate", "status", "--org", "acme", "j"],
        &["credentials", "show", "--org", "acme"],
        &["recovery", "list", "--org", "acme"],
        &["clients", "list", "--org", "acme"],
    ];
    for command in commands {
        let (code, _, stderr) =
            pinward(command, &[("PINWARD_DATA_DIR", mistyped.to_str().unwrap())]);
        assert_eq!(code, 2, "{command:?}: {stderr}");
        assert_eq!(
            stderr.trim_end(),
            format!(
                "error: PINWARD_DATA_DIR (--data-dir): {}: no pinward database there; \
                 `pinward migrate` creates one",
                mistyped.display()
            ),
            "{command:?}"
        );
        assert!(
            !mistyped.exists(),
            "{command:?} created {}",
            mistyped.display()
        );
    }

    let file = parent.path().join("elsewhere.sqlite3");
    let url = format!("sqlite://{}", file.display());
    let (code, _, stderr) = pinward(
        &["ledger", "export", "--org", "acme"],
        &[
            ("PINWARD_DATA_DIR", parent.path().to_str().unwrap()),
            ("PINWARD_DATABASE_URL", &url),
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.starts_with("error: PINWARD_DATABASE_URL (--database-url): "),
        "{stderr}"
    );
    assert!(!file.exists());
}

#[test]
fn an_id_that_is_no_meta_id_is_named_with_what_a_meta_id_is() {
    let data = tempfile::tempdir().unwrap();
    let dir = [
        ("PINWARD_DATA_DIR", data.path().to_str().unwrap()),
        ("PINWARD_LOG", "off"),
    ];
    assert_eq!(pinward(&["migrate"], &dir).0, 0);
    let long = "7".repeat(200);
    let commands: [(&[&str], &str); 3] = [
        (
            &["sync", "--org", "acme", "--business", "acme-corp"],
            "--business `acme-corp`",
        ),
        (
            &["sync", "--org", "acme", "--business", &long],
            "--business an id of 200 characters",
        ),
        (
            &["rotate", "start", "--org", "acme", "--number", "+15550100"],
            "--number `+15550100`",
        ),
    ];
    for (command, named) in commands {
        let (code, _, stderr) = pinward(command, &dir);
        assert_ne!(code, 0, "{command:?}");
        assert!(
            !stderr.contains(&long),
            "a long paste is not echoed: {stderr}"
        );
        let line = stderr.lines().last().unwrap_or_default();
        assert!(
            line.starts_with(&format!("error: {named}")),
            "{command:?}: {stderr}"
        );
        assert!(
            line.ends_with(": a Meta id is 1 to 32 ASCII digits"),
            "{command:?}: {stderr}"
        );
    }
}
