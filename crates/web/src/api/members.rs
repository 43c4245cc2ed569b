//! `GET /api/v1/members`: the people of the token's org.

use axum::Json;
use axum::extract::State;
use governance::members::Member;

use super::problem::ApiError;
use crate::AppState;
use crate::auth::{self, Authorized};
use crate::error::Problem;

/// Every member of the token's org, active ones first.
#[utoipa::path(
    get,
    path = "/api/v1/members",
    operation_id = "list_members",
    tag = "members",
    responses(
        (status = 200, description = "The members: id, user_id, email, display_name, role, clients, created_at, deactivated_at", body = Vec<Member>),
        (status = 401, description = "No valid bearer token", body = Problem,
         content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    who: Authorized<auth::ReadNumbers>,
) -> Result<Json<Vec<Member>>, ApiError> {
    Ok(Json(
        governance::members::list(&state.store, &who.caller).await?,
    ))
}
