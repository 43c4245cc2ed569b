//! Meta's error answers, as the sandbox writes them (GRAPH_API.md §3, §5.8): message
//! `(#code) title`, `error_data.details`, a random `fbtrace_id`, and Meta's status per code.
//! The On-Premises envelope is `{"errors":[{"code","title","details"}]}`.
//!
//! Built with `json!`, not with the client's types, so the contract tests compare two
//! independent implementations against the same fixtures.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use rand::distributions::Alphanumeric;
use serde_json::{Value, json};

/// Meta's title for a code (what the sandbox writes after `(#code)`).
pub(crate) fn title(code: i64) -> &'static str {
    match code {
        0 => "AuthException",
        1 => "An unknown error occurred",
        2 => "Service temporarily unavailable",
        3 => "Capability or permissions issue",
        4 => "Application request limit reached",
        10 => "Permission denied",
        33 => "Parameter value is not valid",
        100 => "Invalid parameter",
        104 => "An access token is required to request this resource",
        190 => "Invalid OAuth access token",
        200..=299 => "Requires permission",
        368 => "Temporarily blocked for policies violations",
        80007 => "Rate limit issues",
        80008 => {
            "There have been too many calls to this WhatsApp Business account. Wait a bit and try again"
        }
        130429 => "Rate limit hit",
        131000 => "Something went wrong",
        131005 => "Access denied",
        131008 => "Required parameter is missing",
        131009 => "Parameter value is not valid",
        131016 => "Service unavailable",
        131031 => "Account has been locked",
        133000 => "Incomplete deregistration",
        133004 => "Server Temporarily Unavailable",
        133005 => "Two step verification PIN Mismatch",
        133006 => "Phone number re-verification needed",
        133008 => "Too Many two step verification PIN Guesses",
        133009 => "Two step verification PIN Guessed Too Fast",
        133010 => "Phone number Not Registered",
        133015 => "Please wait a few minutes before attempting to register this phone number",
        133016 => "Account register deregister rate limit exceeded",
        135000 => "Generic user error",
        _ => "An unknown error occurred",
    }
}

/// Meta's HTTP status for a code (§3 table; 80008's is unverified, 400 here).
pub(crate) fn status_for(code: i64, auth_status: StatusCode) -> StatusCode {
    match code {
        0 | 102 | 104 | 190 => auth_status,
        3 | 131000 | 131016 | 133000 => StatusCode::INTERNAL_SERVER_ERROR,
        2 | 133004 => StatusCode::SERVICE_UNAVAILABLE,
        10 | 131005 | 200..=299 | 368 | 131031 => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    }
}

pub(crate) fn fbtrace_id() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(11)
        .map(char::from)
        .collect()
}

/// One Graph error, described.
#[derive(Debug, Clone)]
pub(crate) struct GraphError {
    pub code: i64,
    pub subcode: Option<i64>,
    pub title: String,
    pub details: Option<String>,
    pub kind: &'static str,
    pub status: Option<StatusCode>,
}

impl GraphError {
    pub(crate) fn new(code: i64) -> Self {
        GraphError {
            code,
            subcode: None,
            title: title(code).to_owned(),
            details: None,
            kind: if code == 100 || code == 33 {
                "GraphMethodException"
            } else {
                "OAuthException"
            },
            status: None,
        }
    }

    pub(crate) fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    pub(crate) fn details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    pub(crate) fn subcode(mut self, subcode: i64) -> Self {
        self.subcode = Some(subcode);
        self
    }

    pub(crate) fn kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }

    pub(crate) fn status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    pub(crate) fn body(&self) -> Value {
        let mut error = json!({
            "message": format!("(#{}) {}", self.code, self.title),
            "type": self.kind,
            "code": self.code,
            "fbtrace_id": fbtrace_id(),
        });
        if let Some(sub) = self.subcode {
            error["error_subcode"] = json!(sub);
        }
        if let Some(details) = &self.details {
            error["error_data"] = json!({"messaging_product": "whatsapp", "details": details});
        }
        json!({ "error": error })
    }

    pub(crate) fn into_response(self, auth_status: StatusCode) -> Response {
        let status = self
            .status
            .unwrap_or_else(|| status_for(self.code, auth_status));
        (status, Json(self.body())).into_response()
    }
}

/// The On-Premises error envelope.
pub(crate) fn onprem_error(status: StatusCode, code: i64, title: &str, details: &str) -> Response {
    (
        status,
        Json(json!({
            "errors": [{"code": code, "title": title, "details": details}],
            "meta": {"api_status": "stable", "version": "2.55.3"},
        })),
    )
        .into_response()
}
