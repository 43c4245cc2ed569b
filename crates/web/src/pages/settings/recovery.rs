//! Recovery recipients: the age keys of the org's offline break-glass keys.

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
        .route("/settings/recovery", post(add))
        .route("/settings/recovery/{id}/remove", post(remove))
}

const FORM: &str = "recovery";

/// The refusal of `recipient` when it is this service's own key (known when it runs with
/// custody).
pub(super) fn apart_from_service(
    state: &AppState,
    recipient: &str,
    of: KeyFor,
) -> Option<governance::Error> {
    let service = state.custody.as_ref()?.escrow.identity().recipient();
    governance::recovery::check_apart_from_service(recipient, &service, of).err()
}

#[derive(Debug, Deserialize)]
struct AddForm {
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    label: String,
}

async fn add(
    State(state): State<AppState>,
    who: Authorized<ManageOrg>,
    session: Session,
    page: PageContext,
    Form(form): Form<AddForm>,
) -> Result<Response, AppError> {
    // Both fields alone first, so both faults are reported at once.
    let mut faults = governance::recovery::faults(&form.recipient, &form.label);
    if let Some(refused) = apart_from_service(&state, &form.recipient, KeyFor::Recovery) {
        faults.insert(0, refused);
    }
    let added = if faults.is_empty() {
        governance::recovery::add(&state.store, &who.caller, &form.recipient, &form.label)
            .await
            .map_err(|error| vec![error])
    } else {
        Err(faults)
    };
    match added {
        Ok(added) => {
            done(
                &session,
                "recovery",
                format!(
                    "{} ({}) will be sealed to from now on; PINs sealed before stay readable only \
                     by the keys they were sealed to until they are rotated.",
                    added.label, added.recipient
                ),
            )
            .await
        }
        Err(errors) => {
            let problem = FormProblem::all(FORM, errors)?;
            let typed = Typed {
                recipient: shown_back(form.recipient),
                label: form.label,
                ..Typed::default()
            };
            settings_page(&state, &who, &session, page, Some(problem), typed).await
        }
    }
}

/// A refused recipient as typed, to show back; a secret key is dropped: it never goes on a
/// page.
pub(super) fn shown_back(recipient: String) -> String {
    if governance::recovery::is_secret_key(&recipient) {
        String::new()
    } else {
        recipient
    }
}

async fn remove(
    State(state): State<AppState>,
    who: Authorized<ManageOrg>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    governance::recovery::remove(&state.store, &who.caller, &id).await?;
    done(
        &session,
        "recovery",
        "The recipient is removed: new PIN versions are no longer sealed to it.",
    )
    .await
}
