//! Storage on SQLite (embedded default) or PostgreSQL, behind one [`Store`].
//!
//! Every query is written once: the same SQL text runs on whichever pool is configured,
//! through [`on_pool!`] and [`on_tx!`], with the few dialect differences in [`dialect`].
//! Migrations live in `migrations/sqlite` and `migrations/postgres` under the same
//! numbered names and are embedded at build time.

#[cfg(test)]
mod conformance;
pub mod dialect;
mod target;

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub use target::{DatabaseTarget, DatabaseUrl, SQLITE_FILE_NAME};

use crate::Error;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/postgres");

/// How long a statement waits for another connection's lock before it fails.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// A pooled PostgreSQL connection idle this long is checked before use. One returned to the
/// pool was checked then; under load a connection is reused within milliseconds, and a
/// quiet service (a request now and then) still checks nearly every connection it takes.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(5);

/// Which database engine a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// `sqlite` or `postgres`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A connection pool of either backend.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A write transaction of either backend. Dropped without [`Tx::commit`], it rolls back.
#[derive(Debug)]
pub struct Tx {
    pub(crate) inner: TxInner,
}

#[derive(Debug)]
pub(crate) enum TxInner {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Runs `$body` with `$pool` bound to the concrete pool, whichever backend it is.
#[macro_export]
#[doc(hidden)]
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$conn` bound to the transaction's connection, whichever backend.
#[macro_export]
#[doc(hidden)]
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match &mut $tx.inner {
            $crate::store::TxInner::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::store::TxInner::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

/// Runs `$body` with `$conn` bound to a read-only transaction scoped to the org `$org`
/// (see [`Store::read_for`]), then ends the transaction. For one-shot org-scoped reads;
/// the enclosing function must return `Result<_, Error>`.
#[macro_export]
#[doc(hidden)]
macro_rules! on_read {
    ($store:expr, $org:expr, $conn:ident => $body:expr) => {{
        let mut read_tx = $store.read_for($org).await?;
        let result = $crate::on_tx!(read_tx, $conn => $body);
        read_tx.end_read();
        result
    }};
}

/// The database of one pinward deployment.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: Pool,
}

impl Store {
    /// Opens the database; an absent SQLite file is created with mode 0600.
    ///
    /// Does not migrate: call [`Store::migrate`].
    pub async fn connect(target: &DatabaseTarget) -> Result<Self, Error> {
        let pool = match target {
            DatabaseTarget::Sqlite { path } => Pool::Sqlite(open_sqlite(path).await?),
            DatabaseTarget::Postgres { url } => {
                let options = PgConnectOptions::from_str(url.expose())
                    .map_err(|_| Error::DatabaseUrl("not a valid postgres:// URL"))?;
                // sqlx checks every connection on its way back to the pool, and by default
                // again on its way out, which put a round trip in front of every query a
                // request made. Only a connection idle for a while (which the server or the
                // network may have dropped since) is checked on its way out now.
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(LOCK_WAIT)
                    .test_before_acquire(false)
                    .before_acquire(|connection, meta| {
                        Box::pin(async move {
                            if meta.idle_for >= CHECK_IDLE_AFTER {
                                sqlx::Connection::ping(connection).await?;
                            }
                            Ok(true)
                        })
                    });
                match pool.clone().connect_with(options.clone()).await {
                    Ok(pool) => Pool::Postgres(pool),
                    // The pool retries a refused connection (or a server still starting) until
                    // its timeout and then says only "pool timed out"; one more plain
                    // connection, briefly, tells why.
                    Err(sqlx::Error::PoolTimedOut) => {
                        let attempt = tokio::time::timeout(
                            LOCK_WAIT,
                            <sqlx::PgConnection as sqlx::Connection>::connect_with(&options),
                        )
                        .await;
                        match attempt {
                            Ok(Err(reason)) => return Err(reason.into()),
                            Ok(Ok(connection)) => {
                                // It came up just now.
                                sqlx::Connection::close(connection).await?;
                                Pool::Postgres(pool.connect_with(options).await?)
                            }
                            Err(_) => return Err(sqlx::Error::PoolTimedOut.into()),
                        }
                    }
                    Err(other) => return Err(other.into()),
                }
            }
        };
        Ok(Store { pool })
    }

    /// The engine this store runs on.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies every migration not yet applied.
    ///
    /// When every embedded migration is already recorded with the same checksum, nothing
    /// is run at all: a service connecting as an application role without DDL rights
    /// (deploy/postgres-roles.sql) starts on a database its owner migrated.
    pub async fn migrate(&self) -> Result<(), Error> {
        if self.is_migrated().await {
            return Ok(());
        }
        match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Pool::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Whether every embedded migration is applied with a matching checksum (false when
    /// the history table is absent or unreadable: then [`Store::migrate`] runs and reports).
    async fn is_migrated(&self) -> bool {
        let migrator = match &self.pool {
            Pool::Sqlite(_) => &SQLITE_MIGRATIONS,
            Pool::Postgres(_) => &POSTGRES_MIGRATIONS,
        };
        let sql = "SELECT version, checksum FROM _sqlx_migrations WHERE success ORDER BY version";
        let applied: Result<Vec<(i64, Vec<u8>)>, sqlx::Error> =
            on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await);
        let Ok(applied) = applied else {
            return false;
        };
        let embedded: Vec<(i64, &[u8])> = migrator
            .iter()
            .map(|m| (m.version, m.checksum.as_ref()))
            .collect();
        applied.len() == embedded.len()
            && applied
                .iter()
                .zip(&embedded)
                .all(|((version, checksum), (v, c))| version == v && checksum.as_slice() == *c)
    }

    /// Versions of the migrations applied to this database, in order.
    pub async fn applied_migrations(&self) -> Result<Vec<i64>, Error> {
        let sql = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
        let versions = on_pool!(self, pool => sqlx::query_scalar(sql).fetch_all(pool).await)?;
        Ok(versions)
    }

    /// Answers whether the database takes queries now (for `/readyz`).
    pub async fn ping(&self) -> Result<(), Error> {
        let one: i64 = on_pool!(self, pool => sqlx::query_scalar("SELECT CAST(1 AS BIGINT)").fetch_one(pool).await)?;
        debug_assert_eq!(one, 1);
        Ok(())
    }

    /// Starts a write transaction. Every state change and its ledger event commit in one.
    pub async fn begin(&self) -> Result<Tx, Error> {
        self.start(dialect::begin_write(self.backend())).await
    }

    /// A transaction opened by `statement` (a BEGIN of the backend's dialect).
    async fn start(&self, statement: impl sqlx::SqlSafeStr) -> Result<Tx, Error> {
        let inner = match &self.pool {
            Pool::Sqlite(pool) => TxInner::Sqlite(pool.begin_with(statement).await?),
            Pool::Postgres(pool) => TxInner::Postgres(pool.begin_with(statement).await?),
        };
        Ok(Tx { inner })
    }

    /// Starts a write transaction scoped to one org: on PostgreSQL the tenant of row-level
    /// security is set for this transaction only. Every org-scoped write goes through it.
    pub async fn begin_for(&self, org_id: &str) -> Result<Tx, Error> {
        self.begin_scoped(dialect::begin_write(self.backend()), org_id)
            .await
    }

    /// Starts a read-only transaction scoped to one org (see [`Store::begin_for`]). Every
    /// org-scoped read goes through it, so a query that forgot its tenant sees nothing on
    /// PostgreSQL instead of another org's rows.
    pub async fn read_for(&self, org_id: &str) -> Result<Tx, Error> {
        self.begin_scoped(dialect::begin_read(self.backend()), org_id)
            .await
    }

    async fn begin_scoped(&self, begin: &'static str, org_id: &str) -> Result<Tx, Error> {
        if let Some(both) = dialect::begin_with_tenant(self.backend(), begin, org_id) {
            return self.start(sqlx::AssertSqlSafe(both)).await;
        }
        let mut tx = self.start(begin).await?;
        tx.set_tenant(org_id).await?;
        Ok(tx)
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await);
    }
}

impl Tx {
    /// Makes every change of the transaction durable.
    pub async fn commit(self) -> Result<(), Error> {
        match self.inner {
            TxInner::Sqlite(tx) => tx.commit().await?,
            TxInner::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    /// Sets (or moves) the PostgreSQL tenant of this transaction. Only for the few
    /// deliberate cross-org reads, which visit one org after another.
    pub(crate) async fn set_tenant(&mut self, org_id: &str) -> Result<(), Error> {
        if let Some(sql) = dialect::set_tenant(self.backend()) {
            on_tx!(self, conn => sqlx::query(sql).bind(org_id).execute(conn).await.map(drop))?;
        }
        Ok(())
    }

    /// Ends a transaction that only read. It is rolled back when its connection goes back
    /// to the pool: sqlx queues the ROLLBACK on drop and its release check sends it, off
    /// the caller's path, so answering does not wait a round trip for a read to end.
    pub fn end_read(self) {
        drop(self);
    }

    /// Undoes every change of the transaction.
    pub async fn rollback(self) -> Result<(), Error> {
        match self.inner {
            TxInner::Sqlite(tx) => tx.rollback().await?,
            TxInner::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }

    /// The engine this transaction runs on.
    pub fn backend(&self) -> Backend {
        match self.inner {
            TxInner::Sqlite(_) => Backend::Sqlite,
            TxInner::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Opens (creating 0600 if needed) the SQLite file: WAL, `synchronous=FULL`, foreign keys.
async fn open_sqlite(path: &Path) -> Result<SqlitePool, Error> {
    let file_error = |source| Error::DatabaseFile {
        path: path.to_owned(),
        source,
    };
    // Created here rather than by SQLite so the mode is 0600 from the first byte;
    // SQLite gives its -wal and -shm files the same mode.
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(file_error(error)),
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .journal_mode(SqliteJournalMode::Wal)
        // A committed PIN version must survive power loss before it is sent to Meta.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(LOCK_WAIT);
    // A connection to a local file does not go away while idle: no check on the way out
    // of the pool (sqlx's default), which would cost every query a trip to its thread.
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(LOCK_WAIT)
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    Ok(pool)
}
