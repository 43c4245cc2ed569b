//! Cross-site request forgery defence for the dashboard.
//!
//! Every request that is not `GET` or `HEAD` passes [`check`] before any handler runs, so
//! no route can forget it: the browser's `Sec-Fetch-Site` must say same-origin, the
//! `Origin` must be pinward's own, and the form's `_csrf` field (or an `x-csrf-token`
//! header) must carry the session's token. `GET` handlers never change state, which
//! makes this check complete. `/api/` is exempt: it authenticates with bearer tokens
//! only, which a browser never attaches by itself, and never reads the session cookie.
//!
//! A page's forms carry the token bound to the org the page was made in
//! ([`for_page`]). One session acts in one org at a time, and a switch in one tab would
//! otherwise let a form left open in another act in the org switched to: such a form is
//! refused, naming both orgs, and nothing changes.

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
use crate::auth::session;
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

/// The token a page's forms carry: the session's `token`, bound to the `org` the page
/// was made in (none before sign-in).
#[must_use]
pub fn for_page(token: &str, org: Option<&str>) -> String {
    match org {
        Some(org) => format!("{token}.{org}"),
        None => token.to_owned(),
    }
}

/// Routes whose forms do the same in whichever org the session acts: signing in and out,
/// the password check, switching orgs, and joining one by invitation.
const IN_ANY_ORG: [&str; 8] = [
    "/signin",
    "/signout",
    "/reauth",
    "/org",
    "/join",
    "/join/accept",
    "/join/signin",
    "/join/new",
];

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

    let any_org = IN_ANY_ORG.contains(&request.uri().path());
    if let Some(sent) = request.headers().get(HEADER) {
        let sent = sent
            .to_str()
            .map_err(|_| AppError::CrossSite("the form's security token does not match"))?;
        carries(&session, any_org, sent, &expected).await?;
        return Ok(request);
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
    carries(&session, any_org, &sent, &expected).await?;
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// Whether `sent` carries the session's token `expected`, bound to the org the session
/// acts in now unless the route works in `any_org`. The org part is no secret: it keeps a
/// form to the org it was made for, while the secret part refuses forgeries.
async fn carries(
    session: &Session,
    any_org: bool,
    sent: &str,
    expected: &str,
) -> Result<(), AppError> {
    let (secret, org) = match sent.split_once('.') {
        Some((secret, org)) => (secret, Some(org)),
        None => (sent, None),
    };
    if !equal(secret.as_bytes(), expected.as_bytes()) {
        return Err(AppError::CrossSite(
            "the form's security token does not match",
        ));
    }
    if any_org {
        return Ok(());
    }
    let acting = session::stored(session).await?;
    match (org, acting) {
        (form, now) if form == now.as_ref().map(|w| w.org_id.as_str()) => Ok(()),
        (Some(form), Some(now)) => {
            let orgs = session::orgs(session).await?;
            let form = orgs
                .into_iter()
                .find(|o| o.id == form)
                .map_or_else(|| "another org".to_owned(), |o| o.name);
            Err(AppError::OtherOrg {
                form,
                now: now.org_name,
            })
        }
        _ => Err(AppError::CrossSite(
            "the form's security token does not match",
        )),
    }
}

fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Browsers say where a request comes from; refuse anything but pinward's own origin.
/// Every browser pinward supports sends `Origin` with a form, and most `Sec-Fetch-Site`
/// too; a request with neither did not come from one (scripts use the API).
fn same_origin(site: &Site, headers: &HeaderMap, uri: &Uri) -> Result<(), AppError> {
    if !headers.contains_key("sec-fetch-site") && !headers.contains_key(header::ORIGIN) {
        return Err(AppError::CrossSite(
            "it says neither where it came from (Origin) nor how (Sec-Fetch-Site); send \
             the form from pinward's pages in a browser",
        ));
    }
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
