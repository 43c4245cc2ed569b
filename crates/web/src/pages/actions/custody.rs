//! Custody of one number from its page: take custody, rotate, release to the client, and
//! record a change made outside pinward. Each needs the `custody` permission.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use governance::custody::{OutOfBand, Outcome, PinState};
use governance::{jobs, numbers};
use serde::Deserialize;
use tower_sessions::Session;

use super::{
    Done, answer, answer_typed, custody_of, field, parse_date, refusal_of, require_custodian,
};
use crate::AppState;
use crate::auth::{self, Authorized};
use crate::error::AppError;
use crate::page::PageContext;
use crate::pages::number::{Typed, phone, record_page};

/// The flash of a custody call's outcome.
pub(super) fn describe(outcome: &Outcome) -> Done {
    match outcome {
        Outcome::Confirmed { version } => (
            "success",
            format!("PIN version {version} is set at Meta and escrowed."),
        ),
        Outcome::Rejected { version, code } => (
            "error",
            format!(
                "Meta rejected PIN version {version}{}; the number keeps its previous PIN.",
                code.map(|c| format!(" (code {c})")).unwrap_or_default()
            ),
        ),
        Outcome::Uncertain {
            version,
            failures,
            needs_attention,
        } => (
            "error",
            format!(
                "Meta did not confirm PIN version {version} after {failures} attempt(s) and may \
                 hold it already; Resume the pending rotation sends the same PIN again{}.",
                if *needs_attention {
                    " — the number needs attention"
                } else {
                    ""
                }
            ),
        ),
        Outcome::Idle => ("info", "Nothing was pending.".to_owned()),
    }
}

/// The flash of running the rotation queued after a reveal.
fn queued_ran(status: &jobs::JobStatus) -> Done {
    if status.done > 0 {
        (
            "success",
            "The rotation queued after the reveal ran: a new PIN is set at Meta and escrowed."
                .to_owned(),
        )
    } else {
        (
            "error",
            format!(
                "The rotation queued after the reveal did not complete (job {}, {}): see the \
                 PIN versions below.",
                status.id, status.status
            ),
        )
    }
}

#[derive(Clone, Copy)]
enum SetPin {
    Take,
    /// With the version the form was shown for, if it says.
    Rotate(Option<i64>),
}

async fn set_pin(
    state: &AppState,
    who: &Authorized<auth::Custody>,
    page: PageContext,
    session: &Session,
    id: &str,
    action: SetPin,
) -> Result<Response, AppError> {
    let phone = phone(id)?;
    // The number must be the caller's before anything else is said about it.
    let record = numbers::record(&state.store, &who.caller, &phone, Utc::now()).await?;
    let (custodian, recovery) = require_custodian(state, &who.caller).await?;
    let actor = who.caller.actor()?;
    let org = &who.caller.org_id;
    let result = match action {
        // Take custody on a released number's page is its "Take back into custody".
        SetPin::Take if record.pin_state == PinState::Released => custodian
            .take_back(org, &actor, &phone, &recovery)
            .await
            .map(|outcome| counted(state, &outcome)),
        SetPin::Take => custodian
            .take(org, &actor, &phone, &recovery)
            .await
            .map(|outcome| counted(state, &outcome)),
        SetPin::Rotate(Some(shown))
            if record.pin_state == PinState::Escrowed
                && record.current_version() != Some(shown) =>
        {
            Ok((
                "info",
                format!(
                    "The PIN was rotated since that page was shown (from version {shown}{}), so \
                     nothing was done. Choose Rotate PIN again to set another one.",
                    record
                        .current_version()
                        .map(|now| format!(" to version {now}"))
                        .unwrap_or_default()
                ),
            ))
        }
        SetPin::Rotate(_) => {
            match rotate_now(
                state,
                &who.caller,
                &custodian,
                &recovery,
                &phone,
                record.pin_state,
            )
            .await
            {
                Ok(Rotation::Queued(status, attempt)) => {
                    state.metrics.record_custody(&attempt);
                    Ok(queued_ran(&status))
                }
                Ok(Rotation::Direct(outcome)) => Ok(counted(state, &outcome)),
                Err(error) => Err(error),
            }
        }
    };
    let result = result.or_else(|error| in_flight(error, action));
    answer(state, &who.caller, page, session, &phone, result).await
}

/// A Take custody or Rotate PIN that meets a new PIN already in flight — the first of a
/// double click, another tab, a rotation job — or custody taken meanwhile: nothing more is
/// done, and the person is told so over the number's page, which shows how it ended, not
/// an error page over a change that is going well.
fn in_flight(error: governance::Error, action: SetPin) -> Result<Done, governance::Error> {
    use governance::Error as E;
    match error {
        E::Busy { .. }
        | E::PinState {
            state: "rotating" | "uncertain",
            ..
        } => Ok((
            "info",
            "A new PIN for this number is already in flight (a second click, another tab or a \
             rotation job), so nothing more was done: the PIN section shows how it stands."
                .to_owned(),
        )),
        E::PinState {
            state: "escrowed", ..
        } if matches!(action, SetPin::Take) => Ok((
            "info",
            "Custody of this number was taken meanwhile (a second click or another tab), so \
             nothing more was done."
                .to_owned(),
        )),
        other => Err(other),
    }
}

/// How Rotate PIN ran: as the rotation a reveal had queued (a one-number job: its counts,
/// and what this process's attempt came to, `Idle` when another worker ran the item), or
/// directly.
pub(crate) enum Rotation {
    Queued(jobs::JobStatus, Outcome),
    Direct(Outcome),
}

/// Rotate PIN, one rule for the dashboard and the API: the rotation a reveal queued is this
/// one, so it runs rather than a second; a PIN already pending is sent again, never
/// replaced by a new one; otherwise a fresh PIN is set.
pub(crate) async fn rotate_now(
    state: &AppState,
    caller: &governance::access::Caller,
    custodian: &governance::custody::Custodian,
    recovery: &[vault::Recipient],
    phone: &graph::PhoneNumberId,
    pin_state: PinState,
) -> Result<Rotation, governance::Error> {
    let (org, actor) = (&caller.org_id, caller.actor()?);
    if let Some(job) = jobs::queued_for(&state.store, caller, phone).await? {
        let attempt = std::sync::Mutex::new(Outcome::Idle);
        let kept = |_: &jobs::JobStatus, outcome: Option<&Outcome>| {
            if let Some(outcome) = outcome
                && let Ok(mut attempt) = attempt.lock()
            {
                *attempt = outcome.clone();
            }
        };
        let status = jobs::run(custodian, org, &actor, &job, recovery, &kept).await?;
        let attempt = attempt.into_inner().unwrap_or(Outcome::Idle);
        return Ok(Rotation::Queued(status, attempt));
    }
    let outcome = if matches!(pin_state, PinState::Rotating | PinState::Uncertain) {
        custodian.resume(org, &actor, phone).await?
    } else {
        custodian.rotate(org, &actor, phone, recovery).await?
    };
    Ok(Rotation::Direct(outcome))
}

/// Counts the attempt in `/metrics`, then says what became of it.
fn counted(state: &AppState, outcome: &Outcome) -> (&'static str, String) {
    state.metrics.record_custody(outcome);
    describe(outcome)
}

pub(super) async fn take(
    State(state): State<AppState>,
    who: Authorized<auth::Custody>,
    page: PageContext,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    set_pin(&state, &who, page, &session, &id, SetPin::Take).await
}

pub(super) async fn rotate(
    State(state): State<AppState>,
    who: Authorized<auth::Custody>,
    page: PageContext,
    session: Session,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    // The Rotate PIN form carries the PIN version current when the page was shown, so that
    // a form sent twice (a double click, a reload, a second tab) rotates once. Read from
    // the body as it comes: a post without the field (a script sending the CSRF token as a
    // header, no body) rotates, as does a version that does not read as one.
    let shown = url::form_urlencoded::parse(&body)
        .find(|(name, _)| name == "from_version")
        .and_then(|(_, version)| version.trim().parse().ok());
    set_pin(&state, &who, page, &session, &id, SetPin::Rotate(shown)).await
}

/// Releases the PIN to the number's client: the answer is the armored age file sealed to
/// the client's recipient, as a download that no cache keeps.
pub(super) async fn release(
    State(state): State<AppState>,
    who: Authorized<auth::Custody>,
    page: PageContext,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let phone = phone(&id)?;
    numbers::record(&state.store, &who.caller, &phone, Utc::now()).await?;
    let custody = custody_of(&state)?;
    let actor = who.caller.actor()?;
    let released = governance::custody::release(
        &state.store,
        custody.escrow.identity(),
        &who.caller.org_id,
        &actor,
        &phone,
    )
    .await;
    match released {
        Ok(sealed) => Ok((
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"pin-{}.age\"", phone.as_str()),
                ),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
            sealed.into_string(),
        )
            .into_response()),
        Err(error) => {
            let error = custody.escrow.explain(&state.store, error).await;
            answer(&state, &who.caller, page, &session, &phone, Err(error)).await
        }
    }
}

/// The out-of-band form: what happened and the day, both optional.
#[derive(Deserialize)]
pub(super) struct OutOfBandForm {
    note: Option<String>,
    changed_on: Option<String>,
}

pub(super) async fn out_of_band(
    State(state): State<AppState>,
    who: Authorized<auth::Custody>,
    page: PageContext,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<OutOfBandForm>,
) -> Result<Response, AppError> {
    let phone = phone(&id)?;
    numbers::record(&state.store, &who.caller, &phone, Utc::now()).await?;
    let (note, changed_on) = (field(form.note), field(form.changed_on));
    let typed = Typed::OutOfBand {
        note: note.clone(),
        changed_on: changed_on.clone(),
    };
    // Each field alone, so every fault is named at once, in the form's order.
    let day = parse_date("changed_on", &changed_on);
    let report = OutOfBand {
        note,
        changed_on: day.as_ref().ok().copied().flatten(),
    };
    let mut faults = governance::custody::out_of_band_faults(&report, Utc::now());
    // An unreadable day left `changed_on` out of the report: its fault is the form's last.
    faults.extend(day.err());
    if let Some(refusal) = refusal_of(faults, &typed)? {
        return record_page(&state, &who.caller, page, &phone, Some(refusal), typed).await;
    }
    let actor = who.caller.actor()?;
    let org = &who.caller.org_id;
    let result =
        governance::custody::record_out_of_band(&state.store, org, &actor, &phone, &report)
            .await
            .map(|()| {
                (
                    "info",
                    "Recorded: the escrowed PIN is stale and the number is back in the \
                     take-custody queue."
                        .to_owned(),
                )
            });
    answer_typed(&state, &who.caller, page, &session, &phone, result, typed).await
}
