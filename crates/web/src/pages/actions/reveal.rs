//! Revealing a number's PIN to a person who needs it (re-registering the number).
//!
//! The rules, in the order they apply: the caller sees the number (else 404); typed their
//! password within [`crate::auth::session::STEP_UP_WINDOW`] (else `/reauth`, which comes
//! back to the form); is within the reveal rate limit ([`crate::auth::reveals`]); and is
//! the number's owner, manager or an org admin with a reason — decided by
//! [`governance::custody::reveal_as`], which also ledgers the reveal and, under the
//! rotate-after-reveal policy, queues the rotation that retires the PIN. The PIN is in the
//! POST's response body only: never in a redirect, URL, cookie, log or cache
//! (`Cache-Control: no-store`).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use governance::custody::PinState;
use governance::numbers;
use serde::Deserialize;
use tower_sessions::Session;

use super::{custody_of, field};
use crate::AppState;
use crate::auth::{Authorized, ReadNumbers, session};
use crate::error::AppError;
use crate::page::{PageContext, render};
use crate::pages::number::phone;

#[derive(Template)]
#[template(path = "numbers/reveal.html")]
struct RevealForm {
    page: PageContext,
    id: String,
    display: String,
    reason: String,
    /// The form's one-time token ([`session::issue_once`]).
    once: String,
    problem: Option<String>,
    /// Released to its client, who may have changed the PIN since.
    released: bool,
}

#[derive(Template)]
#[template(path = "numbers/revealed.html")]
struct Revealed<'a> {
    page: PageContext,
    id: String,
    display: String,
    /// Shown once, in this response only.
    pin: &'a str,
    rotation_job: Option<String>,
    /// Released to its client, who may have changed the PIN since.
    released: bool,
}

fn form_page(status: StatusCode, form: &RevealForm) -> Result<Response, AppError> {
    Ok((status, render(form)?).into_response())
}

pub(super) async fn form(
    State(state): State<AppState>,
    who: Authorized<ReadNumbers>,
    page: PageContext,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let phone = phone(&id)?;
    let record = numbers::record(&state.store, &who.caller, &phone, Utc::now()).await?;
    // The form is offered only to whom the reveal itself would not refuse.
    crate::pages::number::revealable(&who.caller, &record)?;
    // Back from the password prompt, the reason typed before it.
    let user = who.caller.user_id.as_deref().unwrap_or_default();
    let reason = session::take_reveal_reason(&session, user, &record.meta.phone_number_id).await?;
    let once = session::issue_once(&session, &record.meta.phone_number_id).await?;
    form_page(
        StatusCode::OK,
        &RevealForm {
            page,
            id: record.meta.phone_number_id,
            display: record.meta.display_phone_number,
            reason: reason.unwrap_or_default(),
            once,
            problem: None,
            released: record.pin_state == PinState::Released,
        },
    )
}

/// The most of a reason kept across the password prompt (governance allows far less).
const KEPT_REASON: usize = 2_000;

/// The reveal form: the reason and the form's one-time token (the PIN never comes from
/// the browser).
#[derive(Deserialize)]
pub(super) struct RevealFields {
    reason: Option<String>,
    #[serde(rename = "_once")]
    once: Option<String>,
}

pub(super) async fn reveal(
    State(state): State<AppState>,
    who: Authorized<ReadNumbers>,
    page: PageContext,
    session: Session,
    Path(id): Path<String>,
    Form(fields): Form<RevealFields>,
) -> Result<Response, AppError> {
    let phone = phone(&id)?;
    let record = numbers::record(&state.store, &who.caller, &phone, Utc::now()).await?;
    // Refused before the form's token is looked at, so a refusal says why.
    crate::pages::number::revealable(&who.caller, &record)?;
    if let Err(step_up) = who.require_step_up() {
        // The password prompt comes back to the form; keep what was typed for it.
        let typed: String = fields
            .reason
            .unwrap_or_default()
            .chars()
            .take(KEPT_REASON)
            .collect();
        let typed = crate::pages::number::shown_back(typed);
        if !typed.trim().is_empty() {
            let user = who.caller.user_id.as_deref().unwrap_or_default();
            session::keep_reveal_reason(&session, user, &record.meta.phone_number_id, &typed)
                .await?;
        }
        return Err(step_up);
    }
    let custody = custody_of(&state)?;
    let number = record.meta.phone_number_id.as_str();
    let once = fields.once.unwrap_or_default();
    if !session::spend_once(&session, &state.spent, number, &once).await? {
        // A reload of the revealed PIN's page, or a second tab's form: nothing is revealed.
        session::flash(
            &session,
            "info",
            "That reveal form was already used, so the PIN was not shown again. \
             Choose Reveal PIN to reveal it once more (it is ledgered again).",
        )
        .await?;
        return Ok(Redirect::to(&format!("/numbers/{number}")).into_response());
    }
    let reason = field(fields.reason);
    let again = async |page, status, problem: String, reason: String| {
        form_page(
            status,
            &RevealForm {
                page,
                id: number.to_owned(),
                display: record.meta.display_phone_number.clone(),
                reason,
                once: session::issue_once(&session, number).await?,
                problem: Some(problem),
                released: record.pin_state == PinState::Released,
            },
        )
    };
    let user = who.caller.user_id.clone().ok_or(AppError::SignInRequired)?;
    if let Err(wait) = state.reveals.admit(&user) {
        return again(
            page,
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "You revealed {} PINs within the last hour; try again in {} minutes.",
                crate::auth::reveals::PER_USER,
                wait.div_ceil(60)
            ),
            crate::pages::number::shown_back(reason),
        )
        .await;
    }
    let revealed = governance::custody::reveal_as(
        &state.store,
        custody.escrow.identity(),
        &who.caller,
        &phone,
        &reason,
    )
    .await;
    let revealed = match revealed {
        Ok(revealed) => revealed,
        Err(error) => {
            state.reveals.undo(&user);
            return match error {
                governance::Error::Invalid { field, problem } => {
                    let mut message = crate::pages::number::Refusal::new(field, &problem).message;
                    if governance::numbers::holds_six_digits(&reason) {
                        message.push_str(&crate::pages::number::cleared("The reason was"));
                    }
                    again(
                        page,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        message,
                        crate::pages::number::shown_back(reason),
                    )
                    .await
                }
                // A PIN sealed to a newer identity (keys rotated on another host): say so.
                other => Err(custody.escrow.explain(&state.store, other).await.into()),
            };
        }
    };
    let html = render(&Revealed {
        page,
        id: record.meta.phone_number_id.clone(),
        display: record.meta.display_phone_number.clone(),
        pin: revealed.pin.expose(),
        rotation_job: revealed.rotation_job.clone(),
        released: record.pin_state == PinState::Released,
    })?;
    Ok(([(header::CACHE_CONTROL, "no-store")], html).into_response())
}
