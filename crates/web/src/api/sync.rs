//! `POST /api/v1/sync`: inventory sync of the token's org from Meta.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use governance::sync::SyncReport;
use serde::Deserialize;
use utoipa::ToSchema;

use super::input::{self, NoQuery};
use super::problem::{ApiError, invalid};
use crate::AppState;
use crate::auth::{self, Authorized};
use crate::error::{AppError, Problem};
use crate::inventory;

/// Which businesses to read; the body may be empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SyncRequest {
    /// Meta business ids; absent or empty: the businesses the org was synced with before.
    #[serde(default)]
    businesses: Vec<String>,
}

/// Reads the org's businesses → WABAs → numbers from Meta with its stored credential and
/// records the differences (new numbers enter the take-custody queue). A failed read
/// changes nothing; a second run over an unchanged inventory writes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/sync",
    tag = "inventory",
    request_body(content = Option<SyncRequest>, description = "Optional: the businesses to read"),
    responses(
        (status = 200, description = "What was read and changed", body = governance::sync::SyncReport),
        (status = 400, description = "`businesses` is not a list of Meta ids or names a business \
         Meta does not know (or the credential cannot load; after an earlier sync, one of the \
         remembered businesses), the org was never synced and names none, the body is not sent \
         as JSON, or a query string was sent (the call takes none)", body = Problem,
         content_type = "application/problem+json"),
        (status = 403, description = "The token's role may not run custody", body = Problem,
         content_type = "application/problem+json"),
        (status = 404, description = "The org has no Graph credential", body = Problem,
         content_type = "application/problem+json"),
        (status = 502, description = "Meta's API failed; nothing changed", body = Problem,
         content_type = "application/problem+json"),
        (status = 503, description = "This instance runs without custody", body = Problem,
         content_type = "application/problem+json"),
    )
)]
pub(crate) async fn sync(
    State(state): State<AppState>,
    who: Authorized<auth::Custody>,
    _: NoQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SyncReport>, ApiError> {
    let text = body.trim_ascii();
    // `null` is what the document's optional body allows besides an object.
    let request: SyncRequest = if text.is_empty() || text == b"null" {
        SyncRequest::default()
    } else if !input::is_json(&headers) {
        return Err(invalid("body", input::NOT_SENT_AS_JSON));
    } else {
        input::object(text).map_err(|problem| {
            invalid(
                "businesses",
                &format!("the body must be {{\"businesses\": [\"<id>\", …]}}: {problem}"),
            )
        })?
    };
    // One id an item: the dashboard's box splits at spaces and commas, a JSON list does not.
    if request
        .businesses
        .iter()
        .any(|id| id.contains(|c: char| c == ',' || c.is_whitespace()))
    {
        return Err(invalid(
            "businesses",
            "each item of the list is one Meta business id (digits)",
        ));
    }
    let businesses = inventory::parse_businesses(request.businesses.iter().map(String::as_str))?;
    let Some(custody) = &state.custody else {
        return Err(ApiError(AppError::Unavailable(
            "this pinward was started without custody: it cannot read Meta",
        )));
    };
    Ok(Json(
        inventory::sync(&state.store, custody, &who.caller, &businesses).await?,
    ))
}
