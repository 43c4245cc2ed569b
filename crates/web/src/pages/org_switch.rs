//! The org switcher: a user who belongs to several orgs acts in one at a time and picks it
//! in the header. Switching changes only which org the session acts in; the membership is
//! checked again here, and an org the user is not an active member of is "not found".

use axum::Form;
use axum::Router;
use axum::extract::State;
use axum::response::Redirect;
use axum::routing::post;
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::auth::session::{self, OrgChoice};
use crate::auth::{Authorized, Member};
use crate::error::AppError;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/org", post(switch))
}

#[derive(Debug, Deserialize)]
struct SwitchForm {
    #[serde(default)]
    org: String,
}

async fn switch(
    State(state): State<AppState>,
    who: Authorized<Member>,
    session: Session,
    Form(form): Form<SwitchForm>,
) -> Result<Redirect, AppError> {
    let user_id = who.caller.user_id.ok_or(AppError::SignInRequired)?;
    let not_found = || governance::Error::NotFound { what: "org" };
    let memberships = governance::users::memberships(&state.store, &user_id).await?;
    let target = memberships
        .iter()
        .find(|m| m.org_id == form.org.trim())
        .ok_or_else(not_found)?;
    // The membership as it is now, not as the list above read it a moment ago.
    governance::members::caller_for(&state.store, &target.org_id, &user_id).await?;
    let choice = OrgChoice::from(target);
    session::switch_org(&session, &choice).await?;
    let choices: Vec<OrgChoice> = memberships.iter().map(OrgChoice::from).collect();
    session::remember_orgs(&session, &choices).await?;
    session::flash(
        &session,
        "info",
        format!("You are now acting in {}.", choice.name),
    )
    .await?;
    Ok(Redirect::to("/"))
}
