//! A number's two seats (main owner, permission manager) as a resource of their own: read
//! with an entity tag, written back with `If-Match`, so a script that read the seats
//! cannot overwrite someone else's change made in between (a form of the dashboard
//! carries the holders it showed for the same reason).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use governance::numbers::{self, SeatsSeen};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::input::ApiJson;
use super::problem::{ApiError, invalid, phone};
use crate::AppState;
use crate::auth::{self, Authorized};
use crate::error::{AppError, Problem};

/// Who holds a number's two seats.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Holders {
    /// Member id of the main owner; `null` when the seat is empty.
    owner: Option<String>,
    /// Member id of the permission manager; `null` when the seat is empty.
    manager: Option<String>,
}

/// The two seats to put members in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Seats {
    /// Member id of the main owner.
    owner: String,
    /// Member id of the permission manager (another person).
    manager: String,
}

const STALE: &str = "the number's seats changed since the entity tag in If-Match was read: GET \
                     them again for their holders and tag, and decide again";

/// Who holds the number's seats, with their entity tag for `If-Match`.
#[utoipa::path(
    get,
    path = "/api/v1/numbers/{phone_number_id}/seats",
    operation_id = "seats",
    tag = "numbers",
    params(("phone_number_id" = String, Path, description = "Meta's phone number id")),
    responses(
        (status = 200, description = "The seats' holders", body = Holders,
         headers(("ETag" = String, description = "The seats' entity tag: send it in \
          If-Match when putting them"))),
        (status = 404, description = "No such number in the token's org", body = Problem,
         content_type = "application/problem+json"),
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    who: Authorized<auth::ReadNumbers>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let phone = phone(&id)?;
    let record = numbers::record(&state.store, &who.caller, &phone, chrono::Utc::now()).await?;
    let seen = SeatsSeen::of(&record);
    let tag = entity_tag(&seen);
    let holders = Holders {
        owner: seen.owner,
        manager: seen.manager,
    };
    Ok(([(header::ETAG, tag)], Json(holders)).into_response())
}

/// Puts two members in the number's seats (main owner, permission manager). With
/// `If-Match` (the tag `GET …/seats` gave), seats that changed hands since are not
/// overwritten: 412, nothing changed. A put that finds its choice already made succeeds.
#[utoipa::path(
    put,
    path = "/api/v1/numbers/{phone_number_id}/seats",
    operation_id = "assign",
    tag = "numbers",
    params(
        ("phone_number_id" = String, Path, description = "Meta's phone number id"),
        ("If-Match" = Option<String>, Header, description = "The seats' entity tag as read \
         (`GET …/seats`), or `*`; without it the seats are put unchecked"),
    ),
    request_body = Seats,
    responses(
        (status = 200, description = "The number's record with its new seats",
         body = numbers::Record,
         headers(("ETag" = String, description = "The new seats' entity tag"))),
        (status = 400, description = "`owner` or `manager` cannot hold the seat, or If-Match \
         is not `*` or a list of entity tags; nothing changed",
         body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's role may not manage numbers", body = Problem,
         content_type = "application/problem+json"),
        (status = 404, description = "No such number in the token's org", body = Problem,
         content_type = "application/problem+json"),
        (status = 412, description = "The seats changed since the If-Match tag was read; \
         nothing changed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn assign(
    State(state): State<AppState>,
    who: Authorized<auth::ManageNumbers>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(seats): ApiJson<Seats>,
) -> Result<Response, ApiError> {
    let phone = phone(&id)?;
    let now = chrono::Utc::now();
    let (store, caller) = (&state.store, &who.caller);
    let condition = if_match(&headers)?;
    let assigned = match condition {
        None | Some(Condition::Any) => {
            numbers::assign(store, caller, &phone, &seats.owner, &seats.manager, now).await
        }
        Some(tags) => {
            let record = numbers::record(store, caller, &phone, now).await?;
            let current = SeatsSeen::of(&record);
            let chosen_already = current.owner.as_deref() == Some(seats.owner.trim())
                && current.manager.as_deref() == Some(seats.manager.trim());
            // The tag matched the seats as they are: the domain checks again inside its
            // transaction, so a change landing in between is refused there.
            if !chosen_already && !tags.matches(&current.tag()) {
                return Err(ApiError(AppError::PreconditionFailed(STALE)));
            }
            let (owner, manager) = (&seats.owner, &seats.manager);
            numbers::assign_seen(store, caller, &phone, owner, manager, &current, now).await
        }
    };
    match assigned {
        Err(governance::Error::Stale { .. }) => {
            return Err(ApiError(AppError::PreconditionFailed(STALE)));
        }
        other => other?,
    }
    let record = numbers::record(store, caller, &phone, now).await?;
    let tag = entity_tag(&SeatsSeen::of(&record));
    Ok(([(header::ETAG, tag)], Json(record)).into_response())
}

fn entity_tag(seen: &SeatsSeen) -> HeaderValue {
    // Hex digits in quotes: always a valid header value.
    HeaderValue::from_str(&format!("\"{}\"", seen.tag()))
        .unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// What an `If-Match` header allows (RFC 9110 §13.1.1).
#[derive(Debug, PartialEq, Eq)]
enum Condition {
    /// `*`: the seats exist, which they always do.
    Any,
    /// The opaque values of the strong tags listed; a weak tag never matches.
    Tags(Vec<String>),
}

impl Condition {
    fn matches(&self, tag: &str) -> bool {
        match self {
            Condition::Any => true,
            Condition::Tags(tags) => tags.iter().any(|t| t == tag),
        }
    }
}

/// The request's `If-Match` condition: `None` without the header; a 400 for a header that
/// is not `*` or a list of entity tags, so a malformed one is never taken as no condition.
fn if_match(headers: &HeaderMap) -> Result<Option<Condition>, ApiError> {
    let values: Vec<&HeaderValue> = headers.get_all(header::IF_MATCH).iter().collect();
    if values.is_empty() {
        return Ok(None);
    }
    let refused = || {
        invalid(
            "If-Match",
            "must be * or a list of entity tags in double quotes, as GET …/seats gives in ETag",
        )
    };
    let (mut tags, mut listed) = (Vec::new(), 0);
    for value in values {
        let text = value.to_str().map_err(|_| refused())?;
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            listed += 1;
            if item == "*" {
                return Ok(Some(Condition::Any));
            }
            let (weak, quoted) = match item.strip_prefix("W/") {
                Some(rest) => (true, rest),
                None => (false, item),
            };
            let opaque = quoted
                .strip_prefix('"')
                .and_then(|rest| rest.strip_suffix('"'))
                .filter(|inner| !inner.contains('"'))
                .ok_or_else(refused)?;
            if !weak {
                tags.push(opaque.to_owned());
            }
        }
    }
    if listed == 0 {
        return Err(refused());
    }
    Ok(Some(Condition::Tags(tags)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(values: &[&str]) -> Option<Condition> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::IF_MATCH, HeaderValue::from_str(value).unwrap());
        }
        if_match(&headers).ok().flatten()
    }

    #[test]
    fn an_if_match_lists_strong_tags_and_a_weak_one_never_matches() {
        let listed = condition(&["\"a1\", W/\"b2\"", "\"c3\""]).unwrap();
        assert_eq!(
            listed,
            Condition::Tags(vec!["a1".to_owned(), "c3".to_owned()])
        );
        assert!(listed.matches("c3") && !listed.matches("b2"));
        assert_eq!(condition(&["*"]), Some(Condition::Any));
        assert_eq!(condition(&[]), None);
    }

    #[test]
    fn an_if_match_that_is_no_list_of_tags_is_refused() {
        for bad in ["a1", "\"a1", "\"a\"1\"", "", " , "] {
            let mut headers = HeaderMap::new();
            headers.insert(header::IF_MATCH, HeaderValue::from_str(bad).unwrap());
            assert!(if_match(&headers).is_err(), "{bad:?}");
        }
    }
}
