//! API errors: the web layer's [`AppError`], except that bad input is a 400 naming the
//! field (pages answer 422 to re-show a form; a script just needs to know it was its input).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// What an API handler fails with.
#[derive(Debug)]
pub(crate) struct ApiError(pub(crate) AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(error: E) -> Self {
        ApiError(error.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.0.into_response();
        if response.status() == StatusCode::UNPROCESSABLE_ENTITY {
            *response.status_mut() = StatusCode::BAD_REQUEST;
        }
        response
    }
}

/// A bad input value, named.
pub(crate) fn invalid(field: &'static str, problem: &str) -> ApiError {
    ApiError(AppError::Domain(governance::Error::Invalid {
        field,
        problem: problem.to_owned(),
    }))
}

/// The number a path names; an id that cannot be one is simply not found.
pub(crate) fn phone(id: &str) -> Result<graph::PhoneNumberId, ApiError> {
    graph::PhoneNumberId::parse(id).map_err(|_| {
        ApiError(AppError::Domain(governance::Error::NotFound {
            what: "number",
        }))
    })
}
