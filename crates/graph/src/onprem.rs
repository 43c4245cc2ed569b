//! The On-Premises API connector (DESIGN.md "Meta connectors"): older self-hosted WhatsApp
//! Business API clients, one per number, each with its own base URL.
//!
//! - `POST /v1/users/login` with basic auth → `{"users":[{"token","expires_after"}]}`
//! - `POST /v1/settings/account/two-step` `{"pin"}` sets the PIN
//! - `DELETE /v1/settings/account/two-step` disables 2SV
//!
//! Assumptions (the API is sunset and not in GRAPH_API.md): errors come as
//! `{"errors":[{"code","title","details"}]}`; codes are classified as in
//! `classify::onprem_code` (1005 access denied → AUTH, 1015 too many requests → WAIT,
//! 1011/1014/1016 → RETRY, other 10xx → REJECT), and by HTTP status when the body is not that
//! envelope; `expires_after` is `YYYY-MM-DD HH:MM:SS+00:00` (RFC 3339 is accepted too). The
//! same retry rules as the Graph client apply: the PIN writes are never repeated once they may
//! have arrived.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::Method;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::{RetryPolicy, validate_base_url};
use crate::error::Error;
use crate::retry::{Sleeper, TokioSleeper};
use crate::secret::{AccessToken, AdminPassword, PinSecret};
use crate::transport::{Auth, Call, Dialect, JSON, Transport, http_client, secret_body};

/// Where one On-Premises deployment listens.
#[derive(Debug, Clone)]
pub struct OnPremConfig {
    /// e.g. `https://wa-client.example.com:9090/`.
    pub base_url: Url,
    /// Whole-call timeout of each attempt.
    pub timeout: Duration,
    /// Connect timeout of each attempt.
    pub connect_timeout: Duration,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Allow plain `http://` to a non-loopback host.
    pub allow_insecure_http: bool,
}

impl OnPremConfig {
    /// Defaults (30 s timeout, default retries) for `base_url`.
    pub fn new(base_url: Url) -> Self {
        OnPremConfig {
            base_url,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            allow_insecure_http: false,
        }
    }
}

/// A bearer token from an admin login.
#[derive(Debug, Clone)]
pub struct OnPremSession {
    /// The token.
    pub token: AccessToken,
    /// When it stops working, if the answer said so in a readable form.
    pub expires_after: Option<DateTime<Utc>>,
}

/// The login answer's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginResponse {
    /// One entry per login.
    pub users: Vec<LoginUser>,
}

/// One `users` entry. `Debug` shows no token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginUser {
    /// Bearer token.
    pub token: String,
    /// Expiry text.
    #[serde(default)]
    pub expires_after: Option<String>,
}

impl std::fmt::Debug for LoginUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginUser")
            .field("token", &"[redacted]")
            .field("expires_after", &self.expires_after)
            .finish()
    }
}

/// A client of one On-Premises deployment.
#[derive(Clone)]
pub struct OnPremClient {
    inner: Arc<(OnPremConfig, Transport)>,
}

impl std::fmt::Debug for OnPremClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnPremClient")
            .field("config", &self.inner.0)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct PinBody<'a> {
    pin: &'a str,
}

impl OnPremClient {
    /// A client that sleeps on the tokio timer between retries.
    pub fn new(config: OnPremConfig) -> Result<Self, Error> {
        OnPremClient::with_sleeper(config, Arc::new(TokioSleeper))
    }

    /// A client with an injected sleeper.
    pub fn with_sleeper(config: OnPremConfig, sleeper: Arc<dyn Sleeper>) -> Result<Self, Error> {
        validate_base_url(&config.base_url, config.allow_insecure_http)?;
        if config.retry.max_attempts == 0 {
            return Err(Error::Config(
                "retry.max_attempts must be at least 1".into(),
            ));
        }
        let http = http_client(config.connect_timeout)?;
        let transport = Transport::new(
            http,
            config.timeout,
            config.retry.clone(),
            sleeper,
            Dialect::OnPrem,
        );
        Ok(OnPremClient {
            inner: Arc::new((config, transport)),
        })
    }

    fn url(&self, segments: &[&str]) -> Result<Url, Error> {
        let mut url = self.inner.0.base_url.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| Error::Config("base URL cannot carry a path".into()))?;
            path.pop_if_empty();
            path.extend(segments);
        }
        Ok(url)
    }

    /// `POST /v1/users/login` with basic auth: a bearer token for the admin API.
    pub async fn login(
        &self,
        username: &str,
        password: &AdminPassword,
    ) -> Result<OnPremSession, Error> {
        let url = self.url(&["v1", "users", "login"])?;
        let answer = self
            .inner
            .1
            .execute(Call {
                route: "onprem_login",
                method: Method::POST,
                url,
                body: None,
                // A login creates a token and changes nothing else: safe to repeat.
                write: false,
                auth: Auth::Basic {
                    user: username,
                    password,
                },
                secrets: vec![password.expose()],
            })
            .await?;
        let login: LoginResponse = answer.json("onprem_login")?;
        let user = login.users.into_iter().next().ok_or(Error::Decode {
            route: "onprem_login",
            detail: "no users entry".into(),
        })?;
        Ok(OnPremSession {
            expires_after: user.expires_after.as_deref().and_then(parse_expiry),
            token: AccessToken::from(user.token),
        })
    }

    /// `POST /v1/settings/account/two-step` `{"pin"}`: sets or changes the PIN.
    pub async fn set_pin(&self, token: &AccessToken, pin: &PinSecret) -> Result<(), Error> {
        let body = secret_body(|buf| {
            serde_json::to_writer(buf, &PinBody { pin: pin.expose() })
                .map_err(|_| Error::InvalidInput("body not serialisable"))
        })?;
        self.two_step(
            token,
            Method::POST,
            Some(body),
            "onprem_set_pin",
            pin.expose(),
        )
        .await
    }

    /// `DELETE /v1/settings/account/two-step`: disables 2SV.
    pub async fn disable_two_step(&self, token: &AccessToken) -> Result<(), Error> {
        self.two_step(token, Method::DELETE, None, "onprem_disable_pin", "")
            .await
    }

    async fn two_step(
        &self,
        token: &AccessToken,
        method: Method,
        body: Option<bytes::Bytes>,
        route: &'static str,
        pin: &str,
    ) -> Result<(), Error> {
        let url = self.url(&["v1", "settings", "account", "two-step"])?;
        self.inner
            .1
            .execute(Call {
                route,
                method,
                url,
                body: body.map(|b| (b, JSON)),
                write: true,
                auth: Auth::Bearer(token),
                secrets: vec![token.expose(), pin],
            })
            .await
            .map(|_| ())
    }
}

fn parse_expiry(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%:z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_onprem_expiry_format_parses() {
        let t = parse_expiry("2018-03-01 15:29:26+00:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2018-03-01T15:29:26+00:00");
        assert!(parse_expiry("soon").is_none());
    }
}
