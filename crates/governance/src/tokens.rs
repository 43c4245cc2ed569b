//! API tokens: org-scoped bearer secrets for the JSON API and scripts.
//!
//! A token is `pwt_<org id>_<64 hex digits>`: 32 random bytes from the OS, shown once at
//! creation. Only its SHA-256 is stored, so the database never holds a usable token. The
//! org id in the token lets [`authenticate`] look it up inside that org's tenant, so API
//! tokens stay under row-level security like every other org's row. A token acts with its
//! role (never `business_admin`, which needs a person's client scope).

use std::fmt;

use chrono::{DateTime, Utc};
use rand::RngCore;
use rand::rngs::OsRng;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::access::{Caller, Permission, Role, Via};
use crate::custody::protocol_event as event;
use crate::orgs::parse_name;
use crate::store::Store;
use crate::{Error, ledger, on_tx};

const PREFIX: &str = "pwt_";
const NAME_MAX: usize = 100;

/// A token's secret, as shown once to its creator and sent back by clients. Zeroized when
/// dropped; `Debug` prints nothing of it.
pub struct TokenSecret(Zeroizing<String>);

impl TokenSecret {
    /// Wraps a secret as received (e.g. from an `Authorization: Bearer` header).
    #[must_use]
    pub fn new(text: String) -> Self {
        TokenSecret(Zeroizing::new(text))
    }

    /// The secret's text, to show it once.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(redacted)")
    }
}

/// A token as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    /// The token's id.
    pub id: String,
    /// What it is for, chosen by its creator.
    pub name: String,
    /// The role it acts with.
    #[serde(serialize_with = "role_name")]
    pub role: Role,
    /// The ledger actor that created it.
    pub created_by: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked; it authenticates no more.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it last authenticated, to the minute ([`LAST_USED_STEP`]); `None`: never.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// How stale a token's `last_used_at` may grow before a request writes it again: a script
/// calling many times a second writes it once a minute, not on every call.
pub const LAST_USED_STEP: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

fn role_name<S: serde::Serializer>(role: &Role, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(role.as_str())
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Checks a new token's name on its own, as [`create`] does.
///
/// # Errors
/// [`Error::Invalid`] naming `name`.
pub fn check_name(name: &str) -> Result<(), Error> {
    parse_name("name", name, NAME_MAX).map(drop)
}

/// Refuses a role no token may have, as [`create`] does.
///
/// # Errors
/// [`Error::Invalid`] naming `role`.
pub fn check_role(role: Role) -> Result<(), Error> {
    if role == Role::BusinessAdmin {
        return Err(Error::Invalid {
            field: "role",
            problem: "a token is admin, ops or auditor (business_admin needs a person's clients)"
                .to_owned(),
        });
    }
    Ok(())
}

/// Creates a token of the caller's org; returns it and its secret (shown once, never
/// stored). Ledgered `token.created`.
///
/// # Errors
/// [`Error::Forbidden`] without `org:manage`; [`Error::Invalid`] naming `name` (also when
/// an active token of the org has it, in any case), or `role` for `business_admin`.
pub async fn create(
    store: &Store,
    caller: &Caller,
    name: &str,
    role: Role,
) -> Result<(ApiToken, TokenSecret), Error> {
    caller.require(Permission::ManageOrg)?;
    let name = parse_name("name", name, NAME_MAX)?;
    check_role(role)?;
    let mut random = Zeroizing::new([0_u8; 32]);
    OsRng.fill_bytes(&mut random[..]);
    let secret = TokenSecret(Zeroizing::new(format!(
        "{PREFIX}{}_{}",
        caller.org_id,
        hex::encode(&random[..])
    )));
    let actor = caller.actor()?;
    let token = ApiToken {
        id: Uuid::now_v7().to_string(),
        name,
        role,
        created_by: actor.as_str().to_owned(),
        created_at: crate::clock::now(),
        revoked_at: None,
        last_used_at: None,
    };
    let mut tx = store.begin_for(&caller.org_id).await?;
    // Scripts and the ledger tell working tokens apart by name.
    let sql = "SELECT COUNT(*) FROM api_tokens WHERE org_id = $1 AND revoked_at IS NULL AND lower(name) = lower($2)";
    let namesakes: i64 = on_tx!(tx, conn => sqlx::query_scalar(sql)
        .bind(&caller.org_id)
        .bind(&token.name)
        .fetch_one(conn)
        .await)?;
    if namesakes > 0 {
        tx.rollback().await?;
        return Err(Error::Invalid {
            field: "name",
            problem: "an active token has this name: choose another, or revoke that one first"
                .to_owned(),
        });
    }
    let sql = "INSERT INTO api_tokens (id, org_id, name, role, secret_hash, created_by, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7)";
    on_tx!(tx, conn => sqlx::query(sql)
        .bind(&token.id)
        .bind(&caller.org_id)
        .bind(&token.name)
        .bind(role.as_str())
        .bind(hash(secret.expose()))
        .bind(&token.created_by)
        .bind(token.created_at)
        .execute(conn)
        .await
        .map(drop))?;
    let draft = event(
        "token.created",
        format!("token:{}", token.id),
        &actor,
        json!({ "name": token.name, "role": role.as_str() }),
    )?;
    ledger::append(&mut tx, &caller.org_id, token.created_at, draft).await?;
    tx.commit().await?;
    Ok((token, secret))
}

/// The caller a token acts as; its last use is written when older than
/// [`LAST_USED_STEP`].
///
/// # Errors
/// [`Error::Unauthenticated`] for a malformed, unknown or revoked token, alike.
pub async fn authenticate(store: &Store, secret: &TokenSecret) -> Result<Caller, Error> {
    let text = secret.expose();
    let org = text
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.rsplit_once('_'))
        .map(|(org, _)| org)
        .filter(|org| {
            !org.is_empty()
                && org.len() <= 128
                && org.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .ok_or(Error::Unauthenticated)?;
    let mut tx = store.read_for(org).await?;
    let sql = "SELECT id, role, last_used_at FROM api_tokens WHERE org_id = $1 AND secret_hash = $2 AND revoked_at IS NULL";
    let row: Option<(String, String, Option<DateTime<Utc>>)> = on_tx!(tx, conn => sqlx::query_as(sql)
        .bind(org)
        .bind(hash(text))
        .fetch_optional(conn)
        .await)?;
    tx.rollback().await?;
    let (id, role, last_used_at) = row.ok_or(Error::Unauthenticated)?;
    let now = crate::clock::now();
    if last_used_at.is_none_or(|at| now - at >= LAST_USED_STEP) {
        let mut tx = store.begin_for(org).await?;
        let sql = "UPDATE api_tokens SET last_used_at = $3 WHERE org_id = $1 AND id = $2";
        on_tx!(tx, conn => sqlx::query(sql).bind(org).bind(&id).bind(now).execute(conn).await.map(drop))?;
        tx.commit().await?;
    }
    Ok(Caller {
        org_id: org.to_owned(),
        user_id: None,
        member_id: None,
        role: Role::parse(&role)?,
        clients: Vec::new(),
        via: Via::ApiToken(id),
    })
}

/// Every token of the caller's org, newest first.
///
/// # Errors
/// [`Error::Forbidden`] without `org:manage`.
pub async fn list(store: &Store, caller: &Caller) -> Result<Vec<ApiToken>, Error> {
    caller.require(Permission::ManageOrg)?;
    let mut tx = store.read_for(&caller.org_id).await?;
    let sql = "SELECT id, name, role, created_by, created_at, revoked_at, last_used_at FROM api_tokens \
               WHERE org_id = $1 ORDER BY created_at DESC, id DESC";
    type Row = (
        String,
        String,
        String,
        String,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<Row> =
        on_tx!(tx, conn => sqlx::query_as(sql).bind(&caller.org_id).fetch_all(conn).await)?;
    tx.rollback().await?;
    rows.into_iter()
        .map(
            |(id, name, role, created_by, created_at, revoked_at, last_used_at)| {
                Ok(ApiToken {
                    id,
                    name,
                    role: Role::parse(&role)?,
                    created_by,
                    created_at,
                    revoked_at,
                    last_used_at,
                })
            },
        )
        .collect()
}

/// Revokes a token of the caller's org: it authenticates no more. Ledgered
/// `token.revoked`; revoking a revoked token changes nothing.
///
/// # Errors
/// [`Error::Forbidden`] without `org:manage`; [`Error::NotFound`] `token` (also for
/// another org's token).
pub async fn revoke(store: &Store, caller: &Caller, token_id: &str) -> Result<(), Error> {
    caller.require(Permission::ManageOrg)?;
    let mut tx = store.begin_for(&caller.org_id).await?;
    let sql = "SELECT revoked_at FROM api_tokens WHERE org_id = $1 AND id = $2";
    let row: Option<Option<DateTime<Utc>>> = on_tx!(tx, conn => sqlx::query_scalar(sql)
        .bind(&caller.org_id)
        .bind(token_id)
        .fetch_optional(conn)
        .await)?;
    match row {
        None => return Err(Error::NotFound { what: "token" }),
        Some(Some(_)) => return Ok(()),
        Some(None) => {}
    }
    let now = crate::clock::now();
    let sql = "UPDATE api_tokens SET revoked_at = $3 WHERE org_id = $1 AND id = $2";
    on_tx!(tx, conn => sqlx::query(sql)
        .bind(&caller.org_id)
        .bind(token_id)
        .bind(now)
        .execute(conn)
        .await
        .map(drop))?;
    let draft = event(
        "token.revoked",
        format!("token:{token_id}"),
        &caller.actor()?,
        json!({}),
    )?;
    ledger::append(&mut tx, &caller.org_id, now, draft).await?;
    tx.commit().await?;
    Ok(())
}
