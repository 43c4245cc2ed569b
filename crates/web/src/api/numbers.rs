//! `GET /api/v1/numbers` and `GET /api/v1/numbers/{id}`: the numbers a token's org holds.

use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::Utc;
use governance::custody::PinState;
use governance::health::Problem as Health;
use governance::numbers::{self, Filter, PageRequest};
use graph::PhoneNumberId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Authorized, ReadNumbers};
use crate::error::{AppError, Problem};

/// What the list is narrowed to; every parameter is optional.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Text searched in the display number, verified name and usage.
    q: Option<String>,
    /// Only numbers of this client id.
    client: Option<String>,
    /// Only numbers in this PIN state (`unknown`, `escrowed`, `rotating`, `uncertain`, `released`).
    state: Option<String>,
    /// Only numbers with this health problem (e.g. `no_owner`).
    health: Option<String>,
    /// The page, from 1.
    page: Option<u32>,
    /// Numbers per page, 1 to 200 (default 50).
    per_page: Option<u32>,
}

/// A member holding one of a number's seats.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Seat {
    member_id: String,
    name: String,
    /// False once the member has left.
    active: bool,
}

/// A number as listed.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NumberSummary {
    /// Meta's phone number id.
    phone_number_id: String,
    display_phone_number: String,
    verified_name: Option<String>,
    usage: Option<String>,
    client_id: String,
    client_name: String,
    /// `unknown`, `escrowed`, `rotating`, `uncertain` or `released`.
    pin_state: String,
    owner: Option<Seat>,
    manager: Option<Seat>,
    next_review_due: Option<String>,
    /// Health problem codes; empty when nothing is wrong.
    health: Vec<String>,
}

/// One page of numbers.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NumberPage {
    items: Vec<NumberSummary>,
    /// How many numbers match, on all pages.
    total: u64,
    page: u32,
    per_page: u32,
}

fn seat(p: Option<numbers::Person>) -> Option<Seat> {
    p.map(|p| Seat {
        member_id: p.member_id,
        name: p.name,
        active: p.active,
    })
}

fn summary(s: numbers::Summary) -> NumberSummary {
    NumberSummary {
        phone_number_id: s.phone_number_id,
        display_phone_number: s.display_phone_number,
        verified_name: s.verified_name,
        usage: s.usage,
        client_id: s.client_id,
        client_name: s.client_name,
        pin_state: s.pin_state.as_str().to_owned(),
        owner: seat(s.owner),
        manager: seat(s.manager),
        next_review_due: s.next_review_due.map(|d| d.to_rfc3339()),
        health: s
            .health
            .into_iter()
            .map(|h| h.as_str().to_owned())
            .collect(),
    }
}

/// The numbers of the token's org, filtered, one page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/numbers",
    tag = "numbers",
    params(ListParams),
    responses(
        (status = 200, description = "One page of numbers", body = NumberPage),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is not acceptable (named in `field`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    who: Authorized<ReadNumbers>,
    Query(params): Query<ListParams>,
) -> Result<Json<NumberPage>, AppError> {
    let given = |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let pin_state = given(params.state)
        .map(|s| {
            PinState::parse(&s).ok_or(governance::Error::Invalid {
                field: "state",
                problem: "must be one of unknown, escrowed, rotating, uncertain, released"
                    .to_owned(),
            })
        })
        .transpose()?;
    let problem = given(params.health)
        .map(|h| Health::parse(&h))
        .transpose()?;
    let filter = Filter {
        search: given(params.q),
        client_id: given(params.client),
        pin_state,
        problem,
    };
    let defaults = PageRequest::default();
    let request = PageRequest {
        page: params.page.unwrap_or(defaults.page),
        per_page: params.per_page.unwrap_or(defaults.per_page),
    };
    let found = numbers::list(&state.store, &who.caller, &filter, request, Utc::now()).await?;
    Ok(Json(NumberPage {
        items: found.items.into_iter().map(summary).collect(),
        total: found.total,
        page: found.page,
        per_page: found.per_page,
    }))
}

/// One number's record (never a PIN). Another org's number is a 404.
#[utoipa::path(
    get,
    path = "/api/v1/numbers/{id}",
    tag = "numbers",
    params(("id" = String, Path, description = "Meta's phone number id")),
    responses(
        (status = 200, description = "The number's record: Meta facts, seats, metadata, PIN state and versions, health, ledger events", content_type = "application/json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such number in the token's org", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    who: Authorized<ReadNumbers>,
    Path(id): Path<String>,
) -> Result<Json<numbers::Record>, AppError> {
    let phone = PhoneNumberId::parse(&id).map_err(|_| governance::Error::NotFound {
        what: "phone number",
    })?;
    let record = numbers::record(&state.store, &who.caller, &phone, Utc::now()).await?;
    Ok(Json(record))
}
