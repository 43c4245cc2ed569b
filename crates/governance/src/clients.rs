//! The client businesses of an org, as people pick them (a business admin's scope), and the
//! age recipient each one is released to.

use serde_json::json;

use crate::access::{Caller, Permission};
use crate::custody::protocol_event as event;
use crate::{Error, Store, ledger, on_read, on_tx};

/// A client business of the org.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Client {
    /// pinward's id of the client.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The `age1…` public key a released PIN of its numbers is sealed to; without one its
    /// numbers cannot be released.
    pub age_recipient: Option<String>,
}

/// The clients the caller sees (a business admin: its own), by name.
///
/// # Errors
/// [`Error::Forbidden`] without `numbers:read`; database errors.
pub async fn list(store: &Store, caller: &Caller) -> Result<Vec<Client>, Error> {
    caller.require(Permission::ReadNumbers)?;
    let sql = "SELECT id, name, age_recipient FROM clients WHERE org_id = $1 ORDER BY name, id";
    let rows: Vec<(String, String, Option<String>)> = on_read!(store, &caller.org_id, conn => sqlx::query_as(sql)
        .bind(&caller.org_id)
        .fetch_all(conn)
        .await)?;
    Ok(rows
        .into_iter()
        .filter(|(id, _, _)| caller.sees_client(id))
        .map(|(id, name, age_recipient)| Client {
            id,
            name,
            age_recipient,
        })
        .collect())
}

/// Sets the age recipient the client's numbers are released to (replacing any). Ledgered
/// `client.recipient_set` with the key, which is public.
///
/// # Errors
/// [`Error::Forbidden`] without `org:manage`; [`Error::Invalid`] naming `recipient` (not an
/// age X25519 public key); [`Error::NotFound`] `client` (also for another org's).
pub async fn set_recipient(
    store: &Store,
    caller: &Caller,
    client: &str,
    recipient: &str,
) -> Result<Client, Error> {
    caller.require(Permission::ManageOrg)?;
    let parsed = crate::recovery::parse_new_recipient(recipient)?;
    let to = Change::Recipient {
        to: Some(parsed.to_string()),
        action: "client.recipient_set",
    };
    change(store, caller, client, to).await
}

/// Clears the client's age recipient: its numbers cannot be released until one is set
/// again. Ledgered `client.recipient_cleared` with the key it had.
///
/// # Errors
/// [`Error::Forbidden`] without `org:manage`; [`Error::NotFound`] `client` (also for another
/// org's).
pub async fn clear_recipient(
    store: &Store,
    caller: &Caller,
    client: &str,
) -> Result<Client, Error> {
    caller.require(Permission::ManageOrg)?;
    let to = Change::Recipient {
        to: None,
        action: "client.recipient_cleared",
    };
    change(store, caller, client, to).await
}

/// The longest client name, in characters.
pub const MAX_NAME: usize = 100;

/// Renames the client (a sync names a new client "Business <Meta id>"; people know it by
/// another name). Ledgered `client.renamed` with the old and the new name.
///
/// # Errors
/// [`Error::Forbidden`] without `org:manage`; [`Error::Invalid`] naming `name` (blank, over
/// [`MAX_NAME`] characters, holding control characters, or another client's name, whatever
/// its case); [`Error::NotFound`] `client` (also for another org's).
pub async fn rename(
    store: &Store,
    caller: &Caller,
    client: &str,
    name: &str,
) -> Result<Client, Error> {
    caller.require(Permission::ManageOrg)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(Error::Invalid {
            field: "name",
            problem: format!("1 to {MAX_NAME} characters, no control characters"),
        });
    }
    change(store, caller, client, Change::Name(name.to_owned())).await
}

/// What a change sets on a client.
enum Change {
    /// The age recipient (none: cleared), ledgered as `action`.
    Recipient {
        to: Option<String>,
        action: &'static str,
    },
    Name(String),
}

async fn change(store: &Store, caller: &Caller, client: &str, to: Change) -> Result<Client, Error> {
    let actor = caller.actor()?;
    let org = caller.org_id.as_str();
    let mut tx = store.begin_for(org).await?;
    // Before the read: two renames to one name at once would otherwise both pass the check
    // on PostgreSQL (SQLite's `BEGIN IMMEDIATE` already runs them one after the other).
    ledger::hold(&mut tx, org).await?;
    let sql = "SELECT id, name, age_recipient FROM clients WHERE org_id = $1";
    let all: Vec<(String, String, Option<String>)> =
        on_tx!(tx, conn => sqlx::query_as(sql).bind(org).fetch_all(conn).await)?;
    let (_, name, recipient) = all
        .iter()
        .find(|(id, _, _)| id == client)
        .cloned()
        .ok_or(Error::NotFound { what: "client" })?;
    // Each change writes its own column only, so a rename and a recipient change made at
    // the same moment both stand.
    let (after, update, value, action, details) = match to {
        Change::Recipient { to, action } => {
            let shown = to.as_ref().or(recipient.as_ref());
            let details = json!({ "recipient": shown });
            let update = "UPDATE clients SET age_recipient = $3 WHERE org_id = $1 AND id = $2";
            ((name.clone(), to.clone()), update, to, action, details)
        }
        Change::Name(to) => {
            // Two clients of one name could not be told apart in a filter or a seat
            // choice; compared here, in any case and script, not by the database's LOWER.
            let folded = to.to_lowercase();
            if all
                .iter()
                .any(|(id, other, _)| id != client && other.to_lowercase() == folded)
            {
                return Err(Error::Invalid {
                    field: "name",
                    problem: "another client of the org has this name".to_owned(),
                });
            }
            let details = json!({ "from": name, "to": to });
            let update = "UPDATE clients SET name = $3 WHERE org_id = $1 AND id = $2";
            let after = (to.clone(), recipient.clone());
            (after, update, Some(to), "client.renamed", details)
        }
    };
    if after == (name, recipient) {
        // Nothing changes, so nothing is ledgered (clearing an empty key, setting the same).
        tx.rollback().await?;
    } else {
        on_tx!(tx, conn => sqlx::query(update)
            .bind(org)
            .bind(client)
            .bind(&value)
            .execute(conn)
            .await
            .map(drop))?;
        let draft = event(action, format!("client:{client}"), &actor, details)?;
        ledger::append(&mut tx, org, crate::clock::now(), draft).await?;
        tx.commit().await?;
    }
    let (name, age_recipient) = after;
    Ok(Client {
        id: client.to_owned(),
        name,
        age_recipient,
    })
}
