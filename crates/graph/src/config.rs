//! Where and how the client talks to Meta: base URL, API version, timeouts, retry policy.
//!
//! The binary parses `PINWARD_GRAPH_BASE_URL` into [`GraphConfig::base_url`] and
//! `PINWARD_GRAPH_VERSION` into [`ApiVersion`] (its `FromStr`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

use crate::error::Error;
use crate::secret::AppSecret;

/// Meta's Graph API host.
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";

/// A Graph API version, `vNN.0` (Meta's versions always end in `.0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    major: u16,
}

impl ApiVersion {
    /// The newest documented version, `v26.0` (GRAPH_API.md §1).
    pub const NEWEST: ApiVersion = ApiVersion { major: 26 };

    /// `vMAJOR.0`.
    pub const fn new(major: u16) -> Self {
        ApiVersion { major }
    }

    /// The major number (26 for `v26.0`).
    pub const fn major(self) -> u16 {
        self.major
    }
}

impl Default for ApiVersion {
    fn default() -> Self {
        ApiVersion::NEWEST
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.0", self.major)
    }
}

/// Why a string is not an [`ApiVersion`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a Graph API version looks like v26.0")]
pub struct ApiVersionParseError;

impl FromStr for ApiVersion {
    type Err = ApiVersionParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s
            .strip_prefix('v')
            .and_then(|rest| rest.strip_suffix(".0"))
            .ok_or(ApiVersionParseError)?;
        if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiVersionParseError);
        }
        let major: u16 = digits.parse().map_err(|_| ApiVersionParseError)?;
        if major == 0 || (digits.len() > 1 && digits.starts_with('0')) {
            return Err(ApiVersionParseError);
        }
        Ok(ApiVersion { major })
    }
}

/// How failed calls are retried.
///
/// Reads are retried on transient failures with capped exponential backoff and equal jitter
/// (`d/2 + uniform(0, d/2)` where `d = min(max_delay, base_delay · 2^(n-1))`). Writes are only
/// retried when the connection could not be made (nothing was sent); anything else that leaves
/// the outcome open becomes [`Error::UnknownOutcome`]. Rate limits are never slept on here:
/// they are returned as [`Error::RateLimited`] for the caller to schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, including the first (at least 1).
    pub max_attempts: u32,
    /// Delay before the first retry, before jitter.
    pub base_delay: Duration,
    /// Cap of the exponential delay.
    pub max_delay: Duration,
    /// Wait reported when a rate limit names none (no `Retry-After`, no usage header).
    pub rate_limit_fallback: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
            rate_limit_fallback: Duration::from_secs(60),
        }
    }
}

/// Client configuration.
#[derive(Debug, Clone)]
pub struct GraphConfig {
    /// Scheme, host and optional path prefix, e.g. `https://graph.facebook.com`.
    pub base_url: Url,
    /// Version put in every path.
    pub version: ApiVersion,
    /// Whole-call timeout (connect, send, answer, body) of each attempt.
    pub timeout: Duration,
    /// Connect timeout of each attempt.
    pub connect_timeout: Duration,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// App secret: when set, every call carries `appsecret_proof` (required when the app has
    /// "Require App Secret" on). Also the `client_secret` of the Embedded Signup exchange.
    pub app_secret: Option<AppSecret>,
    /// Plain `http://` is refused unless the host is loopback or this is set (the sandbox in
    /// another container, say). Tokens travel in headers, so plain HTTP exposes them.
    pub allow_insecure_http: bool,
}

impl GraphConfig {
    /// Defaults (version `v26.0`, 30 s timeout, default retry policy) for `base_url`.
    pub fn new(base_url: Url) -> Self {
        GraphConfig {
            base_url,
            version: ApiVersion::default(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            app_secret: None,
            allow_insecure_http: false,
        }
    }

    /// Defaults for Meta's own host, [`DEFAULT_BASE_URL`].
    pub fn meta() -> Self {
        GraphConfig::new(default_base_url())
    }

    /// Checks what [`crate::GraphClient::new`] needs: an `https` base (or `http` to loopback /
    /// when allowed) that can carry path segments, without query, fragment or credentials.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        validate_base_url(&self.base_url, self.allow_insecure_http)?;
        if self.retry.max_attempts == 0 {
            return Err(Error::Config(
                "retry.max_attempts must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

impl Default for GraphConfig {
    fn default() -> Self {
        GraphConfig::meta()
    }
}

/// [`DEFAULT_BASE_URL`] as a [`Url`].
pub fn default_base_url() -> Url {
    #[expect(clippy::expect_used, reason = "a constant, parsed in a unit test")]
    Url::parse(DEFAULT_BASE_URL).expect("DEFAULT_BASE_URL parses")
}

pub(crate) fn validate_base_url(url: &Url, allow_insecure_http: bool) -> Result<(), Error> {
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure_http || is_loopback(url) => {}
        "http" => {
            return Err(Error::Config(
                "base URL must be https (plain http only to a loopback host)".into(),
            ));
        }
        _ => return Err(Error::Config("base URL must be http(s)".into())),
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(Error::Config("base URL needs a host".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(
            "base URL must not have a query or fragment".into(),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config("base URL must not carry credentials".into()));
    }
    Ok(())
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_default_version_is_v26() {
        assert_eq!(ApiVersion::default().to_string(), "v26.0");
    }

    #[test]
    fn the_default_base_url_is_meta() {
        assert_eq!(default_base_url().as_str(), "https://graph.facebook.com/");
    }

    #[test]
    fn versions_that_are_not_vnn_dot_zero_are_refused() {
        for bad in [
            "26.0", "v26", "v26.1", "v.0", "vx.0", "v026.0", "v0.0", "V26.0", " v26.0", "v1234.0",
        ] {
            assert!(bad.parse::<ApiVersion>().is_err(), "{bad}");
        }
        assert_eq!("v9.0".parse::<ApiVersion>().unwrap(), ApiVersion::new(9));
    }

    #[test]
    fn plain_http_is_refused_unless_loopback() {
        let remote = Url::parse("http://graph.example.com").unwrap();
        assert!(validate_base_url(&remote, false).is_err());
        assert!(validate_base_url(&remote, true).is_ok());
        let local = Url::parse("http://127.0.0.1:9/prefix/").unwrap();
        assert!(validate_base_url(&local, false).is_ok());
        let query = Url::parse("https://graph.example.com/?access_token=x").unwrap();
        assert!(validate_base_url(&query, false).is_err());
    }

    proptest! {
        #[test]
        fn a_version_survives_display_and_parse(major in 1u16..=999) {
            let v = ApiVersion::new(major);
            prop_assert_eq!(v.to_string().parse::<ApiVersion>().unwrap(), v);
        }
    }
}
