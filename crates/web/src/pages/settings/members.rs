//! Members and roles: add a person, change a member's role, deactivate a member.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::post;
use governance::access::Role;
use governance::health::Problem;
use governance::users::{NewUser, Password};
use tower_sessions::Session;

use super::{FormProblem, MemberRowForm, Typed, all, done, field, fields, refused, settings_page};
use crate::AppState;
use crate::auth::{Authorized, ManageOrg};
use crate::error::AppError;
use crate::page::PageContext;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/members", post(add))
        .route("/settings/members/{id}/role", post(change_role))
        .route("/settings/members/{id}/deactivate", post(deactivate))
}

const ADD: &str = "member-add";

/// Adds the person with this email: an existing account joins the org; otherwise a new
/// account is made with the first password given.
async fn add(
    State(state): State<AppState>,
    who: Authorized<ManageOrg>,
    session: Session,
    page: PageContext,
    body: Bytes,
) -> Result<Response, AppError> {
    let form = fields(&body);
    let email = field(&form, "email");
    let name = field(&form, "name");
    let role_text = field(&form, "role");
    let password = field(&form, "password");
    // The clients picker is shown for a business admin only; one chosen before the role
    // changed stays selected but hidden, so it counts for nothing (as in a role change).
    let clients = if role_text.trim() == Role::BusinessAdmin.as_str() {
        all(&form, "clients")
    } else {
        Vec::new()
    };
    let typed = Typed {
        email: email.clone(),
        name: name.clone(),
        role: role_text.clone(),
        clients: clients.clone(),
        ..Typed::default()
    };
    let password_given = !password.is_empty();
    let store = &state.store;
    // Each field is checked alone first, so every fault is reported at once, in the form's
    // order. A new account's name and password only matter when the email has none; while
    // the form has other faults nothing is looked up and they are checked as for a new one,
    // so a refusal never tells whether an email has an account.
    let (email, email_fault) = split(governance::users::parse_email(&email));
    let (role, role_fault) = split(Role::parse(role_text.trim()));
    let clients_fault =
        role.and_then(|role| governance::members::check_clients(role, &clients).err());
    let existing = match &email {
        Some(email) if role_fault.is_none() && clients_fault.is_none() => {
            governance::users::find_by_email(store, email).await?
        }
        _ => None,
    };
    let mut faults = vec![email_fault];
    if existing.is_none() {
        faults.push(governance::users::check_display_name(&name).err());
    }
    faults.extend([role_fault, clients_fault]);
    if existing.is_none() {
        // This version has no single sign-on: an account without a password could never
        // sign in.
        faults.push(if password_given {
            Password::new(password.clone()).check_policy().err()
        } else {
            Some(governance::Error::Invalid {
                field: "password",
                problem: "is required for a new account: people sign in with their password"
                    .to_owned(),
            })
        });
    }
    let faults: Vec<governance::Error> = faults.into_iter().flatten().collect();
    let added = match (email, role) {
        (Some(email), Some(role)) if faults.is_empty() => match existing {
            // An existing account keeps its own name and password: the message says so
            // when the form gave either.
            Some(user) => governance::members::add(store, &who.caller, &user.id, role, &clients)
                .await
                .map(|member| (member, true)),
            None => {
                let new = NewUser {
                    email,
                    display_name: name.clone(),
                    password: password_given.then(|| Password::new(password)),
                };
                governance::members::add_new_user(store, &who.caller, &new, role, &clients)
                    .await
                    .map(|member| (member, false))
            }
        }
        .map_err(|error| vec![error]),
        _ => Err(faults),
    };
    match added {
        Ok((member, existing)) => {
            let kept = if existing && password_given {
                " The account already existed: it keeps its own name and password; the first password given here was not used."
            } else {
                ""
            };
            done(
                &session,
                "members",
                format!(
                    "{} is now a member ({}).{kept}",
                    member.email,
                    member.role.as_str()
                ),
            )
            .await
        }
        Err(errors) => {
            let problem = FormProblem::all(ADD, errors)?;
            settings_page(&state, &who, &session, page, Some(problem), typed).await
        }
    }
}

/// A check's value or its fault, to gather every fault of a form.
fn split<T>(checked: Result<T, governance::Error>) -> (Option<T>, Option<governance::Error>) {
    match checked {
        Ok(value) => (Some(value), None),
        Err(fault) => (None, Some(fault)),
    }
}

async fn change_role(
    State(state): State<AppState>,
    who: Authorized<ManageOrg>,
    session: Session,
    page: PageContext,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, AppError> {
    let form = fields(&body);
    let sent = MemberRowForm {
        member_id: id.clone(),
        role: field(&form, "role").trim().to_owned(),
        clients: all(&form, "clients"),
    };
    let changed = async {
        let role = Role::parse(&sent.role)?;
        // The row's client list comes pre-selected with the member's clients; it only
        // means something for a business admin, so moving to another role drops it.
        let clients = if role == Role::BusinessAdmin {
            sent.clients.as_slice()
        } else {
            &[]
        };
        governance::members::change_role(&state.store, &who.caller, &id, role, clients).await
    }
    .await;
    match changed {
        Ok(changed) => {
            let left = seats_left_behind(&state, &who, &changed.member.id).await;
            let withdrawn = withdrawn(changed.handovers_withdrawn);
            let member = changed.member;
            done(
                &session,
                "members",
                format!(
                    "{} is now {}.{withdrawn}{left}",
                    member.email,
                    member.role.as_str()
                ),
            )
            .await
        }
        Err(error) => {
            let problem = FormProblem::of(&format!("member:{id}"), error)?;
            let typed = Typed {
                member_row: Some(sent),
                ..Typed::default()
            };
            settings_page(&state, &who, &session, page, Some(problem), typed).await
        }
    }
}

async fn deactivate(
    State(state): State<AppState>,
    who: Authorized<ManageOrg>,
    session: Session,
    page: PageContext,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    match governance::members::deactivate(&state.store, &who.caller, &id).await {
        Ok(gone) => {
            let left = seats_left_behind(&state, &who, &gone.member.id).await;
            let withdrawn = withdrawn(gone.handovers_withdrawn);
            done(
                &session,
                "members",
                format!(
                    "{} is deactivated and signed out everywhere.{withdrawn}{left}",
                    gone.member.email
                ),
            )
            .await
        }
        Err(error) => {
            let problem = FormProblem::of(&format!("member:{id}"), error)?;
            refused(&state, &who, &session, page, problem).await
        }
    }
}

/// The sentence on the handovers offered to a changed member that it can no longer accept,
/// withdrawn with the change.
fn withdrawn(handovers: usize) -> String {
    match handovers {
        0 => String::new(),
        1 => " The handover offered to them was withdrawn.".to_owned(),
        n => format!(" The {n} handovers offered to them were withdrawn."),
    }
}

/// What a change of a member leaves behind: the seats they still hold on numbers they can
/// no longer act for, which the numbers list's health filter finds. The change itself is
/// done; a failure to count only leaves the sentence out.
async fn seats_left_behind(
    state: &AppState,
    who: &Authorized<ManageOrg>,
    member_id: &str,
) -> String {
    match governance::numbers::seats_out_of_reach(&state.store, &who.caller, member_id).await {
        Ok(0) => String::new(),
        Ok(seats) => {
            let (held, each) = if seats == 1 {
                ("a seat of a number".to_owned(), "it")
            } else {
                (format!("{seats} seats of numbers"), "each")
            };
            format!(
                " They still hold {held} they can no longer act for: assign {each} to someone \
                 else (the health filter of the numbers list finds them: “{}”, “{}”).",
                Problem::OwnerDeparted.describe(),
                Problem::ManagerDeparted.describe(),
            )
        }
        Err(error) => {
            tracing::warn!(%error, "counting the seats a changed member left behind");
            String::new()
        }
    }
}
