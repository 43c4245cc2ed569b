//! The two seats of a number: assigning them, and the two-sided handover of one seat.
//!
//! Handover routes need only `ReadNumbers`: the domain decides who may propose (the seat's
//! holder or an admin), accept or decline (the incoming member) and cancel, whatever
//! their role.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::Utc;
use governance::handovers::{self, Checklist, Seat};
use governance::numbers;
use serde::Deserialize;
use tower_sessions::Session;

use super::{answer, answer_typed, field, refusal_of};
use crate::AppState;
use crate::auth::{Authorized, ManageNumbers, ReadNumbers};
use crate::error::AppError;
use crate::page::PageContext;
use crate::pages::number::{Ticked, Typed, phone, record_page};

#[derive(Deserialize)]
pub(super) struct SeatsForm {
    owner: Option<String>,
    manager: Option<String>,
    /// The holders the form was shown (empty for an empty seat); a form sent without them
    /// saves unchecked.
    seen_owner: Option<String>,
    seen_manager: Option<String>,
}

impl SeatsForm {
    fn seen(&self) -> Option<numbers::SeatsSeen> {
        let holder = |id: &Option<String>| {
            id.as_deref()
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
        };
        (self.seen_owner.is_some() || self.seen_manager.is_some()).then(|| numbers::SeatsSeen {
            owner: holder(&self.seen_owner),
            manager: holder(&self.seen_manager),
        })
    }
}

pub(super) async fn assign(
    State(state): State<AppState>,
    who: Authorized<ManageNumbers>,
    page: PageContext,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<SeatsForm>,
) -> Result<Response, AppError> {
    let phone = phone(&id)?;
    let seen = form.seen();
    let (owner, manager) = (field(form.owner), field(form.manager));
    let (store, caller, now) = (&state.store, &who.caller, Utc::now());
    let result = match &seen {
        Some(seen) => {
            numbers::assign_seen(store, caller, &phone, &owner, &manager, seen, now).await
        }
        None => numbers::assign(store, caller, &phone, &owner, &manager, now).await,
    }
    .map(|()| {
        (
            "success",
            "Main owner and permission manager saved.".to_owned(),
        )
    });
    let typed = Typed::Seats {
        owner,
        manager,
        seen,
    };
    answer_typed(&state, &who.caller, page, &session, &phone, result, typed).await
}

#[derive(Deserialize)]
pub(super) struct ProposeForm {
    seat: Option<String>,
    to_member: Option<String>,
    note: Option<String>,
}

pub(super) async fn propose(
    State(state): State<AppState>,
    who: Authorized<ReadNumbers>,
    page: PageContext,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<ProposeForm>,
) -> Result<Response, AppError> {
    let phone = phone(&id)?;
    let (seat, to, note) = (field(form.seat), field(form.to_member), field(form.note));
    let typed = Typed::Handover {
        seat: seat.clone(),
        to_member: to.clone(),
        note: note.clone(),
    };
    // Each field alone first, so every fault is named at once, in the form's order.
    let faults = [
        Seat::parse(seat.trim()).err(),
        numbers::check_chosen("to_member", &to).err(),
        handovers::check_proposal_note(&note).err(),
    ];
    if let Some(refusal) = refusal_of(faults.into_iter().flatten(), &typed)? {
        return record_page(&state, &who.caller, page, &phone, Some(refusal), typed).await;
    }
    let result = async {
        let seat = Seat::parse(seat.trim())?;
        handovers::propose(
            &state.store,
            &who.caller,
            &phone,
            seat,
            &to,
            &note,
            Utc::now(),
        )
        .await
    }
    .await
    .map(|_| {
        (
            "success",
            "Handover proposed: the incoming member accepts it on this page.".to_owned(),
        )
    });
    answer_typed(&state, &who.caller, page, &session, &phone, result, typed).await
}

/// The checklist's boxes: a ticked box is sent (as `on`), an unticked one is not.
#[derive(Deserialize)]
pub(super) struct AcceptForm {
    recovery_email_confirmed: Option<String>,
    backup_channels_confirmed: Option<String>,
    pin_escrowed: Option<String>,
    rotate: Option<String>,
}

pub(super) async fn accept(
    State(state): State<AppState>,
    who: Authorized<ReadNumbers>,
    page: PageContext,
    session: Session,
    Path((id, handover)): Path<(String, String)>,
    Form(form): Form<AcceptForm>,
) -> Result<Response, AppError> {
    let phone = phone(&id)?;
    let record = match open_here(&state, &who, &phone, &handover).await {
        Ok(record) => record,
        Err(refused) => {
            return answer(&state, &who.caller, page, &session, &phone, Err(refused)).await;
        }
    };
    let ticked = Ticked {
        recovery_email_confirmed: form.recovery_email_confirmed.is_some(),
        backup_channels_confirmed: form.backup_channels_confirmed.is_some(),
        pin_escrowed: form.pin_escrowed.is_some(),
        rotate: form.rotate.is_some(),
    };
    let checklist = Checklist {
        recovery_email_confirmed: ticked.recovery_email_confirmed,
        backup_channels_confirmed: ticked.backup_channels_confirmed,
        pin_escrowed: ticked.pin_escrowed,
    };
    let rotate = ticked.rotate;
    // Every box at fault at once; `accept` checks again and has the last word.
    let faults = handovers::checklist_faults(&who.caller, &record, &handover, &checklist);
    let typed = Typed::Checklist {
        handover: handover.clone(),
        ticked,
    };
    if let Some(refusal) = refusal_of(faults, &typed)? {
        return record_page(&state, &who.caller, page, &phone, Some(refusal), typed).await;
    }
    let now = Utc::now();
    let custody = super::custodian_of(&state, &who.caller).await?;
    let result = match &custody {
        Some((custodian, recovery)) => {
            handovers::accept_and_rotate(
                custodian,
                recovery,
                &who.caller,
                &handover,
                checklist,
                rotate,
                now,
            )
            .await
        }
        None => handovers::accept(&state.store, &who.caller, &handover, checklist, rotate, now)
            .await
            .map(|accepted| (accepted, None)),
    }
    .map(|(accepted, rotation)| {
        if let Some(Ok(outcome)) = &rotation {
            state.metrics.record_custody(outcome);
        }
        accepted_flash(accepted.rotation_due, rotation)
    });
    answer_typed(&state, &who.caller, page, &session, &phone, result, typed).await
}

/// The record of `phone`, unless `handover` is not one of its open handovers (the route
/// names both, and a form of one number's page must not act on another's).
async fn open_here(
    state: &AppState,
    who: &Authorized<ReadNumbers>,
    phone: &graph::PhoneNumberId,
    handover: &str,
) -> Result<numbers::Record, governance::Error> {
    let record = numbers::record(&state.store, &who.caller, phone, Utc::now()).await?;
    if record.open_handovers.iter().any(|h| h.id == handover) {
        Ok(record)
    } else {
        Err(governance::Error::Invalid {
            field: "handover",
            problem: "is not an open handover of this number".to_owned(),
        })
    }
}

fn accepted_flash(
    rotation_due: bool,
    rotation: Option<Result<governance::custody::Outcome, governance::Error>>,
) -> super::Done {
    match (rotation_due, rotation) {
        (false, _) => (
            "success",
            "Handover accepted: the seat is yours.".to_owned(),
        ),
        (true, None) => (
            "info",
            "Handover accepted. A PIN rotation is due, but this pinward cannot set PINs for \
             the org (no custody or no Graph credential): rotate the PIN once it can."
                .to_owned(),
        ),
        (true, Some(Ok(outcome))) => (
            "success",
            format!(
                "Handover accepted; PIN rotation: {}",
                super::custody::describe(&outcome).1
            ),
        ),
        (true, Some(Err(error))) => (
            "error",
            format!("Handover accepted, but the PIN rotation did not run: {error}"),
        ),
    }
}

#[derive(Deserialize)]
pub(super) struct DeclineForm {
    note: Option<String>,
}

pub(super) async fn decline(
    State(state): State<AppState>,
    who: Authorized<ReadNumbers>,
    page: PageContext,
    session: Session,
    Path((id, handover)): Path<(String, String)>,
    Form(form): Form<DeclineForm>,
) -> Result<Response, AppError> {
    let phone = phone(&id)?;
    if let Err(refused) = open_here(&state, &who, &phone, &handover).await {
        return answer(&state, &who.caller, page, &session, &phone, Err(refused)).await;
    }
    let result = handovers::decline(
        &state.store,
        &who.caller,
        &handover,
        &field(form.note),
        Utc::now(),
    )
    .await
    .map(|_| ("info", "Handover declined.".to_owned()));
    answer(&state, &who.caller, page, &session, &phone, result).await
}

pub(super) async fn cancel(
    State(state): State<AppState>,
    who: Authorized<ReadNumbers>,
    page: PageContext,
    session: Session,
    Path((id, handover)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let phone = phone(&id)?;
    if let Err(refused) = open_here(&state, &who, &phone, &handover).await {
        return answer(&state, &who.caller, page, &session, &phone, Err(refused)).await;
    }
    let result = handovers::cancel(&state.store, &who.caller, &handover, Utc::now())
        .await
        .map(|_| ("info", "Handover cancelled.".to_owned()));
    answer(&state, &who.caller, page, &session, &phone, result).await
}
