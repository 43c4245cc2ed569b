//! Sign in and sign out.

use askama::Template;
use axum::Router;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tower_sessions::Session;

use crate::AppState;
use crate::auth::session;
use crate::error::AppError;
use crate::page::{PageContext, render};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/signin", get(form))
        .route("/signout", post(sign_out))
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    page: PageContext,
    email: String,
    problem: Option<String>,
}

async fn form(page: PageContext) -> Result<Response, AppError> {
    if page.user.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    let html: Html<String> = render(&SignInPage {
        page,
        email: String::new(),
        problem: None,
    })?;
    Ok(html.into_response())
}

async fn sign_out(session: Session) -> Result<Redirect, AppError> {
    session::sign_out(&session).await?;
    Ok(Redirect::to("/signin"))
}
