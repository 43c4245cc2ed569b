//! The dashboard session: the cookie, its timeouts, and what a signed-in session holds.
//!
//! Sessions live in pinward's database ([`governance::sessions::SessionTable`]), so every
//! instance behind a load balancer sees them and signing out deletes them server-side.
//! The cookie is `HttpOnly` and `SameSite=Strict`; over HTTPS it is `__Host-pinward` with
//! `Secure` (bound to this host, path `/`, no `Domain`), over plain HTTP (the loopback
//! demo) just `pinward`, since browsers drop `Secure` cookies sent over HTTP.
//!
//! Two timeouts: the cookie and the row expire after [`IDLE_TIMEOUT`] without a request,
//! and a signed-in session ends [`ABSOLUTE_TIMEOUT`] after sign-in however busy it is.
//!
//! tower-sessions moves the expiry only when it saves a modified session, and a save is a
//! database write (an fsync on SQLite). So a signed-in request marks the session modified
//! at most once per [`KEEP_ALIVE_EVERY`]: the idle timeout runs from the last request
//! give or take that interval, and reading pages costs no write.

use chrono::Utc;
use governance::sessions::{SessionTable, USER_ID_KEY};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

use crate::error::AppError;
use crate::state::Site;

/// A session without a request for this long is gone.
pub const IDLE_TIMEOUT: time::Duration = time::Duration::minutes(30);
/// A signed-in session ends this long after sign-in, however busy.
pub const ABSOLUTE_TIMEOUT: chrono::TimeDelta = chrono::TimeDelta::hours(12);
/// A re-authentication (password typed again) counts as fresh for this long.
pub const STEP_UP_WINDOW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// The longest a signed-in session goes without moving its idle expiry while in use.
pub const KEEP_ALIVE_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

const SIGNED_IN_KEY: &str = "signed_in";
/// Unix seconds of the last request that moved the idle expiry.
const KEPT_ALIVE_KEY: &str = "kept_alive_at";

/// Who is signed in on a session, and when they last proved it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SignedIn {
    /// The user.
    pub user_id: String,
    /// The org the user is acting in.
    pub org_id: String,
    /// For the page header only; authorization reloads the membership on every request.
    pub name: String,
    /// For the page header only.
    pub email: String,
    /// For the page header only.
    pub org_name: String,
    /// Unix seconds of sign-in: the absolute timeout counts from here.
    pub signed_in_at: i64,
    /// Unix seconds of the last time the password was typed (sign-in or step-up).
    pub authenticated_at: i64,
}

impl SignedIn {
    /// Whether the password was typed within [`STEP_UP_WINDOW`].
    #[must_use]
    pub fn recently_authenticated(&self) -> bool {
        Utc::now().timestamp() - self.authenticated_at <= STEP_UP_WINDOW.num_seconds()
    }
}

/// The session layer for `site`, over `table`.
pub(crate) fn layer(table: SessionTable, site: &Site) -> SessionManagerLayer<SessionTable> {
    SessionManagerLayer::new(table)
        .with_name(site.cookie_name())
        .with_secure(site.https)
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(IDLE_TIMEOUT))
}

/// Who is signed in on `session`, if anyone; a session past its absolute timeout is
/// deleted and counts as signed out.
///
/// # Errors
/// [`AppError::Session`] if the store fails.
pub async fn signed_in(session: &Session) -> Result<Option<SignedIn>, AppError> {
    let Some(who) = session.get::<SignedIn>(SIGNED_IN_KEY).await? else {
        return Ok(None);
    };
    let now = Utc::now().timestamp();
    if now - who.signed_in_at > ABSOLUTE_TIMEOUT.num_seconds() {
        session.flush().await?;
        return Ok(None);
    }
    keep_alive(session, now).await?;
    Ok(Some(who))
}

/// Marks `session` modified (so it is saved with a new idle expiry) when the last such
/// mark is [`KEEP_ALIVE_EVERY`] old or older.
async fn keep_alive(session: &Session, now: i64) -> Result<(), AppError> {
    let last = session.get::<i64>(KEPT_ALIVE_KEY).await?;
    if last.is_none_or(|last| now - last >= KEEP_ALIVE_EVERY.num_seconds()) {
        session.insert(KEPT_ALIVE_KEY, now).await?;
    }
    Ok(())
}

/// Makes `session` a signed-in session of `who`, under a new session id (so an id a
/// visitor held before signing in — perhaps planted — is worthless) and a new CSRF token.
///
/// # Errors
/// [`AppError::Session`] if the store fails.
pub async fn sign_in(session: &Session, who: &SignedIn) -> Result<(), AppError> {
    session.cycle_id().await?;
    session.insert(USER_ID_KEY, &who.user_id).await?;
    // Nothing one person typed is offered to the next one signing in on this browser.
    for key in [
        PENDING_REVEAL_KEY,
        PENDING_TOKEN_FORM_KEY,
        PENDING_INVITE_FORM_KEY,
    ] {
        let _: Option<serde_json::Value> = take(session, key).await?;
    }
    session.insert(SIGNED_IN_KEY, who).await?;
    session
        .insert(KEPT_ALIVE_KEY, Utc::now().timestamp())
        .await?;
    crate::auth::csrf::renew(session).await?;
    Ok(())
}

/// Records a fresh password check on a signed-in session (step-up re-authentication).
///
/// # Errors
/// [`AppError::SignInRequired`] when nobody is signed in; [`AppError::Session`] if the
/// store fails.
pub async fn stepped_up(session: &Session) -> Result<(), AppError> {
    let mut who = signed_in(session).await?.ok_or(AppError::SignInRequired)?;
    who.authenticated_at = Utc::now().timestamp();
    session.insert(SIGNED_IN_KEY, who).await?;
    Ok(())
}

/// Ends `session`: its row is deleted and the browser told to drop the cookie.
///
/// # Errors
/// [`AppError::Session`] if the store fails.
pub async fn sign_out(session: &Session) -> Result<(), AppError> {
    session.flush().await?;
    Ok(())
}

/// Who is signed in on `session`, read as stored: no timeout check and no keep-alive,
/// which the request's own extractors do.
///
/// # Errors
/// [`AppError::Session`] if the store fails.
pub(crate) async fn stored(session: &Session) -> Result<Option<SignedIn>, AppError> {
    Ok(session.get::<SignedIn>(SIGNED_IN_KEY).await?)
}

/// An org the signed-in user may switch to, as the header's switcher lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrgChoice {
    /// The org's id.
    pub id: String,
    /// The org's name.
    pub name: String,
    /// The user's role there when the list was made; only the bar's links depend on it.
    #[serde(default)]
    pub role: String,
}

impl From<&governance::users::Membership> for OrgChoice {
    fn from(membership: &governance::users::Membership) -> Self {
        Self {
            id: membership.org_id.clone(),
            name: membership.org_name.clone(),
            role: membership.role.as_str().to_owned(),
        }
    }
}

const ORGS_KEY: &str = "orgs";

/// Remembers the orgs the user belongs to, for the switcher (a list for the header only:
/// switching checks the membership again).
///
/// # Errors
/// [`AppError::Session`] if the store fails.
pub async fn remember_orgs(session: &Session, orgs: &[OrgChoice]) -> Result<(), AppError> {
    session.insert(ORGS_KEY, orgs).await?;
    Ok(())
}

/// The orgs remembered by [`remember_orgs`].
pub(crate) async fn orgs(session: &Session) -> Result<Vec<OrgChoice>, AppError> {
    Ok(session
        .get::<Vec<OrgChoice>>(ORGS_KEY)
        .await?
        .unwrap_or_default())
}

/// Brings the role remembered for `org_id` up to `role`, the membership as it is now, so
/// the bar's links follow a role changed since sign-in. Writes the session only when the
/// role changed.
///
/// # Errors
/// [`AppError::Session`] if the store fails.
pub(crate) async fn refresh_role(
    session: &Session,
    org_id: &str,
    role: &str,
) -> Result<(), AppError> {
    let mut orgs = orgs(session).await?;
    let Some(org) = orgs.iter_mut().find(|o| o.id == org_id && o.role != role) else {
        return Ok(());
    };
    role.clone_into(&mut org.role);
    remember_orgs(session, &orgs).await
}

/// Makes the signed-in session act in `org` from now on. The caller has checked that the
/// user is an active member of it; nothing else of the session changes.
///
/// # Errors
/// [`AppError::SignInRequired`] when nobody is signed in; [`AppError::Session`] if the
/// store fails.
pub async fn switch_org(session: &Session, org: &OrgChoice) -> Result<(), AppError> {
    let mut who = signed_in(session).await?.ok_or(AppError::SignInRequired)?;
    who.org_id.clone_from(&org.id);
    who.org_name.clone_from(&org.name);
    session.insert(SIGNED_IN_KEY, who).await?;
    Ok(())
}

/// A one-shot message shown on the next page (after a redirect).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Flash {
    /// `success`, `error` or `info` (a CSS class).
    pub kind: String,
    /// The message.
    pub message: String,
}

const FLASH_KEY: &str = "flash";

/// Leaves `message` for the next page.
///
/// # Errors
/// [`AppError::Session`] if the store fails.
pub async fn flash(
    session: &Session,
    kind: &str,
    message: impl Into<String>,
) -> Result<(), AppError> {
    let flash = Flash {
        kind: kind.to_owned(),
        message: message.into(),
    };
    session.insert(FLASH_KEY, flash).await?;
    Ok(())
}

/// Takes the message left for this page, if any.
pub(crate) async fn take_flash(session: &Session) -> Result<Option<Flash>, AppError> {
    take(session, FLASH_KEY).await
}

/// Removes and returns the value at `key`. Without one the session is left unmodified:
/// removing even an absent key would make tower-sessions save it.
async fn take<T: serde::de::DeserializeOwned>(
    session: &Session,
    key: &str,
) -> Result<Option<T>, AppError> {
    if session.get::<T>(key).await?.is_none() {
        return Ok(None);
    }
    Ok(session.remove::<T>(key).await?)
}

/// What a person typed into a form before the password prompt interrupted it, so the form
/// comes back filled in: whose, when (seconds since the epoch), and the form's fields. Never
/// a secret (a reveal's reason is ledgered with the reveal; a token's name and role are
/// shown in Settings).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Kept<T> {
    user_id: String,
    kept_at: i64,
    #[serde(flatten)]
    form: T,
}

impl<T> Kept<T> {
    /// Still waiting for `user_id`'s form: theirs, and kept lately.
    fn for_user(&self, user_id: &str) -> bool {
        let fresh = Utc::now().timestamp() - self.kept_at <= KEPT_FOR.num_seconds();
        fresh && self.user_id == user_id
    }
}

/// How long a kept form waits: the password prompt takes a minute, not hours.
const KEPT_FOR: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

async fn keep<T: Serialize>(
    session: &Session,
    key: &str,
    user_id: &str,
    form: T,
) -> Result<(), AppError> {
    let kept = Kept {
        user_id: user_id.to_owned(),
        kept_at: Utc::now().timestamp(),
        form,
    };
    session.insert(key, kept).await?;
    Ok(())
}

/// A reveal form: for which number, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RevealForm {
    number: String,
    reason: String,
}

const PENDING_REVEAL_KEY: &str = "pending_reveal";

/// Keeps the reason typed on `number`'s reveal form while the person confirms their password.
///
/// # Errors
/// [`AppError::Session`] if the store fails.
pub(crate) async fn keep_reveal_reason(
    session: &Session,
    user_id: &str,
    number: &str,
    reason: &str,
) -> Result<(), AppError> {
    let form = RevealForm {
        number: number.to_owned(),
        reason: reason.to_owned(),
    };
    keep(session, PENDING_REVEAL_KEY, user_id, form).await
}

/// Takes the reason `user_id` kept for `number`'s reveal form, if any. One kept by someone
/// else or too long ago is dropped; one kept for another number stays for that number's
/// form (a person may look at a second number before going back to reveal the first).
pub(crate) async fn take_reveal_reason(
    session: &Session,
    user_id: &str,
    number: &str,
) -> Result<Option<String>, AppError> {
    let Some(kept) = session.get::<Kept<RevealForm>>(PENDING_REVEAL_KEY).await? else {
        return Ok(None);
    };
    let usable = kept.for_user(user_id);
    if usable && kept.form.number != number {
        return Ok(None);
    }
    let _: Option<Kept<RevealForm>> = session.remove(PENDING_REVEAL_KEY).await?;
    Ok(usable.then_some(kept.form.reason))
}

/// The API-token form: a name and a role.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TokenForm {
    name: String,
    role: String,
}

const PENDING_TOKEN_FORM_KEY: &str = "pending_token_form";

/// Keeps what was typed into the API-token form while the person confirms their password.
///
/// # Errors
/// [`AppError::Session`] if the store fails.
pub(crate) async fn keep_token_form(
    session: &Session,
    user_id: &str,
    name: &str,
    role: &str,
) -> Result<(), AppError> {
    let form = TokenForm {
        name: name.to_owned(),
        role: role.to_owned(),
    };
    keep(session, PENDING_TOKEN_FORM_KEY, user_id, form).await
}

/// Takes the `(name, role)` `user_id` kept for the API-token form, if any and fresh.
pub(crate) async fn take_token_form(
    session: &Session,
    user_id: &str,
) -> Result<Option<(String, String)>, AppError> {
    let kept = take::<Kept<TokenForm>>(session, PENDING_TOKEN_FORM_KEY).await?;
    Ok(kept
        .filter(|kept| kept.for_user(user_id))
        .map(|kept| (kept.form.name, kept.form.role)))
}

/// The invitation form as it was sent: an email, a role and the clients chosen.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct InviteForm {
    pub(crate) email: String,
    pub(crate) role: String,
    pub(crate) clients: Vec<String>,
}

const PENDING_INVITE_FORM_KEY: &str = "pending_invite_form";

/// Keeps what was typed into the invitation form while the person confirms their password.
///
/// # Errors
/// [`AppError::Session`] if the store fails.
pub(crate) async fn keep_invite_form(
    session: &Session,
    user_id: &str,
    form: &InviteForm,
) -> Result<(), AppError> {
    keep(session, PENDING_INVITE_FORM_KEY, user_id, form.clone()).await
}

/// Takes the invitation form `user_id` kept, if any and fresh.
pub(crate) async fn take_invite_form(
    session: &Session,
    user_id: &str,
) -> Result<Option<InviteForm>, AppError> {
    let kept = take::<Kept<InviteForm>>(session, PENDING_INVITE_FORM_KEY).await?;
    Ok(kept
        .filter(|kept| kept.for_user(user_id))
        .map(|kept| kept.form))
}

/// The one-time tokens of the forms this session has open whose answer shows a secret once
/// (a PIN reveal, a new API token): `(what the form is for, token)`, the newest last.
/// Reloading the page that shows the secret resubmits its form; spending the token on the
/// first submission makes that reload do nothing, not reveal or create a second time.
const ONCE_FORMS_KEY: &str = "once_forms";
/// Such forms open at once (tabs); an older one is refused and simply opened again.
const ONCE_FORMS_KEPT: usize = 8;

/// The one-time token of a form for `purpose` (a number's reveal, `api-token`): the one
/// issued before while it is unspent, so that showing a page again writes no session;
/// otherwise a new one.
///
/// # Errors
/// [`AppError::Session`] if the store fails.
pub(crate) async fn issue_once(session: &Session, purpose: &str) -> Result<String, AppError> {
    let mut forms: Vec<(String, String)> = session.get(ONCE_FORMS_KEY).await?.unwrap_or_default();
    if let Some((_, open)) = forms.iter().find(|(open, _)| open == purpose) {
        return Ok(open.clone());
    }
    let token = super::csrf::unguessable();
    forms.push((purpose.to_owned(), token.clone()));
    let excess = forms.len().saturating_sub(ONCE_FORMS_KEPT);
    forms.drain(..excess);
    session.insert(ONCE_FORMS_KEY, forms).await?;
    Ok(token)
}

/// The one-time tokens this process spent lately. A session is saved whole, the last
/// write winning, so two requests racing with one token (a double click) would both find
/// it in the session; this in-memory record lets only the first through.
#[derive(Debug, Default)]
pub struct SpentOnce(std::sync::Mutex<std::collections::VecDeque<String>>);

/// Spent tokens remembered: far more than clicks can race within a second.
const SPENT_KEPT: usize = 4_096;

impl SpentOnce {
    /// Whether `token` is spent here for the first time (remembering it).
    fn first(&self, token: &str) -> bool {
        let Ok(mut spent) = self.0.lock() else {
            // A poisoned lock means a panic elsewhere; refusing is the safe side.
            return false;
        };
        if spent.iter().any(|t| t == token) {
            return false;
        }
        if spent.len() == SPENT_KEPT {
            spent.pop_front();
        }
        spent.push_back(token.to_owned());
        true
    }
}

/// Spends the token of `purpose`'s form: true once for the token last issued for it, false
/// for a token already spent (here or by a racing request), replaced or never issued.
///
/// # Errors
/// [`AppError::Session`] if the store fails.
pub(crate) async fn spend_once(
    session: &Session,
    spent: &SpentOnce,
    purpose: &str,
    token: &str,
) -> Result<bool, AppError> {
    let mut forms: Vec<(String, String)> = session.get(ONCE_FORMS_KEY).await?.unwrap_or_default();
    let Some(at) = forms.iter().position(|(open, issued)| {
        open == purpose && bool::from(issued.as_bytes().ct_eq(token.as_bytes()))
    }) else {
        return Ok(false);
    };
    // Found in this session: only the first of racing requests goes on.
    if !spent.first(token) {
        return Ok(false);
    }
    forms.remove(at);
    session.insert(ONCE_FORMS_KEY, forms).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::SpentOnce;

    #[test]
    fn a_token_is_spent_once_and_the_oldest_are_forgotten_first() {
        let spent = SpentOnce::default();
        assert!(spent.first("a"));
        assert!(!spent.first("a"), "a racing second request is refused");
        for i in 0..super::SPENT_KEPT {
            assert!(spent.first(&format!("t{i}")));
        }
        assert!(spent.first("a"), "forgotten after SPENT_KEPT newer ones");
        assert!(!spent.first(&format!("t{}", super::SPENT_KEPT - 1)));
    }
}
