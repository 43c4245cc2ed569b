//! The dashboard's pages: one module per feature, each a handler that extracts, calls one
//! governance use case, and renders a template whose struct carries `page: PageContext`.

mod number;
pub(crate) mod numbers;
mod overview;
mod signin;

use axum::Router;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(signin::routes())
        .merge(overview::routes())
        .merge(numbers::routes())
        .merge(number::routes())
}
