//! The org's stored Graph token and recovery recipients drive `pinward sync` and `pinward
//! rotate`: no PINWARD_GRAPH_TOKEN, and every new PIN opens with the org's own age key.
//! Runs the real binary against the sandbox binary on both databases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use pinward_tests::{PinwardProcess, TestDb, on_both_databases};
use sqlx::Connection;

struct Sandbox {
    _process: PinwardProcess,
    base_url: String,
    token: String,
    business: String,
}

fn sandbox() -> Sandbox {
    let mut process = PinwardProcess::spawn(
        &[
            "graph-sandbox",
            "--listen",
            "127.0.0.1:0",
            "--seed",
            "3",
            "--numbers",
            "6",
            "--json",
        ],
        &[],
    );
    let line = process.wait_for_line("\"system_user_token\"");
    let summary: serde_json::Value = serde_json::from_str(&line).unwrap();
    Sandbox {
        base_url: summary["base_url"].as_str().unwrap().to_owned(),
        token: summary["system_user_token"].as_str().unwrap().to_owned(),
        business: summary["business_ids"][0].as_str().unwrap().to_owned(),
        _process: process,
    }
}

fn pinward(db: &TestDb, sandbox: &Sandbox, args: &[&str], stdin: &str) -> Output {
    let mut command = pinward_tests::pinward_command();
    let mut child = command
        .args(args)
        .env("PINWARD_DATA_DIR", db.dir().join("data"))
        .env("PINWARD_DATABASE_URL", db.url())
        .env("PINWARD_GRAPH_BASE_URL", &sandbox.base_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "pinward failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

async fn one_cloud_number(db: &TestDb) -> String {
    let sql = "SELECT meta_phone_number_id FROM phone_numbers WHERE connector = 'cloud' ORDER BY meta_phone_number_id LIMIT 1";
    match db.backend() {
        pinward_tests::Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
        }
        pinward_tests::Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(db.url()).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
        }
    }
}

on_both_databases! {
    async fn the_stored_token_and_recovery_key_serve_sync_rotation_and_offline_recovery(db) {
        let sandbox = sandbox();
        ok(&pinward(&db, &sandbox, &["admin", "org", "create", "--slug", "acme", "--name", "Acme"], ""));
        let none = ok(&pinward(&db, &sandbox, &["credentials", "show", "--org", "acme"], ""));
        assert!(none.starts_with("no Graph token stored"), "{none}");

        // A token Meta refuses is not stored.
        let refused = pinward(&db, &sandbox, &["credentials", "set", "--org", "acme"], "EAAnot-a-token\n");
        assert!(!refused.status.success());
        assert!(!String::from_utf8_lossy(&refused.stderr).contains("EAAnot-a-token"));

        let set = ok(&pinward(&db, &sandbox, &["credentials", "set", "--org", "acme", "--json"], &format!("{}\n", sandbox.token)));
        let facts: serde_json::Value = serde_json::from_str(set.trim()).unwrap();
        assert_eq!(facts["is_valid"], true, "{set}");
        assert!(!set.contains(&sandbox.token));
        let shown = ok(&pinward(&db, &sandbox, &["credentials", "show", "--org", "acme"], ""));
        assert!(shown.starts_with("valid token"), "{shown}");

        // The org's own offline key.
        let key_file = db.dir().join("org-key.txt");
        let keygen = Command::new("age-keygen").arg("-o").arg(&key_file).output().unwrap();
        assert!(keygen.status.success());
        let recipient = String::from_utf8_lossy(&keygen.stderr).trim().trim_start_matches("Public key: ").to_owned();
        ok(&pinward(&db, &sandbox, &["recovery", "add", "--org", "acme", "--recipient", &recipient, "--label", "safe"], ""));
        let again = pinward(&db, &sandbox, &["recovery", "add", "--org", "acme", "--recipient", &recipient, "--label", "again"], "");
        assert_eq!(pinward_tests::failed_with(&again), "error: recipient: this key is already a recovery recipient");
        let bad = pinward(&db, &sandbox, &["recovery", "add", "--org", "acme", "--recipient", "age1nope", "--label", "x"], "");
        assert!(String::from_utf8_lossy(&bad.stderr).contains("error: recipient:"), "{}", String::from_utf8_lossy(&bad.stderr));
        // The service's own key is no recovery key, nor a client's.
        let service = vault::Identity::load(&db.dir().join("data").join("identity.txt")).unwrap().recipient().to_string();
        let own = pinward(&db, &sandbox, &["recovery", "add", "--org", "acme", "--recipient", &service, "--label", "x"], "");
        assert_eq!(pinward_tests::failed_with(&own), "error: recipient: is this pinward's own service key: a recovery recipient is a key kept apart from pinward, to open the escrow export if pinward or its key is lost");
        let listed = ok(&pinward(&db, &sandbox, &["recovery", "list", "--org", "acme"], ""));
        assert_eq!(listed.lines().count(), 1, "{listed}");

        let synced = ok(&pinward(&db, &sandbox, &["sync", "--org", "acme", "--business", &sandbox.business, "--json"], ""));
        let report: serde_json::Value = serde_json::from_str(synced.trim()).unwrap();
        assert!(report["numbers_seen"].as_u64().unwrap() > 0, "{synced}");

        let number = one_cloud_number(&db).await;
        // A recipients file that does not parse stops the command before any job exists.
        let bad_file = db.dir().join("not-recipients.txt");
        std::fs::write(&bad_file, "this is not an age recipient\n").unwrap();
        let refused = pinward(&db, &sandbox, &["rotate", "start", "--org", "acme", "--number", &number, "--recovery", bad_file.to_str().unwrap()], "");
        assert!(pinward_tests::failed_with(&refused).starts_with(&format!("error: --recovery {}", bad_file.display())), "{}", String::from_utf8_lossy(&refused.stderr));
        assert!(!String::from_utf8_lossy(&refused.stdout).contains("started"), "no job was started");
        let ledger = ok(&pinward(&db, &sandbox, &["ledger", "export", "--org", "acme"], ""));
        assert!(!ledger.contains("rotation.job.started"), "no job was ledgered");
        ok(&pinward(&db, &sandbox, &["rotate", "start", "--org", "acme", "--number", &number, "--json"], ""));

        let org = ok(&pinward(&db, &sandbox, &["admin", "org", "list", "--json"], ""));
        let org: serde_json::Value = serde_json::from_str(org.trim()).unwrap();
        let out = db.dir().join("escrow");
        ok(&pinward(&db, &sandbox, &["escrow", "export", "--org", org[0]["id"].as_str().unwrap(), "--out", out.to_str().unwrap()], ""));
        let again = pinward(&db, &sandbox, &["escrow", "export", "--org", "acme", "--out", out.to_str().unwrap()], "");
        let refused = pinward_tests::failed_with(&again);
        assert!(refused.contains("--out:") && refused.contains("is not empty: export into a new or empty folder"), "{refused}");
        let file = out.join(format!("{number}.age"));
        let opened = Command::new("age").arg("-d").arg("-i").arg(&key_file).arg(&file).output().unwrap();
        assert!(opened.status.success(), "{}", String::from_utf8_lossy(&opened.stderr));
        assert!(!opened.stdout.is_empty());
    }
}
