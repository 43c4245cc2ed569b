//! The dashboard's pages: one module per feature, each a handler that extracts, calls one
//! governance use case, and renders a template whose struct carries `page: PageContext`.

pub(crate) mod actions;
mod event_details;
mod join;
mod ledger;
mod number;
pub(crate) mod numbers;
mod org_switch;
mod overview;
mod settings;
mod signin;
mod sync;
mod time;

use axum::Router;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(signin::routes())
        .merge(join::routes())
        .merge(overview::routes())
        .merge(numbers::routes())
        .merge(number::routes())
        .merge(actions::routes())
        .merge(ledger::routes())
        .merge(settings::routes())
        .merge(sync::routes())
        .merge(org_switch::routes())
}
