//! The overview, the dashboard's home page.

use askama::Template;
use axum::Router;
use axum::response::Html;
use axum::routing::get;

use crate::AppState;
use crate::auth::{Authorized, Member};
use crate::error::AppError;
use crate::page::{PageContext, render};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/", get(overview))
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    page: PageContext,
}

async fn overview(_who: Authorized<Member>, page: PageContext) -> Result<Html<String>, AppError> {
    render(&OverviewPage { page })
}
