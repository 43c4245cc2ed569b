//! Invitations: how a person joins an org.
//!
//! An org admin invites an email with a role (and, for a business admin, its clients) and
//! gets a one-time code to pass on. The person opens the join page with it and accepts with
//! the account they have, or makes one with a password of their own. Inviting tells the
//! admin nothing of whether the email has an account: the form, its answer and the open
//! invitations read alike either way, so the admin's pages cannot probe who works with
//! another org.
//!
//! The code is the invitation. Whoever holds it sees on the join page whether the email has
//! an account, and may make the account when it has none, choosing its password: pinward
//! sends no mail yet, so the code goes through the admin, who must pass it on through a
//! channel only the person reads. (Delivering it by mail, straight to the address, would
//! take that out of the admin's hands; see the README.)
//!
//! A code is `pwi_<org id>_<64 hex digits>`: 32 random bytes from the OS, shown once. Only
//! its SHA-256 is stored. The org id in it lets the join page find the invitation inside
//! that org's tenant (row-level security), as [`crate::tokens`] does for API tokens. A code
//! works once, for [`LIFETIME`]; inviting the same email again withdraws the earlier one.
//! Every change is ledgered in its transaction: `member.invited`,
//! `member.invitation_withdrawn`, and on acceptance `member.added` (or
//! `member.reactivated`) by the person who joined, naming the invitation.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore;
use rand::rngs::OsRng;
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

use audit::Actor;

use crate::access::{Caller, Permission, Role};
use crate::custody::protocol_event as event;
use crate::members::{self, Member};
use crate::store::dialect::{self, InvitationBy as By};
use crate::store::{Store, Tx};
use crate::users::{self, NewUser, Password, User};
use crate::{Error, ledger, on_tx};

const PREFIX: &str = "pwi_";

/// How long a code works after it is made.
pub const LIFETIME: TimeDelta = TimeDelta::days(7);

/// An invitation's code, as shown once to the admin and typed by the person invited.
/// Zeroized when dropped; `Debug` prints nothing of it.
pub struct InvitationCode(Zeroizing<String>);

impl InvitationCode {
    /// Wraps a code as typed (surrounding spaces are dropped: it is often pasted).
    #[must_use]
    pub fn new(text: &str) -> Self {
        InvitationCode(Zeroizing::new(text.trim().to_owned()))
    }

    /// The code's text, to show it once or carry it in a form.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The org the code is of and the hash it is stored as; `None` when it is not a code.
    fn parts(&self) -> Option<(&str, String)> {
        let (org, secret) = self.0.strip_prefix(PREFIX)?.rsplit_once('_')?;
        let org_ok = !org.is_empty()
            && org.len() <= 128
            && org.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let secret_ok = secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit());
        (org_ok && secret_ok).then(|| (org, hash(&self.0)))
    }
}

impl fmt::Debug for InvitationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InvitationCode(redacted)")
    }
}

fn hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.as_bytes()))
}

/// Why a code cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// No invitation has this code (mistyped, cut short, or of another pinward).
    Unknown,
    /// It was accepted: a code joins one person once.
    Accepted,
    /// An org admin withdrew it (or invited the same email again).
    Withdrawn,
    /// Its [`LIFETIME`] is over.
    Expired,
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Closed::Unknown => {
                "this is not an invitation code of this pinward: check that it was copied whole"
            }
            Closed::Accepted => {
                "this invitation was already accepted: a code joins one person, once"
            }
            Closed::Withdrawn => {
                "this invitation was withdrawn, or replaced by a newer one: use the newest code \
                 you were sent, or ask an org admin for a new one"
            }
            Closed::Expired => "this invitation has expired: ask an org admin for a new one",
        })
    }
}

/// An invitation as its org's admins see it (never its code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// The invitation's id.
    pub id: String,
    /// The email invited (normalized).
    pub email: String,
    /// The role the person gets.
    pub role: Role,
    /// For a business admin: the ids of the clients it will see.
    pub clients: Vec<String>,
    /// The ledger actor that invited.
    pub created_by: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When its code stops working.
    pub expires_at: DateTime<Utc>,
}

impl Invitation {
    /// Whether the code no longer works because of its age.
    #[must_use]
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }
}

/// An invitation as the join page shows it to whoever holds its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The invitation.
    pub invitation: Invitation,
    /// The org it joins.
    pub org_id: String,
    /// The org's name.
    pub org_name: String,
    /// The names of the invitation's clients (a business admin's), in its order.
    pub client_names: Vec<String>,
}

/// Who joined, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// The org joined.
    pub org_id: String,
    /// The org's name.
    pub org_name: String,
    /// The new (or reactivated) membership.
    pub member: Member,
}

/// An invitation as `dialect::select_invitations!` reads it.
type Row = (
    String,
    String,
    String,
    String,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

/// An invitation row and whether its code still works at `now`.
fn from_row(row: Row, now: DateTime<Utc>) -> Result<(Invitation, Option<Closed>), Error> {
    let (id, email, role, clients, created_by, created_at, expires_at, accepted, withdrawn) = row;
    let clients: Vec<String> = serde_json::from_str(&clients)
        .map_err(|e| Error::Database(sqlx::Error::Decode(Box::new(e))))?;
    let invitation = Invitation {
        id,
        email,
        role: Role::parse(&role)?,
        clients,
        created_by,
        created_at,
        expires_at,
    };
    let closed = if accepted.is_some() {
        Some(Closed::Accepted)
    } else if withdrawn.is_some() {
        Some(Closed::Withdrawn)
    } else if invitation.is_expired(now) {
        Some(Closed::Expired)
    } else {
        None
    };
    Ok((invitation, closed))
}

/// The faults of an invitation's fields, each checked on its own as [`invite`] checks it
/// ([`Error::Invalid`] naming `email` or `clients`), so a form can report them all at once.
#[must_use]
pub fn check(email: &str, role: Role, clients: &[String]) -> Vec<Error> {
    [
        users::parse_email(email).err(),
        members::check_clients(role, clients).err(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Invites `email` to the caller's org as `role` (with `clients` for a business admin);
/// returns the invitation and its code, shown once and never stored. An open invitation of
/// the same email is withdrawn. Ledgered `member.invited` (and
/// `member.invitation_withdrawn`). Whether the email has an account is neither looked at nor
/// told.
///
/// # Errors
/// [`Error::Forbidden`] without `org:manage`; [`Error::Invalid`] naming `email` or
/// `clients`; [`Error::NotFound`] `client`; [`Error::Conflict`] `members_org_user_uq` when
/// an active member of the org has this email.
pub async fn invite(
    store: &Store,
    caller: &Caller,
    email: &str,
    role: Role,
    clients: &[String],
) -> Result<(Invitation, InvitationCode), Error> {
    caller.require(Permission::ManageOrg)?;
    let email = users::parse_email(email)?;
    let clients = members::checked_clients(role, clients)?;
    let org = caller.org_id.as_str();
    let actor = caller.actor()?;
    let now = crate::clock::now();
    let mut tx = store.begin_for(org).await?;
    members::check_clients_exist(&mut tx, org, &clients).await?;
    let sql = "SELECT COUNT(*) FROM members m JOIN users u ON u.id = m.user_id \
               WHERE m.org_id = $1 AND u.email = $2 AND m.deactivated_at IS NULL";
    let members: i64 =
        on_tx!(tx, conn => sqlx::query_scalar(sql).bind(org).bind(&email).fetch_one(conn).await)?;
    if members > 0 {
        return Err(Error::Conflict {
            constraint: "members_org_user_uq".to_owned(),
        });
    }
    let sql = "SELECT id FROM invitations WHERE org_id = $1 AND email = $2 \
               AND accepted_at IS NULL AND withdrawn_at IS NULL";
    let earlier: Vec<String> =
        on_tx!(tx, conn => sqlx::query_scalar(sql).bind(org).bind(&email).fetch_all(conn).await)?;
    for id in earlier {
        close_withdrawn(&mut tx, org, &actor, &id, now, "invited again").await?;
    }
    let mut random = Zeroizing::new([0_u8; 32]);
    OsRng.fill_bytes(&mut random[..]);
    let code = InvitationCode(Zeroizing::new(format!(
        "{PREFIX}{org}_{}",
        hex::encode(&random[..])
    )));
    let invitation = Invitation {
        id: Uuid::now_v7().to_string(),
        email,
        role,
        clients,
        created_by: actor.as_str().to_owned(),
        created_at: now,
        expires_at: now + LIFETIME,
    };
    let sql = "INSERT INTO invitations (id, org_id, email, role, clients, code_hash, created_by, \
               created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    on_tx!(tx, conn => sqlx::query(sql)
        .bind(&invitation.id)
        .bind(org)
        .bind(&invitation.email)
        .bind(role.as_str())
        .bind(json!(invitation.clients).to_string())
        .bind(hash(code.expose()))
        .bind(&invitation.created_by)
        .bind(now)
        .bind(invitation.expires_at)
        .execute(conn)
        .await
        .map(drop))?;
    let draft = event(
        "member.invited",
        format!("invitation:{}", invitation.id),
        &actor,
        json!({
            "role": role.as_str(),
            "clients": invitation.clients,
            "expires_at": audit::Timestamp::new(invitation.expires_at)?.to_string(),
        }),
    )?;
    ledger::append(&mut tx, org, now, draft).await?;
    tx.commit().await?;
    Ok((invitation, code))
}

async fn close_withdrawn(
    tx: &mut Tx,
    org: &str,
    actor: &Actor,
    id: &str,
    now: DateTime<Utc>,
    why: &str,
) -> Result<(), Error> {
    // Only while it is open: an acceptance or withdrawal that committed while this waited
    // for the row (PostgreSQL) stands, and is not ledgered again.
    let sql = "UPDATE invitations SET withdrawn_at = $3 WHERE org_id = $1 AND id = $2 \
               AND accepted_at IS NULL AND withdrawn_at IS NULL";
    let closed = on_tx!(tx, conn => sqlx::query(sql).bind(org).bind(id).bind(now).execute(conn).await.map(|r| r.rows_affected()))?;
    if closed == 0 {
        return Ok(());
    }
    let draft = event(
        "member.invitation_withdrawn",
        format!("invitation:{id}"),
        actor,
        json!({ "why": why }),
    )?;
    ledger::append(tx, org, now, draft).await?;
    Ok(())
}

/// The caller's org's invitations that are neither accepted nor withdrawn (expired ones
/// too, so an admin sees them and invites again), newest first.
///
/// # Errors
/// [`Error::Forbidden`] without `org:manage`.
pub async fn open(store: &Store, caller: &Caller) -> Result<Vec<Invitation>, Error> {
    caller.require(Permission::ManageOrg)?;
    let org = caller.org_id.as_str();
    let sql = dialect::select_invitations!(
        "accepted_at IS NULL AND withdrawn_at IS NULL ORDER BY created_at DESC, id DESC"
    );
    let rows: Vec<Row> =
        crate::on_read!(store, org, conn => sqlx::query_as(sql).bind(org).fetch_all(conn).await)?;
    let now = crate::clock::now();
    rows.into_iter()
        .map(|row| from_row(row, now).map(|(invitation, _)| invitation))
        .collect()
}

/// Withdraws an invitation of the caller's org: its code works no more. Ledgered
/// `member.invitation_withdrawn`; withdrawing a withdrawn one changes nothing.
///
/// # Errors
/// [`Error::Forbidden`] without `org:manage`; [`Error::NotFound`] `invitation` (also for
/// another org's); [`Error::Invitation`] [`Closed::Accepted`] when it was accepted.
pub async fn withdraw(store: &Store, caller: &Caller, id: &str) -> Result<Invitation, Error> {
    caller.require(Permission::ManageOrg)?;
    let org = caller.org_id.as_str();
    let now = crate::clock::now();
    let mut tx = store.begin_for(org).await?;
    // Held until the end, so an acceptance racing this either finished before (and is
    // reported) or waits and finds it withdrawn.
    let sql = dialect::select_invitation_for_update(tx.backend(), By::Id);
    let row: Option<Row> =
        on_tx!(tx, conn => sqlx::query_as(sql).bind(org).bind(id).fetch_optional(conn).await)?;
    let (invitation, closed) = from_row(row.ok_or(Error::NotFound { what: "invitation" })?, now)?;
    match closed {
        Some(Closed::Accepted) => return Err(Error::Invitation(Closed::Accepted)),
        Some(Closed::Withdrawn) => return Ok(invitation),
        Some(Closed::Expired | Closed::Unknown) | None => {}
    }
    close_withdrawn(&mut tx, org, &caller.actor()?, id, now, "withdrawn").await?;
    tx.commit().await?;
    Ok(invitation)
}

/// The invitation of `code`, for the join page, while its code works.
///
/// # Errors
/// [`Error::Invitation`] saying why the code does not work.
pub async fn find(store: &Store, code: &InvitationCode) -> Result<Opened, Error> {
    let (org, hash) = code.parts().ok_or(Error::Invitation(Closed::Unknown))?;
    let mut tx = store.read_for(org).await?;
    let sql = dialect::select_invitations!("code_hash = $2");
    let row: Option<Row> =
        on_tx!(tx, conn => sqlx::query_as(sql).bind(org).bind(&hash).fetch_optional(conn).await)?;
    let row = row.ok_or(Error::Invitation(Closed::Unknown))?;
    let (invitation, closed) = from_row(row, crate::clock::now())?;
    if let Some(closed) = closed {
        return Err(Error::Invitation(closed));
    }
    let opened = opened(&mut tx, org, invitation).await?;
    tx.end_read();
    Ok(opened)
}

async fn org_name(tx: &mut Tx, org: &str) -> Result<String, Error> {
    let sql = "SELECT name FROM orgs WHERE id = $1";
    Ok(on_tx!(tx, conn => sqlx::query_scalar(sql).bind(org).fetch_one(conn).await)?)
}

async fn opened(tx: &mut Tx, org: &str, invitation: Invitation) -> Result<Opened, Error> {
    let org_name = org_name(tx, org).await?;
    let sql = "SELECT name FROM clients WHERE org_id = $1 AND id = $2";
    let mut client_names = Vec::with_capacity(invitation.clients.len());
    for client in &invitation.clients {
        let name: Option<String> = on_tx!(tx, conn => sqlx::query_scalar(sql).bind(org).bind(client).fetch_optional(conn).await)?;
        client_names.push(name.unwrap_or_else(|| client.clone()));
    }
    Ok(Opened {
        invitation,
        org_id: org.to_owned(),
        org_name,
        client_names,
    })
}

/// The open invitation of `code` inside `tx`, held until it ends.
async fn claim(tx: &mut Tx, org: &str, hash: &str) -> Result<Invitation, Error> {
    let sql = dialect::select_invitation_for_update(tx.backend(), By::Code);
    let row: Option<Row> =
        on_tx!(tx, conn => sqlx::query_as(sql).bind(org).bind(hash).fetch_optional(conn).await)?;
    let (invitation, closed) = from_row(
        row.ok_or(Error::Invitation(Closed::Unknown))?,
        crate::clock::now(),
    )?;
    match closed {
        Some(closed) => Err(Error::Invitation(closed)),
        None => Ok(invitation),
    }
}

/// Makes the invited person a member and closes the invitation, in `tx`.
async fn join(
    tx: &mut Tx,
    org: &str,
    invitation: &Invitation,
    user_id: &str,
) -> Result<Joined, Error> {
    let actor = Actor::user(user_id).map_err(|_| Error::Invalid {
        field: "actor",
        problem: "not a valid actor id".to_owned(),
    })?;
    let member = members::add_in(
        tx,
        org,
        &actor,
        user_id,
        invitation.role,
        &invitation.clients,
        Some(&invitation.id),
    )
    .await?;
    let sql =
        "UPDATE invitations SET accepted_at = $3, member_id = $4 WHERE org_id = $1 AND id = $2";
    on_tx!(tx, conn => sqlx::query(sql)
        .bind(org)
        .bind(&invitation.id)
        .bind(crate::clock::now())
        .bind(&member.id)
        .execute(conn)
        .await
        .map(drop))?;
    Ok(Joined {
        org_id: org.to_owned(),
        org_name: org_name(tx, org).await?,
        member,
    })
}

/// Accepts the invitation of `code` for the account `user_id` (signed in, or whose
/// password was just checked): it becomes a member of the invitation's org with its role.
///
/// # Errors
/// [`Error::Invitation`] when the code does not work; [`Error::Invalid`] naming `email`
/// when the account's email is not the one invited, or the account is deactivated;
/// [`Error::Conflict`] `members_org_user_uq` when it is already an active member;
/// [`Error::NotFound`] `client` when a client of the invitation is gone.
pub async fn accept(store: &Store, code: &InvitationCode, user_id: &str) -> Result<Joined, Error> {
    let (org, hash) = code.parts().ok_or(Error::Invitation(Closed::Unknown))?;
    let mut tx = store.begin_for(org).await?;
    let invitation = claim(&mut tx, org, &hash).await?;
    let sql = "SELECT email, deactivated_at FROM users WHERE id = $1";
    let account: Option<(String, Option<DateTime<Utc>>)> =
        on_tx!(tx, conn => sqlx::query_as(sql).bind(user_id).fetch_optional(conn).await)?;
    match account {
        Some((email, None)) if email == invitation.email => {}
        None => return Err(Error::NotFound { what: "user" }),
        Some((_, Some(_))) => {
            return Err(Error::Invalid {
                field: "email",
                problem: "this account is deactivated: the operator of this pinward can \
                          reactivate it"
                    .to_owned(),
            });
        }
        Some(_) => {
            return Err(Error::Invalid {
                field: "email",
                problem: format!(
                    "this invitation is for {}: accept it signed in with that email's account",
                    invitation.email
                ),
            });
        }
    }
    let joined = join(&mut tx, org, &invitation, user_id).await?;
    tx.commit().await?;
    Ok(joined)
}

/// Accepts the invitation of `code` with a new account for the invited email, named
/// `display_name`, signing in with `password`; returns the account and where it joined.
///
/// # Errors
/// As [`accept`]; [`Error::Invalid`] naming `name` or `password`; [`Error::Conflict`]
/// `users_email_uq` when the email has an account (accept with it instead).
pub async fn accept_new(
    store: &Store,
    code: &InvitationCode,
    display_name: &str,
    password: Password,
) -> Result<(User, Joined), Error> {
    let (org, hash) = code.parts().ok_or(Error::Invitation(Closed::Unknown))?;
    // The invitation's email, to hash the password before the write transaction (which
    // then holds its locks for no slow work); read again, and held, inside it.
    let email = find(store, code).await?.invitation.email;
    // Told on the join page anyway; refused before the hash, not after it.
    if users::find_by_email(store, &email).await?.is_some() {
        return Err(Error::Conflict {
            constraint: "users_email_uq".to_owned(),
        });
    }
    let prepared = users::prepare(&NewUser {
        email,
        display_name: display_name.to_owned(),
        password: Some(password),
    })
    .await?;
    let mut tx = store.begin_for(org).await?;
    let invitation = claim(&mut tx, org, &hash).await?;
    let user = users::insert(&mut tx, prepared).await?;
    let joined = join(&mut tx, org, &invitation, &user.id).await?;
    tx.commit().await?;
    Ok((user, joined))
}
