//! `/api/v1/numbers`: the org's numbers, one number's record, its seats and custody.

use axum::Json;
use axum::extract::{Path, State};
use governance::custody::Outcome;
use governance::numbers::{self, Filter, PageRequest};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::input::{ApiQuery, NoBody, NoQuery};
use super::problem::{ApiError, invalid, phone};
use crate::AppState;
use crate::auth::{self, Authorized};
use crate::error::{AppError, Problem};
use crate::pages::actions::custody::{Rotation, rotate_now};
use crate::pages::numbers::parse_health;

/// Narrowing and paging of the list; every parameter is optional.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Text searched in the display number, verified name and usage (`q`, the dashboard's
    /// name for it, is accepted too).
    #[serde(alias = "q")]
    search: Option<String>,
    /// Only numbers of this client id.
    client: Option<String>,
    /// Only numbers in this PIN state (`unknown`, `escrowed`, …).
    state: Option<String>,
    /// Only numbers with this health problem (`no_owner`, `pin_too_old`, …), or with any
    /// problem: `unhealthy`.
    problem: Option<String>,
    /// The dashboard's name for `problem`, taken the same way (not both at once).
    health: Option<String>,
    /// The page, from 1.
    #[param(value_type = Option<u32>, minimum = 1)]
    page: Option<String>,
    /// Numbers per page, 1 to 200 (50 by default).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    per_page: Option<String>,
}

fn present(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// A count typed in `field`; `range` says which ones are taken, in the refusal of any other.
fn count(
    field: &'static str,
    range: &str,
    text: Option<String>,
    default: u32,
) -> Result<u32, ApiError> {
    match present(text) {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|_| invalid(field, &format!("must be a whole number {range}"))),
    }
}

impl ListQuery {
    fn parse(self) -> Result<(Filter, PageRequest), ApiError> {
        let pin_state = match present(self.state) {
            None => None,
            Some(text) => Some(crate::pages::numbers::parse_pin_state(&text)?),
        };
        // Named as the caller named it, so the refusal points at what was sent.
        let (problem, unhealthy) = match (present(self.problem), present(self.health)) {
            (None, None) => (None, false),
            (Some(text), None) => parse_health("problem", &text)?,
            (None, Some(text)) => parse_health("health", &text)?,
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "health",
                    "is another name for `problem`: give one of them",
                ));
            }
        };
        let defaults = PageRequest::default();
        let page = PageRequest {
            page: count("page", "from 1", self.page, defaults.page)?,
            per_page: count(
                "per_page",
                &format!("from 1 to {}", numbers::MAX_PER_PAGE),
                self.per_page,
                defaults.per_page,
            )?,
        };
        let filter = Filter {
            search: present(self.search),
            client_id: present(self.client),
            pin_state,
            problem,
            unhealthy,
        };
        Ok((filter, page))
    }
}

/// The numbers the token's org holds, one page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/numbers",
    operation_id = "list_numbers",
    tag = "numbers",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of numbers: items, total, page, per_page", body = numbers::Page<numbers::Summary>),
        (status = 400, description = "A parameter is invalid (`client` names a client the token \
         cannot see); `field` names it", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem,
         content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    who: Authorized<auth::ReadNumbers>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<numbers::Page<numbers::Summary>>, ApiError> {
    let (filter, page) = query.parse()?;
    if filter.client_id.is_some() {
        let visible = governance::clients::list(&state.store, &who.caller).await?;
        crate::pages::numbers::check_client(&filter, &visible)?;
    }
    let now = chrono::Utc::now();
    Ok(Json(
        numbers::list(&state.store, &who.caller, &filter, page, now).await?,
    ))
}

/// Everything pinward knows about one number; never its PIN.
#[utoipa::path(
    get,
    path = "/api/v1/numbers/{phone_number_id}",
    tag = "numbers",
    params(("phone_number_id" = String, Path, description = "Meta's phone number id")),
    responses(
        (status = 200, description = "The number's record", body = numbers::Record),
        (status = 404, description = "No such number in the token's org", body = Problem,
         content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem,
         content_type = "application/problem+json"),
    )
)]
pub(crate) async fn record(
    State(state): State<AppState>,
    who: Authorized<auth::ReadNumbers>,
    Path(id): Path<String>,
) -> Result<Json<numbers::Record>, ApiError> {
    let phone = phone(&id)?;
    let now = chrono::Utc::now();
    Ok(Json(
        numbers::record(&state.store, &who.caller, &phone, now).await?,
    ))
}

/// How a custody action ended, in one word.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OutcomeKind {
    /// Meta took the PIN and pinward holds it as current.
    Confirmed,
    /// Meta refused the PIN; the old one stands.
    Rejected,
    /// No conclusive answer yet; pinward will find out.
    Uncertain,
    /// There was nothing to do.
    Idle,
}

/// How a custody action ended.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CustodyOutcome {
    outcome: OutcomeKind,
    /// The PIN version concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<i64>,
    /// Meta's error code of a rejection.
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<i64>,
    /// Sends without a conclusive answer so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    failures: Option<i64>,
    /// The number now shows "needs attention".
    needs_attention: bool,
}

impl From<Outcome> for CustodyOutcome {
    fn from(outcome: Outcome) -> Self {
        let plain = |outcome, version| CustodyOutcome {
            outcome,
            version,
            code: None,
            failures: None,
            needs_attention: false,
        };
        match outcome {
            Outcome::Confirmed { version } => plain(OutcomeKind::Confirmed, Some(version)),
            // A rejection always leaves its reason on the number for someone to act on.
            Outcome::Rejected { version, code } => CustodyOutcome {
                code,
                needs_attention: true,
                ..plain(OutcomeKind::Rejected, Some(version))
            },
            Outcome::Uncertain {
                version,
                failures,
                needs_attention,
            } => CustodyOutcome {
                failures: Some(failures),
                needs_attention,
                ..plain(OutcomeKind::Uncertain, Some(version))
            },
            Outcome::Idle => plain(OutcomeKind::Idle, None),
        }
    }
}

#[derive(Clone, Copy)]
enum Action {
    Take,
    Rotate,
}

async fn custody(
    state: &AppState,
    who: &Authorized<auth::Custody>,
    id: &str,
    action: Action,
) -> Result<Json<CustodyOutcome>, ApiError> {
    let phone = phone(id)?;
    // The number must be the org's before anything else is said about it.
    let record = numbers::record(&state.store, &who.caller, &phone, chrono::Utc::now()).await?;
    let Some(custody) = &state.custody else {
        return Err(ApiError(AppError::Unavailable(
            "this pinward was started without custody: PINs cannot be set here",
        )));
    };
    let (custodian, recovery) = custody.for_org(&state.store, &who.caller.org_id).await?;
    let actor = who.caller.actor()?;
    let org = &who.caller.org_id;
    let outcome = match action {
        Action::Take => custodian.take(org, &actor, &phone, &recovery).await?,
        Action::Rotate => match rotate_now(
            state,
            &who.caller,
            &custodian,
            &recovery,
            &phone,
            record.pin_state,
        )
        .await?
        {
            Rotation::Queued(_, attempt) => attempt,
            Rotation::Direct(outcome) => outcome,
        },
    };
    state.metrics.record_custody(&outcome);
    Ok(Json(outcome.into()))
}

/// Rotates the PIN of an escrowed number: a fresh PIN set at Meta and escrowed. A number
/// whose new PIN is still pending (`rotating` or `uncertain`) gets that same PIN sent
/// again instead: a new one is never made while one may be at Meta.
#[utoipa::path(
    post,
    path = "/api/v1/numbers/{phone_number_id}/rotate",
    tag = "custody",
    params(("phone_number_id" = String, Path, description = "Meta's phone number id")),
    responses(
        (status = 200, description = "How the rotation ended", body = CustodyOutcome),
        (status = 400, description = "A query string or a body: the call takes neither \
         (an empty body, `{}` or `null` is none)", body = Problem,
         content_type = "application/problem+json"),
        (status = 403, description = "The token's role may not run custody", body = Problem,
         content_type = "application/problem+json"),
        (status = 404, description = "No such number in the token's org, or the org has no \
         Graph credential (the detail says which)", body = Problem,
         content_type = "application/problem+json"),
        (status = 409, description = "The number's PIN state does not allow it", body = Problem,
         content_type = "application/problem+json"),
        (status = 503, description = "This instance runs without custody", body = Problem,
         content_type = "application/problem+json"),
    )
)]
pub(crate) async fn rotate(
    State(state): State<AppState>,
    who: Authorized<auth::Custody>,
    Path(id): Path<String>,
    _: NoQuery,
    _: NoBody,
) -> Result<Json<CustodyOutcome>, ApiError> {
    custody(&state, &who, &id, Action::Rotate).await
}

/// Takes custody of a number whose PIN pinward does not hold: sets and escrows a fresh one.
/// A released number is refused (409): it is taken back from its page in the dashboard.
#[utoipa::path(
    post,
    path = "/api/v1/numbers/{phone_number_id}/take-custody",
    tag = "custody",
    params(("phone_number_id" = String, Path, description = "Meta's phone number id")),
    responses(
        (status = 200, description = "How taking custody ended", body = CustodyOutcome),
        (status = 400, description = "A query string or a body: the call takes neither \
         (an empty body, `{}` or `null` is none)", body = Problem,
         content_type = "application/problem+json"),
        (status = 403, description = "The token's role may not run custody", body = Problem,
         content_type = "application/problem+json"),
        (status = 404, description = "No such number in the token's org, or the org has no \
         Graph credential (the detail says which)", body = Problem,
         content_type = "application/problem+json"),
        (status = 409, description = "The number's PIN state does not allow it (already \
         escrowed, a PIN in flight, or released to its client)", body = Problem,
         content_type = "application/problem+json"),
        (status = 503, description = "This instance runs without custody", body = Problem,
         content_type = "application/problem+json"),
    )
)]
pub(crate) async fn take_custody(
    State(state): State<AppState>,
    who: Authorized<auth::Custody>,
    Path(id): Path<String>,
    _: NoQuery,
    _: NoBody,
) -> Result<Json<CustodyOutcome>, ApiError> {
    custody(&state, &who, &id, Action::Take).await
}
