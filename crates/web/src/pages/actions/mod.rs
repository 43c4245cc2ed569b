//! What people do to one number from its record page: its seats and their handovers
//! ([`seats`]), its details ([`details`]) and review ([`review`]), custody — take, rotate,
//! release, record an out-of-band change ([`custody`]) — and revealing its PIN ([`reveal`]).
//!
//! Every action is a plain form posted to a route under `/numbers/{id}/…` (CSRF-checked by
//! the middleware like every POST), answered by a redirect to the record with a flash
//! (POST-redirect-GET). A refused input re-renders the record with the field's problem and
//! status 422, nothing changed; so does a seats or details form opened before the record
//! changed, with 409. Other refusals are error pages (403, 404, 409, 503).

pub(crate) mod custody;
pub(super) mod details;
mod reveal;
mod review;
mod seats;

use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use governance::access::Caller;
use graph::PhoneNumberId;
use tower_sessions::Session;

use super::number::{Refusal, Typed, record_page};
use crate::AppState;
use crate::auth::session;
use crate::error::AppError;
use crate::page::PageContext;

pub(super) fn routes() -> Router<AppState> {
    let actions = [
        ("seats", post(seats::assign)),
        ("handovers", post(seats::propose)),
        ("handovers/{handover}/accept", post(seats::accept)),
        ("handovers/{handover}/decline", post(seats::decline)),
        ("handovers/{handover}/cancel", post(seats::cancel)),
        ("details", post(details::save)),
        ("review", post(review::complete)),
        ("take-custody", post(custody::take)),
        ("rotate", post(custody::rotate)),
        ("release", post(custody::release)),
        ("out-of-band", post(custody::out_of_band)),
    ];
    let router = Router::new().route(
        "/numbers/{id}/reveal",
        get(reveal::form).post(reveal::reveal),
    );
    actions.into_iter().fold(router, |router, (action, form)| {
        router.route(&format!("/numbers/{{id}}/{action}"), form.get(to_record))
    })
}

/// A form's address opened directly (a refused form's page reloaded, a copied address):
/// back to the number's page, never a bare 405.
async fn to_record(uri: axum::http::Uri) -> Result<Response, AppError> {
    let id = uri.path().split('/').nth(2).unwrap_or_default();
    let phone = crate::pages::number::phone(id)?;
    Ok(Redirect::to(&format!("/numbers/{}", phone.as_str())).into_response())
}

/// A flash for the record page: `(kind, message)`.
type Done = (&'static str, String);

/// The answer to an action's form: its flash and a redirect to the record when it was
/// done; the record again with the field's problem (422) when the input was refused.
async fn answer(
    state: &AppState,
    caller: &Caller,
    page: PageContext,
    session: &Session,
    phone: &PhoneNumberId,
    result: Result<Done, governance::Error>,
) -> Result<Response, AppError> {
    answer_typed(state, caller, page, session, phone, result, Typed::Nothing).await
}

/// [`answer`] for a form with fields a person typed: refused, it comes back holding them.
async fn answer_typed(
    state: &AppState,
    caller: &Caller,
    page: PageContext,
    session: &Session,
    phone: &PhoneNumberId,
    result: Result<Done, governance::Error>,
    typed: Typed,
) -> Result<Response, AppError> {
    match result {
        Ok((kind, message)) => {
            session::flash(session, kind, message).await?;
            // A form whose address names itself (`…/details#details`, the ones that keep
            // typed input) passes its fragment on to a redirect without one, and the page
            // would open below its message: `#top` opens it at the top.
            let top = if matches!(typed, Typed::Nothing) {
                ""
            } else {
                "#top"
            };
            Ok(Redirect::to(&format!("/numbers/{}{top}", phone.as_str())).into_response())
        }
        Err(governance::Error::Invalid { field, problem }) => {
            let refusal = Refusal::of(field, &problem, &typed);
            record_page(state, caller, page, phone, Some(refusal), typed).await
        }
        // What was typed comes back, to be saved again over the record as it is now.
        Err(governance::Error::Stale { .. }) if !matches!(typed, Typed::Nothing) => {
            let refusal = Refusal::stale(&typed);
            record_page(state, caller, page, phone, Some(refusal), typed.seen_now()).await
        }
        Err(error) => Err(error.into()),
    }
}

/// The refusal of a form whose fields were each checked alone, naming every fault in the
/// form's order; `None` when there is none. Errors other than a field's refusal stay errors.
fn refusal_of(
    faults: impl IntoIterator<Item = governance::Error>,
    typed: &Typed,
) -> Result<Option<Refusal>, AppError> {
    let refusals = faults
        .into_iter()
        .map(|fault| match fault {
            governance::Error::Invalid { field, problem } => {
                Ok(Refusal::of(field, &problem, typed))
            }
            other => Err(AppError::from(other)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((!refusals.is_empty()).then(|| Refusal::all(refusals)))
}

/// The custody of this service, or a 503 page saying it has none.
fn custody_of(state: &AppState) -> Result<&crate::Custody, AppError> {
    state.custody.as_deref().ok_or(AppError::Unavailable(
        "this pinward was started without custody (service identity and Graph client): \
         PINs cannot be set, revealed or released here",
    ))
}

/// The custodian of the caller's org and its recovery recipients; `None` when this
/// service runs without custody or the org has no Graph credential yet.
async fn custodian_of(
    state: &AppState,
    caller: &Caller,
) -> Result<Option<(governance::custody::Custodian, Vec<vault::Recipient>)>, AppError> {
    let Some(custody) = &state.custody else {
        return Ok(None);
    };
    match custody.for_org(&state.store, &caller.org_id).await {
        Ok(found) => Ok(Some(found)),
        Err(governance::Error::NotFound {
            what: "graph credential",
        }) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// The custodian of the caller's org, or a 503 page saying what is missing.
async fn require_custodian(
    state: &AppState,
    caller: &Caller,
) -> Result<(governance::custody::Custodian, Vec<vault::Recipient>), AppError> {
    custody_of(state)?;
    custodian_of(state, caller)
        .await?
        .ok_or(AppError::Unavailable(
            "this org has no Graph credential yet: an admin adds it in the org's settings",
        ))
}

/// A form's text field; an absent field is empty, so the domain names it as missing.
fn field(value: Option<String>) -> String {
    value.unwrap_or_default()
}

/// A form's date field: `YYYY-MM-DD`, or nothing when left empty.
fn parse_date(
    field: &'static str,
    text: &str,
) -> Result<Option<chrono::NaiveDate>, governance::Error> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    // chrono alone also takes a signed year of any length ("-123456-01-01").
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shaped {
        return Err(governance::Error::Invalid {
            field,
            problem: "must be a date (YYYY-MM-DD)".to_owned(),
        });
    }
    // Written right but not a day (`2020-02-30`): said so, not as a format mistake.
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| governance::Error::Invalid {
            field,
            problem: format!("{text} is not a day of the calendar"),
        })
}
