//! The policies of an org: how often numbers are reviewed, how old a PIN may get, and when
//! a PIN is rotated after a reveal or a handover.
//!
//! An org that never set its policy runs on [`Policy::default`]; nothing is stored until an
//! admin changes something. Every change is ledgered as `policy.updated` with each changed
//! field's old and new value.

use std::ops::RangeInclusive;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::access::{Caller, Permission};
use crate::store::{Store, Tx};
use crate::{Error, ledger, on_tx};

/// Allowed review cadences in days: every 3 to 6 months.
pub const REVIEW_CADENCE_DAYS: RangeInclusive<u32> = 90..=183;
/// Allowed maximum PIN ages in days: a week to two years.
pub const MAX_PIN_AGE_DAYS: RangeInclusive<u32> = 7..=730;

/// An org's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Policy {
    /// Days between two reviews of a number (90–183).
    pub review_cadence_days: u32,
    /// Days after which a current PIN counts as too old (7–730).
    pub max_pin_age_days: u32,
    /// Rotate a PIN once it has been revealed to a person.
    pub rotate_after_reveal: bool,
    /// Rotate a PIN when a seat of its number changes hands.
    pub rotate_on_handover: bool,
}

impl Default for Policy {
    /// Reviewed every 90 days, PINs younger than 180 days, rotated after every reveal and
    /// handover: a revealed or handed-over PIN is known to a person, so it is retired.
    fn default() -> Self {
        Policy {
            review_cadence_days: 90,
            max_pin_age_days: 180,
            rotate_after_reveal: true,
            rotate_on_handover: true,
        }
    }
}

impl Policy {
    /// The review cadence as a duration.
    #[must_use]
    pub fn review_cadence(&self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.review_cadence_days))
    }

    /// The maximum PIN age as a duration.
    #[must_use]
    pub fn max_pin_age(&self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.max_pin_age_days))
    }

    /// Refuses values outside the allowed ranges, naming the field.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `review_cadence_days` or `max_pin_age_days`.
    pub fn validate(&self) -> Result<(), Error> {
        check_review_cadence(self.review_cadence_days)?;
        check_max_pin_age(self.max_pin_age_days)
    }

    fn fields(&self) -> [(&'static str, Value); 4] {
        [
            ("review_cadence_days", json!(self.review_cadence_days)),
            ("max_pin_age_days", json!(self.max_pin_age_days)),
            ("rotate_after_reveal", json!(self.rotate_after_reveal)),
            ("rotate_on_handover", json!(self.rotate_on_handover)),
        ]
    }
}

type PolicyRow = (i64, i64, bool, bool);

/// The columns of `org_policies` as [`from_row`] reads them, for a query that brings the
/// policy along (`p` being the table's alias).
pub(crate) const COLUMNS: &str = "p.review_cadence_days, p.max_pin_age_days, \
    p.rotate_after_reveal, p.rotate_on_handover";

/// The org's policy as seen inside `tx` (the defaults when none was set).
pub(crate) async fn load(tx: &mut Tx, org: &str) -> Result<Policy, Error> {
    let sql = format!("SELECT {COLUMNS} FROM org_policies p WHERE p.org_id = $1");
    let row: Option<PolicyRow> = on_tx!(tx, conn => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(org).fetch_optional(conn).await)?;
    from_row(row)
}

/// The policy of a row of `org_policies` (the defaults when there is none).
pub(crate) fn from_row(row: Option<PolicyRow>) -> Result<Policy, Error> {
    let Some((cadence, age, after_reveal, on_handover)) = row else {
        return Ok(Policy::default());
    };
    let corrupt = |field| Error::Invalid {
        field,
        problem: "the database holds a value out of range".to_owned(),
    };
    Ok(Policy {
        review_cadence_days: u32::try_from(cadence).map_err(|_| corrupt("review_cadence_days"))?,
        max_pin_age_days: u32::try_from(age).map_err(|_| corrupt("max_pin_age_days"))?,
        rotate_after_reveal: after_reveal,
        rotate_on_handover: on_handover,
    })
}

/// The caller's org policy. Every member may read it.
///
/// # Errors
/// [`Error::Forbidden`] without `numbers:read`; database errors.
pub async fn get(store: &Store, caller: &Caller) -> Result<Policy, Error> {
    caller.require(Permission::ReadNumbers)?;
    let mut tx = store.read_for(&caller.org_id).await?;
    let policy = load(&mut tx, &caller.org_id).await?;
    tx.rollback().await?;
    Ok(policy)
}

/// Replaces the caller's org policy (admins only) and ledgers `policy.updated` with what
/// changed. Setting the policy in force changes and ledgers nothing.
///
/// # Errors
/// [`Error::Forbidden`] without `org:manage`; [`Error::Invalid`] naming the field out of
/// range (nothing changed); database errors.
pub async fn set(
    store: &Store,
    caller: &Caller,
    policy: Policy,
    now: DateTime<Utc>,
) -> Result<Policy, Error> {
    caller.require(Permission::ManageOrg)?;
    policy.validate()?;
    let actor = caller.actor()?;
    let mut tx = store.begin_for(&caller.org_id).await?;
    let before = load(&mut tx, &caller.org_id).await?;
    let mut changed = Map::new();
    for ((field, old), (_, new)) in before.fields().into_iter().zip(policy.fields()) {
        if old != new {
            changed.insert(field.to_owned(), json!({ "from": old, "to": new }));
        }
    }
    if changed.is_empty() {
        tx.rollback().await?;
        return Ok(policy);
    }
    let sql = "INSERT INTO org_policies (org_id, review_cadence_days, max_pin_age_days, rotate_after_reveal, \
               rotate_on_handover, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7) \
               ON CONFLICT (org_id) DO UPDATE SET review_cadence_days = excluded.review_cadence_days, \
               max_pin_age_days = excluded.max_pin_age_days, rotate_after_reveal = excluded.rotate_after_reveal, \
               rotate_on_handover = excluded.rotate_on_handover, updated_at = excluded.updated_at, \
               updated_by = excluded.updated_by";
    crate::exec!(
        tx,
        sql,
        &caller.org_id,
        i64::from(policy.review_cadence_days),
        i64::from(policy.max_pin_age_days),
        policy.rotate_after_reveal,
        policy.rotate_on_handover,
        now,
        actor.as_str()
    )?;
    let draft = crate::custody::protocol_event(
        "policy.updated",
        format!("org:{}", caller.org_id),
        &actor,
        json!({ "changed": changed }),
    )?;
    ledger::append(&mut tx, &caller.org_id, now, draft).await?;
    tx.commit().await?;
    Ok(policy)
}

/// Refuses a review cadence outside [`REVIEW_CADENCE_DAYS`], on its own, so a form can
/// report it beside the other field's fault.
///
/// # Errors
/// [`Error::Invalid`] naming `review_cadence_days`.
pub fn check_review_cadence(days: u32) -> Result<(), Error> {
    within("review_cadence_days", days, &REVIEW_CADENCE_DAYS)
}

/// Refuses a maximum PIN age outside [`MAX_PIN_AGE_DAYS`], on its own.
///
/// # Errors
/// [`Error::Invalid`] naming `max_pin_age_days`.
pub fn check_max_pin_age(days: u32) -> Result<(), Error> {
    within("max_pin_age_days", days, &MAX_PIN_AGE_DAYS)
}

fn within(field: &'static str, days: u32, range: &RangeInclusive<u32>) -> Result<(), Error> {
    if range.contains(&days) {
        return Ok(());
    }
    Err(Error::Invalid {
        field,
        problem: format!("must be between {} and {} days", range.start(), range.end()),
    })
}
