//! The two seats of a number: one main owner and one permission manager, two different
//! active members of the org who can both see the number.

use chrono::{DateTime, Utc};
use graph::PhoneNumberId;
use serde_json::json;

use super::visible;
use crate::access::{Caller, Permission, Role};
use crate::store::Tx;
use crate::{Error, exec, ledger, on_tx};

/// A member as the seat rules see it.
#[derive(Debug, Clone)]
pub(crate) struct MemberCheck {
    pub active: bool,
    pub role: String,
}

/// The member `id` of the org, if there is one, held until the transaction ends (a write
/// transaction's: see `dialect::select_member_for_share`).
pub(crate) async fn member(tx: &mut Tx, org: &str, id: &str) -> Result<Option<MemberCheck>, Error> {
    let sql = crate::store::dialect::select_member_for_share(tx.backend());
    let row: Option<(bool, String)> =
        on_tx!(tx, conn => sqlx::query_as(sql).bind(org).bind(id).fetch_optional(conn).await)?;
    Ok(row.map(|(active, role)| MemberCheck { active, role }))
}

/// Refuses a seat form whose member `field` was left unchosen, on its own, before any
/// lookup.
///
/// # Errors
/// [`Error::Invalid`] naming `field`.
pub fn check_chosen(field: &'static str, id: &str) -> Result<(), Error> {
    if id.trim().is_empty() {
        return Err(Error::Invalid {
            field,
            problem: "choose the member who takes the seat".to_owned(),
        });
    }
    Ok(())
}

/// Checks that `id` may hold a seat of a number of `client`: an active member of the org
/// who can see the client. Refusals name `field`.
pub(crate) async fn check_seat_holder(
    tx: &mut Tx,
    org: &str,
    client: &str,
    field: &'static str,
    id: &str,
) -> Result<MemberCheck, Error> {
    check_chosen(field, id)?;
    let Some(member) = member(tx, org, id).await? else {
        return Err(Error::Invalid {
            field,
            problem: "is not a member of this org".to_owned(),
        });
    };
    if !member.active {
        return Err(Error::Invalid {
            field,
            problem: "is a deactivated member: choose an active one".to_owned(),
        });
    }
    if member.role == Role::Auditor.as_str() {
        // A seat holder is whom the number's PIN is revealed to; an auditor never sees PINs.
        return Err(Error::Invalid {
            field,
            problem: "is an auditor, who never sees PINs: a seat goes to someone who may reveal the number's PIN".to_owned(),
        });
    }
    if member.role == Role::BusinessAdmin.as_str() {
        let sql = "SELECT COUNT(*) FROM member_clients WHERE org_id = $1 AND member_id = $2 AND client_id = $3";
        let n: i64 = on_tx!(tx, conn => sqlx::query_scalar(sql).bind(org).bind(id).bind(client).fetch_one(conn).await)?;
        if n == 0 {
            return Err(Error::Invalid {
                field,
                problem: "is a business admin of other clients and cannot see this number"
                    .to_owned(),
            });
        }
    }
    Ok(member)
}

/// The rules for a member who is not an org admin changing a seat directly. A seat holder
/// may reveal the number's PIN, so ops staff do not seat themselves: another member assigns
/// them, or the holder hands the seat over (a client's business admin may take a seat of
/// its own client's numbers). And a seat an active member holds changes hands only through
/// a handover (proposed, accepted after its checklist, rotating the PIN when the policy
/// says so), or by an org admin: filling an empty seat, or one a departed member left, is
/// what direct assignment is for.
fn check_seat_change(
    caller: &Caller,
    field: &'static str,
    holder: Option<&str>,
    holder_active: bool,
    chosen: &str,
) -> Result<(), Error> {
    if holder == Some(chosen) {
        return Ok(());
    }
    if caller.role == Role::Ops && caller.member_id.as_deref() == Some(chosen) {
        return Err(Error::Invalid {
            field,
            problem: "you cannot put yourself in a seat: another member assigns you, or its holder hands it over to you".to_owned(),
        });
    }
    if holder.is_some() && holder_active {
        return Err(Error::Invalid {
            field,
            problem: "is held by an active member: the seat changes hands through a handover its holder proposes, or an org admin reassigns it".to_owned(),
        });
    }
    Ok(())
}

/// Puts `owner` in the main owner seat and `manager` in the permission manager seat of
/// `phone`, ledgered as `number.assigned` with both seats' old and new holders; an open
/// handover of a seat that changed hands this way is withdrawn (`handover.cancelled`).
/// Saving the seats as they are changes and ledgers nothing.
///
/// # Errors
/// [`Error::Forbidden`] without `numbers:manage`; [`Error::NotFound`] for a number the
/// caller cannot see; [`Error::Invalid`] naming `owner` or `manager` when the two are the
/// same person, not a member, deactivated, or unable to see the number, and for a caller who
/// is not an org admin, when it replaces an active holder or (ops) seats itself (see
/// [`check_seat_change`]); nothing changed on a refusal; database errors.
pub async fn assign(
    store: &crate::Store,
    caller: &Caller,
    phone: &PhoneNumberId,
    owner: &str,
    manager: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    seat(store, caller, phone, owner, manager, None, now).await
}

/// Who held a number's two seats when the caller read them (member ids; `None` for an
/// empty seat).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeatsSeen {
    /// The main owner seen.
    pub owner: Option<String>,
    /// The permission manager seen.
    pub manager: Option<String>,
}

impl SeatsSeen {
    /// Who holds `record`'s seats now.
    #[must_use]
    pub fn of(record: &super::Record) -> SeatsSeen {
        let id = |holder: Option<&super::Person>| holder.map(|p| p.member_id.clone());
        SeatsSeen {
            owner: id(record.owner.as_ref()),
            manager: id(record.manager.as_ref()),
        }
    }

    /// An opaque tag of these holders (the API's entity tag of a number's seats): the same
    /// holders, the same tag; other holders, another.
    #[must_use]
    pub fn tag(&self) -> String {
        use sha2::Digest;
        let holders = json!(["seats", self.owner, self.manager]);
        let digest = sha2::Sha256::digest(holders.to_string().as_bytes());
        hex::encode(&digest[..16])
    }
}

/// [`assign`] for a choice made on seats read earlier (`seen`): seats that changed hands
/// since are not overwritten.
///
/// # Errors
/// As [`assign`], and [`Error::Stale`] when a seat's holder is no longer the one `seen`
/// (nothing changed).
pub async fn assign_seen(
    store: &crate::Store,
    caller: &Caller,
    phone: &PhoneNumberId,
    owner: &str,
    manager: &str,
    seen: &SeatsSeen,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    seat(store, caller, phone, owner, manager, Some(seen), now).await
}

async fn seat(
    store: &crate::Store,
    caller: &Caller,
    phone: &PhoneNumberId,
    owner: &str,
    manager: &str,
    seen: Option<&SeatsSeen>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    caller.require(Permission::ManageNumbers)?;
    let (owner, manager) = (owner.trim(), manager.trim());
    if owner.is_empty() {
        return Err(Error::Invalid {
            field: "owner",
            problem: "a main owner is required".to_owned(),
        });
    }
    if manager.is_empty() {
        return Err(Error::Invalid {
            field: "manager",
            problem: "a permission manager is required".to_owned(),
        });
    }
    if owner == manager {
        return Err(Error::Invalid {
            field: "manager",
            problem: "must be a different person from the main owner".to_owned(),
        });
    }
    let actor = caller.actor()?;
    let mut tx = store.begin_for(&caller.org_id).await?;
    let row = visible(&mut tx, caller, phone, true).await?;
    check_seat_holder(&mut tx, &caller.org_id, &row.client_id, "owner", owner).await?;
    check_seat_holder(&mut tx, &caller.org_id, &row.client_id, "manager", manager).await?;
    if caller.role != Role::Admin {
        let seats = [
            ("owner", row.owner_id.as_deref(), row.owner_active, owner),
            (
                "manager",
                row.manager_id.as_deref(),
                row.manager_active,
                manager,
            ),
        ];
        for (field, holder, holder_active, chosen) in seats {
            check_seat_change(caller, field, holder, holder_active, chosen)?;
        }
    }
    if row.owner_id.as_deref() == Some(owner) && row.manager_id.as_deref() == Some(manager) {
        tx.rollback().await?;
        return Ok(());
    }
    // Only a save that would change the seats is stale: the same choice posted twice (a
    // double click, a resubmitted form) finds it made and changes nothing.
    if let Some(seen) = seen
        && (seen.owner != row.owner_id || seen.manager != row.manager_id)
    {
        tx.rollback().await?;
        return Err(Error::Stale {
            what: "the number's seats",
        });
    }
    exec!(
        tx,
        "UPDATE phone_numbers SET main_owner_id = $3, permission_manager_id = $4 WHERE org_id = $1 AND id = $2",
        &caller.org_id,
        &row.id,
        owner,
        manager
    )?;
    let draft = crate::custody::protocol_event(
        "number.assigned",
        format!("phone:{}", row.meta_id),
        &actor,
        json!({
            "owner": { "from": row.owner_id, "to": owner },
            "manager": { "from": row.manager_id, "to": manager },
        }),
    )?;
    ledger::append(&mut tx, &caller.org_id, now, draft).await?;
    crate::handovers::withdraw_overtaken(&mut tx, caller, &row.id, owner, manager, now).await?;
    tx.commit().await?;
    Ok(())
}
