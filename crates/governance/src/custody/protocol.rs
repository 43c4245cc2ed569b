//! The three steps of the custody protocol: TX1, the send under a lease, TX2.

use std::collections::HashSet;

use audit::{Action, Actor, Details, EventDraft};
use chrono::{DateTime, Utc};
use graph::PhoneNumberId;
use serde_json::json;
use uuid::Uuid;
use vault::{Recipient, Recipients};

use super::connector::Verdict;
use super::state::{NumberRow, PinState, lock_number};
use super::{Custodian, Outcome, Purpose, Started, open_pin};
use crate::failpoint::{self, AFTER_RESPONSE, AFTER_SEAL, AFTER_SEND, AFTER_TX1, INSIDE_TX2};
use crate::store::Tx;
use crate::{Error, exec, ledger, on_tx};

/// Tries before giving up on finding a PIN unlike every current PIN of the org (with a
/// million PINs and a few thousand numbers, one retry is already rare).
const UNIQUE_TRIES: usize = 64;

/// A pending version claimed for one send.
pub(crate) struct Claim {
    pub(crate) number: NumberRow,
    version_id: String,
    version: i64,
    attempt_id: String,
    sealed: String,
    sealed_next: Option<String>,
    /// No earlier attempt of this version was ever sent, so Meta cannot hold it from one.
    first_attempt: bool,
}

pub(crate) fn event(
    action: &str,
    subject: String,
    actor: &Actor,
    details: serde_json::Value,
) -> Result<EventDraft, Error> {
    Ok(EventDraft {
        actor: actor.clone(),
        action: Action::parse(action)?,
        subject,
        details: Details::new(details)?,
    })
}

pub(crate) fn phone_subject(meta_id: &str) -> String {
    format!("phone:{meta_id}")
}

fn lease_until(custodian: &Custodian, now: DateTime<Utc>) -> DateTime<Utc> {
    now + chrono::Duration::from_std(custodian.settings.lease).unwrap_or(chrono::Duration::zero())
}

impl Custodian {
    /// TX1: a fresh PIN, sealed and committed as the `pending` version, before anything is
    /// sent. Refused while a version is pending (resume it), and on a released number but
    /// to take it back ([`reclaim`]).
    pub async fn start(
        &self,
        org: &str,
        actor: &Actor,
        number: &PhoneNumberId,
        recovery: &[Recipient],
        purpose: Purpose,
    ) -> Result<Started, Error> {
        let recipients = Recipients::new(
            std::iter::once(self.escrow.identity().recipient()).chain(recovery.iter().cloned()),
        )?;
        let recovery_text = recovery
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        let mut tx = self.store.begin_for(org).await?;
        let row = lock_number(&mut tx, org, number.as_str()).await?;
        check_startable(row.pin_state, purpose)?;
        self.escrow.check_current(&mut tx).await?;

        // Read before a take-back turns the PIN handed over stale: the new PIN is never it.
        let current_sql =
            "SELECT fingerprint FROM pin_versions WHERE org_id = $1 AND status = 'current'";
        let currents: HashSet<String> = on_tx!(tx, conn => sqlx::query_scalar(current_sql)
            .bind(org)
            .fetch_all(conn)
            .await)?
        .into_iter()
        .collect();
        let now = Utc::now();
        if row.pin_state == PinState::Released {
            reclaim(&mut tx, org, actor, &row, now).await?;
        }
        let mut chosen = None;
        for _ in 0..UNIQUE_TRIES {
            let pin = self.pins.next_pin();
            let fingerprint = self.escrow.fingerprints().fingerprint(&pin).to_hex();
            if !currents.contains(&fingerprint) {
                chosen = Some((pin, fingerprint));
                break;
            }
        }
        let Some((pin, fingerprint)) = chosen else {
            return Err(Error::Conflict {
                constraint: "pin_versions_org_fingerprint".to_owned(),
            });
        };
        let sealed = vault::seal(&pin, &recipients)?;
        drop(pin);
        failpoint::window(AFTER_SEAL)?;

        let next_sql =
            "SELECT COALESCE(MAX(version), 0) + 1 FROM pin_versions WHERE phone_number_id = $1";
        let version: i64 =
            on_tx!(tx, conn => sqlx::query_scalar(next_sql).bind(&row.id).fetch_one(conn).await)?;
        let attempt_id = Uuid::now_v7().to_string();
        let insert = "INSERT INTO pin_versions (id, org_id, phone_number_id, version, status, attempt_id, \
                      sealed, fingerprint, created_by, created_at, recovery_recipients) \
                      VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, $10)";
        exec!(
            tx,
            insert,
            Uuid::now_v7().to_string(),
            org,
            &row.id,
            version,
            &attempt_id,
            sealed.as_str(),
            &fingerprint,
            actor.as_str(),
            now,
            &recovery_text
        )?;
        let update = "UPDATE phone_numbers SET pin_state = 'rotating', attention_reason = NULL, \
                      send_failures = 0, lease_owner = $2, lease_until = $3 WHERE id = $1";
        exec!(tx, update, &row.id, &self.worker, lease_until(self, now))?;
        let draft = event(
            "pin.rotation.started",
            phone_subject(&row.meta_id),
            actor,
            json!({
                "version": version,
                "attempt": attempt_id,
                "purpose": purpose.as_str(),
                "connector": row.connector,
                "recovery_recipients": recovery.len(),
            }),
        )?;
        ledger::append(&mut tx, org, now, draft).await?;
        tx.commit().await?;
        failpoint::window(AFTER_TX1)?;
        Ok(Started {
            version,
            attempt_id,
        })
    }

    /// Takes the number's lease and marks its pending version sent: a re-send gets a fresh
    /// attempt id (fencing off the earlier sender), the first send keeps TX1's. `None`
    /// when nothing is pending; [`Error::Busy`] while another worker's lease runs.
    pub(crate) async fn claim(
        &self,
        org: &str,
        number: &PhoneNumberId,
    ) -> Result<Option<Claim>, Error> {
        let mut tx = self.store.begin_for(org).await?;
        let row = lock_number(&mut tx, org, number.as_str()).await?;
        let now = Utc::now();
        let held_by_other = row.lease_owner.as_deref().is_some_and(|o| o != self.worker)
            && row.lease_until.is_some_and(|until| until > now);
        if held_by_other {
            return Err(Error::Busy {
                what: "phone number",
            });
        }
        let pending_sql = "SELECT id, version, sealed, sealed_next, sent_at IS NULL, attempt_id FROM pin_versions \
                           WHERE phone_number_id = $1 AND status = 'pending'";
        type Pending = (String, i64, String, Option<String>, bool, String);
        let pending: Option<Pending> = on_tx!(tx, conn => sqlx::query_as(pending_sql).bind(&row.id).fetch_optional(conn).await)?;
        let Some((version_id, version, sealed, sealed_next, first_attempt, started)) = pending
        else {
            tx.rollback().await?;
            return Ok(None);
        };
        // The first send keeps the attempt id `pin.rotation.started` ledgered, so an auditor
        // matches it to the outcome; only a re-send, which must fence off an earlier
        // sender, takes a new one.
        let attempt_id = if first_attempt {
            started
        } else {
            Uuid::now_v7().to_string()
        };
        exec!(
            tx,
            "UPDATE pin_versions SET attempt_id = $2, sent_at = $3 WHERE id = $1 AND status = 'pending'",
            &version_id,
            &attempt_id,
            now
        )?;
        exec!(
            tx,
            "UPDATE phone_numbers SET lease_owner = $2, lease_until = $3 WHERE id = $1",
            &row.id,
            &self.worker,
            lease_until(self, now)
        )?;
        tx.commit().await?;
        Ok(Some(Claim {
            number: row,
            version_id,
            version,
            attempt_id,
            sealed,
            sealed_next,
            first_attempt,
        }))
    }

    /// Sends the claimed version and writes TX2.
    pub(crate) async fn send_and_settle(
        &self,
        org: &str,
        actor: &Actor,
        claim: &Claim,
    ) -> Result<Outcome, Error> {
        let pin = match open_pin(
            self.escrow.identity(),
            &claim.sealed,
            claim.sealed_next.as_deref(),
        ) {
            Ok(pin) => pin,
            // A pending PIN re-sealed by a key rotation elsewhere: say so, not "cannot open".
            Err(error) => return Err(self.escrow.explain(&self.store, error).await),
        };
        let verdict = self.meta.deliver(&self.sessions, &claim.number, &pin).await;
        drop(pin);
        failpoint::window(AFTER_SEND)?;
        tracing::info!(phone = %claim.number.meta_id, version = claim.version, verdict = verdict_name(&verdict), "PIN sent");
        failpoint::window(AFTER_RESPONSE)?;
        self.settle(org, actor, claim, verdict).await
    }

    /// TX2: writes the verdict, if this worker still holds the lease and the attempt.
    async fn settle(
        &self,
        org: &str,
        actor: &Actor,
        claim: &Claim,
        verdict: Verdict,
    ) -> Result<Outcome, Error> {
        let mut tx = self.store.begin_for(org).await?;
        let row = lock_number(&mut tx, org, &claim.number.meta_id).await?;
        let guard = "SELECT COUNT(*) FROM pin_versions WHERE id = $1 AND attempt_id = $2 AND status = 'pending'";
        let live: i64 = on_tx!(tx, conn => sqlx::query_scalar(guard)
            .bind(&claim.version_id)
            .bind(&claim.attempt_id)
            .fetch_one(conn)
            .await)?;
        if row.lease_owner.as_deref() != Some(self.worker.as_str()) || live != 1 {
            tx.rollback().await?;
            return Err(Error::Superseded);
        }
        let now = Utc::now();
        let subject = phone_subject(&row.meta_id);
        let outcome = match Settled::of(verdict, claim.first_attempt) {
            Settled::Confirmed => {
                confirm(&mut tx, &row, claim, now).await?;
                let draft = event(
                    "pin.rotated",
                    subject,
                    actor,
                    json!({
                        "version": claim.version,
                        "attempt": claim.attempt_id,
                        "connector": row.connector,
                    }),
                )?;
                ledger::append(&mut tx, org, now, draft).await?;
                Outcome::Confirmed {
                    version: claim.version,
                }
            }
            Settled::Rejected {
                code,
                reason,
                attention,
            } => {
                exec!(
                    tx,
                    "UPDATE pin_versions SET status = 'rejected', ended_at = $2, failure_reason = $3 WHERE id = $1",
                    &claim.version_id,
                    now,
                    &reason
                )?;
                let current: i64 = on_tx!(tx, conn => sqlx::query_scalar(
                    "SELECT COUNT(*) FROM pin_versions WHERE phone_number_id = $1 AND status = 'current'")
                    .bind(&row.id).fetch_one(conn).await)?;
                let back = if current > 0 {
                    PinState::Escrowed
                } else if unreclaim(&mut tx, &row, claim).await? {
                    PinState::Released
                } else {
                    PinState::Unknown
                };
                exec!(
                    tx,
                    "UPDATE phone_numbers SET pin_state = $2, attention_reason = $3, send_failures = 0, \
                           lease_owner = NULL, lease_until = NULL WHERE id = $1",
                    &row.id,
                    back.as_str(),
                    &attention
                )?;
                let draft = event(
                    "pin.rotation.rejected",
                    subject,
                    actor,
                    json!({
                        "version": claim.version,
                        "attempt": claim.attempt_id,
                        "code": code,
                        "reason": reason,
                    }),
                )?;
                ledger::append(&mut tx, org, now, draft).await?;
                Outcome::Rejected {
                    version: claim.version,
                    code,
                }
            }
            Settled::Unsettled { reason, give_up } => {
                let failures = row.send_failures.saturating_add(1);
                let needs_attention = give_up || failures >= i64::from(self.settings.max_sends);
                let attention = needs_attention.then(|| {
                    format!("PIN change not confirmed after {failures} send(s): {reason}")
                });
                exec!(
                    tx,
                    "UPDATE pin_versions SET failure_reason = $2 WHERE id = $1",
                    &claim.version_id,
                    &reason
                )?;
                exec!(
                    tx,
                    "UPDATE phone_numbers SET pin_state = 'uncertain', send_failures = $2, attention_reason = $3, \
                           lease_owner = NULL, lease_until = NULL WHERE id = $1",
                    &row.id,
                    failures,
                    attention
                )?;
                let draft = event(
                    "pin.rotation.uncertain",
                    subject,
                    actor,
                    json!({
                        "version": claim.version,
                        "attempt": claim.attempt_id,
                        "failures": failures,
                        "needs_attention": needs_attention,
                        "reason": reason,
                    }),
                )?;
                ledger::append(&mut tx, org, now, draft).await?;
                Outcome::Uncertain {
                    version: claim.version,
                    failures,
                    needs_attention,
                }
            }
        };
        failpoint::window(INSIDE_TX2)?;
        tx.commit().await?;
        Ok(outcome)
    }
}

/// What TX2 writes for a send's verdict.
enum Settled {
    Confirmed,
    Rejected {
        code: Option<i64>,
        reason: String,
        /// What the number's page says about it.
        attention: String,
    },
    Unsettled {
        reason: String,
        give_up: bool,
    },
}

impl Settled {
    fn of(verdict: Verdict, first_attempt: bool) -> Settled {
        match verdict {
            Verdict::Confirmed => Settled::Confirmed,
            Verdict::Rejected { code, reason } => Settled::Rejected {
                code,
                attention: format!("Meta rejected a new PIN: {reason}"),
                reason,
            },
            Verdict::Unsettled { reason, give_up } => Settled::Unsettled { reason, give_up },
            // Nothing of this version ever reached Meta: it is refused as surely as by a
            // rejection, and the number keeps the PIN it had.
            Verdict::NotApplied { code, reason } if first_attempt => Settled::Rejected {
                code,
                attention: format!("a new PIN was not sent, the number keeps its PIN: {reason}"),
                reason: format!("not sent: {reason}"),
            },
            // An earlier attempt of this version may have been applied: it stays
            // uncertain until an operator acts.
            Verdict::NotApplied { reason, .. } => Settled::Unsettled {
                reason: format!("not sent this time: {reason}"),
                give_up: true,
            },
        }
    }
}

/// pending → current; the old current → previous; an older previous → superseded.
async fn confirm(
    tx: &mut Tx,
    row: &NumberRow,
    claim: &Claim,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    exec!(
        tx,
        "UPDATE pin_versions SET status = 'superseded' WHERE phone_number_id = $1 AND status = 'previous'",
        &row.id
    )?;
    exec!(
        tx,
        "UPDATE pin_versions SET status = 'previous', ended_at = $2 WHERE phone_number_id = $1 AND status = 'current'",
        &row.id,
        now
    )?;
    exec!(
        tx,
        "UPDATE pin_versions SET status = 'current', confirmed_at = $2, failure_reason = NULL WHERE id = $1",
        &claim.version_id,
        now
    )?;
    exec!(
        tx,
        "UPDATE phone_numbers SET pin_state = 'escrowed', escrow_stale = FALSE, attention_reason = NULL, \
               send_failures = 0, lease_owner = NULL, lease_until = NULL WHERE id = $1",
        &row.id
    )?;
    Ok(())
}

/// Takes a released number back (its client returned it, or it was released by mistake):
/// the PIN handed over may have been changed since, so its version becomes `stale` (never
/// `previous`, which pinward would vouch for) and `pin.reclaimed` says so before the new
/// PIN's TX1 events. A new PIN Meta refuses puts it back ([`unreclaim`]).
async fn reclaim(
    tx: &mut Tx,
    org: &str,
    actor: &Actor,
    row: &NumberRow,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let sql = "SELECT version FROM pin_versions WHERE phone_number_id = $1 AND status = 'current'";
    let released: Option<i64> =
        on_tx!(tx, conn => sqlx::query_scalar(sql).bind(&row.id).fetch_optional(conn).await)?;
    exec!(
        tx,
        "UPDATE pin_versions SET status = 'stale', ended_at = $2 WHERE phone_number_id = $1 AND status = 'current'",
        &row.id,
        now
    )?;
    let draft = event(
        "pin.reclaimed",
        phone_subject(&row.meta_id),
        actor,
        json!({ "released_version": released }),
    )?;
    ledger::append(tx, org, now, draft).await?;
    Ok(())
}

/// Undoes a take-back whose new PIN Meta refused: the PIN handed over is the number's PIN
/// still, so its version is current again and the number stays released (`true`). The
/// version [`reclaim`] turned stale is the one that ended the moment the refused version
/// was made: TX1 writes both with one timestamp, which is how it is found.
async fn unreclaim(tx: &mut Tx, row: &NumberRow, claim: &Claim) -> Result<bool, Error> {
    let restored = exec!(
        tx,
        "UPDATE pin_versions SET status = 'current', ended_at = NULL WHERE phone_number_id = $1 \
         AND status = 'stale' AND ended_at = (SELECT created_at FROM pin_versions WHERE id = $2)",
        &row.id,
        &claim.version_id
    )?;
    Ok(restored > 0)
}

fn check_startable(state: PinState, purpose: Purpose) -> Result<(), Error> {
    let refused = match (state, purpose) {
        (PinState::Released, Purpose::Rotate) => {
            "a released number is no longer rotated: take it back into custody first"
        }
        (PinState::Released, Purpose::Take) => {
            "a released number is its client's: an org admin or ops takes it back into custody \
             from its page in the dashboard"
        }
        (PinState::Rotating | PinState::Uncertain, _) => {
            "a PIN is already pending: resume it, a new one is never generated while one is in flight"
        }
        (PinState::Escrowed, Purpose::Take | Purpose::TakeBack) => {
            "custody is already taken: rotate instead"
        }
        (PinState::Unknown, Purpose::Rotate) => "pinward does not hold its PIN: take custody first",
        (PinState::Unknown, Purpose::TakeBack) => {
            "the number is not released: take custody instead"
        }
        _ => return Ok(()),
    };
    Err(Error::PinState {
        state: state.as_str(),
        refused,
    })
}

fn verdict_name(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::Confirmed => "confirmed",
        Verdict::Rejected { .. } => "rejected",
        Verdict::Unsettled { .. } => "unsettled",
        Verdict::NotApplied { .. } => "not sent",
    }
}
