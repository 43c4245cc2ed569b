//! Members and roles: invite a person, withdraw an invitation, change a member's role,
//! deactivate a member.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use governance::access::Role;
use governance::health::Problem;
use tower_sessions::Session;

use super::{FormProblem, MemberRowForm, Typed, all, done, field, fields, refused, settings_page};
use crate::AppState;
use crate::auth::session::{self, InviteForm};
use crate::auth::{Authorized, ManageOrg};
use crate::error::AppError;
use crate::page::{PageContext, render, sentence};
use crate::pages::time::minute;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/invitations", post(invite).get(to_section))
        .route("/settings/invitations/{id}/withdraw", post(withdraw))
        .route("/settings/members/{id}/role", post(change_role))
        .route("/settings/members/{id}/deactivate", post(deactivate))
}

const INVITE: &str = "invite";
/// The one-time form token's purpose ([`session::issue_once`]): the answer shows a code once.
pub(super) const ONCE: &str = "invitation";

/// Invites a person by email: the answer shows the invitation's code once, to pass on with
/// the join page's address. Whether the email has an account is never looked at here.
async fn invite(
    State(state): State<AppState>,
    who: Authorized<ManageOrg>,
    session: Session,
    page: PageContext,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let form = fields(&body);
    let role_text = field(&form, "role");
    // The clients picker is shown for a business admin only; one chosen before the role
    // changed stays selected but hidden, so it counts for nothing (as in a role change).
    let clients = if role_text.trim() == Role::BusinessAdmin.as_str() {
        all(&form, "clients")
    } else {
        Vec::new()
    };
    let sent = InviteForm {
        email: field(&form, "email"),
        role: role_text,
        clients,
    };
    // A code lets whoever holds it into the org, and outlives the session that made it: a
    // stolen session cookie alone must not mint one (as for API tokens).
    if let Err(needed) = who.require_step_up() {
        if let Some(signed_in) = &who.session {
            session::keep_invite_form(&session, &signed_in.user_id, &sent).await?;
        }
        return Err(needed);
    }
    if !session::spend_once(&session, &state.spent, ONCE, &field(&form, "_once")).await? {
        // A reload of the page that showed a code: nothing is made again.
        session::flash(
            &session,
            "info",
            "That form was already used, so no other invitation was made; a code is shown only \
             once.",
        )
        .await?;
        return Ok(Redirect::to("/settings#invitations").into_response());
    }
    // Each field alone first, so every fault is reported at once, in the form's order.
    let invited = match Role::parse(sent.role.trim()) {
        Ok(role) => {
            let faults = governance::invitations::check(&sent.email, role, &sent.clients);
            if faults.is_empty() {
                governance::invitations::invite(
                    &state.store,
                    &who.caller,
                    &sent.email,
                    role,
                    &sent.clients,
                )
                .await
                .map_err(|error| vec![error])
            } else {
                Err(faults)
            }
        }
        Err(role) => {
            let email = governance::users::parse_email(&sent.email).err();
            Err([email, Some(role)].into_iter().flatten().collect())
        }
    };
    match invited {
        Ok((invitation, code)) => {
            let clients = governance::clients::list(&state.store, &who.caller).await?;
            let client_names = invitation
                .clients
                .iter()
                .map(|id| {
                    clients
                        .iter()
                        .find(|c| &c.id == id)
                        .map_or_else(|| id.clone(), |c| c.name.clone())
                })
                .collect::<Vec<_>>()
                .join(", ");
            let html = render(&Invited {
                page,
                email: invitation.email,
                role: invitation.role.as_str(),
                clients: client_names,
                join: format!("{}/join", origin(&state, &headers)),
                expires: minute(invitation.expires_at),
                code: code.expose(),
            })?;
            Ok(([(header::CACHE_CONTROL, "no-store")], html).into_response())
        }
        Err(errors) => {
            let problem = FormProblem::all(INVITE, errors)?;
            let typed = Typed {
                invite: sent,
                ..Typed::default()
            };
            settings_page(&state, &who, &session, page, Some(problem), typed).await
        }
    }
}

#[derive(Template)]
#[template(path = "settings/invited.html")]
struct Invited<'a> {
    page: PageContext,
    email: String,
    role: &'static str,
    /// The names of a business admin's clients, or empty.
    clients: String,
    /// The join page's address.
    join: String,
    expires: String,
    /// Shown once, in this response only.
    code: &'a str,
}

/// Where people reach this pinward: the public URL's origin, or the host the admin's
/// browser used (the demo on loopback).
fn origin(state: &AppState, headers: &HeaderMap) -> String {
    match &state.site.origin {
        Some(origin) => origin.clone(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    }
}

/// The invitation form's address opened directly (back from the password prompt): the
/// section, with what was typed.
async fn to_section() -> Redirect {
    Redirect::to("/settings#invite")
}

async fn withdraw(
    State(state): State<AppState>,
    who: Authorized<ManageOrg>,
    session: Session,
    page: PageContext,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    match governance::invitations::withdraw(&state.store, &who.caller, &id).await {
        Ok(invitation) => {
            done(
                &session,
                "invitations",
                format!(
                    "The invitation of {} is withdrawn: its code works no more.",
                    invitation.email
                ),
            )
            .await
        }
        Err(governance::Error::Invitation(closed)) => {
            let problem = FormProblem::plain(INVITATIONS, &sentence(&closed.to_string()));
            refused(&state, &who, &session, page, problem).await
        }
        Err(error) => Err(error.into()),
    }
}

/// The open invitations' table, where a withdrawal's refusal shows.
const INVITATIONS: &str = "invitations";

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
