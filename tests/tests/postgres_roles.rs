//! The two-role PostgreSQL deployment of `deploy/postgres-roles.sql`: the owner migrates,
//! the service runs as an app role that can append to the ledger and read it but can
//! neither edit, delete nor truncate it — even where the triggers would not stop it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pinward_tests::{Backend, PinwardProcess, TestDb};
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
    let mut command = pinward_tests::pinward_command();
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
    let mut tx = store.begin_for("org-1").await.unwrap();
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
    let mut tx = app.begin().await.unwrap();
    sqlx::query("SELECT set_config('pinward.org_id', 'org-1', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ledger_events")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(events, 1);
}

/// Every table of `migrations/` with an `org_id` column.
async fn org_tables(conn: &mut PgConnection) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.table_name::text FROM information_schema.columns c JOIN information_schema.tables t \
         ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = current_schema() AND c.column_name = 'org_id' AND t.table_type = 'BASE TABLE' \
         ORDER BY 1",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

/// Rows of `table` the connection sees with `tenant` set (none set when `None`).
async fn visible(conn: &mut PgConnection, table: &str, tenant: Option<&str>) -> i64 {
    let mut tx = conn.begin().await.unwrap();
    if let Some(org) = tenant {
        sqlx::query("SELECT set_config('pinward.org_id', $1, true)")
            .bind(org)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    let sql = format!("SELECT COUNT(*) FROM {table}");
    let n = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    n
}

/// The whole life of two orgs, run by the service as the app role under row-level
/// security: people, tokens, the Graph credential, sync, custody, escrow and ledger export,
/// checkpoints and key rotation all work inside their tenant — and a connection without a
/// tenant sees no row of any org table and can write none.
#[tokio::test]
async fn under_row_level_security_the_service_works_and_a_query_without_tenant_sees_nothing() {
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

    let mut sandbox = PinwardProcess::spawn(
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
    let summary: serde_json::Value =
        serde_json::from_str(&sandbox.wait_for_line("\"system_user_token\"")).unwrap();
    let base = summary["base_url"].as_str().unwrap().to_owned();
    let token = summary["system_user_token"].as_str().unwrap().to_owned();
    let business = summary["business_ids"][0].as_str().unwrap().to_owned();
    let app = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut command = pinward_tests::pinward_command();
        let mut child = command
            .args(args)
            .env("PINWARD_DATA_DIR", db.dir().join("data"))
            .env("PINWARD_DATABASE_URL", &roles.app_url)
            .env("PINWARD_GRAPH_BASE_URL", &base)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };

    let mut secrets = Vec::new();
    for slug in ["acme", "beta"] {
        app(
            &["admin", "org", "create", "--slug", slug, "--name", slug],
            "",
        );
        app(
            &[
                "admin",
                "user",
                "create",
                "--org",
                slug,
                "--email",
                &format!("ann@{slug}.example"),
                "--name",
                "Ann",
                "--role",
                "admin",
            ],
            "",
        );
        let created = app(
            &[
                "admin", "token", "create", "--org", slug, "--name", "ci", "--role", "auditor",
                "--json",
            ],
            "",
        );
        let created: serde_json::Value = serde_json::from_str(created.trim()).unwrap();
        secrets.push(created["secret"].as_str().unwrap().to_owned());
        app(&["credentials", "set", "--org", slug], &token);
        let key = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
        app(
            &[
                "recovery",
                "add",
                "--org",
                slug,
                "--recipient",
                key,
                "--label",
                "safe",
            ],
            "",
        );
    }
    app(&["sync", "--org", "acme", "--business", &business], "");
    let number: String = {
        let mut tx = owner.begin().await.unwrap();
        let org: String = sqlx::query_scalar("SELECT id FROM orgs WHERE slug = 'acme'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        sqlx::query("SELECT set_config('pinward.org_id', $1, true)")
            .bind(&org)
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query_scalar("SELECT meta_phone_number_id FROM phone_numbers WHERE connector = 'cloud' ORDER BY 1 LIMIT 1")
            .fetch_one(&mut *tx)
            .await
            .unwrap()
    };
    app(
        &["rotate", "start", "--org", "acme", "--number", &number],
        "",
    );
    let orgs: serde_json::Value =
        serde_json::from_str(app(&["admin", "org", "list", "--json"], "").trim()).unwrap();
    let acme = orgs
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["slug"] == "acme")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let beta = orgs
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["slug"] == "beta")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = db.dir().join("escrow");
    let exported = app(
        &[
            "escrow",
            "export",
            "--org",
            &acme,
            "--out",
            out.to_str().unwrap(),
        ],
        "",
    );
    assert!(exported.starts_with("exported 1 numbers"), "{exported}");
    app(
        &[
            "ledger",
            "export",
            "--org",
            "acme",
            "--out",
            db.dir().join("acme.jsonl").to_str().unwrap(),
        ],
        "",
    );
    let rotated = app(&["keys", "rotate", "--json"], "");
    let rotated: serde_json::Value = serde_json::from_str(rotated.lines().last().unwrap()).unwrap();
    // One PIN version, the fingerprint key and two orgs' Graph tokens.
    assert_eq!(rotated["resealed"], 4, "{rotated}");
    app(&["credentials", "check", "--org", "beta"], "");

    // Sign-in paths cross orgs deliberately, each read inside its tenant.
    let store =
        governance::Store::connect(&governance::DatabaseTarget::parse(&roles.app_url).unwrap())
            .await
            .unwrap();
    app(
        &[
            "admin",
            "user",
            "create",
            "--org",
            "beta",
            "--email",
            "ann@acme.example",
            "--name",
            "Ann",
            "--role",
            "ops",
            "--existing-account",
        ],
        "",
    );
    let ann = governance::users::find_by_email(&store, "ann@acme.example")
        .await
        .unwrap()
        .unwrap();
    let orgs_of_ann: Vec<String> = governance::users::memberships(&store, &ann.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| format!("{}:{}", m.org_slug, m.role.as_str()))
        .collect();
    assert_eq!(orgs_of_ann, ["acme:admin", "beta:ops"]);
    let caller = governance::members::caller_for(&store, &acme, &ann.id)
        .await
        .unwrap();
    assert_eq!(
        governance::members::list(&store, &caller)
            .await
            .unwrap()
            .len(),
        1
    );
    for (secret, org) in secrets.iter().zip([&acme, &beta]) {
        let caller = governance::tokens::authenticate(
            &store,
            &governance::tokens::TokenSecret::new(secret.clone()),
        )
        .await
        .unwrap();
        assert_eq!(&caller.org_id, org);
    }
    store.close().await;

    let mut conn = PgConnection::connect(&roles.app_url).await.unwrap();
    let tables = org_tables(&mut conn).await;
    assert!(tables.len() >= 14, "{tables:?}");
    for table in &tables {
        assert_eq!(
            visible(&mut conn, table, None).await,
            0,
            "{table} shows rows without a tenant"
        );
    }
    for table in [
        "members",
        "api_tokens",
        "graph_credentials",
        "recovery_recipients",
        "ledger_events",
        "ledger_heads",
    ] {
        let a = visible(&mut conn, table, Some(&acme)).await;
        let b = visible(&mut conn, table, Some(&beta)).await;
        assert!(a > 0 && b > 0, "{table}: {a} {b}");
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("SELECT set_config('pinward.org_id', $1, true)")
            .bind(&acme)
            .execute(&mut *tx)
            .await
            .unwrap();
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE org_id <> $1");
        let others: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(&acme)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(others, 0, "{table}: the tenant sees another org's rows");
    }
    assert!(visible(&mut conn, "phone_numbers", Some(&acme)).await > 0);
    assert_eq!(visible(&mut conn, "phone_numbers", Some(&beta)).await, 0);

    // Without a tenant nothing can be written either.
    let write = sqlx::query(
        "INSERT INTO recovery_recipients (id, org_id, recipient, label, created_by, created_at) \
         VALUES ('r-x', $1, 'age1x', 'x', 'system', now())",
    )
    .bind(&acme)
    .execute(&mut conn)
    .await
    .unwrap_err();
    assert!(refused(&write), "{write}");
    sandbox.signal("TERM");
}

#[tokio::test]
async fn the_owner_migrating_past_the_counts_counts_the_numbers_row_security_hides_from_it() {
    let db = TestDb::new(Backend::Postgres).await;
    let roles = roles(&db).await;
    // An existing deployment, as the owner left it before migration 0011.
    let migrations =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/postgres");
    let migrator = sqlx::migrate::Migrator::new(migrations).await.unwrap();
    let mut owner = PgConnection::connect(&roles.owner_url).await.unwrap();
    migrator.run_to(10, &mut owner).await.unwrap();
    let t = "'2026-01-01T00:00:00Z'";
    let mut seed = vec![
        "BEGIN".to_owned(),
        "SELECT set_config('pinward.org_id', 'org-old', true)".to_owned(),
        format!(
            "INSERT INTO orgs (id, slug, name, created_at) VALUES ('org-old', 'org-old', 'Old', {t})"
        ),
        format!(
            "INSERT INTO clients (id, org_id, name, created_at) VALUES ('c-old', 'org-old', 'Old client', {t})"
        ),
        format!(
            "INSERT INTO wabas (id, org_id, client_id, meta_waba_id, name, ownership, first_seen_at, last_seen_at) \
             VALUES ('w-1', 'org-old', 'c-old', 'w-1', 'w-1', 'client', {t}, {t})"
        ),
    ];
    for i in 0..3 {
        seed.push(format!(
            "INSERT INTO phone_numbers (id, org_id, waba_id, meta_phone_number_id, display_phone_number, pin_state, \
             first_seen_at, last_synced_at) VALUES ('n-{i}', 'org-old', 'w-1', '{i}', '+1 555-000-000{i}', 'unknown', {t}, {t})"
        ));
    }
    seed.push("COMMIT".to_owned());
    sqlx::raw_sql(sqlx::AssertSqlSafe(seed.join(";\n")))
        .execute(&mut owner)
        .await
        .unwrap();
    let hidden: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM phone_numbers")
        .fetch_one(&mut owner)
        .await
        .unwrap();
    assert_eq!(
        hidden, 0,
        "row security hides every org's numbers from the owner without a tenant"
    );

    let migrated = pinward(&roles.owner_url, &db, &["migrate"]);
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let counted: i64 = sqlx::raw_sql(sqlx::AssertSqlSafe(
        "BEGIN; SELECT set_config('pinward.org_id', 'org-old', true); \
         SELECT COALESCE(SUM(numbers), 0)::bigint FROM number_counts; COMMIT",
    ))
    .fetch_all(&mut owner)
    .await
    .unwrap()
    .iter()
    .filter_map(|row| sqlx::Row::try_get::<i64, _>(row, 0).ok())
    .last()
    .unwrap();
    assert_eq!(counted, 3, "the backfill saw through row security");
    let forced: bool = sqlx::query_scalar(
        "SELECT relforcerowsecurity FROM pg_class WHERE relname = 'phone_numbers'",
    )
    .fetch_one(&mut owner)
    .await
    .unwrap();
    assert!(forced, "and put it back");
}
