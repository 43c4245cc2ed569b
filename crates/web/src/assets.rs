//! The stylesheet, script and icon, compiled into the binary: pinward serves everything its
//! pages load, from no CDN, and a deployment is one file.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::error::AppError;

const CSS: &str = include_str!("../../../static/pinward.css");
const JS: &str = include_str!("../../../static/pinward.js");
const ICON: &str = include_str!("../../../static/favicon.svg");

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/static/{file}", get(asset))
}

async fn asset(Path(file): Path<String>) -> Result<Response, AppError> {
    let (body, kind) = match file.as_str() {
        "pinward.css" => (CSS, "text/css; charset=utf-8"),
        "pinward.js" => (JS, "text/javascript; charset=utf-8"),
        "favicon.svg" => (ICON, "image/svg+xml"),
        _ => return Err(AppError::NoRoute),
    };
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            // Not secret, and small: an hour of caching spares every page two requests.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
        .into_response())
}
