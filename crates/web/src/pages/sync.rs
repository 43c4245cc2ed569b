//! The inventory sync page: a form that reads the org's businesses, WABAs and numbers from
//! Meta and records what changed; new numbers land in the take-custody queue.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::auth::session;
use crate::auth::{Authorized, Custody};
use crate::error::AppError;
use crate::inventory;
use crate::page::{PageContext, render};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/sync", get(show).post(run))
}

#[derive(Template)]
#[template(path = "sync/show.html")]
struct SyncPage {
    page: PageContext,
    businesses: String,
    problem: Option<String>,
    has_graph: bool,
}

async fn show(
    State(state): State<AppState>,
    _who: Authorized<Custody>,
    page: PageContext,
) -> Result<Response, AppError> {
    Ok(render(&SyncPage {
        page,
        businesses: String::new(),
        problem: None,
        has_graph: state.custody.is_some(),
    })?
    .into_response())
}

#[derive(Debug, Deserialize)]
struct SyncForm {
    #[serde(default)]
    businesses: String,
}

async fn run(
    State(state): State<AppState>,
    who: Authorized<Custody>,
    session: Session,
    page: PageContext,
    Form(form): Form<SyncForm>,
) -> Result<Response, AppError> {
    let again = |page, status: StatusCode, problem: String, businesses: String| {
        Ok::<_, AppError>(
            (
                status,
                render(&SyncPage {
                    page,
                    businesses,
                    problem: Some(problem),
                    has_graph: state.custody.is_some(),
                })?,
            )
                .into_response(),
        )
    };
    let businesses = match inventory::parse_businesses([form.businesses.as_str()]) {
        Ok(businesses) => businesses,
        Err(error) => {
            return again(
                page,
                StatusCode::UNPROCESSABLE_ENTITY,
                error.to_string(),
                form.businesses,
            );
        }
    };
    let Some(custody) = &state.custody else {
        return again(
            page,
            StatusCode::SERVICE_UNAVAILABLE,
            "This service was started without a Graph client (pinward serve has one); nothing \
             was changed."
                .to_owned(),
            form.businesses,
        );
    };
    match inventory::sync(&state.store, custody, &who.caller, &businesses).await {
        Ok(report) => {
            session::flash(&session, "success", inventory::summary(&report)).await?;
            Ok(Redirect::to("/sync").into_response())
        }
        Err(error @ governance::Error::Invalid { .. }) => again(
            page,
            StatusCode::UNPROCESSABLE_ENTITY,
            error.to_string(),
            form.businesses,
        ),
        Err(governance::Error::NotFound {
            what: "graph credential",
        }) => again(
            page,
            StatusCode::UNPROCESSABLE_ENTITY,
            "The org has no Graph credential yet: an admin sets one in Settings. Nothing was \
             changed."
                .to_owned(),
            form.businesses,
        ),
        Err(governance::Error::Graph(error)) => {
            tracing::warn!(%error, "sync: Meta's API failed");
            // Meta's own words say what to fix (a business the token cannot reach, a refused
            // credential); graph errors never carry a secret.
            let said = match error.class() {
                graph::ErrorClass::Auth
                | graph::ErrorClass::Rejected
                | graph::ErrorClass::RateLimited => format!("Meta's API refused: {error}. "),
                _ => "Meta's API did not answer as expected. ".to_owned(),
            };
            again(
                page,
                StatusCode::BAD_GATEWAY,
                format!(
                    "{said}Nothing was changed. Try again later or check the credential in \
                     Settings."
                ),
                form.businesses,
            )
        }
        Err(error) => Err(error.into()),
    }
}
