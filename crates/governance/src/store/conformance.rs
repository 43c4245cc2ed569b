//! The storage contract, proven on SQLite and on PostgreSQL by the same tests.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;

use pinward_tests::on_both_databases;

use super::*;
use crate::{on_pool, on_tx};

async fn open(db: &pinward_tests::TestDb) -> Store {
    let store = Store::connect(&DatabaseTarget::parse(db.url()).unwrap())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

async fn exec(tx: &mut Tx, sql: &'static str) -> Result<u64, Error> {
    let done = on_tx!(tx, conn => sqlx::query(sql).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(done)
}

const ORG: &str = "INSERT INTO orgs (id, slug, name, created_at) VALUES ('o1', 'acme', 'Acme', '2026-01-01T00:00:00Z')";
const SAME_SLUG: &str = "INSERT INTO orgs (id, slug, name, created_at) VALUES ('o2', 'acme', 'Other', '2026-01-01T00:00:00Z')";
const EVENT: &str = "INSERT INTO ledger_events (org_id, seq, at, actor, action, subject, details, prev, hash) \
     VALUES ('o1', 1, '2026-01-01T00:00:00.000000Z', 'system', 'org.created', 'org:o1', '{}', \
     '0000000000000000000000000000000000000000000000000000000000000000', \
     '1111111111111111111111111111111111111111111111111111111111111111')";

/// Words of a migration file that name a table, index, trigger or constraint.
fn names_in(dir: &str) -> BTreeSet<(String, BTreeSet<String>)> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/");
    std::fs::read_dir(format!("{root}{dir}"))
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let names = text
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| {
                    [
                        "_pk",
                        "_uq",
                        "_ck",
                        "_fk",
                        "_ix",
                        "_no_update",
                        "_no_delete",
                        "_no_truncate",
                    ]
                    .iter()
                    .any(|s| w.ends_with(s))
                })
                .map(str::to_owned)
                .collect();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                names,
            )
        })
        .collect()
}

#[test]
fn both_migration_folders_hold_the_same_files_with_the_same_named_constraints() {
    let sqlite = names_in("sqlite");
    let postgres = names_in("postgres");
    let files = |set: &BTreeSet<(String, BTreeSet<String>)>| {
        set.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>()
    };
    assert_eq!(
        files(&sqlite),
        files(&postgres),
        "migration file names drifted"
    );
    // SQLite has no TRUNCATE, so only PostgreSQL needs a trigger against it.
    let postgres_only: BTreeSet<String> = ["ledger_events_no_truncate".to_owned()].into();
    for ((file, lite), (_, pg)) in sqlite.iter().zip(&postgres) {
        let pg: BTreeSet<String> = pg.difference(&postgres_only).cloned().collect();
        assert_eq!(
            lite, &pg,
            "{file}: constraint, index or trigger names drifted"
        );
    }
}

#[tokio::test]
async fn the_sqlite_file_is_private_durable_and_checks_foreign_keys() {
    let db = pinward_tests::TestDb::new(pinward_tests::Backend::Sqlite).await;
    let store = open(&db).await;
    let path = db.dir().join("pinward.sqlite3");
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let Pool::Sqlite(pool) = &store.pool else {
        panic!("not sqlite")
    };
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(pool)
        .await
        .unwrap();
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!((journal.as_str(), synchronous, foreign_keys), ("wal", 2, 1));
    let wal = db.dir().join("pinward.sqlite3-wal");
    assert_eq!(
        std::fs::metadata(&wal).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[tokio::test]
async fn the_sqlite_build_plans_a_statement_once() {
    // With STAT4 an analyzed database plans every statement anew on each run, for the
    // values bound to it (see .cargo/config.toml).
    let db = pinward_tests::TestDb::new(pinward_tests::Backend::Sqlite).await;
    let store = open(&db).await;
    let Pool::Sqlite(pool) = &store.pool else {
        panic!("not sqlite")
    };
    let stat4: i64 = sqlx::query_scalar("SELECT sqlite_compileoption_used('ENABLE_STAT4')")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(
        stat4, 0,
        "SQLite was built with STAT4: is LIBSQLITE3_FLAGS set?"
    );
}

on_both_databases! {
    async fn a_broken_unique_constraint_is_a_conflict_named_as_in_the_migrations(db) {
        let store = open(&db).await;
        let mut tx = store.begin().await.unwrap();
        exec(&mut tx, ORG).await.unwrap();
        let error = exec(&mut tx, SAME_SLUG).await.unwrap_err();
        assert!(matches!(&error, Error::Conflict { constraint } if constraint == "orgs_slug_uq"), "{error:?}");
    }

    async fn a_broken_check_constraint_is_a_conflict_named_as_in_the_migrations(db) {
        let store = open(&db).await;
        let mut tx = store.begin().await.unwrap();
        exec(&mut tx, ORG).await.unwrap();
        let error = exec(
            &mut tx,
            "INSERT INTO users (id, email, display_name, created_at) VALUES ('u1', 'Ann@Example.com', 'Ann', '2026-01-01T00:00:00Z')",
        )
        .await
        .unwrap_err();
        assert!(matches!(&error, Error::Conflict { constraint } if constraint == "users_email_ck"), "{error:?}");
    }

    async fn a_rolled_back_transaction_leaves_nothing_and_a_committed_one_stays(db) {
        let store = open(&db).await;
        let mut tx = store.begin().await.unwrap();
        exec(&mut tx, ORG).await.unwrap();
        tx.rollback().await.unwrap();
        let count = || async { on_pool!(store, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM orgs").fetch_one(pool).await).unwrap() };
        assert_eq!(count().await, 0);
        let mut tx = store.begin().await.unwrap();
        exec(&mut tx, ORG).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(count().await, 1);
    }

    async fn the_database_refuses_to_edit_or_delete_ledger_events(db) {
        let store = open(&db).await;
        let mut tx = store.begin().await.unwrap();
        exec(&mut tx, ORG).await.unwrap();
        exec(&mut tx, EVENT).await.unwrap();
        tx.commit().await.unwrap();
        for edit in [
            "UPDATE ledger_events SET subject = 'org:o2'",
            "DELETE FROM ledger_events",
        ] {
            let mut tx = store.begin().await.unwrap();
            let error = on_tx!(tx, conn => sqlx::query(sqlx::AssertSqlSafe(edit)).execute(conn).await.map(|r| r.rows_affected())).unwrap_err();
            assert!(error.to_string().contains("append-only"), "{edit}: {error}");
        }
        if store.backend() == Backend::Postgres {
            let mut tx = store.begin().await.unwrap();
            let error = exec(&mut tx, "TRUNCATE ledger_events").await.unwrap_err();
            assert!(error.to_string().contains("append-only"), "{error}");
        }
        let left = on_pool!(store, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM ledger_events").fetch_one(pool).await).unwrap();
        assert_eq!(left, 1);
    }

    async fn readiness_pings_the_database_and_migrating_twice_changes_nothing(db) {
        let store = open(&db).await;
        store.ping().await.unwrap();
        let before = store.applied_migrations().await.unwrap();
        store.migrate().await.unwrap();
        assert_eq!(store.applied_migrations().await.unwrap(), before);
        assert_eq!(before, migration_versions_on_disk());
    }
}

/// The numbers of the migration files, in order (the same in both folders: see the drift test).
fn migration_versions_on_disk() -> Vec<i64> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/sqlite");
    let mut versions: Vec<i64> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            name.split('_').next().unwrap().parse().unwrap()
        })
        .collect();
    versions.sort_unstable();
    versions
}
