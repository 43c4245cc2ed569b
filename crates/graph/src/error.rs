//! The one error type of the `graph` crate.
//!
//! Policy: every failed call ends in exactly one variant of [`Error`], and the variant is the
//! decision the caller must take, not the symptom:
//!
//! - [`Error::Auth`]: stop using the token and alert (invalid, expired, revoked, missing scope
//!   or asset).
//! - [`Error::Rejected`]: Meta answered and said no; repeating the same request will not help
//!   (bad parameter, PIN mismatch, number not verified, policy block).
//! - [`Error::RateLimited`]: pause for `wait`, then try again.
//! - [`Error::Transient`]: a read kept failing in a retryable way; the retries are spent.
//! - [`Error::UnknownOutcome`]: a write may or may not have reached Meta (timeout, reset, 5xx,
//!   truncated answer). The caller must treat the change as *uncertain* and resend the same
//!   value later; it is never "failed".
//! - [`Error::Decode`], [`Error::InvalidInput`], [`Error::Config`], [`Error::Io`]: our side or
//!   the wire format is wrong.
//!
//! Errors keep Meta's `code`, subcode, message title, `error_data.details` and `fbtrace_id`.
//! They never hold a token, a PIN, an app secret, a request URL (`debug_token` carries a token
//! in its query) or a response body: reqwest and serde errors are reduced to their kind before
//! they are stored.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The token is invalid, expired or revoked, or lacks the scope or the asset.
    #[error("Graph API refused the credentials (HTTP {status}){}", meta_suffix(.meta))]
    Auth {
        /// HTTP status of the answer.
        status: u16,
        /// Meta's error, when the answer carried one.
        meta: Option<Box<MetaError>>,
    },
    /// A definitive "no": repeating the request unchanged will fail the same way.
    #[error("Graph API rejected the request (HTTP {status}){}", meta_suffix(.meta))]
    Rejected {
        /// HTTP status of the answer.
        status: u16,
        /// Meta's error, when the answer carried one.
        meta: Option<Box<MetaError>>,
    },
    /// Throttled: wait at least `wait` before calling again.
    #[error("rate limited: wait {}s (from {hint}){}", .wait.as_secs(), meta_suffix(.meta))]
    RateLimited {
        /// How long to wait before the next call.
        wait: Duration,
        /// Where `wait` came from.
        hint: WaitHint,
        /// Meta's error, when the answer carried one.
        meta: Option<Box<MetaError>>,
    },
    /// A read failed in a retryable way on every attempt.
    #[error("transient failure after {attempts} attempt(s): {cause}")]
    Transient {
        /// Attempts made, including the first.
        attempts: u32,
        /// The last attempt's failure.
        cause: Failure,
    },
    /// A write may have been applied: treat it as uncertain and resend the same value.
    #[error("outcome unknown, the request may have reached Meta: {cause}")]
    UnknownOutcome {
        /// What happened on the wire.
        cause: Failure,
    },
    /// A successful answer did not have the documented shape.
    #[error("unexpected response to {route}: {detail}")]
    Decode {
        /// The call, e.g. `phone_numbers`.
        route: &'static str,
        /// Where decoding failed (kind, line, column), never the content.
        detail: String,
    },
    /// An argument was refused before anything was sent.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// The configuration cannot work (bad base URL, TLS set-up).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The sandbox could not bind, accept or serve.
    #[error("sandbox I/O failed while {context}: {source}")]
    Io {
        /// What the sandbox was doing.
        context: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// The decision an [`Error`] asks for, without its details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Stop using the token, alert.
    Auth,
    /// Definitive rejection.
    Rejected,
    /// Pause, then retry.
    RateLimited,
    /// Retries exhausted on a retryable failure.
    Transient,
    /// A write may have been applied.
    UnknownOutcome,
    /// Our side: decode, input, configuration, I/O.
    Local,
}

impl Error {
    /// The class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Auth { .. } => ErrorClass::Auth,
            Error::Rejected { .. } => ErrorClass::Rejected,
            Error::RateLimited { .. } => ErrorClass::RateLimited,
            Error::Transient { .. } => ErrorClass::Transient,
            Error::UnknownOutcome { .. } => ErrorClass::UnknownOutcome,
            Error::Decode { .. } | Error::InvalidInput(_) | Error::Config(_) | Error::Io { .. } => {
                ErrorClass::Local
            }
        }
    }

    /// Meta's error, if the failure carried one.
    pub fn meta(&self) -> Option<&MetaError> {
        match self {
            Error::Auth { meta, .. }
            | Error::Rejected { meta, .. }
            | Error::RateLimited { meta, .. } => meta.as_deref(),
            Error::Transient { cause, .. } | Error::UnknownOutcome { cause } => cause.meta(),
            _ => None,
        }
    }

    /// Meta's error code, if any.
    pub fn code(&self) -> Option<i64> {
        self.meta().map(|m| m.code)
    }

    /// Meta's trace id, to quote to Meta support.
    pub fn fbtrace_id(&self) -> Option<&str> {
        self.meta().and_then(|m| m.fbtrace_id.as_deref())
    }

    pub(crate) fn decode(route: &'static str, err: &serde_json::Error) -> Self {
        // serde_json's messages may quote input (e.g. `invalid type: string "..."`), and the
        // input can be a token (code exchange) — keep only the category and position.
        Error::Decode {
            route,
            detail: format!(
                "{:?} error at line {} column {}",
                err.classify(),
                err.line(),
                err.column()
            ),
        }
    }
}

fn meta_suffix(meta: &Option<Box<MetaError>>) -> String {
    meta.as_ref().map(|m| format!(": {m}")).unwrap_or_default()
}

/// What went wrong on the wire, for [`Error::Transient`] and [`Error::UnknownOutcome`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The connection could not be made: the request was certainly not sent.
    NotSent,
    /// No complete answer within the timeout.
    Timeout,
    /// The connection closed or reset before an answer arrived.
    ConnectionLost,
    /// The answer's head arrived but its body was cut short.
    Truncated,
    /// An answer with a retryable status or Meta code (5xx, codes 1, 2, 131000, 133004, …).
    Status {
        /// HTTP status.
        status: u16,
        /// Meta's error, if the body was Meta's JSON envelope.
        meta: Option<Box<MetaError>>,
    },
}

impl Failure {
    /// Meta's error, if the failure carried one.
    pub fn meta(&self) -> Option<&MetaError> {
        match self {
            Failure::Status { meta, .. } => meta.as_deref(),
            _ => None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::NotSent => f.write_str("could not connect"),
            Failure::Timeout => f.write_str("timed out"),
            Failure::ConnectionLost => f.write_str("connection lost before the answer"),
            Failure::Truncated => f.write_str("answer truncated"),
            Failure::Status { status, meta } => {
                write!(f, "HTTP {status}{}", meta_suffix(meta))
            }
        }
    }
}

/// Where a rate-limit wait came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitHint {
    /// The `Retry-After` header.
    RetryAfter,
    /// `estimated_time_to_regain_access` in `X-Business-Use-Case-Usage`.
    BusinessUseCaseUsage,
    /// A documented wait for the error code (133016: 72 h, 133015: 5 min).
    ErrorCode,
    /// Nothing said how long: the configured fallback, jittered.
    Fallback,
}

impl fmt::Display for WaitHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WaitHint::RetryAfter => "Retry-After",
            WaitHint::BusinessUseCaseUsage => "X-Business-Use-Case-Usage",
            WaitHint::ErrorCode => "error code",
            WaitHint::Fallback => "fallback",
        })
    }
}

/// Meta's error, from the Graph envelope `{"error":{…}}` or the On-Premises
/// envelope `{"errors":[{…}]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaError {
    /// `code`: what decisions are made on.
    pub code: i64,
    /// `error_subcode` (deprecated for Cloud API, still used by token errors).
    pub subcode: Option<i64>,
    /// `message` (Graph) or `title` (On-Premises), e.g. `(#133005) Two step verification PIN Mismatch`.
    pub message: String,
    /// `type`, e.g. `OAuthException`.
    pub kind: Option<String>,
    /// `error_data.details` (Graph) or `details` (On-Premises).
    pub details: Option<String>,
    /// `fbtrace_id`, for Meta support.
    pub fbtrace_id: Option<String>,
}

/// Longest message or details kept, so a hostile or broken server cannot bloat logs.
const MAX_TEXT: usize = 300;

impl MetaError {
    /// Reads Meta's Graph error envelope; `None` if the body is not one.
    pub fn from_graph_body(body: &[u8]) -> Option<Self> {
        #[derive(Deserialize)]
        struct Envelope {
            error: Inner,
        }
        #[derive(Deserialize)]
        struct Inner {
            code: i64,
            #[serde(default)]
            message: Option<String>,
            #[serde(default, rename = "type")]
            kind: Option<String>,
            #[serde(default)]
            error_subcode: Option<i64>,
            #[serde(default)]
            fbtrace_id: Option<String>,
            #[serde(default)]
            error_data: Option<ErrorData>,
        }
        #[derive(Deserialize)]
        struct ErrorData {
            #[serde(default)]
            details: Option<String>,
        }
        let env: Envelope = serde_json::from_slice(body).ok()?;
        let e = env.error;
        Some(MetaError {
            code: e.code,
            subcode: e.error_subcode,
            message: clip(e.message.unwrap_or_default()),
            kind: e.kind.map(clip),
            details: e.error_data.and_then(|d| d.details).map(clip),
            fbtrace_id: e.fbtrace_id.map(clip),
        })
    }

    /// Reads the On-Premises API error envelope `{"errors":[{"code","title","details"}]}`
    /// (the first entry); `None` if the body is not one.
    pub fn from_onprem_body(body: &[u8]) -> Option<Self> {
        #[derive(Deserialize)]
        struct Envelope {
            errors: Vec<Inner>,
        }
        #[derive(Deserialize)]
        struct Inner {
            code: i64,
            #[serde(default)]
            title: Option<String>,
            #[serde(default)]
            details: Option<String>,
        }
        let env: Envelope = serde_json::from_slice(body).ok()?;
        let e = env.errors.into_iter().next()?;
        Some(MetaError {
            code: e.code,
            subcode: None,
            message: clip(e.title.unwrap_or_default()),
            kind: None,
            details: e.details.map(clip),
            fbtrace_id: None,
        })
    }

    /// Replaces every occurrence of each secret in the free-text fields with `[redacted]`:
    /// a server that echoes a parameter back must not smuggle it into our logs.
    pub(crate) fn scrub(mut self, secrets: &[&str]) -> Self {
        for s in secrets.iter().filter(|s| s.len() >= 4) {
            for field in [&mut self.message]
                .into_iter()
                .chain(self.details.as_mut())
                .chain(self.kind.as_mut())
                .chain(self.fbtrace_id.as_mut())
            {
                if field.contains(s) {
                    *field = field.replace(s, "[redacted]");
                }
            }
        }
        self
    }
}

fn clip(mut s: String) -> String {
    if s.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

impl fmt::Display for MetaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "code {}", self.code)?;
        if let Some(sub) = self.subcode {
            write!(f, "/{sub}")?;
        }
        write!(f, " {}", self.message)?;
        if let Some(d) = &self.details {
            write!(f, " ({d})")?;
        }
        if let Some(t) = &self.fbtrace_id {
            write!(f, " [fbtrace_id {t}]")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_graph_envelope_keeps_code_details_and_trace() {
        let body = br#"{"error":{"message":"(#133005) Two step verification PIN Mismatch","type":"OAuthException","code":133005,"error_data":{"messaging_product":"whatsapp","details":"PIN mismatch"},"fbtrace_id":"AbC123"}}"#;
        let m = MetaError::from_graph_body(body).unwrap();
        assert_eq!(m.code, 133005);
        assert_eq!(m.details.as_deref(), Some("PIN mismatch"));
        assert_eq!(m.fbtrace_id.as_deref(), Some("AbC123"));
        assert_eq!(m.kind.as_deref(), Some("OAuthException"));
    }

    #[test]
    fn html_is_not_an_envelope() {
        assert!(MetaError::from_graph_body(b"<html>502</html>").is_none());
        assert!(MetaError::from_onprem_body(b"<html>502</html>").is_none());
    }

    #[test]
    fn scrubbing_removes_an_echoed_secret() {
        let m = MetaError {
            code: 100,
            subcode: None,
            message: "bad pin 123456".into(),
            kind: None,
            details: Some("got 123456".into()),
            fbtrace_id: None,
        }
        .scrub(&["123456"]);
        assert!(!m.to_string().contains("123456"));
    }

    #[test]
    fn long_messages_are_clipped_on_a_char_boundary() {
        let s = clip("é".repeat(400));
        assert!(s.len() <= MAX_TEXT + '…'.len_utf8());
    }
}
