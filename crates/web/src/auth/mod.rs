//! Who is asking, and whether they may: authorization in one place.
//!
//! A handler declares what it needs in its signature — `Authorized<ReadNumbers>`,
//! `Authorized<Custody>`, `Authorized<Member>` — and the extractor proves it before the
//! handler runs: it finds the caller (the session's user on pages, a bearer API token under
//! `/api/`), reloads the membership from the database (so a role change or deactivation
//! takes effect at once), and checks the permission with [`Caller::require`]. The
//! [`Caller`] it yields scopes every governance call to the caller's org and clients.

pub mod csrf;
pub mod session;

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use governance::access::{Caller, Permission};
use tower_sessions::Session;

use crate::AppState;
use crate::error::AppError;
use session::SignedIn;

/// What a route needs from its caller.
pub trait Need: Send + Sync + 'static {
    /// The permission, or `None` when any member of the org will do.
    const PERMISSION: Option<Permission>;
}

macro_rules! needs {
    ($($(#[$doc:meta])* $name:ident => $permission:expr;)*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;
        impl Need for $name {
            const PERMISSION: Option<Permission> = $permission;
        }
    )*};
}

needs! {
    /// Any active member of the org.
    Member => None;
    /// See numbers, never PINs.
    ReadNumbers => Some(Permission::ReadNumbers);
    /// Assign, hand over, review.
    ManageNumbers => Some(Permission::ManageNumbers);
    /// Sync, take custody, rotate, release.
    Custody => Some(Permission::Custody);
    /// Read and export the ledger.
    ReadLedger => Some(Permission::ReadLedger);
    /// Members, credentials, policies.
    ManageOrg => Some(Permission::ManageOrg);
}

/// A caller proven to hold `N`'s permission.
#[derive(Debug)]
pub struct Authorized<N: Need> {
    /// Who is asking, scoped to their org (and clients).
    pub caller: Caller,
    /// The signed-in user's session facts (`None` for API tokens).
    pub session: Option<SignedIn>,
    need: PhantomData<N>,
}

impl<N: Need> FromRequestParts<AppState> for Authorized<N> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let (caller, signed_in) = if parts.uri.path().starts_with("/api/") {
            (bearer_caller(parts, state).await?, None)
        } else {
            let session = parts
                .extensions
                .get::<Session>()
                .cloned()
                .ok_or(AppError::Internal("the session layer is missing"))?;
            let who = session::signed_in(&session)
                .await?
                .ok_or(AppError::SignInRequired)?;
            (session_caller(state, &who).await?, Some(who))
        };
        if let Some(permission) = N::PERMISSION {
            caller.require(permission)?;
        }
        Ok(Authorized {
            caller,
            session: signed_in,
            need: PhantomData,
        })
    }
}

/// The caller of a signed-in session. Until governance can load memberships, nobody can
/// sign in, so no session reaches this.
async fn session_caller(_state: &AppState, _who: &SignedIn) -> Result<Caller, AppError> {
    Err(AppError::SignInRequired)
}

/// The caller of an API request's bearer token. Until governance can check API tokens,
/// every API request is unauthenticated.
async fn bearer_caller(_parts: &Parts, _state: &AppState) -> Result<Caller, AppError> {
    Err(AppError::SignInRequired)
}
