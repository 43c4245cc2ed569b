//! The org's Graph credential: what Meta said about the token (never the token), its
//! health, a fresh check, and setting a new token.

use axum::Form;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use chrono::{DateTime, Utc};
use governance::credentials::CredentialFacts;
use serde::Deserialize;
use tower_sessions::Session;

use super::{CredentialView, FormProblem, done, refused};
use crate::AppState;
use crate::auth::{Authorized, Custody, ManageOrg};
use crate::error::AppError;
use crate::page::PageContext;
use crate::pages::time::minute;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/credential", post(set))
        .route("/settings/credential/check", post(check))
}

const FORM: &str = "credential";
const NO_GRAPH: &str = "this service was started without a Graph client (pinward serve has one); \
                        nothing was changed";

/// A token this close to expiry is flagged.
const EXPIRY_WARNING: chrono::TimeDelta = chrono::TimeDelta::days(14);
/// Facts older than this are flagged as stale.
const STALE_CHECK: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// What is wrong with the credential, in words; empty when nothing is.
pub(super) fn health(facts: &CredentialFacts, now: DateTime<Utc>) -> Vec<String> {
    let mut problems = Vec::new();
    if !facts.is_valid {
        problems.push("Meta says the token is not valid: custody and sync will fail".to_owned());
    }
    if let Some(expires) = facts.expires_at {
        if expires <= now {
            problems.push(format!("expired on {}", minute(expires)));
        } else if expires - now <= EXPIRY_WARNING {
            problems.push(format!(
                "expires in {} days ({})",
                (expires - now).num_days(),
                minute(expires)
            ));
        }
    }
    for (scope, fails) in facts.missing_scopes(&governance::credentials::NEEDED_SCOPES) {
        problems.push(format!(
            "lacks the {scope} permission: {fails} will be refused"
        ));
    }
    if now - facts.checked_at > STALE_CHECK {
        problems.push(format!(
            "last checked {} days ago",
            (now - facts.checked_at).num_days()
        ));
    }
    problems
}

pub(super) fn view(f: CredentialFacts) -> CredentialView {
    let text = |v: Option<String>| v.unwrap_or_else(|| "—".to_owned());
    CredentialView {
        valid: f.is_valid,
        app_id: text(f.app_id),
        token_type: text(f.token_type),
        scopes: f.scopes.join(", "),
        granular: f
            .granular_scopes
            .into_iter()
            .map(|g| match g.target_ids {
                Some(ids) => format!("{}: {}", g.scope, ids.join(", ")),
                None => format!("{}: every asset", g.scope),
            })
            .collect(),
        expires: match (f.never_expires, f.expires_at) {
            (true, _) => "never".to_owned(),
            (false, Some(at)) => minute(at),
            (false, None) => "not said by Meta".to_owned(),
        },
        checked: minute(f.checked_at),
        set: format!("{} by {}", minute(f.set_at), f.set_by),
    }
}

/// The token form. No `Debug`: it holds a token.
#[derive(Deserialize)]
struct TokenForm {
    token: String,
}

async fn set(
    State(state): State<AppState>,
    who: Authorized<ManageOrg>,
    session: Session,
    page: PageContext,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    let token = graph::AccessToken::from(form.token);
    let Some(custody) = &state.custody else {
        let problem = FormProblem::plain(FORM, NO_GRAPH);
        return refused(&state, &who, &session, page, problem).await;
    };
    let set = governance::credentials::set(
        &state.store,
        &custody.escrow,
        &custody.graph,
        &who.caller,
        &token,
    )
    .await;
    match set {
        Ok(facts) => {
            done(
                &session,
                "credential",
                format!(
                    "The Graph token is stored (sealed); Meta says it is {}.",
                    if facts.is_valid { "valid" } else { "not valid" }
                ),
            )
            .await
        }
        Err(error) => {
            let problem = FormProblem::of(FORM, error)?;
            refused(&state, &who, &session, page, problem).await
        }
    }
}

async fn check(
    State(state): State<AppState>,
    who: Authorized<Custody>,
    session: Session,
    page: PageContext,
) -> Result<Response, AppError> {
    let Some(custody) = &state.custody else {
        let problem = FormProblem::plain(FORM, NO_GRAPH);
        return refused(&state, &who, &session, page, problem).await;
    };
    let checked = governance::credentials::recheck(
        &state.store,
        &custody.escrow,
        &custody.graph,
        &who.caller,
    )
    .await;
    match checked {
        Ok(facts) => {
            done(
                &session,
                "credential",
                format!(
                    "Meta was asked again: the token is {}.",
                    if facts.is_valid { "valid" } else { "not valid" }
                ),
            )
            .await
        }
        Err(error) => {
            let problem = FormProblem::of(FORM, error)?;
            refused(&state, &who, &session, page, problem).await
        }
    }
}
