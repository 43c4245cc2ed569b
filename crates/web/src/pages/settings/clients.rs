//! Clients: their names, and the age recipient each client's released PINs are sealed to.

use axum::Form;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::post;
use governance::recovery::KeyFor;
use serde::Deserialize;
use tower_sessions::Session;

use super::{FormProblem, Typed, done, settings_page};
use crate::AppState;
use crate::auth::{Authorized, ManageOrg};
use crate::error::AppError;
use crate::page::PageContext;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/clients/{id}/recipient", post(set))
        .route("/settings/clients/{id}/recipient/clear", post(clear))
        .route("/settings/clients/{id}/name", post(rename))
}

/// The form of one client's row, so a refusal shows beside that client.
pub(super) fn form_of(client: &str) -> String {
    format!("client:{client}")
}

/// The name form of one client's row.
pub(super) fn name_form_of(client: &str) -> String {
    format!("client-name:{client}")
}

#[derive(Debug, Deserialize)]
struct NameForm {
    #[serde(default)]
    name: String,
}

async fn rename(
    State(state): State<AppState>,
    who: Authorized<ManageOrg>,
    session: Session,
    page: PageContext,
    Path(id): Path<String>,
    Form(form): Form<NameForm>,
) -> Result<Response, AppError> {
    let result = governance::clients::rename(&state.store, &who.caller, &id, &form.name)
        .await
        .map(|client| format!("The client is now named {}.", client.name));
    let typed = Typed {
        client_name: form.name,
        ..Typed::default()
    };
    answer(
        &state,
        &who,
        &session,
        page,
        result,
        &name_form_of(&id),
        typed,
    )
    .await
}

#[derive(Debug, Deserialize)]
struct RecipientForm {
    #[serde(default)]
    recipient: String,
}

async fn set(
    State(state): State<AppState>,
    who: Authorized<ManageOrg>,
    session: Session,
    page: PageContext,
    Path(id): Path<String>,
    Form(form): Form<RecipientForm>,
) -> Result<Response, AppError> {
    let refused = super::recovery::apart_from_service(&state, &form.recipient, KeyFor::Client);
    let result = match refused {
        Some(refused) => Err(refused),
        None => {
            governance::clients::set_recipient(&state.store, &who.caller, &id, &form.recipient)
                .await
        }
    }
    .map(|client| {
        format!(
            "The numbers of {} are now released sealed to {}.",
            client.name,
            client.age_recipient.unwrap_or_default()
        )
    });
    let typed = Typed {
        client_recipient: super::recovery::shown_back(form.recipient),
        ..Typed::default()
    };
    answer(&state, &who, &session, page, result, &form_of(&id), typed).await
}

/// Back to Clients with `result`'s message; refused, the page again with the refusal in
/// `form`'s row and what was `typed` kept.
async fn answer(
    state: &AppState,
    who: &Authorized<ManageOrg>,
    session: &Session,
    page: PageContext,
    result: Result<String, governance::Error>,
    form: &str,
    typed: Typed,
) -> Result<Response, AppError> {
    match result {
        Ok(message) => done(session, "clients", message).await,
        // Not a problem with what was typed: a missing client is a 404 as anywhere else.
        Err(error @ governance::Error::NotFound { .. }) => Err(error.into()),
        Err(error) => {
            let problem = FormProblem::of(form, error)?;
            settings_page(state, who, session, page, Some(problem), typed).await
        }
    }
}

async fn clear(
    State(state): State<AppState>,
    who: Authorized<ManageOrg>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let client = governance::clients::clear_recipient(&state.store, &who.caller, &id).await?;
    done(
        &session,
        "clients",
        format!(
            "{} has no age recipient now: its numbers cannot be released until one is set.",
            client.name
        ),
    )
    .await
}
