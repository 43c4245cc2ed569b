//! Members: users in an org with a role (and, for a business admin, the clients it sees).
//!
//! Every change needs [`Permission::ManageOrg`] and is ledgered as `member.*` in the same
//! transaction. An org always keeps one active admin: the change that would remove the last
//! one is refused. Deactivating a member also ends every dashboard session of its user.
//! [`caller_for`] turns a signed-in user into the [`Caller`] of one org.

use std::collections::HashMap;

use audit::Actor;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::access::{Caller, Permission, Role, Via};
use crate::custody::protocol_event as event;
use crate::store::{Store, Tx};
use crate::users::{self, NewUser};
use crate::{Error, ledger, on_tx, sessions};

/// A member of an org, with its user's email and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    /// The membership's id.
    pub id: String,
    /// The user's id.
    pub user_id: String,
    /// The user's email.
    pub email: String,
    /// The user's name.
    pub display_name: String,
    /// The org role.
    #[serde(serialize_with = "role_name")]
    pub role: Role,
    /// For a business admin: the ids of the clients it sees. Empty otherwise.
    pub clients: Vec<String>,
    /// When the user joined the org.
    pub created_at: DateTime<Utc>,
    /// When the membership (or the whole account) was deactivated.
    pub deactivated_at: Option<DateTime<Utc>>,
}

impl Member {
    /// Whether the member can act (neither the membership nor the account is deactivated).
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.deactivated_at.is_none()
    }

    /// Whether the member may hold a seat of a number of `client_id` (the rule
    /// `numbers::assign` enforces): active, never an auditor, and a business admin only of
    /// its own clients' numbers.
    #[must_use]
    pub fn may_hold_seat_of(&self, client_id: &str) -> bool {
        self.is_active()
            && match self.role {
                Role::Auditor => false,
                Role::BusinessAdmin => self.clients.iter().any(|c| c == client_id),
                Role::Admin | Role::Ops => true,
            }
    }

    /// The member as `caller` may see it (see [`visible_to`]), a business admin seeing only
    /// the clients the two share.
    fn seen_by(mut self, caller: &Caller) -> Option<Member> {
        if !visible_to(caller, self.role, &self.clients) {
            return None;
        }
        self.clients.retain(|c| caller.sees_client(c));
        Some(self)
    }
}

/// Whether `caller` may see a member of `role` with `clients`. A business admin sees the
/// staff who act on its numbers (admins and ops) and the business admins of its own clients:
/// one client's people stay hidden from another client's. Every other role sees every member.
pub(crate) fn visible_to(caller: &Caller, role: Role, clients: &[String]) -> bool {
    caller.role != Role::BusinessAdmin
        || match role {
            Role::Admin | Role::Ops => true,
            Role::Auditor => false,
            Role::BusinessAdmin => clients.iter().any(|c| caller.sees_client(c)),
        }
}

fn role_name<S: serde::Serializer>(role: &Role, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(role.as_str())
}

/// Adds the existing user `user_id` to the caller's org; a deactivated membership of the
/// same user is reactivated with the new role. Ledgered `member.added` (or
/// `member.reactivated`).
///
/// # Errors
/// [`Error::Forbidden`] without `org:manage`; [`Error::NotFound`] `user` or `client`;
/// [`Error::Invalid`] naming `clients` when they do not fit the role;
/// [`Error::Conflict`] `members_org_user_uq` when the user is already an active member.
pub async fn add(
    store: &Store,
    caller: &Caller,
    user_id: &str,
    role: Role,
    clients: &[String],
) -> Result<Member, Error> {
    caller.require(Permission::ManageOrg)?;
    let mut tx = store.begin_for(&caller.org_id).await?;
    let active: Option<Option<DateTime<Utc>>> = {
        let sql = "SELECT deactivated_at FROM users WHERE id = $1";
        on_tx!(tx, conn => sqlx::query_scalar(sql).bind(user_id).fetch_optional(conn).await)?
    };
    match active {
        None => return Err(Error::NotFound { what: "user" }),
        Some(Some(_)) => {
            return Err(Error::Invalid {
                field: "user",
                problem: "the account is deactivated".to_owned(),
            });
        }
        Some(None) => {}
    }
    let member = add_in(
        &mut tx,
        &caller.org_id,
        &caller.actor()?,
        user_id,
        role,
        clients,
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(member)
}

/// Creates an account and adds it to the caller's org in one transaction. Ledgered
/// `member.added`.
///
/// # Errors
/// As [`add`], and [`Error::Invalid`] naming `email`, `name` or `password`;
/// [`Error::Conflict`] `users_email_uq` when the email has an account (use [`add`]).
pub async fn add_new_user(
    store: &Store,
    caller: &Caller,
    new: &NewUser,
    role: Role,
    clients: &[String],
) -> Result<Member, Error> {
    caller.require(Permission::ManageOrg)?;
    let clients = checked_clients(role, clients)?;
    // Hashed before the transaction, which then holds its locks for no slow work.
    let prepared = users::prepare(new).await?;
    let mut tx = store.begin_for(&caller.org_id).await?;
    let user = users::insert(&mut tx, prepared).await?;
    let actor = caller.actor()?;
    let member = add_in(
        &mut tx,
        &caller.org_id,
        &actor,
        &user.id,
        role,
        &clients,
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(member)
}

/// Makes `user_id` a member of `org` (or reactivates its membership), ledgered as done by
/// `actor`; `invitation` names the invitation it came through, if any.
pub(crate) async fn add_in(
    tx: &mut Tx,
    org: &str,
    actor: &Actor,
    user_id: &str,
    role: Role,
    clients: &[String],
    invitation: Option<&str>,
) -> Result<Member, Error> {
    let clients = checked_clients(role, clients)?;
    check_clients_exist(tx, org, &clients).await?;
    let now = crate::clock::now();
    let sql = "SELECT id, deactivated_at FROM members WHERE org_id = $1 AND user_id = $2";
    let existing: Option<(String, Option<DateTime<Utc>>)> =
        on_tx!(tx, conn => sqlx::query_as(sql).bind(org).bind(user_id).fetch_optional(conn).await)?;
    let (member_id, action) = match existing {
        Some((_, None)) => {
            return Err(Error::Conflict {
                constraint: "members_org_user_uq".to_owned(),
            });
        }
        Some((id, Some(_))) => {
            let sql =
                "UPDATE members SET role = $3, deactivated_at = NULL WHERE org_id = $1 AND id = $2";
            on_tx!(tx, conn => sqlx::query(sql).bind(org).bind(&id).bind(role.as_str()).execute(conn).await.map(drop))?;
            (id, "member.reactivated")
        }
        None => {
            let id = Uuid::now_v7().to_string();
            let sql = "INSERT INTO members (id, org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4, $5)";
            on_tx!(tx, conn => sqlx::query(sql)
                .bind(&id)
                .bind(org)
                .bind(user_id)
                .bind(role.as_str())
                .bind(now)
                .execute(conn)
                .await.map(drop))?;
            (id, "member.added")
        }
    };
    replace_clients(tx, org, &member_id, &clients).await?;
    let mut details = json!({ "user": user_id, "role": role.as_str(), "clients": clients });
    if let Some(invitation) = invitation {
        details["invitation"] = json!(invitation);
    }
    let draft = event(action, format!("member:{member_id}"), actor, details)?;
    ledger::append(tx, org, now, draft).await?;
    fetch(tx, org, &member_id).await
}

/// Every member of the caller's org the caller may see (for a business admin, see
/// `Member::seen_by`), active ones first, then by email.
///
/// # Errors
/// [`Error::Forbidden`] without `numbers:read` (every role has it).
pub async fn list(store: &Store, caller: &Caller) -> Result<Vec<Member>, Error> {
    caller.require(Permission::ReadNumbers)?;
    let mut tx = store.read_for(&caller.org_id).await?;
    // Two queries whatever the org's size: the members, then every member's clients.
    let sql = "SELECT m.id, m.user_id, u.email, u.display_name, m.role, m.created_at, \
               m.deactivated_at, u.deactivated_at \
               FROM members m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 \
               ORDER BY (m.deactivated_at IS NULL AND u.deactivated_at IS NULL) DESC, u.email";
    let rows: Vec<MemberRow> =
        on_tx!(tx, conn => sqlx::query_as(sql).bind(&caller.org_id).fetch_all(conn).await)?;
    let sql = "SELECT member_id, client_id FROM member_clients WHERE org_id = $1 ORDER BY member_id, client_id";
    let scopes: Vec<(String, String)> =
        on_tx!(tx, conn => sqlx::query_as(sql).bind(&caller.org_id).fetch_all(conn).await)?;
    tx.rollback().await?;
    let mut clients: HashMap<String, Vec<String>> = HashMap::new();
    for (member, client) in scopes {
        clients.entry(member).or_default().push(client);
    }
    let mut members = Vec::with_capacity(rows.len());
    for row in rows {
        let of = clients.remove(&row.0).unwrap_or_default();
        members.extend(member_of(row, of)?.seen_by(caller));
    }
    Ok(members)
}

/// The member `member_id` of the caller's org.
///
/// # Errors
/// [`Error::NotFound`] `member` (also for another org's member, and for one the caller
/// may not see).
pub async fn get(store: &Store, caller: &Caller, member_id: &str) -> Result<Member, Error> {
    caller.require(Permission::ReadNumbers)?;
    let mut tx = store.read_for(&caller.org_id).await?;
    let member = fetch(&mut tx, &caller.org_id, member_id).await;
    tx.rollback().await?;
    member?
        .seen_by(caller)
        .ok_or(Error::NotFound { what: "member" })
}

/// The member of the caller's org whose user has `email`.
///
/// # Errors
/// [`Error::Invalid`] naming `email`; [`Error::NotFound`] `member` (also for one the caller
/// may not see).
pub async fn find_by_email(store: &Store, caller: &Caller, email: &str) -> Result<Member, Error> {
    caller.require(Permission::ReadNumbers)?;
    let email = users::parse_email(email)?;
    let mut tx = store.read_for(&caller.org_id).await?;
    let sql = "SELECT m.id FROM members m JOIN users u ON u.id = m.user_id \
               WHERE m.org_id = $1 AND u.email = $2";
    let id: Option<String> = on_tx!(tx, conn => sqlx::query_scalar(sql)
        .bind(&caller.org_id).bind(&email).fetch_optional(conn).await)?;
    let member = match id {
        Some(id) => fetch(&mut tx, &caller.org_id, &id).await,
        None => Err(Error::NotFound { what: "member" }),
    };
    tx.rollback().await?;
    member?
        .seen_by(caller)
        .ok_or(Error::NotFound { what: "member" })
}

/// Gives an active member another role (and, for a business admin, its clients).
/// Ledgered `member.role_changed`, followed by the withdrawal (`handover.cancelled`) of any
/// handover offered to the member that the new role cannot accept; the same role and clients
/// again change and ledger nothing.
///
/// # Errors
/// [`Error::Forbidden`] without `org:manage`; [`Error::NotFound`] `member` or `client`;
/// [`Error::Invalid`] naming `clients`, `member` (deactivated) or `role` (the org's last
/// active admin).
pub async fn change_role(
    store: &Store,
    caller: &Caller,
    member_id: &str,
    role: Role,
    clients: &[String],
) -> Result<MemberChange, Error> {
    caller.require(Permission::ManageOrg)?;
    let org = caller.org_id.as_str();
    let clients = checked_clients(role, clients)?;
    let mut tx = store.begin_for(org).await?;
    let before = fetch(&mut tx, org, member_id).await?;
    if !before.is_active() {
        return Err(Error::Invalid {
            field: "member",
            problem: "is deactivated".to_owned(),
        });
    }
    check_clients_exist(&mut tx, org, &clients).await?;
    let mut had = before.clients.clone();
    had.sort();
    if before.role == role && had == clients {
        return Ok(MemberChange {
            member: before,
            handovers_withdrawn: 0,
        });
    }
    if before.role == Role::Admin && role != Role::Admin {
        refuse_last_admin(&mut tx, org, member_id, "role").await?;
    }
    let sql = "UPDATE members SET role = $3 WHERE org_id = $1 AND id = $2";
    on_tx!(tx, conn => sqlx::query(sql).bind(org).bind(member_id).bind(role.as_str()).execute(conn).await.map(drop))?;
    replace_clients(&mut tx, org, member_id, &clients).await?;
    let draft = event(
        "member.role_changed",
        format!("member:{member_id}"),
        &caller.actor()?,
        json!({
            "user": before.user_id,
            "from": before.role.as_str(),
            "to": role.as_str(),
            "clients": clients,
            // What a business admin saw before, so a change of clients alone reads as one.
            "previous_clients": before.clients,
        }),
    )?;
    let now = crate::clock::now();
    ledger::append(&mut tx, org, now, draft).await?;
    let handovers_withdrawn =
        crate::handovers::withdraw_offers_out_of_reach(&mut tx, caller, member_id, now).await?;
    let member = fetch(&mut tx, org, member_id).await?;
    tx.commit().await?;
    Ok(MemberChange {
        member,
        handovers_withdrawn,
    })
}

/// Deactivates a member: it can no longer act in the org, and every dashboard session of
/// its user ends in the same transaction. Ledgered `member.deactivated`; the handovers
/// offered to the member are withdrawn with it (`handover.cancelled`, after it). Deactivating a
/// deactivated member changes nothing.
///
/// # Errors
/// [`Error::Forbidden`] without `org:manage`; [`Error::NotFound`] `member`;
/// [`Error::Invalid`] naming `member` for the org's last active admin.
pub async fn deactivate(
    store: &Store,
    caller: &Caller,
    member_id: &str,
) -> Result<MemberChange, Error> {
    caller.require(Permission::ManageOrg)?;
    let org = caller.org_id.as_str();
    let mut tx = store.begin_for(org).await?;
    let before = fetch(&mut tx, org, member_id).await?;
    if before.deactivated_at.is_some() {
        return Ok(MemberChange {
            member: before,
            handovers_withdrawn: 0,
        });
    }
    if before.role == Role::Admin {
        refuse_last_admin(&mut tx, org, member_id, "member").await?;
    }
    let now = crate::clock::now();
    let sql = "UPDATE members SET deactivated_at = $3 WHERE org_id = $1 AND id = $2";
    on_tx!(tx, conn => sqlx::query(sql).bind(org).bind(member_id).bind(now).execute(conn).await.map(drop))?;
    let signed_out = sessions::delete_for_user_in(&mut tx, &before.user_id).await?;
    let draft = event(
        "member.deactivated",
        format!("member:{member_id}"),
        &caller.actor()?,
        json!({ "user": before.user_id, "role": before.role.as_str(), "sessions_ended": signed_out }),
    )?;
    ledger::append(&mut tx, org, now, draft).await?;
    let handovers_withdrawn =
        crate::handovers::withdraw_offers_out_of_reach(&mut tx, caller, member_id, now).await?;
    let member = fetch(&mut tx, org, member_id).await?;
    tx.commit().await?;
    Ok(MemberChange {
        member,
        handovers_withdrawn,
    })
}

/// A member as [`change_role`] or [`deactivate`] left it, and what went with the change.
#[derive(Debug, Clone)]
pub struct MemberChange {
    /// The member as it is now.
    pub member: Member,
    /// The open handovers that were offered to the member, now withdrawn.
    pub handovers_withdrawn: usize,
}

/// The [`Caller`] of `user_id` in `org_id`, for a dashboard session.
///
/// # Errors
/// [`Error::NotFound`] `org` unless the user and its membership of that org are active
/// (another org's id, an unknown org and a deactivated member look the same).
pub async fn caller_for(store: &Store, org_id: &str, user_id: &str) -> Result<Caller, Error> {
    let mut tx = store.read_for(org_id).await?;
    // Every signed-in request asks this, so membership and clients come in one statement:
    // one row per client (a business admin's), or one row with no client.
    let sql = "SELECT m.id, m.role, mc.client_id FROM members m JOIN users u ON u.id = m.user_id \
               LEFT JOIN member_clients mc ON mc.org_id = m.org_id AND mc.member_id = m.id \
               WHERE m.org_id = $1 AND m.user_id = $2 AND m.deactivated_at IS NULL \
               AND u.deactivated_at IS NULL ORDER BY mc.client_id";
    let rows: Vec<(String, String, Option<String>)> = on_tx!(tx, conn => sqlx::query_as(sql)
        .bind(org_id).bind(user_id).fetch_all(conn).await)?;
    tx.end_read();
    let Some((member_id, role, _)) = rows.first().cloned() else {
        return Err(Error::NotFound { what: "org" });
    };
    let clients = rows
        .into_iter()
        .filter_map(|(_, _, client)| client)
        .collect();
    Ok(Caller {
        org_id: org_id.to_owned(),
        user_id: Some(user_id.to_owned()),
        member_id: Some(member_id),
        role: Role::parse(&role)?,
        clients,
        via: Via::Session,
    })
}

/// Checks the clients chosen for `role` on their own, before any lookup: a business admin
/// needs at least one, no other role has any.
///
/// # Errors
/// [`Error::Invalid`] naming `clients`.
pub fn check_clients(role: Role, clients: &[String]) -> Result<(), Error> {
    checked_clients(role, clients).map(drop)
}

/// A business admin needs at least one client; no other role has any. Duplicates go.
pub(crate) fn checked_clients(role: Role, clients: &[String]) -> Result<Vec<String>, Error> {
    let mut clients: Vec<String> = clients.iter().map(|c| c.trim().to_owned()).collect();
    clients.sort();
    clients.dedup();
    match (role, clients.is_empty()) {
        (Role::BusinessAdmin, true) => Err(Error::Invalid {
            field: "clients",
            problem: "a business_admin needs at least one client".to_owned(),
        }),
        (Role::BusinessAdmin, false) | (_, true) => Ok(clients),
        (_, false) => Err(Error::Invalid {
            field: "clients",
            problem: format!(
                "only a business_admin is scoped to clients; {} {} sees every client",
                if role.as_str().starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                },
                role.as_str()
            ),
        }),
    }
}

pub(crate) async fn check_clients_exist(
    tx: &mut Tx,
    org: &str,
    clients: &[String],
) -> Result<(), Error> {
    let sql = "SELECT COUNT(*) FROM clients WHERE org_id = $1 AND id = $2";
    for client in clients {
        let n: i64 = on_tx!(tx, conn => sqlx::query_scalar(sql).bind(org).bind(client).fetch_one(conn).await)?;
        if n == 0 {
            return Err(Error::NotFound { what: "client" });
        }
    }
    Ok(())
}

async fn replace_clients(
    tx: &mut Tx,
    org: &str,
    member_id: &str,
    clients: &[String],
) -> Result<(), Error> {
    let sql = "DELETE FROM member_clients WHERE org_id = $1 AND member_id = $2";
    on_tx!(tx, conn => sqlx::query(sql).bind(org).bind(member_id).execute(conn).await.map(drop))?;
    let sql = "INSERT INTO member_clients (org_id, member_id, client_id) VALUES ($1, $2, $3)";
    for client in clients {
        on_tx!(tx, conn => sqlx::query(sql).bind(org).bind(member_id).bind(client).execute(conn).await.map(drop))?;
    }
    Ok(())
}

async fn refuse_last_admin(
    tx: &mut Tx,
    org: &str,
    member_id: &str,
    field: &'static str,
) -> Result<(), Error> {
    let sql = "SELECT COUNT(*) FROM members m JOIN users u ON u.id = m.user_id \
               WHERE m.org_id = $1 AND m.id <> $2 AND m.role = 'admin' \
               AND m.deactivated_at IS NULL AND u.deactivated_at IS NULL";
    let others: i64 = on_tx!(tx, conn => sqlx::query_scalar(sql).bind(org).bind(member_id).fetch_one(conn).await)?;
    if others == 0 {
        return Err(Error::Invalid {
            field,
            problem: "is the org's last active admin; make another member admin first".to_owned(),
        });
    }
    Ok(())
}

async fn clients_of(tx: &mut Tx, org: &str, member_id: &str) -> Result<Vec<String>, Error> {
    let sql = "SELECT client_id FROM member_clients WHERE org_id = $1 AND member_id = $2 ORDER BY client_id";
    let clients = on_tx!(tx, conn => sqlx::query_scalar(sql).bind(org).bind(member_id).fetch_all(conn).await)?;
    Ok(clients)
}

async fn fetch(tx: &mut Tx, org: &str, member_id: &str) -> Result<Member, Error> {
    let sql = "SELECT m.id, m.user_id, u.email, u.display_name, m.role, m.created_at, \
               m.deactivated_at, u.deactivated_at \
               FROM members m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 AND m.id = $2";
    let row: Option<MemberRow> = on_tx!(tx, conn => sqlx::query_as(sql)
        .bind(org).bind(member_id).fetch_optional(conn).await)?;
    let Some(row) = row else {
        return Err(Error::NotFound { what: "member" });
    };
    let clients = clients_of(tx, org, &row.0).await?;
    member_of(row, clients)
}

/// A member as selected with its user: ids, email, name, role, created, and when the
/// membership and the user were deactivated.
type MemberRow = (
    String,
    String,
    String,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

fn member_of(row: MemberRow, clients: Vec<String>) -> Result<Member, Error> {
    let (id, user_id, email, display_name, role, created_at, left, closed) = row;
    Ok(Member {
        id,
        user_id,
        email,
        display_name,
        role: Role::parse(&role)?,
        clients,
        created_at,
        deactivated_at: left.or(closed),
    })
}
