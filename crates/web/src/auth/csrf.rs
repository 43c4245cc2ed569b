//! Cross-site request forgery defence for the dashboard.
//!
//! Every request that is not `GET` or `HEAD` passes [`check`] before any handler runs, so
//! no route can forget it: the browser's `Sec-Fetch-Site` must say same-origin, the
//! `Origin` must be pinward's own, and the form's `_csrf` field (or an `x-csrf-token`
//! header) must equal the session's token. `GET` handlers never change state, which
//! makes this check complete. `/api/` is exempt: it authenticates with bearer tokens
//! only, which a browser never attaches by itself, and never reads the session cookie.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use crate::AppState;
use crate::error::AppError;
use crate::state::Site;

const TOKEN_KEY: &str = "csrf";
/// The form field that carries the token.
pub const FIELD: &str = "_csrf";
/// The header that carries the token for scripts.
pub const HEADER: &str = "x-csrf-token";
/// Forms are small; a larger body is refused before it is read.
const FORM_LIMIT: usize = 256 * 1024;

/// The session's CSRF token, created on first use.
///
/// # Errors
/// [`AppError::Session`] if the store fails.
pub async fn token(session: &Session) -> Result<String, AppError> {
    if let Some(token) = session.get::<String>(TOKEN_KEY).await? {
        return Ok(token);
    }
    renew(session).await
}

/// Replaces the session's CSRF token (at sign-in) and returns the new one.
///
/// # Errors
/// [`AppError::Session`] if the store fails.
pub async fn renew(session: &Session) -> Result<String, AppError> {
    let token = unguessable();
    session.insert(TOKEN_KEY, &token).await?;
    Ok(token)
}

/// 256 random bits from the OS, URL-safe base64: a token a form carries back.
pub(crate) fn unguessable() -> String {
    let mut bytes = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Middleware: refuses a state-changing request that did not come from pinward's pages.
pub(crate) async fn check(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD)
        || request.uri().path().starts_with("/api/")
    {
        return next.run(request).await;
    }
    match verified(&state.site, request).await {
        Ok(request) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

async fn verified(site: &Site, request: Request) -> Result<Request, AppError> {
    same_origin(site, request.headers(), request.uri())?;
    let session = request
        .extensions()
        .get::<Session>()
        .cloned()
        .ok_or(AppError::Internal("the session layer is missing"))?;
    let expected = session
        .get::<String>(TOKEN_KEY)
        .await?
        .ok_or(AppError::CrossSite(
            "the form has expired; reload the page and try again",
        ))?;

    if let Some(sent) = request.headers().get(HEADER) {
        return if equal(sent.as_bytes(), expected.as_bytes()) {
            Ok(request)
        } else {
            Err(AppError::CrossSite(
                "the form's security token does not match",
            ))
        };
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(AppError::CrossSite("the form's security token is missing"));
    }
    // The handler reads the body too, so read it here and hand on a copy.
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| AppError::BadRequest("the form is too large".to_owned()))?;
    let sent = url::form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == FIELD)
        .map(|(_, value)| value.into_owned())
        .ok_or(AppError::CrossSite("the form's security token is missing"))?;
    if !equal(sent.as_bytes(), expected.as_bytes()) {
        return Err(AppError::CrossSite(
            "the form's security token does not match",
        ));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Browsers say where a request comes from; refuse anything but pinward's own origin.
/// Clients that send neither header (scripts, old browsers) still need the token.
fn same_origin(site: &Site, headers: &HeaderMap, uri: &Uri) -> Result<(), AppError> {
    if let Some(fetch_site) = headers.get("sec-fetch-site") {
        // `none`: the user typed or bookmarked it — not a forgery.
        if !matches!(fetch_site.as_bytes(), b"same-origin" | b"none") {
            return Err(AppError::CrossSite("it came from another site"));
        }
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin
        .to_str()
        .map_err(|_| AppError::CrossSite("its Origin header is not readable"))?;
    let allowed = match &site.origin {
        Some(public) => origin == public,
        // No public URL configured: the plain-HTTP origin of the host the browser asked.
        // HTTP/2 names the host in the URI's authority instead of a Host header.
        None => headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()))
            .is_some_and(|host| origin.strip_prefix("http://") == Some(host)),
    };
    if allowed {
        Ok(())
    } else {
        Err(AppError::CrossSite("it came from another origin"))
    }
}
