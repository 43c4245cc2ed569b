//! Where the database is: a SQLite file (the embedded default) or a PostgreSQL server.
//!
//! The URL of a server may hold a password, so it lives in [`DatabaseUrl`], whose `Debug`
//! masks the password and which has no `Display`.

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::Error;

/// The file name of the embedded database inside the data dir.
pub const SQLITE_FILE_NAME: &str = "pinward.sqlite3";

/// A database pinward can open.
#[derive(Debug, Clone)]
pub enum DatabaseTarget {
    /// An SQLite file, created with mode 0600 if absent.
    Sqlite {
        /// Path of the database file.
        path: PathBuf,
    },
    /// A PostgreSQL server.
    Postgres {
        /// `postgres://…` URL, possibly with a password.
        url: DatabaseUrl,
    },
}

impl DatabaseTarget {
    /// The embedded default: `pinward.sqlite3` in the data dir.
    pub fn sqlite_in(data_dir: &Path) -> Self {
        DatabaseTarget::Sqlite {
            path: data_dir.join(SQLITE_FILE_NAME),
        }
    }

    /// Parses `postgres://…`, `postgresql://…`, `sqlite://PATH` or `sqlite:PATH`.
    ///
    /// The error never repeats the URL, which may hold a password.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let raw = raw.trim();
        if let Some(path) = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(Error::DatabaseUrl("a sqlite URL needs a file path"));
            }
            return Ok(DatabaseTarget::Sqlite { path: path.into() });
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            let parsed = url::Url::parse(raw)
                .map_err(|_| Error::DatabaseUrl("not a valid postgres:// URL"))?;
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(Error::DatabaseUrl("a postgres:// URL needs a host"));
            }
            if parsed.path().trim_start_matches('/').is_empty() {
                return Err(Error::DatabaseUrl(
                    "a postgres:// URL needs a database name",
                ));
            }
            raw.parse::<sqlx::postgres::PgConnectOptions>()
                .map_err(|_| Error::DatabaseUrl("not a valid postgres:// URL"))?;
            return Ok(DatabaseTarget::Postgres {
                url: DatabaseUrl(SecretString::from(raw.to_owned())),
            });
        }
        Err(Error::DatabaseUrl(
            "expected postgres://USER@HOST/DB or sqlite://PATH",
        ))
    }
}

/// A PostgreSQL URL. `Debug` shows it with the password masked; there is no `Display`.
#[derive(Clone)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    /// The URL with its password replaced by `***`, fit for logs and messages.
    pub fn redacted(&self) -> String {
        match url::Url::parse(self.0.expose_secret()) {
            Ok(mut url) => {
                if url.password().is_some() {
                    // Setting a password only fails for URLs that cannot have one.
                    let _ = url.set_password(Some("***"));
                }
                // Query parameters may carry `password=` or `sslpassword=`.
                if url.query().is_some() {
                    url.set_query(Some("***"));
                }
                url.to_string()
            }
            Err(_) => "<unparsable URL>".to_owned(),
        }
    }

    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&self.redacted())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_postgres_target_masks_the_password() {
        let target =
            DatabaseTarget::parse("postgres://app:hunter2@db.internal:5432/pinward").unwrap();
        let shown = format!("{target:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
        assert!(shown.contains("db.internal"), "{shown}");
        let in_query =
            DatabaseTarget::parse("postgres://db.internal/pinward?password=hunter2").unwrap();
        assert!(!format!("{in_query:?}").contains("hunter2"));
    }

    #[test]
    fn sqlite_urls_name_a_file() {
        for raw in [
            "sqlite://data/p.db",
            "sqlite:data/p.db",
            "sqlite://data/p.db?mode=rwc",
        ] {
            match DatabaseTarget::parse(raw).unwrap() {
                DatabaseTarget::Sqlite { path } => assert_eq!(path, PathBuf::from("data/p.db")),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn malformed_urls_are_refused_without_echoing_them() {
        for raw in [
            "",
            "mysql://root:hunter2@localhost/x",
            "postgres://",
            "postgres://hunter2@/",
            "postgres://u:hunter2@host",
            "sqlite://",
            "not a url",
        ] {
            let error = DatabaseTarget::parse(raw).unwrap_err();
            assert!(matches!(error, Error::DatabaseUrl(_)), "{raw}: {error:?}");
            assert!(!error.to_string().contains("hunter2"), "{error}");
        }
    }
}
