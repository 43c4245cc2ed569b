//! The org's Graph credential: its system-user token, sealed with age to the service
//! identity (never stored in plaintext), and what Meta's `debug_token` said about it.
//!
//! Setting a token checks it with Meta first: a token Meta refuses is not stored. The facts
//! (validity, scopes, the WABAs each scope is limited to, expiry) are stored with the time
//! of the check and shown to admins; [`recheck`] refreshes them. [`open`] gives custody and
//! sync the token.

use chrono::{DateTime, Utc};
use graph::{AccessToken, Expiry, GraphClient, TokenInfo};
use serde::Serialize;
use serde_json::json;
use vault::{Recipients, Secret};

use crate::access::{Caller, Permission};
use crate::custody::Escrow;
use crate::custody::protocol_event as event;
use crate::store::Store;
use crate::{Error, ledger, on_tx};

/// What is known about an org's Graph token (never the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialFacts {
    /// Meta said the token is usable, at `checked_at`.
    pub is_valid: bool,
    /// The app the token belongs to.
    pub app_id: Option<String>,
    /// The system user.
    pub meta_user_id: Option<String>,
    /// `SYSTEM_USER`, `USER`, …
    pub token_type: Option<String>,
    /// Granted permissions.
    pub scopes: Vec<String>,
    /// Permissions limited to assets: `(scope, asset ids)`; absent = not limited.
    pub granular_scopes: Vec<GranularScope>,
    /// When the token expires; `None` when it never does or Meta did not say.
    pub expires_at: Option<DateTime<Utc>>,
    /// Meta said the token never expires.
    pub never_expires: bool,
    /// When Meta was asked.
    pub checked_at: DateTime<Utc>,
    /// Who set the token (ledger actor).
    pub set_by: String,
    /// When it was set.
    pub set_at: DateTime<Utc>,
}

/// A permission and the assets it is limited to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct GranularScope {
    /// The permission.
    pub scope: String,
    /// The asset ids (WABAs); `None` = every asset the system user reaches.
    pub target_ids: Option<Vec<String>>,
}

struct Facts {
    is_valid: bool,
    app_id: Option<String>,
    meta_user_id: Option<String>,
    token_type: Option<String>,
    scopes: String,
    granular: String,
    expires_at: Option<DateTime<Utc>>,
    never_expires: bool,
}

fn facts_of(info: &TokenInfo) -> Result<Facts, Error> {
    let granular: Vec<GranularScope> = info
        .granular_scopes
        .iter()
        .map(|g| GranularScope {
            scope: g.scope.clone(),
            target_ids: g.target_ids.clone(),
        })
        .collect();
    let encode = |e: serde_json::Error| Error::Invalid {
        field: "token",
        problem: format!("Meta's token facts could not be stored: {e}"),
    };
    let token_type = info
        .kind
        .and_then(|k| serde_json::to_value(k).ok())
        .and_then(|v| v.as_str().map(str::to_owned));
    // `expires_at` 0 (never) is stored as NULL and shown as `never_expires`.
    let (expires_at, never_expires) = match info.expiry() {
        Expiry::At(at) => (Some(at), false),
        Expiry::Never => (None, true),
        Expiry::Unknown => (None, false),
    };
    Ok(Facts {
        is_valid: info.is_valid,
        app_id: info.app_id.clone(),
        meta_user_id: info.user_id.clone(),
        token_type,
        scopes: serde_json::to_string(&info.scopes).map_err(encode)?,
        granular: serde_json::to_string(&granular).map_err(encode)?,
        expires_at,
        never_expires,
    })
}

/// The longest token taken: Meta's run to a few hundred characters.
const MAX_TOKEN: usize = 4096;

/// Checks `token` with Meta, then stores it sealed with the facts, replacing the org's
/// previous token. Ledgered `graph_credential.set` (with the facts, never the token).
///
/// # Errors
/// [`Error::Forbidden`] without `org:manage`; [`Error::Invalid`] naming `token` when it is
/// empty or Meta says it is not valid; [`Error::Graph`] when Meta refuses it. Nothing is
/// stored then.
pub async fn set(
    store: &Store,
    escrow: &Escrow,
    graph: &GraphClient,
    caller: &Caller,
    token: &AccessToken,
) -> Result<CredentialFacts, Error> {
    caller.require(Permission::ManageOrg)?;
    let text = token.expose().trim();
    let problem = if text.is_empty() {
        Some("is required: paste the system user's access token".to_owned())
    } else if text.len() > MAX_TOKEN {
        Some(format!(
            "is longer than any Graph access token (at most {MAX_TOKEN} characters): paste the token alone"
        ))
    } else if text.chars().any(char::is_whitespace) {
        Some("must be one Graph access token (no spaces)".to_owned())
    } else {
        None
    };
    if let Some(problem) = problem {
        return Err(Error::Invalid {
            field: "token",
            problem,
        });
    }
    let token = AccessToken::from(text);
    // A stale process asks Meta nothing about a token it would not seal.
    escrow.is_current(store).await?;
    let info = graph.debug_token(&token, &token).await?;
    if !info.is_valid {
        return Err(Error::Invalid {
            field: "token",
            problem: "Meta says this token is not valid".to_owned(),
        });
    }
    let facts = facts_of(&info)?;
    let sealed = vault::seal(
        &Secret::from(token.expose().to_owned()),
        &Recipients::new([escrow.identity().recipient()])?,
    )?;
    let now = crate::clock::now();
    let actor = caller.actor()?;
    let org = caller.org_id.as_str();
    let mut tx = store.begin_for(org).await?;
    escrow.check_current(&mut tx).await?;
    let sql = "DELETE FROM graph_credentials WHERE org_id = $1";
    on_tx!(tx, conn => sqlx::query(sql).bind(org).execute(conn).await.map(drop))?;
    let sql = "INSERT INTO graph_credentials (org_id, sealed, is_valid, app_id, meta_user_id, token_type, \
               scopes, granular_scopes, expires_at, never_expires, checked_at, set_by, set_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $12, $10, $11, $10)";
    on_tx!(tx, conn => sqlx::query(sql)
        .bind(org)
        .bind(sealed.as_str())
        .bind(facts.is_valid)
        .bind(&facts.app_id)
        .bind(&facts.meta_user_id)
        .bind(&facts.token_type)
        .bind(&facts.scopes)
        .bind(&facts.granular)
        .bind(facts.expires_at)
        .bind(now)
        .bind(actor.as_str())
        .bind(facts.never_expires)
        .execute(conn)
        .await
        .map(drop))?;
    let draft = event(
        "graph_credential.set",
        format!("org:{org}"),
        &actor,
        json!({
            "app_id": facts.app_id,
            "meta_user_id": facts.meta_user_id,
            "scopes": info.scopes,
            "is_valid": facts.is_valid,
        }),
    )?;
    ledger::append(&mut tx, org, now, draft).await?;
    let shown = read(&mut tx, org).await?;
    tx.commit().await?;
    shown.ok_or(Error::NotFound {
        what: "graph credential",
    })
}

/// The facts of the org's credential, or `None` when none is set.
///
/// # Errors
/// [`Error::Forbidden`] for a business admin (`ledger:read` is needed).
pub async fn show(store: &Store, caller: &Caller) -> Result<Option<CredentialFacts>, Error> {
    caller.require(Permission::ReadLedger)?;
    let mut tx = store.read_for(&caller.org_id).await?;
    let facts = read(&mut tx, &caller.org_id).await?;
    tx.rollback().await?;
    Ok(facts)
}

/// The permissions PIN changes need (GRAPH_API.md: Solution Partners need both to set a
/// PIN), each with what fails without it.
pub const CUSTODY_SCOPES: [(&str, &str); 2] = [
    ("whatsapp_business_management", "sync and every PIN change"),
    ("whatsapp_business_messaging", "setting PINs"),
];

/// Every permission pinward's calls need: [`CUSTODY_SCOPES`] and the one sync lists the
/// portfolio's WABAs with.
pub const NEEDED_SCOPES: [(&str, &str); 3] = [
    CUSTODY_SCOPES[0],
    CUSTODY_SCOPES[1],
    (
        "business_management",
        "listing the portfolio's WABAs in sync",
    ),
];

/// Why Meta would refuse the org's calls, as far as the stored facts tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    /// No token is stored.
    Missing,
    /// Meta said the token is not valid, at the last check.
    Invalid,
    /// The token expired then.
    Expired(DateTime<Utc>),
    /// The token lacks this permission; the second part is what fails without it.
    Lacks(&'static str, &'static str),
}

impl CredentialFacts {
    /// Those of `needed` (such as [`NEEDED_SCOPES`]) the token was not granted.
    #[must_use]
    pub fn missing_scopes(
        &self,
        needed: &[(&'static str, &'static str)],
    ) -> Vec<(&'static str, &'static str)> {
        needed
            .iter()
            .copied()
            .filter(|(scope, _)| !self.scopes.iter().any(|s| s == scope))
            .collect()
    }

    /// Why Meta would refuse PIN changes with this token at `now`, or `None` when the
    /// facts raise no doubt.
    #[must_use]
    pub fn unusable_for_custody(&self, now: DateTime<Utc>) -> Option<Unusable> {
        if !self.is_valid {
            return Some(Unusable::Invalid);
        }
        if let Some(expired) = self.expires_at.filter(|at| *at <= now) {
            return Some(Unusable::Expired(expired));
        }
        self.missing_scopes(&CUSTODY_SCOPES)
            .first()
            .map(|(scope, fails)| Unusable::Lacks(scope, fails))
    }
}

/// Why the org's custody could not reach Meta, from the stored facts, for pages that offer
/// PIN changes: `None` when nothing stands in the way.
///
/// # Errors
/// [`Error::Forbidden`] without `custody`.
pub async fn custody_blocker(
    store: &Store,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Result<Option<Unusable>, Error> {
    caller.require(Permission::Custody)?;
    let mut tx = store.read_for(&caller.org_id).await?;
    let facts = read(&mut tx, &caller.org_id).await?;
    tx.end_read();
    Ok(match facts {
        None => Some(Unusable::Missing),
        Some(facts) => facts.unusable_for_custody(now),
    })
}

/// Asks Meta about the stored token again and stores the new facts. Ledgered
/// `graph_credential.checked`. A token Meta now refuses is recorded as not valid.
///
/// # Errors
/// [`Error::Forbidden`] without `custody`; [`Error::NotFound`] `graph credential`;
/// [`Error::Graph`] when Meta cannot be asked.
pub async fn recheck(
    store: &Store,
    escrow: &Escrow,
    graph: &GraphClient,
    caller: &Caller,
) -> Result<CredentialFacts, Error> {
    caller.require(Permission::Custody)?;
    let org = caller.org_id.as_str();
    let token = open(store, escrow, org).await?;
    let facts = match graph.debug_token(&token, &token).await {
        Ok(info) => facts_of(&info)?,
        Err(error) if error.class() == graph::ErrorClass::Auth => Facts {
            is_valid: false,
            app_id: None,
            meta_user_id: None,
            token_type: None,
            scopes: "[]".to_owned(),
            granular: "[]".to_owned(),
            expires_at: None,
            never_expires: false,
        },
        Err(error) => return Err(error.into()),
    };
    let now = crate::clock::now();
    let mut tx = store.begin_for(org).await?;
    let sql = "UPDATE graph_credentials SET is_valid = $2, scopes = $3, granular_scopes = $4, \
               expires_at = $5, checked_at = $6, never_expires = $10, \
               app_id = COALESCE($7, app_id), meta_user_id = COALESCE($8, meta_user_id), \
               token_type = COALESCE($9, token_type) WHERE org_id = $1";
    on_tx!(tx, conn => sqlx::query(sql)
        .bind(org)
        .bind(facts.is_valid)
        .bind(&facts.scopes)
        .bind(&facts.granular)
        .bind(facts.expires_at)
        .bind(now)
        .bind(&facts.app_id)
        .bind(&facts.meta_user_id)
        .bind(&facts.token_type)
        .bind(facts.never_expires)
        .execute(conn)
        .await
        .map(drop))?;
    let draft = event(
        "graph_credential.checked",
        format!("org:{org}"),
        &caller.actor()?,
        json!({ "is_valid": facts.is_valid }),
    )?;
    ledger::append(&mut tx, org, now, draft).await?;
    let shown = read(&mut tx, org).await?;
    tx.commit().await?;
    shown.ok_or(Error::NotFound {
        what: "graph credential",
    })
}

/// The org's token, opened with the service identity, for custody and sync.
///
/// # Errors
/// [`Error::NotFound`] `graph credential` when none is set; [`Error::IdentityRotated`] when
/// escrow went to a newer identity since this process started; [`Error::Vault`] when the
/// identity cannot open it otherwise.
pub async fn open(store: &Store, escrow: &Escrow, org: &str) -> Result<AccessToken, Error> {
    let mut tx = store.read_for(org).await?;
    let sql = "SELECT sealed, sealed_next FROM graph_credentials WHERE org_id = $1";
    let row: Option<(String, Option<String>)> =
        on_tx!(tx, conn => sqlx::query_as(sql).bind(org).fetch_optional(conn).await)?;
    tx.rollback().await?;
    let (sealed, next) = row.ok_or(Error::NotFound {
        what: "graph credential",
    })?;
    let secret: Secret =
        match crate::custody::open_either(escrow.identity(), &sealed, next.as_deref()) {
            Ok(secret) => secret,
            Err(error) => return Err(escrow.explain(store, error).await),
        };
    let text = std::str::from_utf8(secret.expose()).map_err(|_| Error::Invalid {
        field: "token",
        problem: "the stored token is not text".to_owned(),
    })?;
    Ok(AccessToken::from(text))
}

async fn read(tx: &mut crate::store::Tx, org: &str) -> Result<Option<CredentialFacts>, Error> {
    let sql = "SELECT is_valid, app_id, meta_user_id, token_type, scopes, granular_scopes, expires_at, \
               never_expires, checked_at, set_by, set_at FROM graph_credentials WHERE org_id = $1";
    type Row = (
        Option<bool>,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
        String,
        Option<DateTime<Utc>>,
        bool,
        Option<DateTime<Utc>>,
        String,
        DateTime<Utc>,
    );
    let row: Option<Row> =
        on_tx!(tx, conn => sqlx::query_as(sql).bind(org).fetch_optional(conn).await)?;
    let Some((
        valid,
        app_id,
        user,
        kind,
        scopes,
        granular,
        expires_at,
        never,
        checked,
        set_by,
        set_at,
    )) = row
    else {
        return Ok(None);
    };
    let corrupt = |e: serde_json::Error| Error::Database(sqlx::Error::Decode(Box::new(e)));
    Ok(Some(CredentialFacts {
        is_valid: valid.unwrap_or(false),
        app_id,
        meta_user_id: user,
        token_type: kind,
        scopes: serde_json::from_str(&scopes).map_err(corrupt)?,
        granular_scopes: serde_json::from_str(&granular).map_err(corrupt)?,
        never_expires: never,
        expires_at,
        checked_at: checked.unwrap_or(set_at),
        set_by,
        set_at,
    }))
}
