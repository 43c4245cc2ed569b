//! The custody actions that set no new PIN: reveal, release, and recording an out-of-band
//! change. Each is one transaction with its ledger event.

use audit::Actor;
use chrono::{DateTime, NaiveDate, Utc};
use graph::PhoneNumberId;
use serde_json::json;
use vault::{Identity, Pin, Recipient, Recipients, Sealed};

use super::open_pin;
use super::protocol::{event, phone_subject};
use super::state::{PinState, lock_number};
use crate::access::{Caller, Permission, Role};
use crate::store::{Store, Tx};
use crate::{Error, exec, ledger, on_tx};

/// Longest reveal reason kept.
const MAX_REASON: usize = 500;

/// The current version of a number: `(version, sealed, sealed_next)`.
async fn current_version(
    tx: &mut Tx,
    number_id: &str,
) -> Result<(i64, String, Option<String>), Error> {
    let sql = "SELECT version, sealed, sealed_next FROM pin_versions WHERE phone_number_id = $1 AND status = 'current'";
    let row: Option<(i64, String, Option<String>)> =
        on_tx!(tx, conn => sqlx::query_as(sql).bind(number_id).fetch_optional(conn).await)?;
    row.ok_or(Error::NotFound {
        what: "escrowed PIN",
    })
}

/// Checks a reveal reason: required, at most 500 characters, and holding no run of six
/// digits (a reason is ledgered; it must never carry a PIN).
fn check_reason(reason: &str) -> Result<&str, Error> {
    let reason = reason.trim();
    let problem = if reason.is_empty() {
        "a reason is required to reveal a PIN"
    } else if reason.chars().count() > MAX_REASON {
        "at most 500 characters"
    } else if crate::numbers::holds_six_digits(reason) {
        "must not contain six digits in a row (it is written to the ledger)"
    } else {
        return Ok(reason);
    };
    Err(Error::Invalid {
        field: "reason",
        problem: problem.to_owned(),
    })
}

/// Opens the number's current PIN for a person who needs it (e.g. to re-register the
/// number), ledgering `pin.revealed` with the reason and version — never the PIN — and
/// stamping the version's `revealed_at` in the same transaction.
///
/// Refused while a rotation is in flight or its send is uncertain (Meta may hold the
/// pending PIN: resume first).
/// Authorization is the caller's job; people reveal through [`reveal_as`], which decides it.
pub async fn reveal(
    store: &Store,
    identity: &Identity,
    org: &str,
    actor: &Actor,
    number: &PhoneNumberId,
    reason: &str,
) -> Result<Pin, Error> {
    let reason = check_reason(reason)?;
    let mut tx = store.begin_for(org).await?;
    let (pin, _) = reveal_in(&mut tx, identity, org, actor, number, reason, None).await?;
    tx.commit().await?;
    Ok(pin)
}

/// Opens the current PIN inside `tx` and appends `pin.revealed` (with `rotation_job` when
/// one was queued); returns the PIN and the number's row id.
async fn reveal_in(
    tx: &mut Tx,
    identity: &Identity,
    org: &str,
    actor: &Actor,
    number: &PhoneNumberId,
    reason: &str,
    rotation_job: Option<&str>,
) -> Result<(Pin, String), Error> {
    let row = lock_number(tx, org, number.as_str()).await?;
    if let Some(refused) = reveal_refused(row.pin_state) {
        return Err(Error::PinState {
            state: row.pin_state.as_str(),
            refused,
        });
    }
    let (version, sealed, sealed_next) = current_version(tx, &row.id).await?;
    let pin = open_pin(identity, &sealed, sealed_next.as_deref())?;
    let mut details = json!({ "version": version, "reason": reason });
    if let (Some(job), Some(map)) = (rotation_job, details.as_object_mut()) {
        map.insert("rotation_job".to_owned(), json!(job));
    }
    let draft = event("pin.revealed", phone_subject(&row.meta_id), actor, details)?;
    let now = Utc::now();
    // Health shows a current version revealed and not rotated since (`pin_revealed`).
    exec!(
        tx,
        "UPDATE pin_versions SET revealed_at = $1 WHERE org_id = $2 AND phone_number_id = $3 AND version = $4",
        now,
        org,
        &row.id,
        version
    )?;
    ledger::append(tx, org, now, draft).await?;
    Ok((pin, row.id))
}

/// A PIN opened for a person, and the rotation queued because of it.
pub struct Revealed {
    /// The PIN: show it once, never store or log it.
    pub pin: Pin,
    /// The rotation job that retires the revealed PIN, when the org's rotate-after-reveal
    /// policy is on (a job already queued for the number is reused).
    pub rotation_job: Option<String>,
}

impl std::fmt::Debug for Revealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revealed")
            .field("pin", &"<redacted>")
            .field("rotation_job", &self.rotation_job)
            .finish()
    }
}

/// Why a PIN in `state` may not be revealed now, if so. The current PIN is what re-registers
/// the number only while no new one may have reached Meta: a rotation in flight may already
/// have sent its pending PIN (its worker may even have died right after sending), so the PIN
/// shown could be dead on arrival.
#[must_use]
pub fn reveal_refused(state: PinState) -> Option<&'static str> {
    match state {
        PinState::Uncertain => {
            Some("Meta may hold the pending PIN: resume the rotation before revealing")
        }
        PinState::Rotating => Some(
            "a new PIN is in flight and Meta may already hold it: let the rotation finish (or resume it) before revealing",
        ),
        _ => None,
    }
}

/// Whether `caller` may reveal the PIN of a number whose seats `owner` and `manager` (member
/// ids) hold: its main owner, its permission manager or an org admin, never an auditor, who
/// reads everything but PINs. The one rule [`reveal_as`] enforces and pages show.
#[must_use]
pub fn may_reveal(caller: &Caller, owner: Option<&str>, manager: Option<&str>) -> bool {
    let seated = caller
        .member_id
        .as_deref()
        .is_some_and(|me| owner == Some(me) || manager == Some(me));
    match caller.role {
        Role::Admin => true,
        Role::Auditor => false,
        Role::Ops | Role::BusinessAdmin => seated,
    }
}

/// A person reveals the number's current PIN: only its main owner, its permission manager
/// or an org admin (never an auditor, who reads everything but PINs), with a reason; the
/// reveal is ledgered as `pin.revealed`.
///
/// Rotate-after-reveal: when the org's policy asks for it, the same transaction queues a
/// one-number rotation job ([`crate::jobs`], ledgered `rotation.job.started`), so the
/// revealed PIN is retired by the next worker that runs the job (`pinward rotate resume
/// JOB`), not at once — the person needs the revealed PIN to stay valid while they
/// re-register the number. A job already queued for the number is reused.
///
/// # Errors
/// [`Error::NotFound`] for a number the caller cannot see; [`Error::Forbidden`]
/// (`pin:reveal`) for anyone else; [`Error::Invalid`] naming `reason`;
/// [`Error::PinState`] while a rotation is in flight or uncertain; `NotFound` `escrowed PIN` when nothing is
/// escrowed. Nothing changes on a refusal.
pub async fn reveal_as(
    store: &Store,
    identity: &Identity,
    caller: &Caller,
    number: &PhoneNumberId,
    reason: &str,
) -> Result<Revealed, Error> {
    caller.require(Permission::ReadNumbers)?;
    let actor = caller.actor()?;
    let mut tx = store.begin_for(&caller.org_id).await?;
    let row = crate::numbers::visible(&mut tx, caller, number, true).await?;
    if !may_reveal(caller, row.owner_id.as_deref(), row.manager_id.as_deref()) {
        return Err(Error::Forbidden {
            needed: "pin:reveal",
        });
    }
    let reason = check_reason(reason)?;
    let policy = crate::policies::load(&mut tx, &caller.org_id).await?;
    let state = PinState::parse(&row.pin_state);
    let rotation_job = if policy.rotate_after_reveal && state != Some(PinState::Released) {
        Some(
            crate::jobs::queue_one(&mut tx, &caller.org_id, &actor, &row.id, "pin.revealed")
                .await?,
        )
    } else {
        None
    };
    let (pin, _) = reveal_in(
        &mut tx,
        identity,
        &caller.org_id,
        &actor,
        number,
        reason,
        rotation_job.as_deref(),
    )
    .await?;
    tx.commit().await?;
    Ok(Revealed { pin, rotation_job })
}

/// Hands the number's current PIN to its client (e.g. migrating to another BSP): sealed to
/// the client's age recipient (`clients.age_recipient`), returned as an armored age file.
/// The number becomes `released`: no more rotations until someone takes it back into
/// custody (`Custodian::take`).
pub async fn release(
    store: &Store,
    identity: &Identity,
    org: &str,
    actor: &Actor,
    number: &PhoneNumberId,
) -> Result<Sealed, Error> {
    let mut tx = store.begin_for(org).await?;
    let row = lock_number(&mut tx, org, number.as_str()).await?;
    if row.pin_state != PinState::Escrowed {
        return Err(Error::PinState {
            state: row.pin_state.as_str(),
            refused: "only an escrowed number with no PIN in flight can be released",
        });
    }
    let sql = "SELECT c.age_recipient FROM wabas w JOIN clients c ON c.org_id = w.org_id AND c.id = w.client_id \
               WHERE w.org_id = $1 AND w.id = $2";
    let recipient: Option<Option<String>> = on_tx!(tx, conn => sqlx::query_scalar(sql).bind(org).bind(&row.waba_id).fetch_optional(conn).await)?;
    let Some(text) = recipient.flatten() else {
        return Err(Error::Invalid {
            field: "age_recipient",
            problem: "the number's client has no age recipient to release the PIN to".to_owned(),
        });
    };
    let recipient = Recipient::parse(text.trim()).map_err(|_| Error::Invalid {
        field: "age_recipient",
        problem: "the client's age recipient is not an age1… X25519 recipient".to_owned(),
    })?;
    let (version, sealed, sealed_next) = current_version(&mut tx, &row.id).await?;
    let pin = open_pin(identity, &sealed, sealed_next.as_deref())?;
    let released = vault::seal(&pin, &Recipients::new([recipient.clone()])?)?;
    drop(pin);
    let now = Utc::now();
    exec!(
        tx,
        "UPDATE phone_numbers SET pin_state = 'released', attention_reason = NULL WHERE id = $1",
        &row.id
    )?;
    let draft = event(
        "pin.released",
        phone_subject(&row.meta_id),
        actor,
        json!({ "version": version, "recipient": recipient.to_string() }),
    )?;
    ledger::append(&mut tx, org, now, draft).await?;
    tx.commit().await?;
    Ok(released)
}

/// Longest note of an out-of-band change.
pub const MAX_OUT_OF_BAND_NOTE: usize = 500;

/// What a person reports about a PIN changed outside pinward, for the ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutOfBand {
    /// What happened: who changed it, where, why (optional).
    pub note: String,
    /// The day it was changed, when known.
    pub changed_on: Option<NaiveDate>,
}

/// Checks `report` as [`record_out_of_band`] does, each field alone, in the form's order
/// (note, day): a form reports every fault at once.
#[must_use]
pub fn out_of_band_faults(report: &OutOfBand, now: DateTime<Utc>) -> Vec<Error> {
    [
        out_of_band_note(&report.note).err(),
        crate::numbers::check_day_between("changed_on", report.changed_on, now).err(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn out_of_band_note(note: &str) -> Result<String, Error> {
    crate::numbers::note::ledgered("note", note, false, MAX_OUT_OF_BAND_NOTE)
}

/// Records that the PIN was changed outside pinward (WhatsApp Manager, a `security`
/// webhook): the current and any pending version become `stale`, the escrow is marked
/// stale, and the number goes back to `unknown` — the take-custody queue. The ledgered
/// `pin.changed_out_of_band` carries the `report`'s note and day when given.
///
/// # Errors
/// [`Error::Invalid`] naming `note` (six digits in a row, too long) or `changed_on` (before
/// 2009 or after today); [`Error::PinState`] for a number released or holding no PIN;
/// [`Error::NotFound`]; database errors.
pub async fn record_out_of_band(
    store: &Store,
    org: &str,
    actor: &Actor,
    number: &PhoneNumberId,
    report: &OutOfBand,
) -> Result<(), Error> {
    let now = Utc::now();
    let note = out_of_band_note(&report.note)?;
    crate::numbers::check_day_between("changed_on", report.changed_on, now)?;
    let mut tx = store.begin_for(org).await?;
    let row = lock_number(&mut tx, org, number.as_str()).await?;
    let refused = match row.pin_state {
        PinState::Released => Some("a released number is no longer in pinward's custody"),
        PinState::Unknown => Some(
            "pinward holds no PIN of this number, so nothing is stale: take custody to set one",
        ),
        _ => None,
    };
    if let Some(refused) = refused {
        return Err(Error::PinState {
            state: row.pin_state.as_str(),
            refused,
        });
    }
    let sql = "SELECT version FROM pin_versions WHERE phone_number_id = $1 AND status IN ('current', 'pending') ORDER BY version";
    let stale: Vec<i64> =
        on_tx!(tx, conn => sqlx::query_scalar(sql).bind(&row.id).fetch_all(conn).await)?;
    exec!(
        tx,
        "UPDATE pin_versions SET status = 'stale', ended_at = $2 WHERE phone_number_id = $1 \
               AND status IN ('current', 'pending')",
        &row.id,
        now
    )?;
    exec!(
        tx,
        "UPDATE phone_numbers SET pin_state = 'unknown', escrow_stale = TRUE, send_failures = 0, \
               attention_reason = 'PIN changed outside pinward: take custody again', \
               lease_owner = NULL, lease_until = NULL WHERE id = $1",
        &row.id
    )?;
    let draft = event(
        "pin.changed_out_of_band",
        phone_subject(&row.meta_id),
        actor,
        out_of_band_details(&stale, row.pin_state, &note, report.changed_on),
    )?;
    ledger::append(&mut tx, org, now, draft).await?;
    tx.commit().await?;
    Ok(())
}

fn out_of_band_details(
    stale: &[i64],
    previous: PinState,
    note: &str,
    changed_on: Option<NaiveDate>,
) -> serde_json::Value {
    let mut details = json!({ "stale_versions": stale, "previous_state": previous.as_str() });
    if !note.is_empty() {
        details["note"] = json!(note);
    }
    if let Some(day) = changed_on {
        details["changed_on"] = json!(day.to_string());
    }
    details
}

/// One PIN version, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VersionInfo {
    /// 1, 2, 3, … per number.
    pub version: i64,
    /// `pending`, `current`, `previous`, `superseded`, `rejected` or `stale`.
    pub status: String,
    /// Why the last send of it was not confirmed, if it was not.
    pub failure_reason: Option<String>,
}

/// A number's custody, without secrets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NumberCustody {
    /// Meta's phone number id.
    pub phone_number_id: String,
    /// e.g. `+1 555-013-3742`.
    pub display_phone_number: String,
    /// The PIN state.
    pub pin_state: String,
    /// The escrowed PIN was changed outside pinward.
    pub escrow_stale: bool,
    /// Why the number needs attention, if it does.
    pub attention_reason: Option<String>,
    /// `cloud` or `on_prem`.
    pub connector: String,
    /// Meta no longer returns it.
    pub vanished: bool,
    /// Its versions, oldest first.
    pub versions: Vec<VersionInfo>,
}

type CustodyRow = (
    String,
    String,
    String,
    bool,
    Option<String>,
    String,
    Option<chrono::DateTime<Utc>>,
    String,
);

/// The custody of every number of the org (or of one), ordered by Meta id.
pub async fn status(
    store: &Store,
    org: &str,
    number: Option<&PhoneNumberId>,
) -> Result<Vec<NumberCustody>, Error> {
    let sql = "SELECT meta_phone_number_id, display_phone_number, pin_state, escrow_stale, attention_reason, \
               connector, vanished_at, id FROM phone_numbers WHERE org_id = $1 \
               AND ($2 IS NULL OR meta_phone_number_id = $2) ORDER BY meta_phone_number_id";
    let filter = number.map(|n| n.as_str().to_owned());
    let rows: Vec<CustodyRow> = crate::on_read!(store, org, conn => sqlx::query_as(sql)
        .bind(org).bind(&filter).fetch_all(conn).await)?;
    if number.is_some() && rows.is_empty() {
        return Err(Error::NotFound {
            what: "phone number",
        });
    }
    let versions_sql = "SELECT v.phone_number_id, v.version, v.status, v.failure_reason FROM pin_versions v \
                        WHERE v.org_id = $1 ORDER BY v.version";
    let versions: Vec<(String, i64, String, Option<String>)> = crate::on_read!(store, org, conn => sqlx::query_as(versions_sql)
        .bind(org).fetch_all(conn).await)?;
    let mut by_number: std::collections::HashMap<String, Vec<VersionInfo>> =
        std::collections::HashMap::new();
    for (number_id, version, status, failure_reason) in versions {
        by_number.entry(number_id).or_default().push(VersionInfo {
            version,
            status,
            failure_reason,
        });
    }
    Ok(rows
        .into_iter()
        .map(
            |(meta, display, state, stale, attention, connector, vanished, id)| NumberCustody {
                phone_number_id: meta,
                display_phone_number: display,
                pin_state: state,
                escrow_stale: stale,
                attention_reason: attention,
                connector,
                vanished: vanished.is_some(),
                versions: by_number.remove(&id).unwrap_or_default(),
            },
        )
        .collect())
}
