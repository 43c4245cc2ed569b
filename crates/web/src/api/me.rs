//! `GET /api/v1/me`: who the token acts as.

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Authorized, Member};
use crate::error::{AppError, Problem};

/// The caller of a request.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Me {
    /// The org every call of this token is scoped to.
    org_id: String,
    /// The role the token acts with.
    role: &'static str,
}

/// Who this token acts as: its org and role.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "tokens",
    responses(
        (status = 200, description = "The token's org and role", body = Me),
        (status = 401, description = "No valid bearer token", body = Problem,
         content_type = "application/problem+json"),
    )
)]
pub(crate) async fn me(who: Authorized<Member>) -> Result<Json<Me>, AppError> {
    Ok(Json(Me {
        org_id: who.caller.org_id,
        role: who.caller.role.as_str(),
    }))
}
