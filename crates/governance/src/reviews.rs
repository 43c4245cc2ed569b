//! Periodic reviews of a number: someone who manages it confirms its record is right; the
//! next review is then due one policy cadence later. Each review is ledgered with the
//! health found at that moment, which is the evidence auditors pull.

use chrono::{DateTime, Utc};
use graph::PhoneNumberId;
use serde_json::json;

use crate::access::{Caller, Permission, Role};
use crate::numbers::{self, health_of};
use crate::store::{Store, dialect};
use crate::{Error, exec, ledger, on_tx, policies};

/// Longest review note.
pub const MAX_NOTE: usize = 1000;

/// A completed review.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Completed {
    /// When it was reviewed.
    pub reviewed_at: DateTime<Utc>,
    /// When the next review is due.
    pub next_review_due: DateTime<Utc>,
    /// What was wrong with the number at the review (health codes).
    pub problems: Vec<String>,
}

/// How many numbers are due for review in one month.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MonthDue {
    /// `YYYY-MM` (UTC).
    pub month: String,
    /// Numbers whose next review falls in it.
    pub numbers: u64,
}

/// Completes a review of `phone`: `last_reviewed_at` = now, `next_review_due` = now + the
/// org's review cadence, ledgered as `review.completed` with the note and the health found.
///
/// # Errors
/// [`Error::Forbidden`] without `numbers:manage`; [`Error::NotFound`] for a number the
/// caller cannot see; [`Error::Invalid`] naming `note`; database errors.
pub async fn complete(
    store: &Store,
    caller: &Caller,
    phone: &PhoneNumberId,
    note: &str,
    now: DateTime<Utc>,
) -> Result<Completed, Error> {
    caller.require(Permission::ManageNumbers)?;
    let note = crate::numbers::note::ledgered("note", note, false, MAX_NOTE)?;
    let actor = caller.actor()?;
    let mut tx = store.begin_for(&caller.org_id).await?;
    let row = numbers::visible(&mut tx, caller, phone, true).await?;
    let policy = policies::load(&mut tx, &caller.org_id).await?;
    let next = now + policy.review_cadence();
    // The health as the reviewer saw it, before this review moved the due date.
    let problems: Vec<String> = health_of(&row, &policy, now)?
        .into_iter()
        .map(|p| p.as_str().to_owned())
        .collect();
    exec!(
        tx,
        "UPDATE phone_numbers SET last_reviewed_at = $3, next_review_due = $4 WHERE org_id = $1 AND id = $2",
        &caller.org_id,
        &row.id,
        now,
        next
    )?;
    let draft = crate::custody::protocol_event(
        "review.completed",
        format!("phone:{}", row.meta_id),
        &actor,
        json!({
            "note": note,
            "problems": problems,
            "next_review_due": next.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }),
    )?;
    ledger::append(&mut tx, &caller.org_id, now, draft).await?;
    tx.commit().await?;
    Ok(Completed {
        reviewed_at: now,
        next_review_due: next,
        problems,
    })
}

/// How many of the caller's visible numbers (not vanished) fall due for review in each
/// month, oldest month first; months before the current one hold the overdue reviews.
///
/// # Errors
/// [`Error::Forbidden`] without `numbers:read`; database errors.
pub async fn due_by_month(store: &Store, caller: &Caller) -> Result<Vec<MonthDue>, Error> {
    caller.require(Permission::ReadNumbers)?;
    let mut tx = store.read_for(&caller.org_id).await?;
    let sql = dialect::reviews_due_by_month(tx.backend());
    let all_clients = caller.role != Role::BusinessAdmin;
    let clients = serde_json::Value::from(caller.clients.clone()).to_string();
    let rows: Vec<(String, i64)> = on_tx!(tx, conn => sqlx::query_as(sql)
        .bind(&caller.org_id)
        .bind(all_clients)
        .bind(&clients)
        .fetch_all(conn)
        .await)?;
    tx.rollback().await?;
    Ok(rows
        .into_iter()
        .map(|(month, n)| MonthDue {
            month,
            numbers: u64::try_from(n).unwrap_or(0),
        })
        .collect())
}
