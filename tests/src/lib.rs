//! Test harness of pinward: a throwaway PostgreSQL cluster per test run, a fresh database
//! per test on SQLite or PostgreSQL (dropped afterwards), and the `pinward` binary.
//!
//! PostgreSQL: when `PINWARD_TEST_DATABASE_URL` names a server (any database on it that
//! the user may `CREATE DATABASE` from), tests use it. Otherwise the first test that needs
//! PostgreSQL starts a cluster (`initdb` + `pg_ctl` in a temp dir, on a free port) and the
//! other tests of the same run share it: under nextest a run is `NEXTEST_RUN_ID` and the
//! cluster outlives each test process until the nextest process exits; under `cargo test`
//! a run is one test binary. A watchdog stops the cluster and removes its files when the
//! run's process is gone, so nothing is left behind even after a crash.
//!
//! Failures here are test failures, so this crate panics with a message instead of
//! returning errors.
#![expect(
    clippy::panic,
    clippy::expect_used,
    reason = "a test harness reports failure by panicking the test"
)]

mod binary;
pub mod fleet;
mod postgres;
pub mod sessions;

use std::path::{Path, PathBuf};

pub use binary::{
    PinwardProcess, failed_with, pinward_bin, pinward_command, run, run_with_input, succeeded,
};

/// The database engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file in a temp dir.
    Sqlite,
    /// A database of its own on the run's PostgreSQL cluster.
    Postgres,
}

/// A fresh, empty database for one test, dropped when this value is dropped.
pub struct TestDb {
    backend: Backend,
    url: String,
    dir: tempfile::TempDir,
    postgres_name: Option<String>,
}

impl TestDb {
    /// A fresh database of the given engine.
    pub async fn new(backend: Backend) -> TestDb {
        let dir = tempfile::Builder::new()
            .prefix("pinward-test-")
            .tempdir()
            .expect("create a temp dir for the test");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("pinward.sqlite3").display());
                TestDb {
                    backend,
                    url,
                    dir,
                    postgres_name: None,
                }
            }
            Backend::Postgres => {
                let (name, url) = postgres::create_database().await;
                TestDb {
                    backend,
                    url,
                    dir,
                    postgres_name: Some(name),
                }
            }
        }
    }

    /// The engine of this database.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A URL for `PINWARD_DATABASE_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A temp dir private to this test, removed with it (use it as `PINWARD_DATA_DIR`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs raw SQL statements as the database's owner, in order (test set-up and
    /// inspection only: rows the domain would create, or data a test must corrupt).
    pub async fn execute(&self, statements: &[&str]) {
        match self.backend {
            Backend::Sqlite => execute_on::<sqlx::SqliteConnection>(&self.url, statements).await,
            Backend::Postgres => execute_on::<sqlx::PgConnection>(&self.url, statements).await,
        }
    }

    /// A fresh sub-directory of [`TestDb::dir`].
    pub fn subdir(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(&path).expect("create a test sub-directory");
        path
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.postgres_name.take() {
            postgres::drop_database(name);
        }
    }
}

/// Writes one test per backend: `name::sqlite` and `name::postgres`.
///
/// ```ignore
/// pinward_tests::on_both_databases! {
///     async fn migrations_apply(db) {
///         let store = open(&db).await;
///         …
///     }
/// }
/// ```
#[macro_export]
macro_rules! on_both_databases {
    ($($(#[$meta:meta])* async fn $name:ident($db:ident) $body:block)*) => {$(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($db: $crate::TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::TestDb::new($crate::Backend::Sqlite).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run($crate::TestDb::new($crate::Backend::Postgres).await).await
            }
        }
    )*};
}

/// [`TestDb::execute`] on one connection of type `C` to `url`.
async fn execute_on<C>(url: &str, statements: &[&str])
where
    C: sqlx::Connection,
    for<'c> &'c mut C: sqlx::Executor<'c, Database = C::Database>,
{
    let mut conn = C::connect(url).await.expect("connect to the test database");
    for s in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(s.to_string()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
}
