//! One HTTP call with retries, shared by the Graph and On-Premises clients: send, read the
//! whole answer, classify a failure, back off and repeat when that is safe.
//!
//! What is safe to repeat: a read, always; a write, only when the connection could not be made
//! (nothing left this process). Any other failure of a write may have been applied by Meta and
//! ends as [`Error::UnknownOutcome`]. Rate limits are returned, not slept on.
//!
//! Nothing here logs or stores a URL (a `debug_token` query holds a token), a header, or a
//! body: only the route name, the path, the status, Meta's code and `fbtrace_id`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method};
use serde::de::DeserializeOwned;
use tracing::Instrument;
use url::Url;
use zeroize::Zeroizing;

use crate::classify::{self, Usage, Verdict};
use crate::config::RetryPolicy;
use crate::error::{Error, Failure, MetaError};
use crate::retry::{Sleeper, backoff_delay};
use crate::secret::{AccessToken, AdminPassword};

/// Which error envelope and code table the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Graph,
    OnPrem,
}

/// How a call authenticates.
pub(crate) enum Auth<'a> {
    None,
    Bearer(&'a AccessToken),
    Basic {
        user: &'a str,
        password: &'a AdminPassword,
    },
}

/// One logical call (possibly several attempts).
pub(crate) struct Call<'a> {
    /// Short name for logs and errors, e.g. `set_pin`.
    pub route: &'static str,
    pub method: Method,
    pub url: Url,
    /// Body and its content type. Bodies holding a secret are built with [`secret_body`].
    pub body: Option<(Bytes, &'static str)>,
    /// Has side effects at Meta: only retried when nothing was sent.
    pub write: bool,
    pub auth: Auth<'a>,
    /// Strings scrubbed from Meta's messages before they reach an error or a log.
    pub secrets: Vec<&'a str>,
}

/// A complete answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub(crate) fn json<T: DeserializeOwned>(&self, route: &'static str) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| Error::decode(route, &e))
    }
}

/// A request body that is zeroized when the HTTP stack drops its last reference.
///
/// The buffer is sized up front so serialising never reallocates (which would leave a copy).
pub(crate) fn secret_body(
    build: impl FnOnce(&mut Vec<u8>) -> Result<(), Error>,
) -> Result<Bytes, Error> {
    let mut buf = Zeroizing::new(Vec::with_capacity(512));
    build(&mut buf)?;
    Ok(Bytes::from_owner(buf))
}

pub(crate) const JSON: &str = "application/json";
pub(crate) const FORM: &str = "application/x-www-form-urlencoded";

/// The HTTP stack plus the retry policy.
pub(crate) struct Transport {
    http: reqwest::Client,
    timeout: Duration,
    retry: RetryPolicy,
    sleeper: Arc<dyn Sleeper>,
    dialect: Dialect,
    last_usage: Mutex<Option<Usage>>,
}

/// Builds the reqwest client: rustls with the ring provider, no redirects, pooled connections.
pub(crate) fn http_client(connect_timeout: Duration) -> Result<reqwest::Client, Error> {
    // reqwest's `rustls-no-provider` needs a process-wide provider before the first build;
    // a second install (another client, another crate) returns Err, which is fine.
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout)
        .user_agent(concat!("pinward-graph/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Config(format!("HTTP client: {}", e.without_url())))
}

impl Transport {
    pub(crate) fn new(
        http: reqwest::Client,
        timeout: Duration,
        retry: RetryPolicy,
        sleeper: Arc<dyn Sleeper>,
        dialect: Dialect,
    ) -> Self {
        Transport {
            http,
            timeout,
            retry,
            sleeper,
            dialect,
            last_usage: Mutex::new(None),
        }
    }

    /// The usage headers of the last answer that had any.
    pub(crate) fn last_usage(&self) -> Option<Usage> {
        self.last_usage
            .lock()
            .map(|u| u.clone())
            .unwrap_or_default()
    }

    /// Runs `call` until it succeeds, fails definitively, or may not be repeated.
    pub(crate) async fn execute(&self, call: Call<'_>) -> Result<Answer, Error> {
        let span = tracing::info_span!(
            "graph.call",
            route = call.route,
            method = %call.method,
            path = call.url.path(),
        );
        self.execute_inner(call).instrument(span).await
    }

    async fn execute_inner(&self, call: Call<'_>) -> Result<Answer, Error> {
        let auth = auth_header(&call.auth)?;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let failure = match self.attempt(&call, auth.as_ref()).await {
                Ok(answer) if (200..300).contains(&answer.status) => {
                    self.note_usage(&answer.headers);
                    tracing::debug!(attempt, status = answer.status, "answered");
                    return Ok(answer);
                }
                Ok(answer) => {
                    self.note_usage(&answer.headers);
                    match self.judge(&call, answer) {
                        Judged::Final(err) => {
                            tracing::warn!(
                                attempt,
                                code = err.code(),
                                fbtrace_id = err.fbtrace_id(),
                                class = ?err.class(),
                                "refused"
                            );
                            return Err(err);
                        }
                        Judged::Retryable(f) => f,
                    }
                }
                Err(f) => f,
            };
            if call.write && failure != Failure::NotSent {
                tracing::warn!(attempt, cause = %failure, "write outcome unknown");
                return Err(Error::UnknownOutcome { cause: failure });
            }
            if attempt >= self.retry.max_attempts {
                tracing::warn!(attempt, cause = %failure, "retries exhausted");
                return Err(Error::Transient {
                    attempts: attempt,
                    cause: failure,
                });
            }
            let delay = backoff_delay(&self.retry, attempt);
            tracing::debug!(attempt, cause = %failure, delay_ms = delay.as_millis() as u64, "retrying");
            self.sleeper.sleep(delay).await;
        }
    }

    async fn attempt(
        &self,
        call: &Call<'_>,
        auth: Option<&HeaderValue>,
    ) -> Result<Answer, Failure> {
        let mut req = self
            .http
            .request(call.method.clone(), call.url.clone())
            .timeout(self.timeout);
        if let Some(value) = auth {
            req = req.header(AUTHORIZATION, value.clone());
        }
        if let Some((body, content_type)) = &call.body {
            req = req
                .header(CONTENT_TYPE, HeaderValue::from_static(content_type))
                .body(body.clone());
        }
        let resp = req.send().await.map_err(|e| send_failure(&e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(|e| {
            if e.is_timeout() {
                Failure::Timeout
            } else {
                Failure::Truncated
            }
        })?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    fn judge(&self, call: &Call<'_>, answer: Answer) -> Judged {
        let meta = match self.dialect {
            Dialect::Graph => MetaError::from_graph_body(&answer.body),
            Dialect::OnPrem => MetaError::from_onprem_body(&answer.body),
        }
        .map(|m| Box::new(m.scrub(&call.secrets)));
        let by_code = meta.as_ref().and_then(|m| match self.dialect {
            Dialect::Graph => classify::graph_code(m.code),
            Dialect::OnPrem => classify::onprem_code(m.code),
        });
        let status = answer.status;
        match by_code.unwrap_or_else(|| classify::by_status(status)) {
            Verdict::Auth => Judged::Final(Error::Auth { status, meta }),
            Verdict::Reject => Judged::Final(Error::Rejected { status, meta }),
            Verdict::Wait => {
                let (wait, hint) =
                    classify::rate_limit_wait(&answer.headers, meta.as_deref(), &self.retry);
                Judged::Final(Error::RateLimited { wait, hint, meta })
            }
            Verdict::Retry => Judged::Retryable(Failure::Status { status, meta }),
        }
    }

    fn note_usage(&self, headers: &HeaderMap) {
        let usage = Usage::from_headers(headers);
        if usage.is_empty() {
            return;
        }
        let max = usage.max_percent();
        if max >= 75 {
            tracing::warn!(usage_percent = max, "Graph API usage is high");
        } else {
            tracing::trace!(usage_percent = max, "Graph API usage");
        }
        if let Ok(mut last) = self.last_usage.lock() {
            *last = Some(usage);
        }
    }
}

enum Judged {
    Final(Error),
    Retryable(Failure),
}

fn send_failure(e: &reqwest::Error) -> Failure {
    if e.is_connect() {
        Failure::NotSent
    } else if e.is_timeout() {
        Failure::Timeout
    } else {
        Failure::ConnectionLost
    }
}

fn auth_header(auth: &Auth<'_>) -> Result<Option<HeaderValue>, Error> {
    use base64::Engine as _;
    let text: Zeroizing<String> = match auth {
        Auth::None => return Ok(None),
        Auth::Bearer(token) => Zeroizing::new(format!("Bearer {}", token.expose())),
        Auth::Basic { user, password } => {
            let pair = Zeroizing::new(format!("{user}:{}", password.expose()));
            let encoded =
                Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(pair.as_bytes()));
            Zeroizing::new(format!("Basic {}", encoded.as_str()))
        }
    };
    let mut value = HeaderValue::from_str(&text).map_err(|_| {
        Error::InvalidInput("credentials contain characters not allowed in a header")
    })?;
    // Keeps the value out of HTTP/2 header tables and out of `Debug` of the request.
    value.set_sensitive(true);
    Ok(Some(value))
}
