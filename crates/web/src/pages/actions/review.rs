//! Completing a number's periodic review from its page (`numbers:manage`), with an optional
//! note and, for a review held earlier and entered now, the day it was held; the next
//! review is then due one policy cadence after it.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::Utc;
use governance::reviews;
use serde::Deserialize;
use tower_sessions::Session;

use super::{answer_typed, field, parse_date, refusal_of};
use crate::AppState;
use crate::auth::{Authorized, ManageNumbers};
use crate::error::AppError;
use crate::page::PageContext;
use crate::pages::number::{Typed, phone, record_page};

#[derive(Deserialize)]
pub(super) struct ReviewForm {
    note: Option<String>,
    /// `YYYY-MM-DD`, empty for today.
    reviewed_on: Option<String>,
}

pub(super) async fn complete(
    State(state): State<AppState>,
    who: Authorized<ManageNumbers>,
    page: PageContext,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<ReviewForm>,
) -> Result<Response, AppError> {
    let phone = phone(&id)?;
    // Browsers send a textarea's line breaks as CRLF; the note keeps plain line breaks.
    let note = field(form.note).replace("\r\n", "\n");
    let reviewed_on = field(form.reviewed_on);
    let now = Utc::now();
    let typed = Typed::Review {
        note: note.clone(),
        reviewed_on: reviewed_on.clone(),
    };
    // Each field alone first, so a bad day does not hide a bad note.
    let day = parse_date("reviewed_on", &reviewed_on).and_then(|day| {
        day.map_or(Ok(None), |day| {
            reviews::check_day(day, now).map(|()| Some(day))
        })
    });
    let (day, day_fault) = match day {
        Ok(day) => (day, None),
        Err(fault) => (None, Some(fault)),
    };
    let faults = [day_fault, reviews::check_note(&note).err()];
    if let Some(refusal) = refusal_of(faults.into_iter().flatten(), &typed)? {
        return record_page(&state, &who.caller, page, &phone, Some(refusal), typed).await;
    }
    let result = match day {
        None => reviews::complete(&state.store, &who.caller, &phone, &note, now).await,
        Some(day) => reviews::complete_on(&state.store, &who.caller, &phone, &note, day, now).await,
    }
    .map(|done| {
        let due = done.next_review_due.format("%Y-%m-%d");
        let said = if done.next_review_due <= now {
            format!("Review recorded: the next one was due {due}, so the number is overdue again.")
        } else {
            format!("Review completed: the next one is due {due}.")
        };
        ("success", said)
    });
    answer_typed(&state, &who.caller, page, &session, &phone, result, typed).await
}
