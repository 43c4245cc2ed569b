//! The service identity: created private on first start, shown by `keys show`, guarded
//! against loose permissions, and never silently replaced once PINs are sealed to it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;

use pinward_tests::{PinwardProcess, TestDb, on_both_databases};
use sqlx::Connection;

fn keys_show(db: &TestDb) -> (bool, String) {
    let data_dir = db.subdir("data");
    let process = PinwardProcess::spawn(
        &["keys", "show", "--json"],
        &[
            ("PINWARD_DATA_DIR", data_dir.to_str().unwrap()),
            ("PINWARD_DATABASE_URL", db.url()),
        ],
    );
    let (status, output) = process.wait();
    (status.success(), output)
}

/// Puts one sealed PIN version in the database, the way custody will.
async fn seal_one_version(db: &TestDb) {
    let statements = [
        "INSERT INTO orgs (id, slug, name, created_at) VALUES ('o1', 'acme', 'Acme', '2026-01-01T00:00:00Z')",
        "INSERT INTO clients (id, org_id, name, created_at) VALUES ('c1', 'o1', 'Client', '2026-01-01T00:00:00Z')",
        "INSERT INTO wabas (id, org_id, client_id, meta_waba_id, name, ownership, first_seen_at, last_seen_at) \
         VALUES ('w1', 'o1', 'c1', '100', 'WABA', 'owned', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
        "INSERT INTO phone_numbers (id, org_id, waba_id, meta_phone_number_id, display_phone_number, \
         first_seen_at, last_synced_at) VALUES ('p1', 'o1', 'w1', '200', '+1 555 0100', \
         '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
        "INSERT INTO pin_versions (id, org_id, phone_number_id, version, status, attempt_id, sealed, \
         fingerprint, created_by, created_at) VALUES ('v1', 'o1', 'p1', 1, 'current', 'a1', \
         '-----BEGIN AGE ENCRYPTED FILE-----', 'f', 'system', '2026-01-01T00:00:00Z')",
    ];
    match db.backend() {
        pinward_tests::Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            for sql in statements {
                sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
            }
        }
        pinward_tests::Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
            for sql in statements {
                sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
            }
        }
    }
}

on_both_databases! {
    async fn first_start_creates_a_private_identity_and_keys_show_prints_its_recipient(db) {
        let (ok, output) = keys_show(&db);
        assert!(ok, "{output}");
        let line = output.lines().find(|l| l.contains("age_recipient")).unwrap();
        let shown: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(shown["age_recipient"].as_str().unwrap().starts_with("age1"), "{line}");
        let identity = db.dir().join("data/identity.txt");
        assert_eq!(std::fs::metadata(&identity).unwrap().permissions().mode() & 0o777, 0o600);

        // The same identity on every later start.
        let (ok, again) = keys_show(&db);
        assert!(ok);
        assert!(again.contains(shown["age_recipient"].as_str().unwrap()));
    }

    async fn first_start_creates_a_private_checkpoint_key_and_keys_show_prints_the_same_public_key(db) {
        let (ok, output) = keys_show(&db);
        assert!(ok, "{output}");
        let line = output.lines().find(|l| l.contains("checkpoint_public_key")).unwrap();
        let shown: serde_json::Value = serde_json::from_str(line).unwrap();
        let public = shown["checkpoint_public_key"].as_str().unwrap().to_owned();
        assert_eq!(public.len(), 44, "{public}");
        let key = db.dir().join("data/checkpoint.key");
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);

        let (ok, again) = keys_show(&db);
        assert!(ok);
        assert!(again.contains(&public), "the checkpoint key changed between starts");
    }

    async fn a_group_readable_identity_is_refused(db) {
        assert!(keys_show(&db).0);
        let identity = db.dir().join("data/identity.txt");
        std::fs::set_permissions(&identity, std::fs::Permissions::from_mode(0o640)).unwrap();
        let (ok, output) = keys_show(&db);
        assert!(!ok);
        assert!(output.lines().last().unwrap().starts_with("error: cannot open the service identity"), "{output}");
    }

    async fn a_missing_identity_with_sealed_pins_refuses_to_start_and_creates_none(db) {
        assert!(keys_show(&db).0);
        seal_one_version(&db).await;
        let identity = db.dir().join("data/identity.txt");
        std::fs::remove_file(&identity).unwrap();
        let (ok, output) = keys_show(&db);
        assert!(!ok, "{output}");
        assert!(output.contains("missing but the database holds 1 sealed"), "{output}");
        assert!(!identity.exists(), "a new identity was made");
    }
}
