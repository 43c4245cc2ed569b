//! `pinward ledger export` as an auditor uses it: export from the real binary on both
//! databases, pin the key that `keys show` prints, and verify offline with `pinward ledger
//! verify` and with the independent Python verifier.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use audit::{Action, Actor, Details, EventDraft};
use governance::{DatabaseTarget, Store};
use pinward_tests::{TestDb, on_both_databases, pinward_bin};
use sqlx::Connection;

const PYTHON_VERIFIER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/verify_ledger.py");

/// Runs the binary with only this test's settings; stdout and stderr kept apart.
fn pinward(db: &TestDb, args: &[&str]) -> Output {
    pinward_tests::run(db, args)
}

fn ok(output: &Output) -> String {
    pinward_tests::succeeded(output)
}

/// Migrates through the binary, then appends `events` events for org `acme` the way the
/// domain does, through the governance library.
async fn ledger_with_events(db: &TestDb, events: usize) {
    ok(&pinward(db, &["migrate"]));
    let org = "INSERT INTO orgs (id, slug, name, created_at) VALUES ('org-1', 'acme', 'Acme', '2026-01-01T00:00:00Z')";
    match db.backend() {
        pinward_tests::Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            sqlx::raw_sql(org).execute(&mut conn).await.unwrap();
        }
        pinward_tests::Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
            sqlx::raw_sql(org).execute(&mut conn).await.unwrap();
        }
    }
    let store = Store::connect(&DatabaseTarget::parse(db.url()).unwrap())
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    for n in 0..events {
        let draft = EventDraft {
            actor: Actor::user("u-1").unwrap(),
            action: Action::parse("pin.revealed").unwrap(),
            subject: format!("phone:{}", 1000 + n),
            details: Details::new(serde_json::json!({ "reason": "re-registering", "version": n }))
                .unwrap(),
        };
        governance::ledger::append(&mut tx, "org-1", chrono::Utc::now(), draft)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    store.close().await;
}

/// Writes the checkpoint public key file the way an auditor gets it.
fn pinned_key(db: &TestDb) -> PathBuf {
    let path = db.dir().join("checkpoint.pub");
    let shown = ok(&pinward(
        db,
        &[
            "keys",
            "show",
            "--checkpoint-key-out",
            path.to_str().unwrap(),
        ],
    ));
    let line = shown
        .lines()
        .find(|l| l.starts_with("checkpoint public key"))
        .unwrap();
    let printed = line.rsplit(' ').next().unwrap();
    assert!(std::fs::read_to_string(&path).unwrap().contains(printed));
    path
}

fn verify(db: &TestDb, file: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["ledger", "verify", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    pinward(db, &args)
}

fn python_verify(file: &Path, extra: &[&str]) -> Output {
    Command::new("python3")
        .arg("-S")
        .arg(PYTHON_VERIFIER)
        .arg(file)
        .args(extra)
        .output()
        .expect("python3 must be installed to run the independent verifier")
}

on_both_databases! {
    async fn the_served_api_export_verifies_offline_against_the_pinned_key(db) {
        ledger_with_events(&db, 12).await;
        let store = Store::connect(&DatabaseTarget::parse(db.url()).unwrap()).await.unwrap();
        let (_, token) = governance::tokens::create(
            &store,
            &governance::access::Caller::cli("org-1"),
            "auditor script",
            governance::access::Role::Auditor,
        )
        .await
        .unwrap();
        store.close().await;
        let key = pinned_key(&db);
        let data_dir = db.dir().join("data");
        let mut server = pinward_tests::PinwardProcess::spawn(
            &["serve"],
            &[
                ("PINWARD_DATA_DIR", data_dir.to_str().unwrap()),
                ("PINWARD_DATABASE_URL", db.url()),
                ("PINWARD_LISTEN", "127.0.0.1:0"),
            ],
        );
        let base = server.wait_until_listening();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder().build().unwrap();
        for (format, name) in [("jsonl", "served.jsonl"), ("csv", "served.csv")] {
            let response = http
                .get(format!("{base}/api/v1/ledger/export?format={format}"))
                .bearer_auth(token.expose())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{format}");
            let file = db.dir().join(name);
            std::fs::write(&file, response.bytes().await.unwrap()).unwrap();
            let key_arg = key.to_str().unwrap();
            assert_eq!(ok(&verify(&db, &file, &["--key", key_arg])).trim(), "ok 13 events", "{format}");
            if format == "jsonl" {
                assert_eq!(ok(&python_verify(&file, &["--key", key_arg])).trim(), "ok 13 events");
            }
        }
        server.signal("TERM");
        let (status, output) = server.wait();
        assert!(status.success(), "{output}");
    }

    async fn an_exported_ledger_verifies_offline_against_the_pinned_key_in_both_verifiers(db) {
        ledger_with_events(&db, 25).await;
        let key = pinned_key(&db);
        let file = db.dir().join("acme.jsonl");
        ok(&pinward(&db, &["ledger", "export", "--org", "acme", "--out", file.to_str().unwrap()]));

        let key_arg = key.to_str().unwrap();
        assert_eq!(ok(&verify(&db, &file, &["--key", key_arg])).trim(), "ok 25 events");
        assert_eq!(ok(&python_verify(&file, &["--key", key_arg])).trim(), "ok 25 events");
    }

    async fn a_csv_export_verifies_and_a_range_export_verifies_from_its_first_seq(db) {
        ledger_with_events(&db, 20).await;
        let key = pinned_key(&db);
        let key_arg = key.to_str().unwrap();
        let csv = db.dir().join("acme.csv");
        ok(&pinward(&db, &["ledger", "export", "--org", "acme", "--out", csv.to_str().unwrap()]));
        assert!(std::fs::read_to_string(&csv).unwrap().starts_with("seq,org,at,actor,action"));
        assert_eq!(ok(&verify(&db, &csv, &["--key", key_arg])).trim(), "ok 20 events");

        let range = db.dir().join("range.jsonl");
        ok(&pinward(&db, &[
            "ledger", "export", "--org", "acme", "--from", "6", "--to", "15",
            "--out", range.to_str().unwrap(),
        ]));
        assert_eq!(ok(&verify(&db, &range, &["--key", key_arg, "--from", "6"])).trim(), "ok 10 events");
    }

    async fn export_writes_to_standard_output_without_log_lines(db) {
        ledger_with_events(&db, 3).await;
        let stdout = ok(&pinward(&db, &["ledger", "export", "--org", "org-1"]));
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 4, "{stdout}");
        for line in &lines {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
        assert!(lines[3].starts_with("{\"checkpoint\":"), "{}", lines[3]);
    }

    async fn an_export_signed_by_another_service_key_is_refused_with_the_pinned_key(db) {
        ledger_with_events(&db, 5).await;
        let key = pinned_key(&db);
        // Another deployment (another data dir, so another checkpoint key) exports too.
        let other_key = db.dir().join("other.key");
        let file = db.dir().join("acme.jsonl");
        let mut command = Command::new(pinward_bin());
        command
            .args(["ledger", "export", "--org", "acme", "--out", file.to_str().unwrap()])
            .env("PINWARD_DATA_DIR", db.dir().join("data"))
            .env("PINWARD_DATABASE_URL", db.url())
            .env("PINWARD_CHECKPOINT_KEY_FILE", &other_key);
        ok(&command.output().unwrap());
        let refused = verify(&db, &file, &["--key", key.to_str().unwrap()]);
        assert!(!refused.status.success());
        let refused = python_verify(&file, &["--key", key.to_str().unwrap()]);
        assert!(!refused.status.success());
    }

    async fn exporting_an_unknown_org_or_a_bad_range_fails_in_one_line_and_writes_no_file(db) {
        ledger_with_events(&db, 5).await;
        let file = db.dir().join("never.jsonl");
        for (args, says) in [
            (vec!["--org", "nobody"], "error: --org nobody: org not found"),
            (vec!["--org", "acme", "--from", "9"], "error: export failed: --from: the ledger ends at seq"),
            (vec!["--org", "acme", "--to", "9"], "error: export failed: --to: the ledger ends at seq"),
            (vec!["--org", "acme", "--from", "4", "--to", "2"], "error: export failed: --to: 2 is before the first seq asked for (4)"),
        ] {
            let mut all = vec!["ledger", "export", "--out", file.to_str().unwrap()];
            all.extend(args.iter().copied());
            let output = pinward(&db, &all);
            assert!(!output.status.success(), "{args:?}");
            let stderr = String::from_utf8(output.stderr).unwrap();
            let error: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
            assert_eq!(error.len(), 1, "{stderr}");
            assert!(error[0].starts_with(says), "{stderr}");
            assert!(!file.exists(), "{args:?} left a file behind");
        }
    }
}
