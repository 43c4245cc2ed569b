//! The API's query strings and JSON bodies, refused as 400 problems (never axum's plain-text
//! rejections) and strict: a parameter or member the endpoint does not know is an error, so a
//! script's typo (`?helth=…`) cannot silently widen a list it then acts on.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
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

/// A JSON body of type `T`, sent as `application/json`.
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(invalid("body", &body_problem(&rejection))),
        }
    }
}

/// serde's words for a bad query string ("unknown field `x`, expected one of …"), in the
/// API's terms.
fn query_problem(rejection: &QueryRejection) -> String {
    let text = rejection.body_text();
    let detail = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(&text);
    detail.replace("field", "parameter")
}

fn body_problem(rejection: &JsonRejection) -> String {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "must be JSON, sent with `Content-Type: application/json`".to_owned()
        }
        other => other.body_text(),
    }
}
