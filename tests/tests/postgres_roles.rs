//! The two-role PostgreSQL deployment of `deploy/postgres-roles.sql`: the owner migrates,
//! the service runs as an app role that can append to the ledger and read it but can
//! neither edit, delete nor truncate it — even where the triggers would not stop it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use pinward_tests::{Backend, PinwardProcess, TestDb, pinward_bin};
use sqlx::{Connection, PgConnection};

const ROLES_SQL: &str = include_str!("../../deploy/postgres-roles.sql");

struct Roles {
    owner_url: String,
    app_url: String,
    /// deploy/postgres-roles.sql with this test's role names.
    grants: String,
}

/// Creates this test's owner and app roles (unique names: roles are cluster-wide) and hands
/// the test database to the owner, as step 1 of the deployment notes does.
async fn roles(db: &TestDb) -> Roles {
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let (owner, app) = (format!("pw_owner_{tag}"), format!("pw_app_{tag}"));
    let mut admin = PgConnection::connect(db.url()).await.unwrap();
    let database = db.url().rsplit('/').next().unwrap().to_owned();
    for sql in [
        format!("CREATE ROLE {owner} LOGIN"),
        format!("CREATE ROLE {app} LOGIN"),
        format!("ALTER DATABASE {database} OWNER TO {owner}"),
        format!("ALTER SCHEMA public OWNER TO {owner}"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    let as_role = |role: &str| db.url().replacen("postgres@", &format!("{role}@"), 1);
    Roles {
        owner_url: as_role(&owner),
        app_url: as_role(&app),
        grants: ROLES_SQL
            .replace("pinward_owner", &owner)
            .replace("pinward_app", &app),
    }
}

fn pinward(url: &str, db: &TestDb, args: &[&str]) -> std::process::Output {
    let mut command = Command::new(pinward_bin());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PINWARD_") {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .env("PINWARD_DATA_DIR", db.dir().join("data"))
        .env("PINWARD_DATABASE_URL", url)
        .output()
        .unwrap()
}

fn refused(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "42501")
}

#[tokio::test]
async fn the_app_role_appends_and_reads_the_ledger_but_cannot_edit_delete_or_truncate_it() {
    let db = TestDb::new(Backend::Postgres).await;
    let roles = roles(&db).await;

    let migrated = pinward(&roles.owner_url, &db, &["migrate"]);
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let mut owner = PgConnection::connect(&roles.owner_url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(roles.grants.clone()))
        .execute(&mut owner)
        .await
        .unwrap();
    sqlx::raw_sql(
        "INSERT INTO orgs (id, slug, name, created_at) VALUES ('org-1', 'acme', 'Acme', '2026-01-01T00:00:00Z')",
    )
    .execute(&mut owner)
    .await
    .unwrap();

    // The service, as the app role, starts (migrations already applied) and appends.
    let mut serve = PinwardProcess::spawn(
        &["serve", "--listen", "127.0.0.1:0"],
        &[
            ("PINWARD_DATA_DIR", db.dir().join("data").to_str().unwrap()),
            ("PINWARD_DATABASE_URL", &roles.app_url),
        ],
    );
    serve.wait_until_listening();
    serve.signal("TERM");
    let (status, output) = serve.wait();
    assert!(status.success(), "{output}");

    let store =
        governance::Store::connect(&governance::DatabaseTarget::parse(&roles.app_url).unwrap())
            .await
            .unwrap();
    let mut tx = store.begin().await.unwrap();
    let draft = audit::EventDraft {
        actor: audit::Actor::system(),
        action: audit::Action::parse("number.discovered").unwrap(),
        subject: "phone:1".into(),
        details: audit::Details::empty(),
    };
    governance::ledger::append(&mut tx, "org-1", chrono::Utc::now(), draft)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    store.close().await;

    let exported = pinward(&roles.app_url, &db, &["ledger", "export", "--org", "acme"]);
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );

    let mut app = PgConnection::connect(&roles.app_url).await.unwrap();
    for sql in [
        "UPDATE ledger_events SET subject = 'phone:2'",
        "DELETE FROM ledger_events",
        "TRUNCATE ledger_events",
        "UPDATE ledger_checkpoints SET head = 'x'",
        "DELETE FROM ledger_checkpoints",
        "TRUNCATE ledger_checkpoints",
        "DELETE FROM _sqlx_migrations",
    ] {
        let error = sqlx::raw_sql(sql).execute(&mut app).await.unwrap_err();
        assert!(refused(&error), "{sql}: {error}");
    }
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ledger_events")
        .fetch_one(&mut app)
        .await
        .unwrap();
    assert_eq!(events, 1);
}
