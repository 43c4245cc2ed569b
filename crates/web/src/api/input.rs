//! The API's query strings and JSON bodies, refused as 400 problems (never axum's plain-text
//! rejections) and strict: a parameter or member the endpoint does not know is an error, so a
//! script's typo (`?helth=…`) cannot silently widen a list it then acts on.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
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
        let value = match axum::Json::<serde_json::Value>::from_request(request, state).await {
            Ok(axum::Json(value)) => value,
            Err(rejection) => {
                return Err(match body_problem(&rejection) {
                    Some(problem) => invalid("body", &problem).into_response(),
                    None => rejection.into_response(),
                });
            }
        };
        object::<T>(value)
            .map(ApiJson)
            .map_err(|problem| invalid("body", &problem).into_response())
    }
}

/// `value` as a `T`, which must come as a JSON object: serde would also take an array of the
/// members' values in order, which no script means to send.
pub(crate) fn object<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    if !value.is_object() {
        return Err("must be a JSON object".to_owned());
    }
    serde_json::from_value(value).map_err(|error| error.to_string())
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

fn body_problem(rejection: &JsonRejection) -> Option<String> {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            Some("must be JSON, sent with `Content-Type: application/json`".to_owned())
        }
        JsonRejection::JsonDataError(_) | JsonRejection::JsonSyntaxError(_) => {
            Some(rejection.body_text())
        }
        _ => None,
    }
}
