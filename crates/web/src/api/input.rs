//! The API's query strings and JSON bodies, refused as 400 problems (never axum's plain-text
//! rejections) and strict: a parameter or member the endpoint does not know is an error, so a
//! script's typo (`?helth=…`) cannot silently widen a list it then acts on.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::problem::{ApiError, invalid};

/// A query string holding only the parameters `T` names (`T` denies unknown fields).
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(invalid("query", &query_problem(&rejection))),
        }
    }
}

/// No query string at all, for a call that takes no parameter: `?dry_run=true` on a call
/// that acts must not act as though nobody had asked.
pub(crate) struct NoQuery;

impl<S: Send + Sync> FromRequestParts<S> for NoQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        match parts.uri.query() {
            None | Some("") => Ok(NoQuery),
            Some(_) => Err(invalid("query", "this call takes no query parameters")),
        }
    }
}

/// No body, for a call that takes none; `{}` and `null` are taken as none, since many HTTP
/// clients send one with every POST. Anything else (`{"dry_run": true}`) is refused, so a
/// script's guess at an option is never acted on as a plain call.
pub(crate) struct NoBody;

impl<S: Send + Sync> FromRequest<S> for NoBody {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let body = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let text = std::str::from_utf8(&body).map(str::trim);
        match text {
            Ok("" | "{}" | "null") => Ok(NoBody),
            _ => Err(invalid("body", "this call takes no body: send none, or {}").into_response()),
        }
    }
}

/// A JSON body of type `T`, sent as `application/json`. A body that is not such JSON is a 400
/// problem naming `body`; any other rejection (one too large) keeps its own status.
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let sent_as_json = is_json(request.headers());
        let body = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if !sent_as_json {
            return Err(invalid("body", NOT_SENT_AS_JSON).into_response());
        }
        object::<T>(&body)
            .map(ApiJson)
            .map_err(|problem| invalid("body", &problem).into_response())
    }
}

/// What a body sent without a JSON content type is told.
pub(crate) const NOT_SENT_AS_JSON: &str =
    "must be JSON, sent with `Content-Type: application/json`";

/// Whether the request says its body is JSON (`application/json`, or a `+json` type).
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.ends_with("+json"))
}

/// `body` as a `T`, which must come as one JSON object: serde would also take an array of
/// the members' values in order, which no script means to send. Read straight into `T`, so
/// a member given twice is refused, not settled by whichever came last.
pub(crate) fn object<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err("must be a JSON object".to_owned());
    }
    serde_json::from_slice(body).map_err(|error| error.to_string())
}

/// serde's words for a bad query string ("unknown field `x`, expected one of …"), in the
/// API's terms; the names it quotes are left as they are.
fn query_problem(rejection: &QueryRejection) -> String {
    let text = rejection.body_text();
    let detail = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(&text);
    ["unknown", "missing", "duplicate"]
        .iter()
        .fold(detail.to_owned(), |detail, kind| {
            detail.replace(&format!("{kind} field `"), &format!("{kind} parameter `"))
        })
}
