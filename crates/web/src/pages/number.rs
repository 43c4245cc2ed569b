//! One number's record: Meta's facts, its seats, what it is for, its PIN state and
//! versions (never a PIN), its health and its ledger events.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Html;
use axum::routing::get;
use chrono::{DateTime, Utc};
use governance::health::Problem;
use governance::numbers::{self, ChannelKind, Record};
use graph::PhoneNumberId;

use crate::AppState;
use crate::auth::{Authorized, ReadNumbers};
use crate::error::AppError;
use crate::page::{PageContext, render};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/numbers/{id}", get(show))
}

fn when(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "—".to_owned())
}

fn text(value: Option<String>) -> String {
    value
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "—".to_owned())
}

fn channel(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Email => "email",
        ChannelKind::WebForm => "web form",
        ChannelKind::Phone => "phone",
        ChannelKind::Messenger => "messenger",
        ChannelKind::Other => "other",
    }
}

/// A label and its value, for the facts tables.
struct Fact {
    label: &'static str,
    value: String,
}

fn fact(label: &'static str, value: String) -> Fact {
    Fact { label, value }
}

struct Version {
    version: i64,
    status: String,
    created: String,
    confirmed: String,
    ended: String,
    reason: String,
}

struct Event {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    details: String,
}

#[derive(Template)]
#[template(path = "numbers/show.html")]
struct NumberPage {
    page: PageContext,
    display: String,
    pin_state: &'static str,
    meta: Vec<Fact>,
    custody: Vec<Fact>,
    about: Vec<Fact>,
    channels: Vec<String>,
    problems: Vec<&'static str>,
    versions: Vec<Version>,
    events: Vec<Event>,
}

fn person(p: Option<&numbers::Person>) -> String {
    match p {
        Some(p) if p.active => p.name.clone(),
        Some(p) => format!("{} (departed)", p.name),
        None => "—".to_owned(),
    }
}

async fn show(
    State(state): State<AppState>,
    who: Authorized<ReadNumbers>,
    page: PageContext,
    Path(id): Path<String>,
) -> Result<Html<String>, AppError> {
    // An id that cannot exist is as absent as one of another org.
    let phone = PhoneNumberId::parse(&id).map_err(|_| governance::Error::NotFound {
        what: "phone number",
    })?;
    let record = numbers::record(&state.store, &who.caller, &phone, Utc::now()).await?;
    render(&number_page(page, record))
}

fn number_page(page: PageContext, r: Record) -> NumberPage {
    let Record {
        meta,
        waba,
        client,
        owner,
        manager,
        metadata,
        pin_state,
        escrow_stale,
        attention_reason,
        versions,
        last_reviewed_at,
        next_review_due,
        health,
        events,
        ..
    } = r;
    NumberPage {
        page,
        display: meta.display_phone_number.clone(),
        pin_state: pin_state.as_str(),
        meta: vec![
            fact("Phone number id", meta.phone_number_id),
            fact("Verified name", text(meta.verified_name)),
            fact("Client", client.name),
            fact("WABA", format!("{} ({})", waba.name, waba.meta_waba_id)),
            fact("Quality", text(meta.quality_rating)),
            fact("Name status", text(meta.name_status)),
            fact("Platform", text(meta.platform_type)),
            fact("Code verification", text(meta.code_verification_status)),
            fact("Last onboarded", when(meta.last_onboarded_at)),
            fact("Connector", meta.connector),
            fact("First seen", when(Some(meta.first_seen_at))),
            fact("Last synced", when(Some(meta.last_synced_at))),
        ],
        custody: vec![
            fact("Main owner", person(owner.as_ref())),
            fact("Permission manager", person(manager.as_ref())),
            fact("PIN state", pin_state.as_str().to_owned()),
            fact(
                "Escrow",
                if escrow_stale {
                    "stale: changed outside pinward".to_owned()
                } else {
                    "in step with Meta".to_owned()
                },
            ),
            fact("Needs attention", text(attention_reason)),
            fact("Last reviewed", when(last_reviewed_at)),
            fact("Next review due", when(next_review_due)),
        ],
        about: vec![
            fact("Usage", text(metadata.usage)),
            fact(
                "Activation date",
                metadata
                    .activation_date
                    .map_or_else(|| "—".to_owned(), |d| d.to_string()),
            ),
            fact("Recovery email", text(metadata.recovery_email)),
        ],
        channels: metadata
            .backup_channels
            .into_iter()
            .map(|c| format!("{}: {}", channel(c.kind), c.value))
            .collect(),
        problems: health.into_iter().map(Problem::describe).collect(),
        versions: versions
            .into_iter()
            .map(|v| Version {
                version: v.version,
                status: v.status,
                created: when(Some(v.created_at)),
                confirmed: when(v.confirmed_at),
                ended: when(v.ended_at),
                reason: text(v.failure_reason),
            })
            .collect(),
        events: events
            .into_iter()
            .map(|e| Event {
                seq: e.seq,
                at: e.at,
                actor: e.actor,
                action: e.action,
                details: e.details.to_string(),
            })
            .collect(),
    }
}
