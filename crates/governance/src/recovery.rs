//! Recovery recipients: the age public keys of an org's offline break-glass keys. Every new
//! PIN version of the org is sealed to them besides the service identity, so the org can
//! open its escrow export with stock `age` even if pinward is gone.
//!
//! Removing a recipient affects only versions sealed afterwards: versions already sealed
//! stay readable by it until they are rotated.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;
use vault::Recipient;

use crate::access::{Caller, Permission};
use crate::custody::protocol_event as event;
use crate::orgs::parse_name;
use crate::store::Store;
use crate::{Error, ledger, on_tx};

/// One recovery recipient of an org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryRecipient {
    /// Its id.
    pub id: String,
    /// The `age1…` public key.
    pub recipient: String,
    /// What it is, e.g. "CFO's YubiKey" or "safe deposit box".
    pub label: String,
    /// The ledger actor that added it.
    pub created_by: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

/// Longest label of a recovery recipient.
const LABEL_MAX: usize = 100;

/// Every fault of a new recovery recipient, each field checked alone as [`add`] checks it,
/// in the form's order (recipient, label), so a form can report them all at once.
#[must_use]
pub fn faults(recipient: &str, label: &str) -> Vec<Error> {
    [
        parse_new_recipient(recipient).err(),
        parse_name("label", label, LABEL_MAX).err(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Adds a recipient to the caller's org. Ledgered `recovery_recipient.added`.
///
/// # Errors
/// [`Error::Forbidden`] without `org:manage`; [`Error::Invalid`] naming `recipient` (not an
/// age X25519 public key) or `label`; [`Error::Conflict`]
/// `recovery_recipients_org_recipient_uq` when the key is already there.
pub async fn add(
    store: &Store,
    caller: &Caller,
    recipient: &str,
    label: &str,
) -> Result<RecoveryRecipient, Error> {
    caller.require(Permission::ManageOrg)?;
    let parsed = parse_new_recipient(recipient)?;
    let label = parse_name("label", label, LABEL_MAX)?;
    let actor = caller.actor()?;
    let added = RecoveryRecipient {
        id: Uuid::now_v7().to_string(),
        recipient: parsed.to_string(),
        label,
        created_by: actor.as_str().to_owned(),
        created_at: crate::clock::now(),
    };
    let org = caller.org_id.as_str();
    let mut tx = store.begin_for(org).await?;
    let sql = "INSERT INTO recovery_recipients (id, org_id, recipient, label, created_by, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6)";
    on_tx!(tx, conn => sqlx::query(sql)
        .bind(&added.id)
        .bind(org)
        .bind(&added.recipient)
        .bind(&added.label)
        .bind(&added.created_by)
        .bind(added.created_at)
        .execute(conn)
        .await
        .map(drop))?;
    let draft = event(
        "recovery_recipient.added",
        format!("recipient:{}", added.id),
        &actor,
        json!({ "recipient": added.recipient, "label": added.label }),
    )?;
    ledger::append(&mut tx, org, added.created_at, draft).await?;
    tx.commit().await?;
    Ok(added)
}

/// Removes a recipient of the caller's org. Ledgered `recovery_recipient.removed`.
///
/// # Errors
/// [`Error::Forbidden`] without `org:manage`; [`Error::NotFound`] `recovery recipient` (also
/// for another org's).
pub async fn remove(store: &Store, caller: &Caller, id: &str) -> Result<(), Error> {
    caller.require(Permission::ManageOrg)?;
    let org = caller.org_id.as_str();
    let mut tx = store.begin_for(org).await?;
    let sql = "SELECT recipient FROM recovery_recipients WHERE org_id = $1 AND id = $2";
    let recipient: Option<String> = on_tx!(tx, conn => sqlx::query_scalar(sql)
        .bind(org)
        .bind(id)
        .fetch_optional(conn)
        .await)?;
    let recipient = recipient.ok_or(Error::NotFound {
        what: "recovery recipient",
    })?;
    let sql = "DELETE FROM recovery_recipients WHERE org_id = $1 AND id = $2";
    on_tx!(tx, conn => sqlx::query(sql).bind(org).bind(id).execute(conn).await.map(drop))?;
    let draft = event(
        "recovery_recipient.removed",
        format!("recipient:{id}"),
        &caller.actor()?,
        json!({ "recipient": recipient }),
    )?;
    ledger::append(&mut tx, org, crate::clock::now(), draft).await?;
    tx.commit().await?;
    Ok(())
}

/// The recipients of the caller's org, oldest first.
///
/// # Errors
/// [`Error::Forbidden`] for a business admin (`ledger:read` is needed).
pub async fn list(store: &Store, caller: &Caller) -> Result<Vec<RecoveryRecipient>, Error> {
    caller.require(Permission::ReadLedger)?;
    let mut tx = store.read_for(&caller.org_id).await?;
    let sql = "SELECT id, recipient, label, created_by, created_at FROM recovery_recipients \
               WHERE org_id = $1 ORDER BY created_at, id";
    let rows: Vec<(String, String, String, String, DateTime<Utc>)> =
        on_tx!(tx, conn => sqlx::query_as(sql).bind(&caller.org_id).fetch_all(conn).await)?;
    tx.rollback().await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, recipient, label, created_by, created_at)| RecoveryRecipient {
                id,
                recipient,
                label,
                created_by,
                created_at,
            },
        )
        .collect())
}

/// The org's recipients as keys to seal to, for custody (no caller: the service seals).
pub async fn recipients_of(store: &Store, org: &str) -> Result<Vec<Recipient>, Error> {
    let mut tx = store.read_for(org).await?;
    let sql = "SELECT recipient FROM recovery_recipients WHERE org_id = $1 ORDER BY created_at, id";
    let rows: Vec<String> =
        on_tx!(tx, conn => sqlx::query_scalar(sql).bind(org).fetch_all(conn).await)?;
    tx.rollback().await?;
    rows.iter()
        .map(|r| Recipient::parse(r).map_err(Error::from))
        .collect()
}

/// Whose key an org may add: a recovery recipient or a client's. Neither may be the
/// service's own key, which escrow is sealed to anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFor {
    /// A recovery recipient, kept apart from pinward.
    Recovery,
    /// A client's recipient, which its released PINs are sealed to.
    Client,
}

/// Refuses `recipient` (as typed) when it is `service`, the service identity's own key:
/// a recovery key must open escrow when pinward or its key is lost, and a client's key is
/// the client's alone. Text that is not a key is left to the other checks.
///
/// The service identity is the process's, not the database's: callers that hold it (the
/// dashboard with custody, the command line with the identity file) check with it before
/// [`add`] or [`crate::clients::set_recipient`].
///
/// # Errors
/// [`Error::Invalid`] naming `recipient`.
pub fn check_apart_from_service(
    recipient: &str,
    service: &Recipient,
    of: KeyFor,
) -> Result<(), Error> {
    if Recipient::parse(recipient.trim()).is_ok_and(|key| key == *service) {
        return Err(Error::Invalid {
            field: "recipient",
            problem: match of {
                KeyFor::Recovery => "is this pinward's own service key: a recovery recipient is a key kept apart from pinward, to open the escrow export if pinward or its key is lost",
                KeyFor::Client => "is this pinward's own service key: a client's recipient is the client's own key, so that what is released to it opens only with the client's identity",
            }
            .to_owned(),
        });
    }
    Ok(())
}

/// Whether `text`, typed where a recipient belongs, holds an age secret key (alone, or
/// inside a whole identity file pasted into the one-line field): refused, and never shown
/// back on a page.
#[must_use]
pub fn is_secret_key(text: &str) -> bool {
    text.to_ascii_uppercase().contains("AGE-SECRET-KEY-")
}

/// A recipient an admin is adding (a recovery key, a client's key), refused as the field
/// `recipient` when it is not an `age1…` X25519 key or is one nothing can be sealed to.
pub(crate) fn parse_new_recipient(text: &str) -> Result<Recipient, Error> {
    if is_secret_key(text) {
        return Err(Error::Invalid {
            field: "recipient",
            problem: "is an age secret key (AGE-SECRET-KEY-…), which must stay with whoever \
                      holds it: paste its public key (age1…), which `age-keygen -y` prints"
                .to_owned(),
        });
    }
    Recipient::parse_new(text.trim()).map_err(|error| Error::Invalid {
        field: "recipient",
        problem: match error {
            vault::Error::InvalidRecipient(problem @ vault::LineProblem::LowOrderKey) => {
                format!("is {problem}")
            }
            _ => "must be an age X25519 public key (age1…)".to_owned(),
        },
    })
}
