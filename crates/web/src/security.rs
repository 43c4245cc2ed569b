//! Security headers, set in one place on every response (pages, API, errors, assets).

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// Scripts, styles and images only from pinward itself; no inline script, no plugins, no
/// `<base>` rewriting, forms post only back to pinward, and no page may frame ours.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Middleware: adds the security headers to every response.
pub(crate) async fn headers(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    // For browsers that predate CSP's frame-ancestors: no framing (clickjacking).
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Serve every body as the type we say, never a sniffed one (a JSON body run as HTML).
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Full URLs only to ourselves. Not `no-referrer`: with it browsers send
    // `Origin: null` on our own form posts, which the CSRF check must refuse.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    // Our pages in a browsing context of their own; our resources not embedded elsewhere.
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    // Only when served over HTTPS: over plain HTTP the header is ignored by browsers and
    // would only mislead.
    if state.site.https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    // Pages show escrow facts and ledger entries (and, once, a PIN): never cached unless
    // the handler says otherwise (static assets do).
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
