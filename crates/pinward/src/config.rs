//! Typed configuration, parsed once at start from flags and `PINWARD_…` variables.
//!
//! A wrong value is a [`ConfigError`] that names the variable and its flag in one line.
//! Secrets (passwords in URLs, the OIDC client secret) are wrapped so `Debug` of the
//! whole [`Config`] shows none of them.

use std::fmt;
use std::fs::DirBuilder;
use std::net::SocketAddr;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use governance::DatabaseTarget;
use secrecy::SecretString;
use url::Url;

use crate::cli::Settings;

/// Where and how pinward runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database: DatabaseTarget,
    pub listen: SocketAddr,
    pub public_url: Option<Url>,
    pub identity_file: PathBuf,
    pub checkpoint_key_file: PathBuf,
    pub graph_base_url: Url,
    pub graph_version: graph::ApiVersion,
    /// The admin login of On-Premises API deployments (its password is redacted in `Debug`).
    pub on_prem: Option<governance::custody::OnPremLogin>,
    pub oidc: Option<OidcConfig>,
    pub smtp: Option<SmtpConfig>,
    pub webhook_url: Option<SecretUrl>,
    pub log_format: LogFormat,
    pub log_filter: String,
}

/// Single sign-on through an OpenID Connect provider.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub issuer: Url,
    pub client_id: String,
    #[expect(
        dead_code,
        reason = "read by single sign-on, which the dashboard issue brings"
    )]
    pub client_secret: Redacted,
}

/// Where notification emails go out.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub url: SecretUrl,
    pub from: String,
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// For people at a terminal.
    Pretty,
    /// One JSON object a line, for log collectors.
    Json,
}

/// A secret string; `Debug` shows `[redacted]` and there is no `Display`.
#[derive(Clone)]
pub struct Redacted(
    #[expect(
        dead_code,
        reason = "read by single sign-on, which the dashboard issue brings"
    )]
    pub SecretString,
);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A URL that may carry credentials in any part; `Debug` shows only scheme, host and port.
#[derive(Clone)]
pub struct SecretUrl(pub Url);

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let port = self.0.port().map(|p| format!(":{p}")).unwrap_or_default();
        write!(
            f,
            "{}://{}{port}/[redacted]",
            self.0.scheme(),
            self.0.host_str().unwrap_or("")
        )
    }
}

/// A setting with a wrong value. `Display` is one line naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("{var} (--{flag}): {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub flag: &'static str,
    pub reason: String,
}

fn invalid(var: &'static str, flag: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        flag,
        reason: reason.into(),
    }
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_GRAPH_BASE_URL: &str = graph::DEFAULT_BASE_URL;
pub const DEFAULT_GRAPH_VERSION: &str = "v26.0";
pub const IDENTITY_FILE_NAME: &str = "identity.txt";
pub const CHECKPOINT_KEY_FILE_NAME: &str = "checkpoint.key";

impl Config {
    /// Parses every setting; the first wrong one is the error.
    pub fn parse(settings: &Settings) -> Result<Config, ConfigError> {
        let data_dir = match &settings.data_dir {
            Some(dir) if dir.is_empty() => {
                return Err(invalid("PINWARD_DATA_DIR", "data-dir", "must not be empty"));
            }
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from("pinward-data"),
        };
        let database = match non_empty(&settings.database_url) {
            Some(raw) => DatabaseTarget::parse(raw)
                .map_err(|e| invalid("PINWARD_DATABASE_URL", "database-url", e.to_string()))?,
            None => DatabaseTarget::sqlite_in(&data_dir),
        };
        let listen_raw = non_empty(&settings.listen).unwrap_or(DEFAULT_LISTEN);
        let listen = listen_raw.parse::<SocketAddr>().map_err(|_| {
            invalid(
                "PINWARD_LISTEN",
                "listen",
                format!("{listen_raw:?} is not an IP address and port, like {DEFAULT_LISTEN} or [::1]:8080"),
            )
        })?;
        let public_url = non_empty(&settings.public_url)
            .map(|raw| http_url(raw, "PINWARD_PUBLIC_URL", "public-url"))
            .transpose()?;
        let identity_file = match &settings.identity_file {
            Some(path) if path.is_empty() => {
                return Err(invalid(
                    "PINWARD_IDENTITY_FILE",
                    "identity-file",
                    "must not be empty",
                ));
            }
            Some(path) => PathBuf::from(path),
            None => data_dir.join(IDENTITY_FILE_NAME),
        };
        let checkpoint_key_file = match &settings.checkpoint_key_file {
            Some(path) if path.is_empty() => {
                return Err(invalid(
                    "PINWARD_CHECKPOINT_KEY_FILE",
                    "checkpoint-key-file",
                    "must not be empty",
                ));
            }
            Some(path) => PathBuf::from(path),
            None => data_dir.join(CHECKPOINT_KEY_FILE_NAME),
        };
        let graph_base_url = http_url(
            non_empty(&settings.graph_base_url).unwrap_or(DEFAULT_GRAPH_BASE_URL),
            "PINWARD_GRAPH_BASE_URL",
            "graph-base-url",
        )?;
        let graph_version =
            graph_version(non_empty(&settings.graph_version).unwrap_or(DEFAULT_GRAPH_VERSION))?;
        let on_prem = on_prem(settings)?;
        let oidc = oidc(settings)?;
        let smtp = smtp(settings)?;
        let webhook_url = non_empty(&settings.webhook_url)
            .map(|raw| http_url(raw, "PINWARD_WEBHOOK_URL", "webhook-url").map(SecretUrl))
            .transpose()?;
        let log_format = match non_empty(&settings.log_format).unwrap_or("pretty") {
            "pretty" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            other => {
                return Err(invalid(
                    "PINWARD_LOG_FORMAT",
                    "log-format",
                    format!("{other:?} is not a log format: use pretty or json"),
                ));
            }
        };
        let log_filter = non_empty(&settings.log).unwrap_or("info").to_owned();
        tracing_subscriber::EnvFilter::try_new(&log_filter)
            .map_err(|e| invalid("PINWARD_LOG", "log", format!("not a log filter: {e}")))?;
        Ok(Config {
            data_dir,
            database,
            listen,
            public_url,
            identity_file,
            checkpoint_key_file,
            graph_base_url,
            graph_version,
            on_prem,
            oidc,
            smtp,
            webhook_url,
            log_format,
            log_filter,
        })
    }

    /// The effective settings in one line for the start-up log, without any secret.
    pub fn summary(&self) -> String {
        let host = |url: &Url| url.host_str().unwrap_or_default().to_owned();
        let database = match &self.database {
            DatabaseTarget::Sqlite { path } => format!("sqlite:{}", path.display()),
            DatabaseTarget::Postgres { url } => url.redacted(),
        };
        format!(
            "data_dir={} database={database} identity={} public_url={} graph={}{} oidc={} smtp={} webhook={}",
            self.data_dir.display(),
            self.identity_file.display(),
            self.public_url
                .as_ref()
                .map_or("-".to_owned(), Url::to_string),
            self.graph_base_url,
            self.graph_version,
            self.oidc.as_ref().map_or("off".to_owned(), |o| format!(
                "{}@{}",
                o.client_id,
                host(&o.issuer)
            )),
            self.smtp.as_ref().map_or("off".to_owned(), |s| format!(
                "{} via {}",
                s.from,
                host(&s.url.0)
            )),
            self.webhook_url
                .as_ref()
                .map_or("off".to_owned(), |w| host(&w.0)),
        )
    }

    /// A sentence for each setting given that this version checks but does not act on yet,
    /// so an operator who set one is not left believing it works.
    pub fn not_yet_used(&self) -> Vec<&'static str> {
        let mut unused = Vec::new();
        if self.oidc.is_some() {
            unused.push(
                "PINWARD_OIDC_* are set, but single sign-on is not built yet: people sign in \
                 with their pinward password",
            );
        }
        if self.smtp.is_some() || self.webhook_url.is_some() {
            unused.push(
                "PINWARD_SMTP_URL / PINWARD_WEBHOOK_URL are set, but notifications are not \
                 built yet: nothing is sent",
            );
        }
        unused
    }

    /// Creates the data dir (mode 0700) if absent and proves pinward can read and write it.
    pub fn prepare_data_dir(&self) -> Result<(), ConfigError> {
        prepare_dir(&self.data_dir).map_err(|reason| {
            invalid(
                "PINWARD_DATA_DIR",
                "data-dir",
                format!("{}: {reason}", self.data_dir.display()),
            )
        })
    }
}

impl Config {
    /// Refuses when the database is an SQLite file that does not exist yet. Commands that
    /// work on an org's data call it first, so a mistyped data dir is named as such instead
    /// of getting an empty database (and fresh keys) created in it.
    pub fn require_database(&self) -> Result<(), ConfigError> {
        let DatabaseTarget::Sqlite { path } = &self.database else {
            return Ok(());
        };
        if path.exists() {
            return Ok(());
        }
        let reason = |place: &Path| {
            format!(
                "{}: no pinward database there; `pinward migrate` creates one",
                place.display()
            )
        };
        if *path == self.data_dir.join(governance::store::SQLITE_FILE_NAME) {
            Err(invalid(
                "PINWARD_DATA_DIR",
                "data-dir",
                reason(&self.data_dir),
            ))
        } else {
            Err(invalid(
                "PINWARD_DATABASE_URL",
                "database-url",
                reason(path),
            ))
        }
    }
}

fn prepare_dir(dir: &Path) -> Result<(), String> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create it: {e}"))?;
    std::fs::read_dir(dir).map_err(|e| format!("cannot read it: {e}"))?;
    let probe = dir.join(format!(".pinward-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| format!("cannot write in it: {e}"))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn http_url(raw: &str, var: &'static str, flag: &'static str) -> Result<Url, ConfigError> {
    // Not echoed: webhook and SMTP URLs may hold credentials.
    let url = Url::parse(raw).map_err(|e| invalid(var, flag, format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(
            var,
            flag,
            "must be an http:// or https:// URL with a host",
        ));
    }
    Ok(url)
}

fn graph_version(raw: &str) -> Result<graph::ApiVersion, ConfigError> {
    raw.parse::<graph::ApiVersion>().map_err(|_| {
        invalid(
            "PINWARD_GRAPH_VERSION",
            "graph-version",
            format!("{raw:?} is not a Graph API version like {DEFAULT_GRAPH_VERSION}"),
        )
    })
}

fn oidc(settings: &Settings) -> Result<Option<OidcConfig>, ConfigError> {
    let issuer = non_empty(&settings.oidc_issuer);
    let client_id = non_empty(&settings.oidc_client_id);
    let secret = non_empty(&settings.oidc_client_secret);
    match (issuer, client_id, secret) {
        (None, None, None) => Ok(None),
        (Some(issuer), Some(client_id), Some(secret)) => Ok(Some(OidcConfig {
            issuer: http_url(issuer, "PINWARD_OIDC_ISSUER", "oidc-issuer")?,
            client_id: client_id.to_owned(),
            client_secret: Redacted(SecretString::from(secret.to_owned())),
        })),
        (None, _, _) => Err(invalid(
            "PINWARD_OIDC_ISSUER",
            "oidc-issuer",
            "is required when any OIDC setting is given",
        )),
        (_, None, _) => Err(invalid(
            "PINWARD_OIDC_CLIENT_ID",
            "oidc-client-id",
            "is required with PINWARD_OIDC_ISSUER",
        )),
        (_, _, None) => Err(invalid(
            "PINWARD_OIDC_CLIENT_SECRET",
            "oidc-client-secret",
            "is required with PINWARD_OIDC_ISSUER",
        )),
    }
}

fn smtp(settings: &Settings) -> Result<Option<SmtpConfig>, ConfigError> {
    let Some(raw) = non_empty(&settings.smtp_url) else {
        return match non_empty(&settings.smtp_from) {
            None => Ok(None),
            Some(_) => Err(invalid(
                "PINWARD_SMTP_URL",
                "smtp-url",
                "is required with PINWARD_SMTP_FROM",
            )),
        };
    };
    let url = Url::parse(raw)
        .map_err(|e| invalid("PINWARD_SMTP_URL", "smtp-url", format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "smtp" | "smtps" | "smtp+starttls") || url.host_str().is_none() {
        return Err(invalid(
            "PINWARD_SMTP_URL",
            "smtp-url",
            "must be smtp://, smtps:// or smtp+starttls:// with a host",
        ));
    }
    let from = non_empty(&settings.smtp_from).ok_or_else(|| {
        invalid(
            "PINWARD_SMTP_FROM",
            "smtp-from",
            "is required with PINWARD_SMTP_URL",
        )
    })?;
    let valid_address = from.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !from.contains(char::is_whitespace)
    });
    if !valid_address {
        return Err(invalid(
            "PINWARD_SMTP_FROM",
            "smtp-from",
            format!("{from:?} is not an email address"),
        ));
    }
    Ok(Some(SmtpConfig {
        url: SecretUrl(url),
        from: from.to_owned(),
    }))
}

/// The On-Premises admin login: both settings or neither.
fn on_prem(settings: &Settings) -> Result<Option<governance::custody::OnPremLogin>, ConfigError> {
    match (
        non_empty(&settings.onprem_username),
        non_empty(&settings.onprem_password),
    ) {
        (None, None) => Ok(None),
        (Some(username), Some(password)) => Ok(Some(governance::custody::OnPremLogin {
            username: username.to_owned(),
            password: graph::AdminPassword::from(password),
        })),
        (Some(_), None) => Err(invalid(
            "PINWARD_ONPREM_PASSWORD",
            "onprem-password",
            "is required with PINWARD_ONPREM_USERNAME",
        )),
        (None, Some(_)) => Err(invalid(
            "PINWARD_ONPREM_USERNAME",
            "onprem-username",
            "is required with PINWARD_ONPREM_PASSWORD",
        )),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec!["pinward"];
        argv.extend_from_slice(args);
        argv.push("migrate");
        let cli = Cli::try_parse_from(argv).unwrap();
        Config::parse(&cli.settings)
    }

    #[test]
    fn no_settings_give_the_documented_defaults() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.data_dir, PathBuf::from("pinward-data"));
        assert_eq!(
            config.identity_file,
            PathBuf::from("pinward-data/identity.txt")
        );
        assert_eq!(
            config.checkpoint_key_file,
            PathBuf::from("pinward-data/checkpoint.key")
        );
        assert_eq!(
            config.graph_base_url.as_str(),
            "https://graph.facebook.com/"
        );
        assert_eq!(config.graph_version.to_string(), "v26.0");
        assert_eq!(config.log_format, LogFormat::Pretty);
        assert!(
            matches!(config.database, DatabaseTarget::Sqlite { ref path } if path == Path::new("pinward-data/pinward.sqlite3"))
        );
    }

    #[test]
    fn each_wrong_value_names_its_variable() {
        let cases: &[(&[&str], &str)] = &[
            (&["--listen", "nonsense"], "PINWARD_LISTEN"),
            (&["--listen", "localhost"], "PINWARD_LISTEN"),
            (&["--log-format", "xml"], "PINWARD_LOG_FORMAT"),
            (&["--database-url", "mysql://x"], "PINWARD_DATABASE_URL"),
            (&["--database-url", "postgres://"], "PINWARD_DATABASE_URL"),
            (&["--public-url", "ftp://x"], "PINWARD_PUBLIC_URL"),
            (&["--graph-base-url", "graph"], "PINWARD_GRAPH_BASE_URL"),
            (&["--graph-version", "26"], "PINWARD_GRAPH_VERSION"),
            (&["--oidc-client-id", "x"], "PINWARD_OIDC_ISSUER"),
            (&["--onprem-username", "admin"], "PINWARD_ONPREM_PASSWORD"),
            (&["--onprem-password", "x"], "PINWARD_ONPREM_USERNAME"),
            (
                &["--smtp-url", "smtp://mail.example.com"],
                "PINWARD_SMTP_FROM",
            ),
            (
                &["--smtp-url", "http://x", "--smtp-from", "a@b.c"],
                "PINWARD_SMTP_URL",
            ),
            (&["--webhook-url", "nope"], "PINWARD_WEBHOOK_URL"),
            (&["--log", "a=b=c"], "PINWARD_LOG"),
            (&["--data-dir", ""], "PINWARD_DATA_DIR"),
            (&["--identity-file", ""], "PINWARD_IDENTITY_FILE"),
            (
                &["--checkpoint-key-file", ""],
                "PINWARD_CHECKPOINT_KEY_FILE",
            ),
        ];
        for (args, var) in cases {
            let error = parse(args).unwrap_err();
            assert_eq!(error.var, *var, "{args:?}");
            let line = error.to_string();
            assert!(line.starts_with(var), "{line}");
            assert!(!line.contains('\n'), "{line}");
        }
    }

    #[test]
    fn debug_of_the_config_shows_no_secret() {
        let config = parse(&[
            "--database-url",
            "postgres://app:pg-s3cret@db:5432/pinward",
            "--oidc-issuer",
            "https://login.example.com",
            "--oidc-client-id",
            "pinward",
            "--oidc-client-secret",
            "oidc-s3cret",
            "--smtp-url",
            "smtps://mailer:smtp-s3cret@mail.example.com:465",
            "--smtp-from",
            "pinward@example.com",
            "--webhook-url",
            "https://hooks.example.com/services/hook-s3cret",
            "--onprem-username",
            "admin",
            "--onprem-password",
            "onprem-s3cret",
        ])
        .unwrap();
        let shown = format!("{config:?} {config:#?} {}", config.summary());
        for secret in [
            "pg-s3cret",
            "oidc-s3cret",
            "smtp-s3cret",
            "hook-s3cret",
            "onprem-s3cret",
        ] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        assert!(shown.contains("mail.example.com"), "{shown}");
    }

    #[test]
    fn an_unwritable_data_dir_is_reported_by_its_variable() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"").unwrap();
        let config = parse(&["--data-dir", file.to_str().unwrap()]).unwrap();
        let error = config.prepare_data_dir().unwrap_err();
        assert_eq!(error.var, "PINWARD_DATA_DIR");
    }

    #[test]
    fn a_missing_data_dir_is_created_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("nested/data");
        let config = parse(&["--data-dir", data.to_str().unwrap()]).unwrap();
        config.prepare_data_dir().unwrap();
        let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}
