//! API tokens: an admin creates one for a script (with the password typed within the last
//! few minutes; its secret shown once, on the answer to the form, never stored or sent
//! again) and revokes it when the script is retired.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use governance::access::Role;
use serde::Deserialize;
use tower_sessions::Session;

use super::{FormProblem, Typed, done, settings_page};
use crate::AppState;
use crate::auth::session;
use crate::auth::{Authorized, ManageOrg};
use crate::error::AppError;
use crate::page::{PageContext, render};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/tokens", post(create).get(to_section))
        .route("/settings/tokens/{id}/revoke", post(revoke))
}

const FORM: &str = "tokens";
/// The one-time form token's purpose ([`session::issue_once`]).
pub(super) const ONCE: &str = "api-token";

/// The roles a token may have: a business admin needs a person's clients.
pub(super) const ROLES: [Role; 3] = [Role::Admin, Role::Ops, Role::Auditor];

#[derive(Deserialize)]
struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default, rename = "_once")]
    once: String,
}

#[derive(Template)]
#[template(path = "settings/token_created.html")]
struct Created<'a> {
    page: PageContext,
    name: String,
    role: &'static str,
    /// Shown once, in this response only.
    secret: &'a str,
}

async fn create(
    State(state): State<AppState>,
    who: Authorized<ManageOrg>,
    session: Session,
    page: PageContext,
    Form(form): Form<CreateForm>,
) -> Result<Response, AppError> {
    // A token outlives the session that made it: a stolen session cookie alone must not
    // mint one. The password prompt comes back to the section (see `to_section`).
    if let Err(needed) = who.require_step_up() {
        // The prompt comes back to an empty form otherwise: what was typed waits for it.
        if let Some(signed_in) = &who.session {
            session::keep_token_form(&session, &signed_in.user_id, &form.name, &form.role).await?;
        }
        return Err(needed);
    }
    if !session::spend_once(&session, &state.spent, ONCE, &form.once).await? {
        // A reload of the page that showed a new secret: nothing is created again.
        session::flash(
            &session,
            "info",
            "That form was already used, so no other token was made; a token's secret is shown \
             only once.",
        )
        .await?;
        return Ok(Redirect::to("/settings#tokens").into_response());
    }
    let role = Role::parse(form.role.trim())
        .map_err(|_| governance::Error::Invalid {
            field: "role",
            problem: "must be admin, ops or auditor".to_owned(),
        })
        .and_then(|role| governance::tokens::check_role(role).map(|()| role));
    // Both fields alone first, so both faults are reported at once, in the form's order.
    let created = match (governance::tokens::check_name(&form.name), role) {
        (Ok(()), Ok(role)) => {
            governance::tokens::create(&state.store, &who.caller, &form.name, role)
                .await
                .map_err(|error| vec![error])
        }
        (name, role) => Err([name.err(), role.err()].into_iter().flatten().collect()),
    };
    match created {
        Ok((token, secret)) => {
            let html = render(&Created {
                page,
                name: token.name,
                role: token.role.as_str(),
                secret: secret.expose(),
            })?;
            Ok(([(header::CACHE_CONTROL, "no-store")], html).into_response())
        }
        Err(errors) => {
            let problem = FormProblem::all(FORM, errors)?;
            let typed = Typed {
                token_name: form.name,
                token_role: form.role,
                ..Typed::default()
            };
            settings_page(&state, &who, &session, page, Some(problem), typed).await
        }
    }
}

/// The form's address opened directly (back from the password prompt): the section.
async fn to_section() -> Redirect {
    Redirect::to("/settings#tokens")
}

async fn revoke(
    State(state): State<AppState>,
    who: Authorized<ManageOrg>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    governance::tokens::revoke(&state.store, &who.caller, &id).await?;
    done(
        &session,
        "tokens",
        "The token is revoked: it authenticates no more.",
    )
    .await
}
