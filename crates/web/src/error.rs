//! The one error type of `web`, and how errors reach people and programs.
//!
//! Policy: handlers and extractors return [`AppError`]. Its `IntoResponse` decides the
//! status and the words a user may see, logs the cause (once, inside the request span),
//! and leaves an [`ErrorReport`] in the response. The [`present`] middleware, which knows
//! the request, turns every report — and axum's own plain-text rejections — into an HTML
//! error page, or into `application/problem+json` under `/api/`. Internals never reach the
//! response: a 5xx shows only the request id to quote.
//!
//! Another org's object is [`governance::Error::NotFound`], so it is a 404 here too.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;
use tower_sessions::Session;

use crate::page::{self, PageContext};

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The domain refused or failed.
    #[error(transparent)]
    Domain(#[from] governance::Error),
    /// The route needs a signed-in user (or an API token) and there is none.
    #[error("sign-in required")]
    SignInRequired,
    /// The action needs the password typed again within the last few minutes.
    #[error("re-authentication required")]
    StepUpRequired,
    /// Too many failed attempts; the caller must wait.
    #[error("too many attempts")]
    Throttled {
        /// Seconds until another attempt is accepted.
        retry_after: u64,
    },
    /// A state-changing request that did not come from pinward's own pages.
    #[error("cross-site request refused: {0}")]
    CrossSite(&'static str),
    /// A form made in one org, sent after the session switched to another (in another tab).
    #[error("a form of {form} sent while acting in {now}")]
    OtherOrg {
        /// The name of the org the form was made in.
        form: String,
        /// The name of the org the session acts in now.
        now: String,
    },
    /// The request itself is malformed (not a domain rule).
    #[error("{0}")]
    BadRequest(String),
    /// No route has this path.
    #[error("no such page")]
    NoRoute,
    /// The session store failed.
    #[error("session: {0}")]
    Session(#[from] tower_sessions::session::Error),
    /// A template failed to render.
    #[error("template: {0}")]
    Render(#[from] askama::Error),
    /// Something the service should never do went wrong.
    #[error("{0}")]
    Internal(&'static str),
    /// A conditional request (`If-Match`) whose condition no longer holds; the sentence says
    /// what changed and how to read it again.
    #[error("{0}")]
    PreconditionFailed(&'static str),
    /// This instance cannot do it as configured (e.g. started without custody); the
    /// sentence says what is missing.
    #[error("{0}")]
    Unavailable(&'static str),
}

/// What the user is told about a failed request; put into the response's extensions by
/// [`AppError`] and rendered by [`present`].
#[derive(Debug, Clone)]
pub struct ErrorReport {
    /// A short title (`Not found`).
    pub title: &'static str,
    /// One sentence a user can act on; never internals.
    pub detail: String,
    /// The input field at fault, for form and API errors.
    pub field: Option<&'static str>,
    /// The page should send the browser to sign in instead.
    pub sign_in: bool,
    /// The page should send the browser to type the password again, then come back.
    pub step_up: bool,
    /// An API token was sent and refused (unknown, revoked or malformed).
    pub token_refused: bool,
}

impl AppError {
    fn status(&self) -> StatusCode {
        use governance::Error as E;
        match self {
            AppError::Domain(error) => match error {
                E::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                E::NotFound { .. } => StatusCode::NOT_FOUND,
                E::Forbidden { .. } => StatusCode::FORBIDDEN,
                E::Unauthenticated => StatusCode::UNAUTHORIZED,
                E::Conflict { .. }
                | E::PinState { .. }
                | E::Busy { .. }
                | E::Superseded
                | E::Stale { .. } => StatusCode::CONFLICT,
                E::Graph(_) => StatusCode::BAD_GATEWAY,
                E::Invitation(_) => StatusCode::GONE,
                E::IdentityRotated | E::KeyRotationUnfinished => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            AppError::SignInRequired | AppError::StepUpRequired => StatusCode::UNAUTHORIZED,
            AppError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::CrossSite(_) => StatusCode::FORBIDDEN,
            AppError::OtherOrg { .. } => StatusCode::CONFLICT,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::NoRoute => StatusCode::NOT_FOUND,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            AppError::Session(_) | AppError::Render(_) | AppError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn report(&self, status: StatusCode) -> ErrorReport {
        use governance::Error as E;
        let (detail, field) = match self {
            AppError::Domain(E::Invalid { field, problem }) => {
                (format!("{field}: {problem}"), Some(*field))
            }
            AppError::Domain(E::Forbidden { needed }) => (
                format!("you may not do this: it is for {}", who_may(needed)),
                None,
            ),
            AppError::Domain(
                error @ (E::NotFound { .. }
                | E::Unauthenticated
                | E::PinState { .. }
                | E::Busy { .. }
                | E::Superseded
                | E::Stale { .. }
                | E::Invitation(_)
                | E::IdentityRotated
                | E::KeyRotationUnfinished),
            ) => (error.to_string(), None),
            AppError::Domain(E::Conflict { constraint }) => {
                match governance::error::conflict_meaning(constraint) {
                    Some((field, meaning)) => (
                        format!("{field}: {meaning}; nothing was changed"),
                        Some(field),
                    ),
                    None => (
                        format!("this would break the rule {constraint}; nothing was changed"),
                        None,
                    ),
                }
            }
            // Meta's own words say what to fix (a token without access to a business, a
            // refused credential, a rate limit); graph errors never carry a secret.
            AppError::Domain(E::Graph(error)) => (
                match error.class() {
                    graph::ErrorClass::Auth
                    | graph::ErrorClass::Rejected
                    | graph::ErrorClass::RateLimited => format!("Meta's API refused: {error}"),
                    _ => "Meta's API did not answer as expected; try again, and see the log if it persists"
                        .to_owned(),
                },
                None,
            ),
            AppError::SignInRequired => ("please sign in".to_owned(), None),
            AppError::StepUpRequired => (
                "this action needs your password again; re-authenticate and retry".to_owned(),
                None,
            ),
            AppError::Throttled { retry_after } => (
                format!(
                    "too many failed attempts; try again in {} minutes",
                    retry_after.div_ceil(60)
                ),
                None,
            ),
            AppError::CrossSite(why) => (format!("request refused: {why}"), None),
            AppError::OtherOrg { form, now } => (
                format!(
                    "this form was made in {form}, but you have switched to {now} since (in \
                     another tab?), so nothing was changed: switch back to {form} and send it \
                     again"
                ),
                None,
            ),
            AppError::BadRequest(why) => (why.clone(), None),
            AppError::NoRoute => ("there is no page at this address".to_owned(), None),
            AppError::Unavailable(why) | AppError::PreconditionFailed(why) => {
                ((*why).to_owned(), None)
            }
            _ => (
                "pinward could not complete the request; quote the request id to your \
                 administrator"
                    .to_owned(),
                None,
            ),
        };
        ErrorReport {
            title: status.canonical_reason().unwrap_or("Error"),
            detail,
            field,
            sign_in: matches!(self, AppError::SignInRequired),
            step_up: matches!(self, AppError::StepUpRequired),
            token_refused: matches!(self, AppError::Domain(E::Unauthenticated)),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            let mut chain = self.to_string();
            let mut source = std::error::Error::source(&self);
            while let Some(cause) = source {
                chain.push_str(": ");
                chain.push_str(&cause.to_string());
                source = cause.source();
            }
            tracing::error!(error = %chain, "request failed");
        }
        // A refusal is logged by `present`, which knows the status finally answered (the
        // API answers some of these with another one).
        let report = self.report(status);
        let mut response = status.into_response();
        // RFC 6750: a request without a token gets the challenge alone; one whose token was
        // refused (unknown, revoked, malformed) is told so, so a script can tell the two apart.
        let challenge = match self {
            AppError::SignInRequired => Some("Bearer realm=\"pinward\""),
            AppError::Domain(governance::Error::Unauthenticated) => Some(
                "Bearer realm=\"pinward\", error=\"invalid_token\", \
                 error_description=\"the token is unknown, revoked or malformed\"",
            ),
            _ => None,
        };
        if let Some(challenge) = challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if let AppError::Throttled { retry_after } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response.extensions_mut().insert(report);
        response
    }
}

/// A problem document (RFC 9457), the body of every `/api/` error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status says what kind of problem it is.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The status's reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, in words a user can act on.
    pub detail: String,
    /// The input field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The request id to quote when asking for help.
    pub request_id: String,
}

/// Middleware: renders error responses for their audience.
pub(crate) async fn present(request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    let path = request.uri().path().to_owned();
    // Where a visitor without a session was going, to send them on after signing in.
    let wanted = (request.method() == axum::http::Method::GET)
        .then(|| {
            request
                .uri()
                .path_and_query()
                .map(|pq| pq.as_str().to_owned())
        })
        .flatten()
        .filter(|wanted| wanted != "/");
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let session = request.extensions().get::<Session>().cloned();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let report = match parts.extensions.remove::<ErrorReport>() {
        Some(report) => {
            if status.is_client_error() {
                tracing::info!(error = %report.detail, status = status.as_u16(), "request refused");
            }
            report
        }
        // axum's own rejections (a malformed form, a wrong method) come as plain text
        // written for people; wrap them like our own errors. A page rendered with an
        // error status (a form shown again with its problem) stays as it is.
        None if is_plain(&parts.headers) => plain_report(status, body).await,
        None => return Response::from_parts(parts, body),
    };
    if report.step_up && !is_api {
        let back = format!(
            "/reauth?next={}",
            url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()
        );
        return Redirect::to(&back).into_response();
    }
    if report.sign_in && !is_api {
        let to = match wanted {
            Some(wanted) => format!(
                "/signin?next={}",
                url::form_urlencoded::byte_serialize(wanted.as_bytes()).collect::<String>()
            ),
            None => "/signin".to_owned(),
        };
        return Redirect::to(&to).into_response();
    }
    let body = if is_api {
        const WHERE_FROM: &str = "(an org admin makes one in Settings → API tokens, or the \
                                  service's operator with `pinward admin token create`)";
        let detail = if report.sign_in {
            format!(
                "a valid API token is required: send `Authorization: Bearer <token>` {WHERE_FROM}"
            )
        } else if report.token_refused {
            format!(
                "the API token was refused (unknown, revoked or malformed): send a valid one \
                 as `Authorization: Bearer <token>` {WHERE_FROM}"
            )
        } else {
            report.detail
        };
        let problem = Problem {
            kind: "about:blank",
            // The status the API answered with (it may map an error differently from the
            // dashboard), so title and status always agree.
            title: status.canonical_reason().unwrap_or(report.title).to_owned(),
            status: status.as_u16(),
            detail,
            field: report.field.map(str::to_owned),
            request_id,
        };
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match serde_json::to_vec(&problem) {
            Ok(json) => Body::from(json),
            Err(_) => Body::empty(),
        }
    } else {
        let page = match &session {
            Some(session) => PageContext::for_error(session, &request_id).await,
            None => PageContext::anonymous(&request_id),
        };
        match page::error_page(page, status, &report) {
            Ok(html) => {
                parts.headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
                Body::from(html)
            }
            Err(error) => {
                tracing::error!(%error, "the error page failed to render");
                Body::from(format!("{} (request id {request_id})", report.title))
            }
        }
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, body)
}

fn is_plain(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"))
}

async fn plain_report(status: StatusCode, body: Body) -> ErrorReport {
    // Rejection texts are short; anything longer is not one of them.
    let text = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
        .filter(|text| !text.trim().is_empty());
    let detail = match (status, text) {
        (StatusCode::NOT_FOUND, _) => "there is no page at this address".to_owned(),
        (StatusCode::METHOD_NOT_ALLOWED, _) => {
            "this address does not take this method: the Allow header lists those it takes"
                .to_owned()
        }
        (StatusCode::PAYLOAD_TOO_LARGE, _) => "the request body is too large".to_owned(),
        (s, Some(text)) if s.is_client_error() => text,
        (s, _) if s.is_client_error() => "the request was not understood".to_owned(),
        _ => "pinward could not complete the request; quote the request id to your administrator"
            .to_owned(),
    };
    ErrorReport {
        title: status.canonical_reason().unwrap_or("Error"),
        detail,
        field: None,
        sign_in: false,
        step_up: false,
        token_refused: false,
    }
}

/// Who may do what a refused action needed, in words a member understands (governance names
/// permissions like `numbers:manage`).
fn who_may(needed: &str) -> &'static str {
    match needed {
        "numbers:read" => "members of this org",
        "numbers:manage" => {
            "org admins, ops, and business admins for their clients' numbers (managing numbers)"
        }
        "custody" => "org admins and ops (PIN custody and inventory sync)",
        "ledger:read" => "org admins, ops and auditors (the ledger and the org's settings)",
        "org:manage" => "org admins (the org's settings)",
        "pin:reveal" => "the number's main owner, its permission manager and org admins",
        "handover:incoming" => "the member the seat is handed over to",
        "handover:outgoing" => "the seat's holder, the member who proposed it, or an org admin",
        _ => "other members",
    }
}
