//! The join page: a person invited to an org pastes the code an org admin sent them, sees
//! what it is for, and accepts it with the account they have (signed in already, or with its
//! password here) or with a new account they make here, choosing their own password.
//!
//! The code travels only in form bodies, never in a URL, and every answer that carries it
//! is `no-store`. The code is the invitation: whoever holds it sees the email it is for and
//! learns here whether that email has an account (`governance::invitations` says why).

use askama::Template;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use governance::invitations::{self, InvitationCode, Opened};
use governance::users::{self, Password};
use serde::Deserialize;
use tower_sessions::Session;

use super::signin::{SIGN_IN, start_session};
use super::time::minute;
use crate::AppState;
use crate::auth::ClientAddress;
use crate::auth::session::{self, OrgChoice};
use crate::error::AppError;
use crate::page::{PageContext, render, sentence};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/join", get(form).post(look))
        .route("/join/accept", post(accept))
        .route("/join/signin", post(sign_in_and_accept))
        .route("/join/new", post(new_account))
}

/// The join page's forms. Deliberately no `Debug`: they hold a code and a password.
#[derive(Deserialize)]
struct JoinForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    name: String,
}

/// Which of the page's forms a refusal belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Code,
    Accept,
    SignIn,
    New,
}

#[derive(Template)]
#[template(path = "join.html")]
struct JoinPage {
    page: PageContext,
    /// The code as typed, carried back in the forms' bodies.
    code: String,
    invitation: Option<InvitationView>,
    /// The email of whoever is signed in on this browser.
    signed_in_as: Option<String>,
    problem: Option<(Part, String)>,
    /// The name typed into the new-account form.
    name: String,
    /// The shortest password pinward takes.
    min_password: usize,
}

struct InvitationView {
    email: String,
    org_name: String,
    role: &'static str,
    clients: String,
    expires: String,
}

impl JoinPage {
    /// The refusal of `part`, if that is what was refused.
    fn error_of(&self, part: &str) -> Option<&str> {
        let part = match part {
            "code" => Part::Code,
            "accept" => Part::Accept,
            "signin" => Part::SignIn,
            "new" => Part::New,
            _ => return None,
        };
        self.problem
            .as_ref()
            .filter(|(p, _)| *p == part)
            .map(|(_, message)| message.as_str())
    }
}

async fn form(page: PageContext) -> Result<Response, AppError> {
    answer(
        StatusCode::OK,
        JoinPage {
            page,
            code: String::new(),
            invitation: None,
            signed_in_as: None,
            problem: None,
            name: String::new(),
            min_password: users::PASSWORD_MIN_LEN,
        },
    )
}

/// The page's answer: never cached, as it may hold a code.
fn answer(status: StatusCode, page: JoinPage) -> Result<Response, AppError> {
    let html = render(&page)?;
    Ok((status, [(header::CACHE_CONTROL, "no-store")], html).into_response())
}

/// One post to the join page, to answer it.
struct Visit<'a> {
    state: &'a AppState,
    session: &'a Session,
    page: PageContext,
    form: &'a JoinForm,
}

impl<'a> Visit<'a> {
    fn new(
        state: &'a AppState,
        session: &'a Session,
        page: PageContext,
        form: &'a JoinForm,
    ) -> Self {
        Visit {
            state,
            session,
            page,
            form,
        }
    }

    /// The email the form's code invites, while the code works.
    async fn invited_email(&self) -> Result<Option<String>, AppError> {
        let code = InvitationCode::new(&self.form.code);
        match invitations::find(&self.state.store, &code).await {
            Ok(opened) => Ok(Some(opened.invitation.email)),
            Err(governance::Error::Invitation(_)) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// The page for the form's code: what the invitation is for and how to accept it, or
    /// why the code does not work; with `problem` beside its form.
    async fn show(
        self,
        status: StatusCode,
        problem: Option<(Part, String)>,
    ) -> Result<Response, AppError> {
        let Visit {
            state,
            session,
            page,
            form,
        } = self;
        let signed_in_as = session::signed_in(session).await?.map(|who| who.email);
        let code = InvitationCode::new(&form.code);
        let (status, invitation, problem) = if code.expose().is_empty() {
            let ask = "Paste the invitation code you were sent.".to_owned();
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some((Part::Code, ask)),
            )
        } else {
            match invitations::find(&state.store, &code).await {
                Ok(opened) => (status, Some(view(opened)), problem),
                Err(governance::Error::Invitation(closed)) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some((Part::Code, sentence(&closed.to_string()))),
                ),
                Err(error) => return Err(error.into()),
            }
        };
        answer(
            status,
            JoinPage {
                page,
                code: code.expose().to_owned(),
                invitation,
                signed_in_as,
                problem,
                name: form.name.clone(),
                min_password: users::PASSWORD_MIN_LEN,
            },
        )
    }
}

fn view(opened: Opened) -> InvitationView {
    InvitationView {
        email: opened.invitation.email,
        org_name: opened.org_name,
        role: opened.invitation.role.as_str(),
        clients: opened.client_names.join(", "),
        expires: minute(opened.invitation.expires_at),
    }
}

async fn look(
    State(state): State<AppState>,
    session: Session,
    page: PageContext,
    Form(form): Form<JoinForm>,
) -> Result<Response, AppError> {
    let visit = Visit::new(&state, &session, page, &form);
    visit.show(StatusCode::OK, None).await
}

/// What a refused acceptance tells the person, and in which of the page's forms; errors
/// that are no refusal stay errors.
fn refusal(part: Part, error: governance::Error, email: &str) -> Result<(Part, String), AppError> {
    use governance::Error as E;
    Ok(match error {
        E::Invitation(closed) => (Part::Code, sentence(&closed.to_string())),
        E::Invalid { field, problem } => (part, sentence(&format!("{field}: {problem}"))),
        E::Conflict { constraint } if constraint == "members_org_user_uq" => (
            part,
            "This account is already a member of the org; sign in to it as usual.".to_owned(),
        ),
        E::Conflict { constraint } if constraint == "users_email_uq" => (
            part,
            format!("{email} already has a pinward account: accept with its password instead."),
        ),
        E::NotFound { what: "client" } => (
            part,
            "A client of this invitation is no longer in the org: ask an org admin for a new \
             invitation."
                .to_owned(),
        ),
        other => return Err(other.into()),
    })
}

/// After joining: on to the org's overview, saying so.
async fn joined(session: &Session, joined: &invitations::Joined) -> Result<Response, AppError> {
    session::flash(
        session,
        "success",
        format!(
            "Welcome: you joined {} as {}.",
            joined.org_name,
            joined.member.role.as_str()
        ),
    )
    .await?;
    Ok(Redirect::to("/").into_response())
}

/// Accepts for the account signed in on this browser, which then acts in the org joined.
async fn accept(
    State(state): State<AppState>,
    session: Session,
    page: PageContext,
    Form(form): Form<JoinForm>,
) -> Result<Response, AppError> {
    let visit = Visit::new(&state, &session, page, &form);
    let Some(who) = session::signed_in(&session).await? else {
        let problem = (
            Part::Accept,
            "Your session ended: sign in below.".to_owned(),
        );
        return visit.show(StatusCode::UNAUTHORIZED, Some(problem)).await;
    };
    let code = InvitationCode::new(&form.code);
    match invitations::accept(&state.store, &code, &who.user_id).await {
        Ok(done) => {
            let memberships = users::memberships(&state.store, &who.user_id).await?;
            let choices: Vec<OrgChoice> = memberships.iter().map(OrgChoice::from).collect();
            if let Some(org) = choices.iter().find(|c| c.id == done.org_id) {
                session::switch_org(&session, org).await?;
            }
            session::remember_orgs(&session, &choices).await?;
            joined(&session, &done).await
        }
        Err(error) => {
            let problem = refusal(Part::Accept, error, &who.email)?;
            visit
                .show(StatusCode::UNPROCESSABLE_ENTITY, Some(problem))
                .await
        }
    }
}

/// Accepts with the password of the invited email's account, and signs it in.
async fn sign_in_and_accept(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    session: Session,
    page: PageContext,
    Form(form): Form<JoinForm>,
) -> Result<Response, AppError> {
    let visit = Visit::new(&state, &session, page, &form);
    let Some(email) = visit.invited_email().await? else {
        return visit.show(StatusCode::OK, None).await;
    };
    let code = InvitationCode::new(&form.code);
    // The sign-in form's count: the join page is no way around its throttling.
    if let Err(wait) = state.throttle.check(SIGN_IN, &email, address) {
        let problem = (
            Part::SignIn,
            format!(
                "Too many failed attempts. Try again in {} minutes.",
                wait.div_ceil(60)
            ),
        );
        return visit
            .show(StatusCode::TOO_MANY_REQUESTS, Some(problem))
            .await;
    }
    let password = Password::new(form.password.clone());
    let user = match users::authenticate(&state.store, &email, &password).await {
        Ok(user) => user,
        Err(governance::Error::Unauthenticated) => {
            state.throttle.failed(SIGN_IN, &email, address);
            let problem = (
                Part::SignIn,
                format!(
                    "That password does not sign in as {email}. New to pinward? Make your \
                     account below instead."
                ),
            );
            return visit.show(StatusCode::UNAUTHORIZED, Some(problem)).await;
        }
        Err(error) => return Err(error.into()),
    };
    state.throttle.succeeded(SIGN_IN, &email, address);
    match invitations::accept(&state.store, &code, &user.id).await {
        Ok(done) => signed_in_to(visit, user, &done).await,
        Err(error) => {
            let problem = refusal(Part::SignIn, error, &email)?;
            visit
                .show(StatusCode::UNPROCESSABLE_ENTITY, Some(problem))
                .await
        }
    }
}

/// Signs in the person who just joined, acting in the org joined.
async fn signed_in_to(
    visit: Visit<'_>,
    user: users::User,
    done: &invitations::Joined,
) -> Result<Response, AppError> {
    if start_session(visit.state, visit.session, user, Some(&done.org_id)).await? {
        return joined(visit.session, done).await;
    }
    // The membership was ended between joining and signing in.
    let problem = (
        Part::Accept,
        "You joined, but the membership was deactivated since: ask an org admin.".to_owned(),
    );
    visit.show(StatusCode::FORBIDDEN, Some(problem)).await
}

/// Accepts with a new account for the invited email, and signs it in.
async fn new_account(
    State(state): State<AppState>,
    session: Session,
    page: PageContext,
    Form(form): Form<JoinForm>,
) -> Result<Response, AppError> {
    let visit = Visit::new(&state, &session, page, &form);
    let Some(email) = visit.invited_email().await? else {
        return visit.show(StatusCode::OK, None).await;
    };
    let code = InvitationCode::new(&form.code);
    let password = Password::new(form.password.clone());
    match invitations::accept_new(&state.store, &code, &form.name, password).await {
        Ok((user, done)) => signed_in_to(visit, user, &done).await,
        Err(error) => {
            let problem = refusal(Part::New, error, &email)?;
            visit
                .show(StatusCode::UNPROCESSABLE_ENTITY, Some(problem))
                .await
        }
    }
}
