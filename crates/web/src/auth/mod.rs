//! Who is asking, and whether they may: authorization in one place.
//!
//! A handler declares what it needs in its signature — `Authorized<ReadNumbers>`,
//! `Authorized<Custody>`, `Authorized<Member>` — and the extractor proves it before the
//! handler runs: it finds the caller (the session's user on pages, a bearer API token under
//! `/api/`), reloads the membership from the database (so a role change or deactivation
//! takes effect at once), and checks the permission with [`Caller::require`]. The
//! [`Caller`] it yields scopes every governance call to the caller's org and clients.

pub mod csrf;
pub mod reveals;
pub mod session;
pub mod throttle;

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use governance::access::{Caller, Permission};
use governance::tokens::TokenSecret;
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

impl<N: Need> Authorized<N> {
    /// Refuses unless the signed-in user typed their password within the last few
    /// minutes ([`session::STEP_UP_WINDOW`]); API tokens never qualify.
    ///
    /// # Errors
    /// [`AppError::StepUpRequired`]: the page sends the browser to `/reauth` and back.
    pub fn require_step_up(&self) -> Result<(), AppError> {
        match &self.session {
            Some(who) if who.recently_authenticated() => Ok(()),
            _ => Err(AppError::StepUpRequired),
        }
    }
}

/// The address of the client (the proxy's, behind one).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip()),
        ))
    }
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
            (session_caller(state, &session, &who).await?, Some(who))
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

/// The caller of a signed-in session, from its membership as it is now: a member
/// deactivated or removed since sign-in is signed out here.
async fn session_caller(
    state: &AppState,
    session: &Session,
    who: &SignedIn,
) -> Result<Caller, AppError> {
    match governance::members::caller_for(&state.store, &who.org_id, &who.user_id).await {
        Ok(caller) => {
            // Only the bar's links depend on the remembered role: a failure to store it
            // must not refuse a request the membership allows.
            if let Err(error) =
                session::refresh_role(session, &caller.org_id, caller.role.as_str()).await
            {
                tracing::warn!(%error, "could not remember the member's current role");
            }
            Ok(caller)
        }
        Err(governance::Error::NotFound { .. }) => {
            session::sign_out(session).await?;
            Err(AppError::SignInRequired)
        }
        Err(error) => Err(error.into()),
    }
}

/// The caller of an API request's `Authorization: Bearer` token.
async fn bearer_caller(parts: &Parts, state: &AppState) -> Result<Caller, AppError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Err(AppError::SignInRequired);
    };
    // The scheme's name is case-insensitive (RFC 9110); a header sent with another
    // scheme, or none, is a token that cannot be valid.
    let secret = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, secret)| secret.trim())
        .filter(|secret| !secret.is_empty())
        .ok_or(AppError::Domain(governance::Error::Unauthenticated))?;
    let secret = TokenSecret::new(secret.to_owned());
    governance::tokens::authenticate(&state.store, &secret)
        .await
        .map_err(AppError::from)
}
