//! A number's details from its page: usage, activation date, recovery email and backup
//! channels, all replaced at once by `numbers::update_metadata` (`numbers:manage`).
//!
//! Backup channels are typed one per line as `kind: value`, the kind as the page words it
//! ("web form") or as the API spells it (`web_form`); the textarea shows them in the page's
//! words.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::Utc;
use governance::numbers::{self, BackupChannel, ChannelKind, MetadataUpdate};
use serde::Deserialize;
use tower_sessions::Session;

use super::{answer_typed, field, parse_date, refusal_of};
use crate::AppState;
use crate::auth::{Authorized, ManageNumbers};
use crate::error::AppError;
use crate::page::PageContext;
use crate::pages::number::{Details, Typed, phone, record_page};

#[derive(Deserialize)]
pub(super) struct DetailsForm {
    usage: Option<String>,
    activation_date: Option<String>,
    recovery_email: Option<String>,
    backup_channels: Option<String>,
    /// The fingerprint of the details the form was shown; a form sent without one saves
    /// unchecked.
    seen: Option<String>,
}

/// The channels as the textarea shows them: one `kind: value` per line.
pub(crate) fn channel_lines(channels: &[BackupChannel]) -> String {
    channels
        .iter()
        .map(|c| format!("{}: {}", crate::pages::number::channel(c.kind), c.value))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The kinds a channel may have, as the page words them: "email, web form, … or other".
fn kinds() -> String {
    let words: Vec<&str> = ChannelKind::ALL
        .into_iter()
        .map(crate::pages::number::channel)
        .collect();
    match words.split_last() {
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// The channels typed; refused, every line at fault is named in order, whether it is written
/// wrong, its value is, or it lists a channel again.
fn parse_channels(text: &str) -> Result<Vec<BackupChannel>, governance::Error> {
    let mut written = Vec::new();
    // (line number, fault) of the lines not written as `kind: value`.
    let mut unreadable = Vec::new();
    let lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
    for (i, line) in lines.enumerate() {
        match parse_line(i + 1, line) {
            Ok(channel) => written.push((i + 1, channel)),
            Err(fault) => unreadable.push((i + 1, fault)),
        }
    }
    let faults = numbers::channel_faults(&written);
    if unreadable.is_empty() && faults.is_empty() {
        return Ok(written.into_iter().map(|(_, channel)| channel).collect());
    }
    let mut all = unreadable;
    all.extend(faults);
    all.sort_by_key(|(n, _)| *n);
    Err(governance::Error::Invalid {
        field: "backup_channels",
        problem: all
            .into_iter()
            .map(|(_, fault)| fault)
            .collect::<Vec<_>>()
            .join("; "),
    })
}

/// The channels' text to show back in a refused form, without the lines that may hold a PIN
/// (six digits in a row anywhere but in a phone line, email or web form the number may
/// keep); and whether any was dropped.
pub(crate) fn shown_back_channels(text: &str) -> (String, bool) {
    let mut dropped = false;
    let kept: Vec<&str> = text
        .split_inclusive('\n')
        .filter(|line| {
            let keepable = parse_line(1, line.trim()).is_ok_and(|channel| {
                matches!(
                    channel.kind,
                    ChannelKind::Phone | ChannelKind::Email | ChannelKind::WebForm
                ) && numbers::channel_faults(&[(1, channel)]).is_empty()
            });
            let pin_like = !keepable && numbers::holds_six_digits(line);
            dropped |= pin_like;
            !pin_like
        })
        .collect();
    (kept.concat(), dropped)
}

/// Channel `n`, typed as `kind: value`; its fault as the form words it.
fn parse_line(n: usize, line: &str) -> Result<BackupChannel, String> {
    let as_typed = || format!("channel {n}: write it as kind: value");
    let (kind, value) = line.split_once(':').ok_or_else(as_typed)?;
    // "web form https://…": the colon found is the address's own.
    if value.starts_with("//") {
        return Err(as_typed());
    }
    // As the page shows a kind ("web form") or as the API spells it (`web_form`).
    let spelled = kind.trim().to_lowercase().replace([' ', '-'], "_");
    let kind = ChannelKind::parse(&spelled)
        .map_err(|_| format!("channel {n}: the kind is one of {}", kinds()))?;
    Ok(BackupChannel {
        kind,
        value: value.trim().to_owned(),
    })
}

/// Every problem of the form, in the form's order: each field is checked alone (the others
/// left blank), so one mistake does not hide the next.
fn problems(form: &DetailsForm, now: chrono::DateTime<Utc>) -> Vec<governance::Error> {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let alone = |update: MetadataUpdate| numbers::check_metadata(&update, now);
    let checks = [
        alone(MetadataUpdate {
            usage: Some(text(&form.usage)),
            ..MetadataUpdate::default()
        }),
        parse_date("activation_date", &text(&form.activation_date)).and_then(|activation_date| {
            alone(MetadataUpdate {
                activation_date,
                ..MetadataUpdate::default()
            })
        }),
        alone(MetadataUpdate {
            recovery_email: Some(text(&form.recovery_email)),
            ..MetadataUpdate::default()
        }),
        parse_channels(&text(&form.backup_channels)).and_then(|backup_channels| {
            alone(MetadataUpdate {
                backup_channels,
                ..MetadataUpdate::default()
            })
        }),
    ];
    checks.into_iter().filter_map(Result::err).collect()
}

fn update(form: DetailsForm) -> Result<MetadataUpdate, governance::Error> {
    Ok(MetadataUpdate {
        usage: Some(field(form.usage)),
        activation_date: parse_date("activation_date", &field(form.activation_date))?,
        recovery_email: Some(field(form.recovery_email)),
        backup_channels: parse_channels(&field(form.backup_channels))?,
    })
}

pub(super) async fn save(
    State(state): State<AppState>,
    who: Authorized<ManageNumbers>,
    page: PageContext,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<DetailsForm>,
) -> Result<Response, AppError> {
    let phone = phone(&id)?;
    // Refused, the form comes back with what was typed (line breaks as the browser sent them).
    let typed = Typed::Details(Details {
        usage: form.usage.clone().unwrap_or_default(),
        activation_date: form.activation_date.clone().unwrap_or_default(),
        recovery_email: form.recovery_email.clone().unwrap_or_default(),
        channels: form.backup_channels.clone().unwrap_or_default(),
        seen: form.seen.clone().unwrap_or_default(),
    });
    let now = Utc::now();
    if let Some(refusal) = refusal_of(problems(&form, now), &typed)? {
        return record_page(&state, &who.caller, page, &phone, Some(refusal), typed).await;
    }
    let seen = form.seen.clone().filter(|seen| !seen.is_empty());
    let (store, caller) = (&state.store, &who.caller);
    let result = match (update(form), seen) {
        (Ok(update), Some(seen)) => {
            numbers::update_metadata_seen(store, caller, &phone, &update, &seen, now).await
        }
        (Ok(update), None) => numbers::update_metadata(store, caller, &phone, &update, now).await,
        (Err(refused), _) => Err(refused),
    }
    .map(|_| ("success", "Details saved.".to_owned()));
    answer_typed(&state, &who.caller, page, &session, &phone, result, typed).await
}
