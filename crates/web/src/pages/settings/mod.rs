//! Org settings: members and roles, the Graph credential, recovery recipients, clients'
//! release recipients, policies, and the checkpoint public key auditors pin.
//!
//! Whoever may read the ledger (admin, ops, auditor) may look: these are the facts an audit
//! asks about. Only an admin (`org:manage`) changes them; ops may also ask Meta about the
//! credential again, as custody depends on it. Every form posts, redirects back with a
//! message on success, and on a refusal shows this page again with status 422 and the
//! message beside the field at fault; nothing is changed then.

mod clients;
mod credential;
mod members;
mod policies;
mod recovery;
mod tokens;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::Utc;
use governance::access::{Permission, Role};
use tower_sessions::Session;

use crate::AppState;
use crate::auth::session;
use crate::auth::{Authorized, ReadLedger};
use crate::error::AppError;
use crate::page::{PageContext, render};
use crate::pages::time::minute;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings", get(show))
        .route("/settings/checkpoint-key.pub", get(key_file))
        .merge(members::routes())
        .merge(credential::routes())
        .merge(recovery::routes())
        .merge(clients::routes())
        .merge(policies::routes())
        .merge(tokens::routes())
}

/// A form's refusal, shown beside the form and the fields it came from.
#[derive(Debug)]
pub(super) struct FormProblem {
    /// Which form (`member-add`, `policies`, …, or `member:<id>` for one member's row).
    form: String,
    /// Each fault, in the form's order: a form checked whole may refuse several fields.
    faults: Vec<Fault>,
}

#[derive(Debug)]
struct Fault {
    /// The field at fault, when one is.
    field: Option<&'static str>,
    message: String,
}

impl FormProblem {
    /// The refusal `error` of `form`, if it is one a form should show; other errors (not
    /// found, forbidden, database) stay errors.
    pub(super) fn of(form: &str, error: governance::Error) -> Result<FormProblem, AppError> {
        FormProblem::all(form, vec![error])
    }

    /// The refusals of `form`'s fields, each checked alone, reported together.
    pub(super) fn all(form: &str, errors: Vec<governance::Error>) -> Result<FormProblem, AppError> {
        let faults = errors
            .into_iter()
            .map(Fault::of)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FormProblem {
            form: form.to_owned(),
            faults,
        })
    }

    /// A refusal of the web layer itself (the service lacks what the form needs).
    pub(super) fn plain(form: &str, message: &str) -> FormProblem {
        FormProblem {
            form: form.to_owned(),
            faults: vec![Fault {
                field: None,
                message: message.to_owned(),
            }],
        }
    }

    /// Every message, in the form's order.
    fn message(&self) -> String {
        let messages: Vec<&str> = self.faults.iter().map(|f| f.message.as_str()).collect();
        messages.join("; ")
    }
}

impl Fault {
    fn of(error: governance::Error) -> Result<Fault, AppError> {
        let (field, message) = match error {
            governance::Error::Invalid { field, problem } => {
                (Some(field), format!("{}: {problem}", label(field)))
            }
            governance::Error::Conflict { constraint } => {
                match governance::error::conflict_meaning(&constraint) {
                    Some((field, meaning)) => (Some(field), format!("{}: {meaning}", label(field))),
                    None => return Err(governance::Error::Conflict { constraint }.into()),
                }
            }
            governance::Error::NotFound { what: "client" } => (
                Some("clients"),
                format!("{}: no such client in this org", label("clients")),
            ),
            governance::Error::NotFound {
                what: "graph credential",
            } => (
                None,
                "the org has no Graph credential yet; an admin sets one below".to_owned(),
            ),
            governance::Error::Graph(error) => {
                tracing::warn!(%error, "Meta refused a credential request");
                (
                    Some("token"),
                    format!(
                        "{}: Meta did not accept the request; check the token and try again",
                        label("token")
                    ),
                )
            }
            other => return Err(other.into()),
        };
        Ok(Fault { field, message })
    }
}

/// Field names as the forms label them.
fn label(field: &str) -> &str {
    match field {
        "review_cadence_days" => "Review cadence",
        "max_pin_age_days" => "Maximum PIN age",
        "name" => "Name",
        "email" => "Email",
        "password" => "Password",
        "role" => "Role",
        "recipient" => "age recipient",
        "label" => "Label",
        "token" => "Token",
        "clients" => "Clients",
        other => other,
    }
}

/// What was typed into the form that failed, to show it again (never a secret).
#[derive(Debug, Default)]
pub(super) struct Typed {
    /// The invitation form as it was sent.
    invite: session::InviteForm,
    recipient: String,
    label: String,
    /// The recipient typed into the client row whose form was refused.
    client_recipient: String,
    /// The name typed into the client row whose name form was refused.
    client_name: String,
    token_name: String,
    token_role: String,
    policy: Option<PolicyForm>,
    /// The role form of the member row that was refused, as it was sent.
    member_row: Option<MemberRowForm>,
}

/// A member row's role form as it was sent: the picker comes back as the person left it,
/// not as the member's recorded role (which the row's Role column still shows).
#[derive(Debug, Clone, Default)]
pub(super) struct MemberRowForm {
    pub(super) member_id: String,
    pub(super) role: String,
    pub(super) clients: Vec<String>,
}

/// The policy form's values: the policy in force, or what was typed.
#[derive(Debug, Clone)]
pub(super) struct PolicyForm {
    review_cadence_days: String,
    max_pin_age_days: String,
    rotate_after_reveal: bool,
    rotate_on_handover: bool,
}

struct MemberRow {
    id: String,
    name: String,
    email: String,
    role: &'static str,
    /// The role chosen in the row's form: the recorded one, or the one sent when the form
    /// was refused.
    chosen_role: String,
    clients: String,
    /// The org's clients, those of this member marked, for the role form.
    client_choices: Vec<ClientChoice>,
    active: bool,
    since: String,
}

struct ClientChoice {
    id: String,
    name: String,
    selected: bool,
}

struct CredentialView {
    valid: bool,
    app_id: String,
    token_type: String,
    scopes: String,
    granular: Vec<String>,
    expires: String,
    checked: String,
    set: String,
}

struct TokenRow {
    id: String,
    name: String,
    role: &'static str,
    created: String,
    /// When it was revoked; `None` while it works.
    revoked: Option<String>,
    /// When it last authenticated, to the minute, or "never".
    last_used: String,
}

struct InvitationRow {
    id: String,
    email: String,
    role: &'static str,
    clients: String,
    invited: String,
    /// "until …", or "expired …" once the code no longer works.
    expires: String,
    expired: bool,
}

struct RecipientRow {
    id: String,
    recipient: String,
    label: String,
    added: String,
}

#[derive(Template)]
#[template(path = "settings/show.html")]
struct SettingsPage {
    page: PageContext,
    can_manage: bool,
    can_check: bool,
    members: Vec<MemberRow>,
    roles: Vec<&'static str>,
    clients: Vec<governance::clients::Client>,
    credential: Option<CredentialView>,
    credential_health: Vec<String>,
    recipients: Vec<RecipientRow>,
    /// The org's API tokens (an admin's view only).
    tokens: Vec<TokenRow>,
    token_roles: Vec<&'static str>,
    /// The one-time token of the form that creates an API token (admins only).
    token_once: String,
    /// The org's open invitations (an admin's view only).
    invitations: Vec<InvitationRow>,
    /// The one-time token of the invitation form (admins only).
    invite_once: String,
    policy: PolicyForm,
    /// The days the policy's two numbers may take (the inputs' `min` and `max`).
    review_days: std::ops::RangeInclusive<u32>,
    age_days: std::ops::RangeInclusive<u32>,
    checkpoint_key: Option<String>,
    problem: Option<FormProblem>,
    typed: Typed,
}

impl SettingsPage {
    /// The message for `field` of `form`, if that is what was refused.
    fn error_for(&self, form: &str, field: &str) -> Option<&str> {
        self.problem
            .as_ref()
            .filter(|p| p.form == form)
            .and_then(|p| p.faults.iter().find(|f| f.field == Some(field)))
            .map(|f| f.message.as_str())
    }

    /// The refusal of client `id`'s recipient form, if it was refused.
    fn client_error(&self, id: &str) -> Option<&str> {
        self.error_for(&clients::form_of(id), "recipient")
    }

    /// The refusal of client `id`'s name form, if it was refused.
    fn client_name_error(&self, id: &str) -> Option<&str> {
        self.error_for(&clients::name_form_of(id), "name")
    }

    /// The message of a refusal of `form` (shown at the form's top).
    fn error_of(&self, form: &str) -> Option<String> {
        self.problem
            .as_ref()
            .filter(|p| p.form == form)
            .map(FormProblem::message)
    }
}

async fn show(
    State(state): State<AppState>,
    who: Authorized<ReadLedger>,
    session: Session,
    page: PageContext,
) -> Result<Response, AppError> {
    let mut typed = Typed::default();
    if let Some(signed_in) = &who.session {
        if let Some((name, role)) = session::take_token_form(&session, &signed_in.user_id).await? {
            typed.token_name = name;
            typed.token_role = role;
        }
        if let Some(invite) = session::take_invite_form(&session, &signed_in.user_id).await? {
            typed.invite = invite;
        }
    }
    settings_page(&state, &who, &session, page, None, typed).await
}

/// The settings page, with `problem` shown beside its form (status 422) if there is one.
pub(super) async fn settings_page<N: crate::auth::Need>(
    state: &AppState,
    who: &Authorized<N>,
    session: &Session,
    page: PageContext,
    problem: Option<FormProblem>,
    typed: Typed,
) -> Result<Response, AppError> {
    let caller = &who.caller;
    let store = &state.store;
    caller.require(Permission::ReadLedger)?;
    let clients = governance::clients::list(store, caller).await?;
    let client_name = |id: &str| {
        clients
            .iter()
            .find(|c| c.id == id)
            .map_or_else(|| id.to_owned(), |c| c.name.clone())
    };
    let members = governance::members::list(store, caller)
        .await?
        .into_iter()
        .map(|m| {
            let sent = typed
                .member_row
                .as_ref()
                .filter(|row| row.member_id == m.id);
            let chosen = |client: &String| match sent {
                Some(row) => row.clients.contains(client),
                None => m.clients.contains(client),
            };
            MemberRow {
                active: m.is_active(),
                role: m.role.as_str(),
                chosen_role: sent
                    .map_or_else(|| m.role.as_str().to_owned(), |row| row.role.clone()),
                clients: m
                    .clients
                    .iter()
                    .map(|c| client_name(c))
                    .collect::<Vec<_>>()
                    .join(", "),
                client_choices: clients
                    .iter()
                    .map(|c| ClientChoice {
                        id: c.id.clone(),
                        name: c.name.clone(),
                        selected: chosen(&c.id),
                    })
                    .collect(),
                since: m.created_at.format("%Y-%m-%d").to_string(),
                id: m.id,
                name: m.display_name,
                email: m.email,
            }
        })
        .collect();
    let facts = governance::credentials::show(store, caller).await?;
    let now = Utc::now();
    let credential_health = facts
        .as_ref()
        .map(|f| credential::health(f, now))
        .unwrap_or_default();
    let credential = facts.map(credential::view);
    // Who added a key or made a token, as people know them (the ledger's actor ids).
    let actors = governance::history::names(store, caller, &[]).await?;
    let recipients = governance::recovery::list(store, caller)
        .await?
        .into_iter()
        .map(|r| RecipientRow {
            id: r.id,
            recipient: r.recipient,
            label: r.label,
            added: format!("{} by {}", minute(r.created_at), actors.name(&r.created_by)),
        })
        .collect();
    let can_manage = caller.may(Permission::ManageOrg);
    let (invitations, invite_once) = if can_manage {
        let invitations = governance::invitations::open(store, caller)
            .await?
            .into_iter()
            .map(|i| InvitationRow {
                expired: i.is_expired(now),
                expires: if i.is_expired(now) {
                    format!("expired {}", minute(i.expires_at))
                } else {
                    format!("until {}", minute(i.expires_at))
                },
                invited: format!("{} by {}", minute(i.created_at), actors.name(&i.created_by)),
                clients: i
                    .clients
                    .iter()
                    .map(|c| client_name(c))
                    .collect::<Vec<_>>()
                    .join(", "),
                role: i.role.as_str(),
                email: i.email,
                id: i.id,
            })
            .collect();
        (
            invitations,
            session::issue_once(session, members::ONCE).await?,
        )
    } else {
        (Vec::new(), String::new())
    };
    let (tokens, token_once) = if can_manage {
        let tokens = governance::tokens::list(store, caller)
            .await?
            .into_iter()
            .map(|t| TokenRow {
                id: t.id,
                name: t.name,
                role: t.role.as_str(),
                created: format!("{} by {}", minute(t.created_at), actors.name(&t.created_by)),
                revoked: t.revoked_at.map(minute),
                last_used: t.last_used_at.map_or_else(|| "never".to_owned(), minute),
            })
            .collect();
        (tokens, session::issue_once(session, tokens::ONCE).await?)
    } else {
        (Vec::new(), String::new())
    };
    let policy = match &typed.policy {
        Some(typed) => typed.clone(),
        None => policies::form_of(governance::policies::get(store, caller).await?),
    };
    let status = if problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let html = render(&SettingsPage {
        page,
        can_manage,
        can_check: caller.may(Permission::Custody),
        members,
        roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
        clients,
        credential,
        credential_health,
        recipients,
        tokens,
        token_roles: tokens::ROLES.iter().map(|r| r.as_str()).collect(),
        token_once,
        invitations,
        invite_once,
        policy,
        review_days: governance::policies::REVIEW_CADENCE_DAYS,
        age_days: governance::policies::MAX_PIN_AGE_DAYS,
        checkpoint_key: state
            .checkpoint_key
            .as_ref()
            .map(|k| k.public_key().to_base64()),
        problem,
        typed,
    })?;
    Ok((status, html).into_response())
}

/// The settings page with the refusal `problem` of a form that has nothing typed to keep.
pub(super) async fn refused<N: crate::auth::Need>(
    state: &AppState,
    who: &Authorized<N>,
    session: &Session,
    page: PageContext,
    problem: FormProblem,
) -> Result<Response, AppError> {
    settings_page(state, who, session, page, Some(problem), Typed::default()).await
}

/// After a change: back to the section it was made in, with `message`.
pub(super) async fn done(
    session: &Session,
    section: &str,
    message: impl Into<String>,
) -> Result<Response, AppError> {
    session::flash(session, "success", message).await?;
    Ok(Redirect::to(&format!("/settings#{section}")).into_response())
}

/// The checkpoint public key as the file `pinward ledger verify --key` reads.
async fn key_file(
    State(state): State<AppState>,
    _who: Authorized<ReadLedger>,
) -> Result<Response, AppError> {
    let key = state.checkpoint_key.as_ref().ok_or(AppError::Unavailable(
        "this service was started without its checkpoint key",
    ))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"pinward-checkpoint.pub\""),
            ),
        ],
        key.public_key().to_file_contents(),
    )
        .into_response())
}

/// The fields of a posted form, repeated names kept (a multi-select sends one per choice).
pub(super) fn fields(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of `name`, or empty.
pub(super) fn field(fields: &[(String, String)], name: &str) -> String {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// Every non-empty value of `name`.
pub(super) fn all(fields: &[(String, String)], name: &str) -> Vec<String> {
    fields
        .iter()
        .filter(|(k, v)| k == name && !v.trim().is_empty())
        .map(|(_, v)| v.clone())
        .collect()
}
