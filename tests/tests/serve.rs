//! `pinward serve` as an operator runs it: on SQLite and on PostgreSQL it migrates,
//! answers `/healthz` and `/readyz`, tags responses with a request id, and stops cleanly
//! on SIGTERM and SIGINT.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pinward_tests::{PinwardProcess, TestDb, on_both_databases};

fn start(db: &TestDb) -> (PinwardProcess, String) {
    let data_dir = db.subdir("data");
    let mut process = PinwardProcess::spawn(
        &["serve"],
        &[
            ("PINWARD_DATA_DIR", data_dir.to_str().unwrap()),
            ("PINWARD_DATABASE_URL", db.url()),
            ("PINWARD_LISTEN", "127.0.0.1:0"),
        ],
    );
    let base = process.wait_until_listening();
    (process, base)
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().unwrap()
}

on_both_databases! {
    async fn serve_answers_health_and_readiness_then_stops_on_sigterm(db) {
        let (mut process, base) = start(&db);
        let http = client();

        let health = http.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        assert!(health.headers().contains_key("x-request-id"));

        let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
        let status = ready.status();
        let body: serde_json::Value = ready.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["checks"]["database"], "ok");
        assert_eq!(body["checks"]["identity"], "ok");

        let traced = http
            .get(format!("{base}/healthz"))
            .header("x-request-id", "support-ticket-42")
            .send()
            .await
            .unwrap();
        assert_eq!(traced.headers()["x-request-id"], "support-ticket-42");

        process.signal("TERM");
        process.wait_for_line("shutting down");
        let (status, output) = process.wait();
        assert!(status.success(), "{output}");
    }

    async fn serve_stops_cleanly_on_sigint(db) {
        let (mut process, _base) = start(&db);
        process.signal("INT");
        process.wait_for_line("SIGINT");
        let (status, output) = process.wait();
        assert!(status.success(), "{output}");
    }

    async fn readyz_is_503_with_the_reason_when_the_identity_is_unreadable(db) {
        let (process, base) = start(&db);
        let identity = db.dir().join("data").join("identity.txt");
        std::fs::remove_file(&identity).unwrap();
        let ready = client().get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 503);
        let body: serde_json::Value = ready.json().await.unwrap();
        assert_eq!(body["checks"]["database"], "ok");
        assert!(body["checks"]["identity"].as_str().unwrap().starts_with("unreadable"), "{body}");
        drop(process);
    }

    async fn keys_rotate_waits_for_serve_to_stop_and_readyz_notices_an_identity_rotated_elsewhere(db) {
        let (process, base) = start(&db);
        let data_dir = db.dir().join("data");
        let env = [("PINWARD_DATA_DIR", data_dir.to_str().unwrap()), ("PINWARD_DATABASE_URL", db.url())];
        let identity = data_dir.join("identity.txt");
        let before = std::fs::read(&identity).unwrap();
        let (status, output) = PinwardProcess::spawn(&["keys", "rotate"], &env).wait();
        assert!(!status.success(), "{output}");
        assert!(output.contains("a running pinward uses the service identity"), "{output}");
        assert!(output.contains("identity.txt.lock"), "names the lock: {output}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data_dir.join("identity.txt.lock")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "any account running pinward can lock it");
        assert_eq!(std::fs::read(&identity).unwrap(), before, "the identity is untouched");
        assert!(!data_dir.join("identity.next.txt").exists(), "no next identity was begun");
        let ready = client().get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200);

        process.signal("TERM");
        assert!(process.wait().0.success());
        let (status, output) = PinwardProcess::spawn(&["keys", "rotate"], &env).wait();
        assert!(status.success(), "with the service stopped: {output}");

        // Another host rotated the keys in the shared database and copied its identity
        // here: this process still holds the old one, so it must not take traffic.
        let (process, base) = start(&db);
        std::fs::remove_file(&identity).unwrap();
        vault::Identity::load_or_create(&identity).unwrap();
        let ready = client().get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 503);
        let body: serde_json::Value = ready.json().await.unwrap();
        assert!(body["checks"]["identity"].as_str().unwrap().starts_with("changed on disk"), "{body}");
        drop(process);
    }

    async fn readyz_notices_a_key_rotation_on_another_host_whose_identity_never_came_here(db) {
        let (process, base) = start(&db);
        let ready = client().get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200);
        // The other host shares the database and holds a copy of the same identity file,
        // with a lock of its own.
        let elsewhere = db.subdir("elsewhere");
        std::fs::copy(db.dir().join("data").join("identity.txt"), elsewhere.join("identity.txt")).unwrap();
        let env = [("PINWARD_DATA_DIR", elsewhere.to_str().unwrap()), ("PINWARD_DATABASE_URL", db.url())];
        let (status, output) = PinwardProcess::spawn(&["keys", "rotate"], &env).wait();
        assert!(status.success(), "{output}");

        let ready = client().get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 503);
        let body: serde_json::Value = ready.json().await.unwrap();
        let identity = body["checks"]["identity"].as_str().unwrap();
        assert!(identity.starts_with("escrow in the database is sealed to a newer identity"), "{body}");
        assert!(identity.contains("restart pinward"), "{body}");
        assert_eq!(body["checks"]["database"], "ok");
        drop(process);

        // Restarted with the retired identity still in place, it stops and says which file.
        let data_dir = db.dir().join("data");
        let env = [
            ("PINWARD_DATA_DIR", data_dir.to_str().unwrap()),
            ("PINWARD_DATABASE_URL", db.url()),
            ("PINWARD_LISTEN", "127.0.0.1:0"),
        ];
        let (status, output) = PinwardProcess::spawn(&["serve"], &env).wait();
        assert!(!status.success(), "{output}");
        assert!(output.contains("identity.txt does not open the escrow in this database"), "{output}");
        assert!(output.contains("if `pinward keys rotate` ran on another host, copy the identity it made"), "{output}");
    }

    async fn migrate_applies_the_schema_and_a_second_run_changes_nothing(db) {
        let data_dir = db.subdir("data");
        for _ in 0..2 {
            let process = PinwardProcess::spawn(
                &["migrate"],
                &[("PINWARD_DATA_DIR", data_dir.to_str().unwrap()), ("PINWARD_DATABASE_URL", db.url())],
            );
            let (status, output) = process.wait();
            assert!(status.success(), "{output}");
            assert!(output.contains("database is up to date"), "{output}");
        }
    }
}

/// `pinward serve` on a fresh SQLite data dir of `db`, with the `extra` settings.
fn serve_on_sqlite(db: &TestDb, extra: &[(&str, &str)]) -> PinwardProcess {
    let data_dir = db.subdir("data");
    let mut env = vec![
        ("PINWARD_DATA_DIR", data_dir.to_str().unwrap()),
        ("PINWARD_LISTEN", "127.0.0.1:0"),
    ];
    env.extend_from_slice(extra);
    PinwardProcess::spawn(&["serve"], &env)
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let db = TestDb::new(pinward_tests::Backend::Sqlite).await;
    let mut process = serve_on_sqlite(&db, &[("PINWARD_LOG_FORMAT", "json")]);
    let line = process.wait_for_line("listening on");
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["level"], "INFO");
    process.signal("TERM");
    let (status, _) = process.wait();
    assert!(status.success());
}

#[tokio::test]
async fn settings_this_version_does_not_act_on_yet_are_named_at_start() {
    let db = TestDb::new(pinward_tests::Backend::Sqlite).await;
    let mut process = serve_on_sqlite(
        &db,
        &[
            ("PINWARD_OIDC_ISSUER", "https://login.example.com"),
            ("PINWARD_OIDC_CLIENT_ID", "pinward"),
            ("PINWARD_OIDC_CLIENT_SECRET", "oidc-s3cret"),
            (
                "PINWARD_WEBHOOK_URL",
                "https://hooks.example.com/hook-s3cret",
            ),
        ],
    );
    let oidc = process.wait_for_line("single sign-on is not built yet");
    assert!(oidc.contains("WARN"), "{oidc}");
    let notifications = process.wait_for_line("notifications are not built yet");
    assert!(notifications.contains("WARN"), "{notifications}");
    process.wait_for_line("listening on");
    process.signal("TERM");
    let (status, output) = process.wait();
    assert!(status.success());
    assert!(!output.contains("s3cret"), "{output}");
}
