//! Sign in, sign out, and step-up re-authentication.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use governance::users::{self, Password};
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::auth::session::{self, OrgChoice, SignedIn};
use crate::auth::{Authorized, ClientAddress, Member};
use crate::error::AppError;
use crate::page::{PageContext, render};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/signin", get(form).post(submit))
        .route("/signout", post(sign_out))
        .route("/reauth", get(reauth_form).post(reauth))
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    page: PageContext,
    email: String,
    /// The page to go on to after signing in (a local path).
    next: String,
    problem: Option<String>,
}

fn page_with(status: StatusCode, template: &impl Template) -> Result<Response, AppError> {
    Ok((status, render(template)?).into_response())
}

async fn form(page: PageContext, Query(next): Query<Next>) -> Result<Response, AppError> {
    let next = local_path(next.next);
    if page.user.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    page_with(
        StatusCode::OK,
        &SignInPage {
            page,
            email: String::new(),
            next,
            problem: None,
        },
    )
}

/// The sign-in form. Deliberately no `Debug`: it holds a password.
#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
    next: Option<String>,
}

/// The throttle's purpose for password sign-ins (the join page's too: one count per email).
pub(super) const SIGN_IN: &str = "signin";

async fn submit(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    session: Session,
    page: PageContext,
    Form(credentials): Form<Credentials>,
) -> Result<Response, AppError> {
    let Credentials {
        email,
        password,
        next,
    } = credentials;
    let password = Password::new(password);
    let next = local_path(next);
    let again = |page, status, problem: String, email: String| {
        page_with(
            status,
            &SignInPage {
                page,
                email,
                next: next.clone(),
                problem: Some(problem),
            },
        )
    };
    if let Err(wait) = state.throttle.check(SIGN_IN, &email, address) {
        let minutes = wait.div_ceil(60);
        return again(
            page,
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many failed attempts. Try again in {minutes} minutes."),
            email,
        );
    }
    let user = match users::authenticate(&state.store, &email, &password).await {
        Ok(user) => user,
        Err(governance::Error::Unauthenticated) => {
            state.throttle.failed(SIGN_IN, &email, address);
            return again(
                page,
                StatusCode::UNAUTHORIZED,
                "The email or password is not right.".to_owned(),
                email,
            );
        }
        Err(error) => return Err(error.into()),
    };
    state.throttle.succeeded(SIGN_IN, &email, address);
    if !start_session(&state, &session, user, None).await? {
        return again(
            page,
            StatusCode::FORBIDDEN,
            "Your account is not a member of any org yet; ask an org admin to add you.".to_owned(),
            email,
        );
    }
    Ok(Redirect::to(&next).into_response())
}

/// Signs `user` in on `session` (whose password was just checked), acting in the org
/// `org_id`, or without one in its first org by slug (a user in several orgs switches in the
/// header). `false`, and nobody signed in, when the user is no active member of any org.
pub(super) async fn start_session(
    state: &AppState,
    session: &Session,
    user: users::User,
    org_id: Option<&str>,
) -> Result<bool, AppError> {
    let memberships = users::memberships(&state.store, &user.id).await?;
    let choices: Vec<OrgChoice> = memberships.iter().map(OrgChoice::from).collect();
    let chosen = memberships
        .iter()
        .find(|m| Some(m.org_id.as_str()) == org_id)
        .or_else(|| memberships.first());
    let Some(membership) = chosen else {
        return Ok(false);
    };
    let now = Utc::now().timestamp();
    session::sign_in(
        session,
        &SignedIn {
            user_id: user.id,
            org_id: membership.org_id.clone(),
            name: user.display_name,
            email: user.email,
            org_name: membership.org_name.clone(),
            signed_in_at: now,
            authenticated_at: now,
        },
    )
    .await?;
    session::remember_orgs(session, &choices).await?;
    Ok(true)
}

async fn sign_out(session: Session) -> Result<Redirect, AppError> {
    session::sign_out(&session).await?;
    Ok(Redirect::to("/signin"))
}

#[derive(Template)]
#[template(path = "reauth.html")]
struct ReauthPage {
    page: PageContext,
    next: String,
    problem: Option<String>,
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

/// Only a path of this site: never `//host` or `https://…`, so the form cannot be used to
/// send someone elsewhere. Browsers drop tabs and line breaks from a `Location` and read
/// `\\` as `/`, so `/\t/host` would be `//host`: a path with anything but visible ASCII
/// (percent-encoded otherwise) or with a backslash is refused too.
fn local_path(next: Option<String>) -> String {
    next.filter(|n| {
        n.starts_with('/')
            && !n.starts_with("//")
            && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
    })
    .unwrap_or_else(|| "/".to_owned())
}

async fn reauth_form(
    _who: Authorized<Member>,
    page: PageContext,
    Query(next): Query<Next>,
) -> Result<Response, AppError> {
    page_with(
        StatusCode::OK,
        &ReauthPage {
            page,
            next: local_path(next.next),
            problem: None,
        },
    )
}

/// The step-up form. No `Debug`: it holds a password.
#[derive(Deserialize)]
struct Reauth {
    password: String,
    next: Option<String>,
}

const REAUTH: &str = "reauth";

async fn reauth(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    who: Authorized<Member>,
    session: Session,
    page: PageContext,
    Form(form): Form<Reauth>,
) -> Result<Response, AppError> {
    let next = local_path(form.next);
    let password = Password::new(form.password);
    let user_id = who.caller.user_id.clone().ok_or(AppError::SignInRequired)?;
    let again = |page, status, problem: String, next: String| {
        page_with(
            status,
            &ReauthPage {
                page,
                next,
                problem: Some(problem),
            },
        )
    };
    if let Err(wait) = state.throttle.check(REAUTH, &user_id, address) {
        let minutes = wait.div_ceil(60);
        return again(
            page,
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many failed attempts. Try again in {minutes} minutes."),
            next,
        );
    }
    match users::verify_password(&state.store, &user_id, &password).await {
        Ok(()) => {}
        Err(governance::Error::Unauthenticated) => {
            state.throttle.failed(REAUTH, &user_id, address);
            return again(
                page,
                StatusCode::UNAUTHORIZED,
                "The password is not right.".to_owned(),
                next,
            );
        }
        Err(error) => return Err(error.into()),
    }
    state.throttle.succeeded(REAUTH, &user_id, address);
    session::stepped_up(&session).await?;
    Ok(Redirect::to(&next).into_response())
}
