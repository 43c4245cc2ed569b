//! Two-sided, written handovers of a number's seats (DESIGN.md "What a number record
//! holds"): the outgoing holder (or an admin) proposes, the incoming member accepts after a
//! checklist, or declines; the proposer can cancel. Each step is one transaction with its
//! ledger event. A PIN is never passed by hand: acceptance says whether a rotation is due
//! (asked for, or the org's rotate-on-handover policy) and the caller runs it with
//! [`crate::custody::Custodian::rotate`].

use chrono::{DateTime, Utc};
use graph::PhoneNumberId;
use serde_json::json;
use uuid::Uuid;
use vault::Recipient;

use crate::access::{Caller, Permission, Role};
use crate::custody::{Custodian, Outcome, PinState};
use crate::numbers::{self, query::NumberRow};
use crate::store::{Store, Tx};
use crate::{Error, exec, ledger, on_tx, policies};

/// Longest handover note.
pub const MAX_NOTE: usize = 1000;

/// A seat of a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Seat {
    /// The main owner.
    Owner,
    /// The permission manager.
    Manager,
}

impl Seat {
    /// The stored spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Seat::Owner => "owner",
            Seat::Manager => "manager",
        }
    }

    /// Parses `owner` or `manager`.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `seat`.
    pub fn parse(text: &str) -> Result<Seat, Error> {
        match text {
            "owner" => Ok(Seat::Owner),
            "manager" => Ok(Seat::Manager),
            _ => Err(Error::Invalid {
                field: "seat",
                problem:
                    "must be the main owner seat (owner) or the permission manager seat (manager)"
                        .to_owned(),
            }),
        }
    }

    /// The member who holds this seat of the number `record` shows.
    fn holder_of(self, record: &numbers::Record) -> Option<&str> {
        let person = match self {
            Seat::Owner => record.owner.as_ref(),
            Seat::Manager => record.manager.as_ref(),
        };
        person.map(|p| p.member_id.as_str())
    }

    fn holder(self, row: &NumberRow) -> Option<&str> {
        match self {
            Seat::Owner => row.owner_id.as_deref(),
            Seat::Manager => row.manager_id.as_deref(),
        }
    }

    fn other(self) -> Seat {
        match self {
            Seat::Owner => Seat::Manager,
            Seat::Manager => Seat::Owner,
        }
    }
}

/// Whether `caller` may propose to hand over the seat `holder` holds (a member id): the
/// holder itself, or an org admin.
fn may_propose(caller: &Caller, holder: Option<&str>) -> bool {
    caller.role == Role::Admin || (holder.is_some() && caller.member_id.as_deref() == holder)
}

/// Whether `caller` may propose a handover of any seat of the number `record` shows: it
/// holds one, or is an org admin.
#[must_use]
pub fn hands_over(caller: &Caller, record: &numbers::Record) -> bool {
    [Seat::Owner, Seat::Manager]
        .into_iter()
        .any(|seat| may_propose(caller, seat.holder_of(record)))
}

/// The seats of the number `record` shows that `caller` may propose to hand over, as
/// [`propose`] decides: the ones it holds (an org admin: both), but none whose handover is
/// already open.
#[must_use]
pub fn proposable_seats(caller: &Caller, record: &numbers::Record) -> Vec<Seat> {
    [Seat::Owner, Seat::Manager]
        .into_iter()
        .filter(|seat| {
            may_propose(caller, seat.holder_of(record))
                && !record.open_handovers.iter().any(|h| h.seat == *seat)
        })
        .collect()
}

/// A handover as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Handover {
    /// Its id.
    pub id: String,
    /// Meta's phone number id of the number.
    pub phone_number_id: String,
    /// The seat changing hands.
    pub seat: Seat,
    /// The outgoing holder (none when the seat was empty).
    pub from_member_id: Option<String>,
    /// The incoming member.
    pub to_member_id: String,
    /// The outgoing side's written note.
    pub note: String,
    /// `proposed`, `accepted`, `declined` or `cancelled`.
    pub status: String,
    /// Who proposed it (a ledger actor).
    pub proposed_by: String,
    /// When.
    pub proposed_at: DateTime<Utc>,
    /// When it was accepted, declined or cancelled.
    pub decided_at: Option<DateTime<Utc>>,
}

impl Handover {
    /// Whether `caller` may withdraw it: the outgoing seat holder, the member who proposed
    /// it, or an org admin. Pages use it to offer the button only to them.
    #[must_use]
    pub fn may_be_withdrawn_by(&self, caller: &Caller) -> bool {
        let outgoing = caller.member_id.is_some() && caller.member_id == self.from_member_id;
        let proposer = caller
            .actor()
            .is_ok_and(|actor| actor.as_str() != "system" && actor.as_str() == self.proposed_by);
        outgoing || proposer || caller.role == Role::Admin
    }
}

/// What the incoming member confirms before taking a seat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Checklist {
    /// The recorded recovery email is right and reachable by the business.
    pub recovery_email_confirmed: bool,
    /// The recorded backup channels work.
    pub backup_channels_confirmed: bool,
    /// pinward holds the PIN (checked against the PIN state, not trusted).
    pub pin_escrowed: bool,
}

/// An accepted handover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The handover, now `accepted`.
    pub handover: Handover,
    /// The PIN should be rotated now (asked for, or the org's rotate-on-handover policy).
    pub rotation_due: bool,
}

#[derive(Debug, sqlx::FromRow)]
struct HandoverRow {
    id: String,
    meta_id: String,
    seat: String,
    from_member_id: Option<String>,
    to_member_id: String,
    note: String,
    status: String,
    proposed_by: String,
    proposed_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
}

impl HandoverRow {
    fn into_handover(self) -> Result<Handover, Error> {
        Ok(Handover {
            seat: Seat::parse(&self.seat)?,
            id: self.id,
            phone_number_id: self.meta_id,
            from_member_id: self.from_member_id,
            to_member_id: self.to_member_id,
            note: self.note,
            status: self.status,
            proposed_by: self.proposed_by,
            proposed_at: self.proposed_at,
            decided_at: self.decided_at,
        })
    }
}

/// The handover query with its `WHERE …` tail, as one static SQL text.
macro_rules! select {
    ($tail:literal) => {
        concat!(
            "SELECT h.id, n.meta_phone_number_id AS meta_id, h.seat, h.from_member_id, h.to_member_id, ",
            "h.note, h.status, h.proposed_by, h.proposed_at, h.decided_at FROM handovers h ",
            "JOIN phone_numbers n ON n.org_id = h.org_id AND n.id = h.phone_number_id ",
            $tail
        )
    };
}

/// The open handovers of one number (by pinward id).
pub(crate) async fn open_for(
    tx: &mut Tx,
    org: &str,
    number_id: &str,
) -> Result<Vec<Handover>, Error> {
    let sql = select!(
        "WHERE h.org_id = $1 AND h.phone_number_id = $2 AND h.status = 'proposed' ORDER BY h.proposed_at"
    );
    let rows: Vec<HandoverRow> =
        on_tx!(tx, conn => sqlx::query_as(sql).bind(org).bind(number_id).fetch_all(conn).await)?;
    rows.into_iter().map(HandoverRow::into_handover).collect()
}

/// Withdraws, in the caller's transaction, the open handovers of number `number_id` (by
/// pinward id) that its new seats overtook: a seat assigned directly, so that the member who
/// proposed handing it over no longer holds it. Each is closed as `cancelled` and ledgered as
/// `handover.cancelled` with the reason, after the assignment's own event; accepting one
/// would be refused anyway, and an open list must not show what can never happen.
pub(crate) async fn withdraw_overtaken(
    tx: &mut Tx,
    caller: &Caller,
    number_id: &str,
    owner: &str,
    manager: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    for mut handover in open_for(tx, &caller.org_id, number_id).await? {
        let holder = match handover.seat {
            Seat::Owner => owner,
            Seat::Manager => manager,
        };
        if handover.from_member_id.as_deref() == Some(holder) {
            continue;
        }
        if !close(tx, caller, &mut handover, "cancelled", None, false, now).await? {
            continue; // decided meanwhile
        }
        let reason = json!({ "reason": "the seat was assigned directly since it was proposed" });
        insert_event(tx, caller, "handover.cancelled", &handover, reason, now).await?;
    }
    Ok(())
}

/// Withdraws, in the caller's transaction, the open handovers offered to member `member_id`
/// that it can no longer accept, now that it was deactivated or its role changed (an auditor,
/// or a business admin of other clients, holds no seat of the number). Each is closed as
/// `cancelled` and ledgered as `handover.cancelled` with the reason, after the member's own
/// event; the seat's holder may then offer it to someone else. Returns how many were.
pub(crate) async fn withdraw_offers_out_of_reach(
    tx: &mut Tx,
    caller: &Caller,
    member_id: &str,
    now: DateTime<Utc>,
) -> Result<usize, Error> {
    let sql = select!(
        "WHERE h.org_id = $1 AND h.to_member_id = $2 AND h.status = 'proposed' ORDER BY h.proposed_at, h.id"
    );
    let rows: Vec<HandoverRow> = on_tx!(tx, conn => sqlx::query_as(sql)
        .bind(&caller.org_id)
        .bind(member_id)
        .fetch_all(conn)
        .await)?;
    let mut withdrawn = 0;
    for row in rows {
        let mut handover = row.into_handover()?;
        let sql = "SELECT w.client_id FROM handovers h \
                   JOIN phone_numbers n ON n.org_id = h.org_id AND n.id = h.phone_number_id \
                   JOIN wabas w ON w.org_id = n.org_id AND w.id = n.waba_id \
                   WHERE h.org_id = $1 AND h.id = $2";
        let client: String = on_tx!(tx, conn => sqlx::query_scalar(sql)
            .bind(&caller.org_id)
            .bind(&handover.id)
            .fetch_one(conn)
            .await)?;
        let problem =
            match numbers::check_seat_holder(tx, &caller.org_id, &client, "to_member", member_id)
                .await
            {
                Ok(_) => continue,
                Err(Error::Invalid { problem, .. }) => problem,
                Err(other) => return Err(other),
            };
        if !close(tx, caller, &mut handover, "cancelled", None, false, now).await? {
            continue; // decided meanwhile
        }
        // The check's words without the form's advice after the colon: "… is an auditor, who
        // never sees PINs".
        let why = problem.split(':').next().unwrap_or_default().trim_end();
        let reason = json!({ "reason": format!("the incoming member {why}") });
        insert_event(tx, caller, "handover.cancelled", &handover, reason, now).await?;
        withdrawn += 1;
    }
    Ok(withdrawn)
}

fn check_note(note: &str, required: bool) -> Result<String, Error> {
    crate::numbers::note::ledgered("note", note, required, MAX_NOTE)
}

/// Checks a proposal's note on its own, as [`propose`] does, so a form can report it beside
/// its other fields' faults.
///
/// # Errors
/// [`Error::Invalid`] naming `note`.
pub fn check_proposal_note(note: &str) -> Result<(), Error> {
    check_note(note, true).map(drop)
}

async fn insert_event(
    tx: &mut Tx,
    caller: &Caller,
    action: &str,
    handover: &Handover,
    extra: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let mut details = json!({
        "handover": handover.id,
        "seat": handover.seat.as_str(),
        "from": handover.from_member_id,
        "to": handover.to_member_id,
    });
    if let (Some(map), serde_json::Value::Object(more)) = (details.as_object_mut(), extra) {
        map.extend(more);
    }
    let draft = crate::custody::protocol_event(
        action,
        format!("phone:{}", handover.phone_number_id),
        &caller.actor()?,
        details,
    )?;
    ledger::append(tx, &caller.org_id, now, draft).await?;
    Ok(())
}

/// Proposes that `to_member` takes `seat` of `phone`, with a written note; ledgered as
/// `handover.proposed`. The caller is the seat's current holder or an admin.
///
/// # Errors
/// [`Error::NotFound`] for a number the caller cannot see; [`Error::Forbidden`] for anyone
/// holding neither seat who is not an admin; [`Error::Invalid`] naming `note`, `to_member`
/// (not an active member who can see the number, already in this seat or in the other one)
/// or `seat` (the caller holds the other one, or a handover of it is already open);
/// database errors.
pub async fn propose(
    store: &Store,
    caller: &Caller,
    phone: &PhoneNumberId,
    seat: Seat,
    to_member: &str,
    note: &str,
    now: DateTime<Utc>,
) -> Result<Handover, Error> {
    caller.require(Permission::ReadNumbers)?;
    let note = check_note(note, true)?;
    let actor = caller.actor()?;
    let mut tx = store.begin_for(&caller.org_id).await?;
    let row = numbers::visible(&mut tx, caller, phone, true).await?;
    let holder = seat.holder(&row).map(str::to_owned);
    if !may_propose(caller, holder.as_deref()) {
        // Holding the other seat, the caller may hand that one over: the seat is what is
        // wrong, not the person.
        if may_propose(caller, seat.other().holder(&row)) {
            return Err(Error::Invalid {
                field: "seat",
                problem: "is not yours to hand over: you hold the other seat of this number, and this one's holder (or an org admin) proposes its handover".to_owned(),
            });
        }
        return Err(Error::Forbidden {
            needed: "handover:outgoing",
        });
    }
    let to = to_member.trim();
    numbers::check_seat_holder(&mut tx, &caller.org_id, &row.client_id, "to_member", to).await?;
    if holder.as_deref() == Some(to) {
        return Err(Error::Invalid {
            field: "to_member",
            problem: "already holds this seat".to_owned(),
        });
    }
    if seat.other().holder(&row) == Some(to) {
        return Err(Error::Invalid {
            field: "to_member",
            problem: "holds the other seat of this number: the main owner and the permission manager are two different people"
                .to_owned(),
        });
    }
    if open_for(&mut tx, &caller.org_id, &row.id)
        .await?
        .iter()
        .any(|h| h.seat == seat)
    {
        return Err(Error::Invalid {
            field: "seat",
            problem: "a handover of this seat is already open".to_owned(),
        });
    }
    let handover = Handover {
        id: Uuid::now_v7().to_string(),
        phone_number_id: row.meta_id.clone(),
        seat,
        from_member_id: holder,
        to_member_id: to.to_owned(),
        note,
        status: "proposed".to_owned(),
        proposed_by: actor.as_str().to_owned(),
        proposed_at: now,
        decided_at: None,
    };
    exec!(
        tx,
        "INSERT INTO handovers (id, org_id, phone_number_id, seat, from_member_id, to_member_id, note, status, \
         proposed_by, proposed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'proposed', $8, $9)",
        &handover.id,
        &caller.org_id,
        &row.id,
        seat.as_str(),
        &handover.from_member_id,
        &handover.to_member_id,
        &handover.note,
        &handover.proposed_by,
        now
    )?;
    insert_event(
        &mut tx,
        caller,
        "handover.proposed",
        &handover,
        json!({ "note": handover.note }),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(handover)
}

/// The handover `id` of the caller's org, with its number locked, if the caller may see
/// the number; else [`Error::NotFound`].
async fn load(tx: &mut Tx, caller: &Caller, id: &str) -> Result<(Handover, NumberRow), Error> {
    let sql = select!("WHERE h.org_id = $1 AND h.id = $2");
    let row: Option<HandoverRow> = on_tx!(tx, conn => sqlx::query_as(sql).bind(&caller.org_id).bind(id.trim()).fetch_optional(conn).await)?;
    let not_found = || Error::NotFound { what: "handover" };
    let handover = row.ok_or_else(not_found)?.into_handover()?;
    let phone = PhoneNumberId::parse(&handover.phone_number_id).map_err(|_| not_found())?;
    // A handover of a number the caller cannot see does not exist for it.
    let number = match numbers::visible(tx, caller, &phone, true).await {
        Ok(number) => number,
        Err(Error::NotFound { .. }) => return Err(not_found()),
        Err(other) => return Err(other),
    };
    if handover.status != "proposed" {
        return Err(Error::Invalid {
            field: "handover",
            problem: format!("is already {}", handover.status),
        });
    }
    Ok((handover, number))
}

/// Why a handover found open could not be closed: another transaction closed it first (on
/// PostgreSQL, one that committed while this one waited for the row).
fn closed_meanwhile() -> Error {
    Error::Invalid {
        field: "handover",
        problem:
            "was closed meanwhile (accepted, declined or withdrawn): reload the page to see how"
                .to_owned(),
    }
}

/// Closes `handover` if it is still open; whether it was (see [`closed_meanwhile`]).
async fn close(
    tx: &mut Tx,
    caller: &Caller,
    handover: &mut Handover,
    status: &'static str,
    checklist: Option<String>,
    rotate: bool,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let actor = caller.actor()?;
    let changed = exec!(
        tx,
        "UPDATE handovers SET status = $3, decided_by = $4, decided_at = $5, checklist = $6, rotate = $7 \
         WHERE org_id = $1 AND id = $2 AND status = 'proposed'",
        &caller.org_id,
        &handover.id,
        status,
        actor.as_str(),
        now,
        &checklist,
        rotate
    )?;
    if changed == 0 {
        return Ok(false);
    }
    handover.status = status.to_owned();
    handover.decided_at = Some(now);
    Ok(true)
}

fn require_incoming(caller: &Caller, handover: &Handover) -> Result<(), Error> {
    if caller.member_id.as_deref() == Some(handover.to_member_id.as_str()) {
        Ok(())
    } else {
        Err(Error::Forbidden {
            needed: "handover:incoming",
        })
    }
}

/// The incoming member accepts: the checklist is complete (the PIN's escrow is checked
/// against its state), the seat moves, `handover.accepted` is ledgered, and the result says
/// whether the PIN should now be rotated (`rotate`, or the org's rotate-on-handover policy).
///
/// # Errors
/// [`Error::NotFound`] for a handover the caller cannot see; [`Error::Forbidden`] for anyone
/// but the incoming member; [`Error::Invalid`] naming the unconfirmed checklist item
/// (`recovery_email_confirmed`, `backup_channels_confirmed`, `pin_escrowed`), `to_member`
/// (no longer able to hold the seat) or `handover` (already closed, or the seat changed
/// hands since); nothing changed.
pub async fn accept(
    store: &Store,
    caller: &Caller,
    handover_id: &str,
    checklist: Checklist,
    rotate: bool,
    now: DateTime<Utc>,
) -> Result<Accepted, Error> {
    caller.require(Permission::ReadNumbers)?;
    let mut tx = store.begin_for(&caller.org_id).await?;
    let (mut handover, row) = load(&mut tx, caller, handover_id).await?;
    require_incoming(caller, &handover)?;
    if handover.seat.holder(&row) != handover.from_member_id.as_deref() {
        return Err(Error::Invalid {
            field: "handover",
            problem: "the seat changed hands since it was proposed: propose again".to_owned(),
        });
    }
    let to = handover.to_member_id.clone();
    numbers::check_seat_holder(&mut tx, &caller.org_id, &row.client_id, "to_member", &to).await?;
    if handover.seat.other().holder(&row) == Some(to.as_str()) {
        return Err(Error::Invalid {
            field: "to_member",
            problem: "holds the other seat of this number: the main owner and the permission manager are two different people"
                .to_owned(),
        });
    }
    check_list(&checklist, &row)?;
    let policy = policies::load(&mut tx, &caller.org_id).await?;
    let state = PinState::parse(&row.pin_state).unwrap_or(PinState::Unknown);
    let rotation_due = (rotate || policy.rotate_on_handover) && state != PinState::Released;
    let sql = match handover.seat {
        Seat::Owner => "UPDATE phone_numbers SET main_owner_id = $3 WHERE org_id = $1 AND id = $2",
        Seat::Manager => {
            "UPDATE phone_numbers SET permission_manager_id = $3 WHERE org_id = $1 AND id = $2"
        }
    };
    exec!(tx, sql, &caller.org_id, &row.id, &to)?;
    let checklist_json = serde_json::to_string(&checklist).ok();
    if !close(
        &mut tx,
        caller,
        &mut handover,
        "accepted",
        checklist_json,
        rotation_due,
        now,
    )
    .await?
    {
        return Err(closed_meanwhile());
    }
    insert_event(
        &mut tx,
        caller,
        "handover.accepted",
        &handover,
        json!({ "checklist": checklist, "rotation_due": rotation_due }),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Accepted {
        handover,
        rotation_due,
    })
}

fn check_list(checklist: &Checklist, row: &NumberRow) -> Result<(), Error> {
    let standing = Standing {
        recovery_email: row.recovery_email.is_some(),
        backup_channels: !numbers::stored_channels(&row.backup_channels)?.is_empty(),
        pin_held: held(PinState::parse(&row.pin_state), row.escrow_stale),
    };
    match faults_of(checklist, &standing).into_iter().next() {
        Some(fault) => Err(fault),
        None => Ok(()),
    }
}

fn held(state: Option<PinState>, stale: bool) -> bool {
    matches!(
        state,
        Some(PinState::Escrowed | PinState::Rotating | PinState::Uncertain)
    ) && !stale
}

/// What a handover's checklist is checked against: the number as it stands.
struct Standing {
    recovery_email: bool,
    backup_channels: bool,
    pin_held: bool,
}

/// Every fault [`accept`] would find in `checklist` for open handover `handover_id` of the
/// number `record` shows, all at once, so a form can name them together. Empty unless
/// `accept` would get as far as the checklist: the caller is the incoming member and the
/// seat has not changed hands since (otherwise `accept`'s own refusal says why). `accept`
/// checks again, against the number as it is then, and refuses with the first.
#[must_use]
pub fn checklist_faults(
    caller: &Caller,
    record: &numbers::Record,
    handover_id: &str,
    checklist: &Checklist,
) -> Vec<Error> {
    let reaches_checklist = record.open_handovers.iter().any(|h| {
        h.id == handover_id
            && require_incoming(caller, h).is_ok()
            && h.seat.holder_of(record) == h.from_member_id.as_deref()
    });
    if !reaches_checklist {
        return Vec::new();
    }
    let standing = Standing {
        recovery_email: record.metadata.recovery_email.is_some(),
        backup_channels: !record.metadata.backup_channels.is_empty(),
        pin_held: held(Some(record.pin_state), record.escrow_stale),
    };
    faults_of(checklist, &standing)
}

/// Every box of `checklist` that cannot stand, each checked alone, in the checklist's
/// order: a box the number gives nothing to confirm for, or one left unticked.
fn faults_of(checklist: &Checklist, standing: &Standing) -> Vec<Error> {
    let boxes = [
        (
            "recovery_email_confirmed",
            standing.recovery_email,
            "the number has no recovery email to confirm: record one first",
            checklist.recovery_email_confirmed,
        ),
        (
            "backup_channels_confirmed",
            standing.backup_channels,
            "the number has no backup channel to confirm: record them first",
            checklist.backup_channels_confirmed,
        ),
        (
            "pin_escrowed",
            standing.pin_held,
            "pinward does not hold this number's PIN: take custody before the handover",
            checklist.pin_escrowed,
        ),
    ];
    boxes
        .into_iter()
        .filter_map(|(field, possible, impossible, ticked)| {
            let problem = match (possible, ticked) {
                (false, _) => impossible,
                (true, false) => "must be confirmed",
                (true, true) => return None,
            };
            Some(Error::Invalid {
                field,
                problem: problem.to_owned(),
            })
        })
        .collect()
}

/// The incoming member declines, optionally saying why; ledgered as `handover.declined`.
///
/// # Errors
/// As [`accept`], with `note` for a bad note.
pub async fn decline(
    store: &Store,
    caller: &Caller,
    handover_id: &str,
    note: &str,
    now: DateTime<Utc>,
) -> Result<Handover, Error> {
    caller.require(Permission::ReadNumbers)?;
    let note = check_note(note, false)?;
    let mut tx = store.begin_for(&caller.org_id).await?;
    let (mut handover, _) = load(&mut tx, caller, handover_id).await?;
    require_incoming(caller, &handover)?;
    if !close(&mut tx, caller, &mut handover, "declined", None, false, now).await? {
        return Err(closed_meanwhile());
    }
    insert_event(
        &mut tx,
        caller,
        "handover.declined",
        &handover,
        json!({ "note": note }),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(handover)
}

/// The proposer, the outgoing holder or an admin withdraws an open handover; ledgered as
/// `handover.cancelled`.
///
/// # Errors
/// [`Error::NotFound`] for a handover the caller cannot see; [`Error::Forbidden`] for
/// anyone else; [`Error::Invalid`] naming `handover` when it is already closed.
pub async fn cancel(
    store: &Store,
    caller: &Caller,
    handover_id: &str,
    now: DateTime<Utc>,
) -> Result<Handover, Error> {
    caller.require(Permission::ReadNumbers)?;
    caller.actor()?;
    let mut tx = store.begin_for(&caller.org_id).await?;
    let (mut handover, _) = load(&mut tx, caller, handover_id).await?;
    if !handover.may_be_withdrawn_by(caller) {
        return Err(Error::Forbidden {
            needed: "handover:outgoing",
        });
    }
    if !close(
        &mut tx,
        caller,
        &mut handover,
        "cancelled",
        None,
        false,
        now,
    )
    .await?
    {
        return Err(closed_meanwhile());
    }
    insert_event(
        &mut tx,
        caller,
        "handover.cancelled",
        &handover,
        json!({}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(handover)
}

/// The open handovers waiting for the caller to accept or decline.
///
/// # Errors
/// Database errors.
pub async fn waiting_for(store: &Store, caller: &Caller) -> Result<Vec<Handover>, Error> {
    caller.require(Permission::ReadNumbers)?;
    let Some(member) = caller.member_id.as_deref() else {
        return Ok(Vec::new());
    };
    let mut tx = store.read_for(&caller.org_id).await?;
    let sql = select!(
        "WHERE h.org_id = $1 AND h.to_member_id = $2 AND h.status = 'proposed' ORDER BY h.proposed_at"
    );
    let rows: Vec<HandoverRow> = on_tx!(tx, conn => sqlx::query_as(sql).bind(&caller.org_id).bind(member).fetch_all(conn).await)?;
    tx.rollback().await?;
    rows.into_iter().map(HandoverRow::into_handover).collect()
}

/// [`accept`], then, when a rotation is due, the rotation itself through the custody
/// protocol ([`Custodian::rotate`], sealed to the service identity and `recovery`, the
/// org's recovery recipients). The seat moves in its own transaction first: a rotation
/// that cannot run now (a PIN already in flight, Meta unreachable) does not undo the
/// handover, and its result is returned beside it.
///
/// The rotation runs as the accepting member even without the `custody` permission: it is
/// the org's policy or the handover's condition, not a custody decision of that member.
///
/// # Errors
/// As [`accept`]; the rotation's own error is in the second element.
pub async fn accept_and_rotate(
    custodian: &Custodian,
    recovery: &[Recipient],
    caller: &Caller,
    handover_id: &str,
    checklist: Checklist,
    rotate: bool,
    now: DateTime<Utc>,
) -> Result<(Accepted, Option<Result<Outcome, Error>>), Error> {
    let accepted = accept(
        custodian.store(),
        caller,
        handover_id,
        checklist,
        rotate,
        now,
    )
    .await?;
    if !accepted.rotation_due {
        return Ok((accepted, None));
    }
    let phone =
        PhoneNumberId::parse(&accepted.handover.phone_number_id).map_err(|_| Error::NotFound {
            what: "phone number",
        })?;
    let actor = caller.actor()?;
    let outcome = custodian
        .rotate(&caller.org_id, &actor, &phone, recovery)
        .await;
    Ok((accepted, Some(outcome)))
}
