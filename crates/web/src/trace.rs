//! One span per request, named by the matched route, carrying the request id.
//!
//! A request keeps an `x-request-id` it arrives with (a proxy's) or gets a fresh UUID; the
//! response echoes it, so a user quoting it leads straight to the log lines. An incoming id
//! longer than [`MAX_REQUEST_ID`] or with characters beyond letters, digits and `-_.:` is
//! replaced: it goes into every log line and error page.

use axum::Router;
use axum::extract::MatchedPath;
use axum::http::{HeaderName, Request};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id kept from a request (a UUID is 36 characters).
const MAX_REQUEST_ID: usize = 128;

fn usable_request_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

pub(crate) fn layer<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router.layer(
        ServiceBuilder::new()
            .map_request(|mut request: Request<axum::body::Body>| {
                if request
                    .headers()
                    .get(&REQUEST_ID)
                    .is_some_and(|id| !usable_request_id(id.as_bytes()))
                {
                    request.headers_mut().remove(&REQUEST_ID);
                }
                request
            })
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|request: &Request<_>| {
                        let route = request
                            .extensions()
                            .get::<MatchedPath>()
                            .map_or("unmatched", MatchedPath::as_str);
                        let request_id = request
                            .headers()
                            .get(&REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        // At ERROR, the span is on under any filter that lets a warning or
                        // an error through (the demo's quiet one too): those are the lines
                        // that most need to say which request they came from.
                        tracing::error_span!("request", method = %request.method(), route = %route, request_id = %request_id)
                    })
                    .on_response(DefaultOnResponse::new().level(Level::INFO)),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID)),
    )
}
