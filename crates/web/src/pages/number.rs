//! One number's record: Meta's facts, its seats, what it is for, its PIN state and
//! versions (never a PIN), its health and its ledger events.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use governance::access::{Caller, Permission};
use governance::custody::PinState;
use governance::handovers::{Handover, Seat};
use governance::health::Problem;
use governance::members::Member;
use governance::numbers::{self, ChannelKind, Record};
use graph::PhoneNumberId;

use crate::AppState;
use crate::auth::{Authorized, ReadNumbers};
use crate::error::AppError;
use crate::page::{PageContext, render};
use crate::pages::actions::details::shown_back_channels;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/numbers/{id}", get(show))
}

fn when(at: Option<DateTime<Utc>>) -> String {
    at.map(super::time::minute)
        .unwrap_or_else(|| "—".to_owned())
}

fn text(value: Option<String>) -> String {
    value
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "—".to_owned())
}

/// A channel's kind as the page words it, shown and typed.
pub(crate) fn channel(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Email => "email",
        ChannelKind::WebForm => "web form",
        ChannelKind::Phone => "phone",
        ChannelKind::Messenger => "messenger",
        ChannelKind::Other => "other",
    }
}

/// A label and its value, for the facts tables.
struct Fact {
    label: &'static str,
    value: String,
}

fn fact(label: &'static str, value: String) -> Fact {
    Fact { label, value }
}

struct Version {
    version: i64,
    status: String,
    created: String,
    confirmed: String,
    ended: String,
    reason: String,
    revealed: String,
}

/// A member the seat selects offer.
struct Choice {
    id: String,
    name: String,
    owner: bool,
    manager: bool,
}

/// An open handover of one of the number's seats.
struct HandoverView {
    id: String,
    seat: &'static str,
    from: String,
    to: String,
    note: String,
    /// Who proposed it, as the ledger names its actor: its outgoing holder or an org admin
    /// (a person), an API token or the command line.
    proposer: String,
    proposed: String,
    /// The caller is the incoming member: show the checklist.
    incoming: bool,
    /// The caller may withdraw it.
    withdraw: bool,
    /// Its checklist form's id (`accept-<id>`).
    form: String,
    /// The org's policy rotates the PIN on every handover: "Rotate the PIN now" is ticked
    /// and fixed.
    rotates: bool,
    /// The checklist's boxes: as ticked when the form was refused.
    ticked: Ticked,
}

/// Which forms the caller gets: the domain decides again on every post.
#[expect(
    clippy::struct_excessive_bools,
    reason = "one flag per form of the page, read only by its template"
)]
struct Forms {
    manage: bool,
    /// A seat the caller may hand over has no open handover (see [`handover_seats`]).
    propose: bool,
    take: bool,
    rotate: bool,
    /// A new PIN is pending (in flight or unconfirmed): re-send it.
    resume: bool,
    release: bool,
    out_of_band: bool,
    reveal: bool,
}

/// The details form's fields, pre-filled with what is recorded.
pub(crate) struct Details {
    pub(crate) usage: String,
    pub(crate) activation_date: String,
    pub(crate) recovery_email: String,
    /// One `kind: value` per line.
    pub(crate) channels: String,
    /// The fingerprint of the details the form was shown (`Metadata::fingerprint`); empty
    /// for a form sent without one, which saves unchecked.
    pub(crate) seen: String,
}

/// What a refused form held, shown back in it so that nothing typed is lost: the form's
/// fields as sent, the others as recorded.
#[derive(Default)]
pub(crate) enum Typed {
    #[default]
    Nothing,
    /// The member ids chosen for the two seats, and the holders the form was shown (`None`
    /// for a form sent without them).
    Seats {
        owner: String,
        manager: String,
        seen: Option<numbers::SeatsSeen>,
    },
    Details(Details),
    /// The review form's note and day.
    Review {
        note: String,
        reviewed_on: String,
    },
    /// The out-of-band form's note and day.
    OutOfBand {
        note: String,
        changed_on: String,
    },
    /// `seat`, `to_member` and `note` of the handover proposal.
    Handover {
        seat: String,
        to_member: String,
        note: String,
    },
    /// The boxes ticked on the checklist of open handover `handover`.
    Checklist {
        handover: String,
        ticked: Ticked,
    },
}

impl Typed {
    /// What was typed, to be checked against the record as the page shows it now.
    pub(crate) fn seen_now(self) -> Typed {
        match self {
            Typed::Seats { owner, manager, .. } => Typed::Seats {
                owner,
                manager,
                seen: None,
            },
            Typed::Details(details) => Typed::Details(Details {
                seen: String::new(),
                ..details
            }),
            other => other,
        }
    }
}

/// The boxes of a handover's checklist, as ticked.
#[derive(Clone, Copy, Default)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "one flag per checkbox of the form"
)]
pub(crate) struct Ticked {
    pub(crate) recovery_email_confirmed: bool,
    pub(crate) backup_channels_confirmed: bool,
    pub(crate) pin_escrowed: bool,
    pub(crate) rotate: bool,
}

/// A refused form's problem: the field at fault, and the message naming it as the form's
/// label does.
pub(crate) struct Refusal {
    /// The fields at fault (a form checked whole may refuse several at once).
    fields: Vec<&'static str>,
    pub(crate) message: String,
    /// 422 for input at fault; 409 for a form whose record changed since it was shown.
    status: StatusCode,
}

impl Refusal {
    pub(crate) fn new(field: &'static str, problem: &str) -> Refusal {
        Refusal::of(field, problem, &Typed::Nothing)
    }

    /// The refusal of `field`, in the words of the form `typed` was typed into.
    pub(crate) fn of(field: &'static str, problem: &str, typed: &Typed) -> Refusal {
        let label = match (typed, field) {
            (Typed::Handover { .. }, "note") => "Note for the incoming member",
            (Typed::OutOfBand { .. }, "note") => "What happened",
            // A checkbox is named by what ticking it confirms.
            (_, "recovery_email_confirmed") => CHECKED_RECOVERY_EMAIL,
            (_, "backup_channels_confirmed") => CHECKED_BACKUP_CHANNELS,
            (_, "pin_escrowed") => CHECKED_PIN_ESCROWED,
            _ => label(field),
        };
        let cleared = match typed {
            Typed::Review { note, .. }
            | Typed::Handover { note, .. }
            | Typed::OutOfBand { note, .. }
                if field == "note" && governance::numbers::holds_six_digits(note) =>
            {
                cleared("The note was")
            }
            Typed::Details(details)
                if field == "usage" && governance::numbers::holds_six_digits(&details.usage) =>
            {
                cleared("The usage was")
            }
            Typed::Details(details)
                if field == "backup_channels" && shown_back_channels(&details.channels).1 =>
            {
                cleared("The lines holding them were")
            }
            _ => String::new(),
        };
        Refusal {
            fields: vec![field],
            message: format!("{label}: {problem}{cleared}"),
            status: StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    /// The refusal of a form shown before its record changed: nothing was saved, and the
    /// form comes back holding what was typed, now checked against the record as it is.
    pub(crate) fn stale(typed: &Typed) -> Refusal {
        let message = match typed {
            Typed::Seats { .. } => {
                "These seats changed since this page was opened, so nothing was saved. The \
                 record above shows who holds them now; your choice is below: save it again if \
                 it still stands."
            }
            Typed::Details(_) => {
                "These details changed since this page was opened, so nothing was saved. The \
                 record above shows them as they are now; what you typed is below: save it \
                 again if it still stands."
            }
            _ => {
                "This number changed since this page was opened, so nothing was saved. The \
                 record above shows it as it is now; what you typed is below."
            }
        };
        Refusal {
            fields: Vec::new(),
            message: message.to_owned(),
            status: StatusCode::CONFLICT,
        }
    }

    /// Several refusals of one form, reported together in the form's order.
    pub(crate) fn all(refusals: Vec<Refusal>) -> Refusal {
        let (fields, messages): (Vec<_>, Vec<_>) =
            refusals.into_iter().map(|r| (r.fields, r.message)).unzip();
        Refusal {
            fields: fields.concat(),
            message: messages.join("; "),
            status: StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

/// The handover checklist's boxes, as the form words them.
pub(crate) const CHECKED_RECOVERY_EMAIL: &str =
    "“The recovery email is right and the business can reach it”";
pub(crate) const CHECKED_BACKUP_CHANNELS: &str = "“The backup channels work”";
pub(crate) const CHECKED_PIN_ESCROWED: &str = "“pinward holds the PIN”";

/// The words a number's forms label `field` with.
fn label(field: &str) -> &str {
    match field {
        "owner" => "Main owner",
        "manager" => "Permission manager",
        "usage" => "Usage",
        "activation_date" => "Activation date",
        "recovery_email" => "Recovery email",
        "backup_channels" => "Backup channels",
        "note" => "Note",
        "reviewed_on" => "Reviewed on",
        "changed_on" => "Changed on",
        "seat" => "Seat",
        "to_member" => "Incoming member",
        "handover" => "Handover",
        "reason" => "Reason",
        "age_recipient" => "Client's age recipient",
        other => other,
    }
}

/// What a refusal adds when it does not show back what was typed (`what` "was"/"were"),
/// so the user knows to type it again.
pub(crate) fn cleared(what: &str) -> String {
    format!(
        " {what} cleared, so that nothing that may be a PIN is shown again: type it again without the digits."
    )
}

/// A note or reason typed into a refused form, to show back; one that may hold a PIN (a run
/// of six digits, refused for that) is dropped: a PIN is never put on a page unasked.
pub(crate) fn shown_back(text: String) -> String {
    if governance::numbers::holds_six_digits(&text) {
        String::new()
    } else {
        text
    }
}

/// The free-text and choice fields of the review and handover forms, empty unless a
/// refused form filled them.
#[derive(Default)]
struct Drafts {
    review_note: String,
    reviewed_on: String,
    handover_seat: String,
    handover_to: String,
    handover_note: String,
    out_of_band_note: String,
    out_of_band_on: String,
}

struct Event {
    seq: i64,
    /// When, to the second, and as the chain holds it.
    at: String,
    at_stored: String,
    /// The actor's id, and how a person knows it (a member's name and email).
    actor: String,
    actor_name: String,
    action: String,
    details: Vec<super::event_details::Detail>,
}

#[derive(Template)]
#[template(path = "numbers/show.html")]
struct NumberPage {
    page: PageContext,
    id: String,
    /// A refused form's field and problem.
    problem: Option<Refusal>,
    /// The form it came from (`assign`, `details`, `review`, `propose`, `accept-<id>`),
    /// which shows it: the form's address carries its id, so the page opens there. None
    /// (a form without fields, or one no longer on the page): shown above the record.
    refused_form: Option<String>,
    forms: Forms,
    members: Vec<Choice>,
    /// Who holds a seat but is not offered for it (left or lost access), so the seat's
    /// picker starts empty and says why.
    seats_left: SeatsLeft,
    handovers: Vec<HandoverView>,
    /// The rotation a reveal queued and no worker ran yet.
    rotation_queued: Option<String>,
    /// Why Meta would refuse a PIN change now (the org's credential): the forms that ask
    /// Meta are withheld and this says why.
    meta_refuses: Option<String>,
    display: String,
    pin_state: &'static str,
    meta: Vec<Fact>,
    custody: Vec<Fact>,
    about: Vec<Fact>,
    channels: Vec<String>,
    details: Details,
    /// Release would be offered, but the client has no age recipient to seal the PIN to.
    release_needs_recipient: bool,
    /// The caller holds a seat or is an org admin: a handover form it sent comes back.
    hands_over: bool,
    /// The seats the handover form offers, as `(value, label)`.
    handover_seats: Vec<(&'static str, &'static str)>,
    /// The seat holders the seats form was shown, which it carries back.
    seats_seen: numbers::SeatsSeen,
    drafts: Drafts,
    /// Today's date, the latest day the date fields take.
    today: String,
    /// The earliest day the date fields take (`numbers::EARLIEST_DAY`).
    earliest: String,
    problems: Vec<&'static str>,
    versions: Vec<Version>,
    /// The current PIN version, which the Rotate PIN form carries.
    current_version: Option<i64>,
    events: Vec<Event>,
}

/// The names of seat holders the seat pickers do not offer.
#[derive(Default)]
struct SeatsLeft {
    owner: Option<String>,
    manager: Option<String>,
}

impl NumberPage {
    /// The refusal to show inside `form`, when it was that form's.
    fn problem_in(&self, form: &str) -> Option<&str> {
        self.problem
            .as_ref()
            .filter(|_| self.refused_form.as_deref() == Some(form))
            .map(|p| p.message.as_str())
    }

    /// The refusal to show above the record: one no form shows.
    fn problem_on_top(&self) -> Option<&str> {
        self.problem
            .as_ref()
            .filter(|_| self.refused_form.is_none())
            .map(|p| p.message.as_str())
    }

    /// Whether the PIN part of the actions has anything to show this caller: a form, or a
    /// word on why there is none.
    fn pin_block(&self) -> bool {
        let f = &self.forms;
        f.reveal
            || f.take
            || f.rotate
            || f.resume
            || f.release
            || f.out_of_band
            || self.release_needs_recipient
            || self.rotation_queued.is_some()
            || self.meta_refuses.is_some()
            || self.pin_state == "released"
    }

    /// Whether the actions section has anything for this caller.
    fn any_action(&self) -> bool {
        self.forms.manage || self.forms.propose || !self.handovers.is_empty() || self.pin_block()
    }

    /// Whether `field` of `form` is the one refused (its input is marked invalid).
    fn invalid(&self, form: &str, field: &str) -> bool {
        self.problem_in(form).is_some()
            && self
                .problem
                .as_ref()
                .is_some_and(|p| p.fields.contains(&field))
    }

    /// The ids a seat picker's `aria-describedby` names: the form's refusal when it is
    /// about this seat, and the note that its holder left.
    fn seat_described_by(&self, seat: &str) -> Option<String> {
        let left = match seat {
            "owner" => self.seats_left.owner.is_some(),
            _ => self.seats_left.manager.is_some(),
        };
        let ids: Vec<String> = [
            self.invalid("assign", seat)
                .then(|| "assign-problem".to_owned()),
            left.then(|| format!("{seat}-left")),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!ids.is_empty()).then(|| ids.join(" "))
    }
}

async fn show(
    State(state): State<AppState>,
    who: Authorized<ReadNumbers>,
    page: PageContext,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let phone = phone(&id)?;
    record_page(&state, &who.caller, page, &phone, None, Typed::Nothing).await
}

/// The number a path names; an id that cannot exist is as absent as one of another org.
pub(super) fn phone(id: &str) -> Result<PhoneNumberId, AppError> {
    PhoneNumberId::parse(id).map_err(|_| {
        AppError::Domain(governance::Error::NotFound {
            what: "phone number",
        })
    })
}

/// The record page of `phone`; with `problem` (a refused form's field and problem) it is
/// answered with the problem's status (422 for input at fault, 409 for a form shown before
/// the record changed), the forms shown again above the unchanged record, the refused one
/// holding what was `typed` into it.
pub(crate) async fn record_page(
    state: &AppState,
    caller: &Caller,
    page: PageContext,
    phone: &PhoneNumberId,
    problem: Option<Refusal>,
    typed: Typed,
) -> Result<Response, AppError> {
    let record = numbers::record(&state.store, caller, phone, Utc::now()).await?;
    let members = governance::members::list(&state.store, caller).await?;
    let queued = governance::jobs::queued_for(&state.store, caller, phone).await?;
    let names = governance::history::names(&state.store, caller, &[]).await?;
    let status = problem.as_ref().map_or(StatusCode::OK, |p| p.status);
    // A released number is offered back into custody, which sets a PIN at Meta too.
    let offers_pin_changes = caller.may(Permission::Custody);
    let meta_refuses = if offers_pin_changes {
        governance::credentials::custody_blocker(&state.store, caller, Utc::now())
            .await?
            // An On-Premises number takes its PIN with the deployment's admin login: only a
            // missing credential (custody needs one stored) stands in its way.
            .filter(|why| {
                record.meta.connector != "on_prem"
                    || *why == governance::credentials::Unusable::Missing
            })
            .map(|why| refusal(&why))
    } else {
        None
    };
    let client_id = record.client.id.clone();
    let mut number = number_page(page, caller, record, &members, &names, problem);
    // A released number's handover rotates nothing, whatever the policy.
    if number.handovers.iter().any(|h| h.incoming) && number.pin_state != "released" {
        let rotates = governance::policies::get(&state.store, caller)
            .await?
            .rotate_on_handover;
        for h in &mut number.handovers {
            h.rotates = rotates;
        }
    }
    number.refused_form = shown_back_in(&mut number, typed);
    if number.forms.release {
        // A release seals the PIN to the client's key: without one, say so, not a 422.
        let clients = governance::clients::list(&state.store, caller).await?;
        let sealable = clients
            .iter()
            .any(|c| c.id == client_id && c.age_recipient.is_some());
        number.forms.release = sealable;
        number.release_needs_recipient = !sealable;
    }
    if meta_refuses.is_some() {
        number.forms.take = false;
        number.forms.rotate = false;
        number.forms.resume = false;
    }
    let html = render(&NumberPage {
        rotation_queued: queued,
        meta_refuses,
        ..number
    })?;
    Ok((status, html).into_response())
}

/// Puts what was `typed` into its form on `number`; the form's id, if the page shows it.
fn shown_back_in(number: &mut NumberPage, typed: Typed) -> Option<String> {
    let manage = number.forms.manage;
    match typed {
        Typed::Nothing => None,
        Typed::Seats {
            owner,
            manager,
            seen,
        } => {
            for m in &mut number.members {
                m.owner = m.id == owner;
                m.manager = m.id == manager;
            }
            // Checked against the seats the form was first shown, until a save says
            // they changed (then `seen` is `None`, and the record's holders are carried).
            if let Some(seen) = seen {
                number.seats_seen = seen;
            }
            manage.then(|| "assign".to_owned())
        }
        Typed::Details(details) => {
            let seen = if details.seen.is_empty() {
                std::mem::take(&mut number.details.seen)
            } else {
                details.seen
            };
            number.details = Details {
                usage: shown_back(details.usage),
                channels: shown_back_channels(&details.channels).0,
                seen,
                ..details
            };
            manage.then(|| "details".to_owned())
        }
        Typed::Review { note, reviewed_on } => {
            number.drafts.review_note = shown_back(note);
            number.drafts.reviewed_on = shown_back(reviewed_on);
            manage.then(|| "review".to_owned())
        }
        Typed::OutOfBand { note, changed_on } => {
            number.drafts.out_of_band_note = shown_back(note);
            number.drafts.out_of_band_on = shown_back(changed_on);
            number.forms.out_of_band.then(|| "out-of-band".to_owned())
        }
        Typed::Handover {
            seat,
            to_member,
            note,
        } => {
            // A seat refused (not the caller's, or its handover opened meanwhile) is still
            // shown, so the form comes back with the note typed.
            if let Ok(refused) = Seat::parse(&seat)
                && number.hands_over
            {
                let choice = seat_choice(refused);
                if !number.handover_seats.contains(&choice) {
                    number.handover_seats.push(choice);
                }
                number.forms.propose = true;
            }
            number.drafts = Drafts {
                handover_seat: seat,
                handover_to: to_member,
                handover_note: shown_back(note),
                ..Drafts::default()
            };
            number.forms.propose.then(|| "propose".to_owned())
        }
        Typed::Checklist { handover, ticked } => {
            // A handover closed meanwhile has no checklist left to show it in.
            let open = number
                .handovers
                .iter_mut()
                .find(|h| h.id == handover && h.incoming)?;
            open.ticked = ticked;
            Some(open.form.clone())
        }
    }
}

/// Why Meta would refuse a PIN change, in words for the record page.
fn refusal(why: &governance::credentials::Unusable) -> String {
    use governance::credentials::Unusable;
    match why {
        Unusable::Missing => "The org has no Graph credential yet".to_owned(),
        Unusable::Invalid => {
            "Meta said at the last check that the org's Graph token is not valid".to_owned()
        }
        Unusable::Expired(at) => format!("The org's Graph token expired on {}", when(Some(*at))),
        Unusable::Lacks(scope, fails) => {
            format!("The org's Graph token lacks the {scope} permission, so Meta refuses {fails}")
        }
    }
}

fn forms(caller: &Caller, r: &Record) -> Forms {
    let custody = caller.may(Permission::Custody);
    let state = r.pin_state;
    let pending = matches!(state, PinState::Rotating | PinState::Uncertain);
    Forms {
        manage: caller.may(Permission::ManageNumbers),
        propose: !handover_seats(caller, r).is_empty(),
        // A released number is taken back the same way (`Custodian::take`).
        take: custody && matches!(state, PinState::Unknown | PinState::Released),
        rotate: custody && state == PinState::Escrowed,
        resume: custody && pending,
        release: custody && state == PinState::Escrowed,
        out_of_band: custody && !matches!(state, PinState::Released | PinState::Unknown),
        reveal: revealable(caller, r).is_ok(),
    }
}

/// The seats `caller` may propose to hand over (`handovers::proposable_seats`), as the
/// handover form offers them: `(value, label)`.
fn handover_seats(caller: &Caller, r: &Record) -> Vec<(&'static str, &'static str)> {
    governance::handovers::proposable_seats(caller, r)
        .into_iter()
        .map(seat_choice)
        .collect()
}

fn seat_choice(seat: Seat) -> (&'static str, &'static str) {
    match seat {
        Seat::Owner => ("owner", "Main owner"),
        Seat::Manager => ("manager", "Permission manager"),
    }
}

/// Whether `caller` may reveal the number's PIN now, or why not: the person (its seats or
/// an org admin), a PIN in escrow, and none pending (Meta may already hold a pending PIN,
/// so the current one may not be Meta's).
pub(crate) fn revealable(caller: &Caller, r: &Record) -> Result<(), governance::Error> {
    let owner = r.owner.as_ref().map(|p| p.member_id.as_str());
    let manager = r.manager.as_ref().map(|p| p.member_id.as_str());
    if !governance::custody::may_reveal(caller, owner, manager) {
        return Err(governance::Error::Forbidden {
            needed: "pin:reveal",
        });
    }
    if let Some(refused) = governance::custody::reveal_refused(r.pin_state) {
        return Err(governance::Error::PinState {
            state: r.pin_state.as_str(),
            refused,
        });
    }
    if r.current_version().is_none() {
        return Err(governance::Error::NotFound {
            what: "escrowed PIN",
        });
    }
    Ok(())
}

fn handover_view(
    h: Handover,
    caller: &Caller,
    name: &dyn Fn(Option<&str>) -> String,
    names: &governance::history::Names,
) -> HandoverView {
    HandoverView {
        seat: match h.seat {
            governance::handovers::Seat::Owner => "main owner",
            governance::handovers::Seat::Manager => "permission manager",
        },
        from: name(h.from_member_id.as_deref()),
        proposer: names.name(&h.proposed_by).to_owned(),
        to: name(Some(&h.to_member_id)),
        incoming: caller.member_id.as_deref() == Some(h.to_member_id.as_str()),
        withdraw: h.may_be_withdrawn_by(caller),
        proposed: when(Some(h.proposed_at)),
        note: h.note,
        form: format!("accept-{}", h.id),
        rotates: false,
        ticked: Ticked::default(),
        id: h.id,
    }
}

fn number_page(
    page: PageContext,
    caller: &Caller,
    r: Record,
    members: &[Member],
    names: &governance::history::Names,
    problem: Option<Refusal>,
) -> NumberPage {
    let forms = forms(caller, &r);
    let handover_seats = handover_seats(caller, &r);
    let hands_over = governance::handovers::hands_over(caller, &r);
    let owner_id = r.owner.as_ref().map(|p| p.member_id.clone());
    let manager_id = r.manager.as_ref().map(|p| p.member_id.clone());
    let name = |id: Option<&str>| match id {
        None => "nobody".to_owned(),
        Some(id) => members
            .iter()
            .find(|m| m.id == id)
            .map_or_else(|| id.to_owned(), |m| m.display_name.clone()),
    };
    let handovers = r
        .open_handovers
        .clone()
        .into_iter()
        .map(|h| handover_view(h, caller, &name, names))
        .collect();
    // Only whom the seat rules accept is offered.
    let members: Vec<Choice> = members
        .iter()
        .filter(|m| m.may_hold_seat_of(&r.client.id))
        .map(|m| Choice {
            owner: owner_id.as_deref() == Some(m.id.as_str()),
            manager: manager_id.as_deref() == Some(m.id.as_str()),
            name: format!("{} · {}", m.display_name, m.role.as_str()),
            id: m.id.clone(),
        })
        .collect();
    let left = |holder: Option<&numbers::Person>| {
        holder
            .filter(|p| !members.iter().any(|m| m.id == p.member_id))
            .map(|p| p.name.clone())
    };
    let seats_left = SeatsLeft {
        owner: left(r.owner.as_ref()),
        manager: left(r.manager.as_ref()),
    };
    let current_version = r.current_version();
    let seats_seen = numbers::SeatsSeen {
        owner: owner_id,
        manager: manager_id,
    };
    let Record {
        meta,
        waba,
        client,
        owner,
        manager,
        metadata,
        pin_state,
        escrow_stale,
        attention_reason,
        versions,
        last_reviewed_at,
        review_due,
        health,
        events,
        ..
    } = r;
    NumberPage {
        page,
        id: meta.phone_number_id.clone(),
        problem,
        refused_form: None,
        forms,
        members,
        seats_left,
        handovers,
        rotation_queued: None,
        meta_refuses: None,
        display: meta.display_phone_number.clone(),
        pin_state: pin_state.as_str(),
        meta: vec![
            fact("Phone number id", meta.phone_number_id),
            fact("Verified name", text(meta.verified_name)),
            fact("Client", client.name),
            fact("WABA", format!("{} ({})", waba.name, waba.meta_waba_id)),
            fact("Quality", text(meta.quality_rating)),
            fact("Name status", text(meta.name_status)),
            fact("Platform", text(meta.platform_type)),
            fact("Code verification", text(meta.code_verification_status)),
            fact("Last onboarded", when(meta.last_onboarded_at)),
            fact("Connector", meta.connector),
            fact("First seen", when(Some(meta.first_seen_at))),
            fact("Last synced", when(Some(meta.last_synced_at))),
        ],
        custody: vec![
            fact("Main owner", super::numbers::person(owner.as_ref())),
            fact(
                "Permission manager",
                super::numbers::person(manager.as_ref()),
            ),
            fact("PIN state", pin_state.as_str().to_owned()),
            fact(
                "Escrow",
                match (escrow_stale, pin_state) {
                    (true, _) => "stale: changed outside pinward",
                    (false, PinState::Unknown) => "nothing escrowed",
                    (false, PinState::Rotating) => {
                        "a new PIN is escrowed and in flight: Meta holds it or the current one"
                    }
                    (false, PinState::Uncertain) => {
                        "a new PIN is escrowed but unconfirmed: Meta holds it or the current one"
                    }
                    (false, PinState::Escrowed) => "in step with Meta",
                    (false, PinState::Released) => "released to the client, who may change it",
                }
                .to_owned(),
            ),
            fact("Needs attention", text(attention_reason)),
            fact("Last reviewed", when(last_reviewed_at)),
            fact("Next review due", review_due.describe()),
        ],
        about: vec![
            fact("Usage", text(metadata.usage.clone())),
            fact(
                "Activation date",
                metadata
                    .activation_date
                    .map_or_else(|| "—".to_owned(), |d| d.to_string()),
            ),
            fact("Recovery email", text(metadata.recovery_email.clone())),
        ],
        details: Details {
            usage: metadata.usage.clone().unwrap_or_default(),
            activation_date: metadata
                .activation_date
                .map(|d| d.to_string())
                .unwrap_or_default(),
            recovery_email: metadata.recovery_email.clone().unwrap_or_default(),
            channels: super::actions::details::channel_lines(&metadata.backup_channels),
            seen: metadata.fingerprint(),
        },
        seats_seen,
        handover_seats,
        hands_over,
        release_needs_recipient: false,
        drafts: Drafts::default(),
        today: Utc::now().date_naive().to_string(),
        earliest: governance::numbers::EARLIEST_DAY.to_string(),
        channels: metadata
            .backup_channels
            .into_iter()
            .map(|c| format!("{}: {}", channel(c.kind), c.value))
            .collect(),
        problems: health.into_iter().map(Problem::describe).collect(),
        current_version,
        versions: versions
            .into_iter()
            .map(|v| Version {
                version: v.version,
                status: v.status,
                created: when(Some(v.created_at)),
                confirmed: when(v.confirmed_at),
                ended: when(v.ended_at),
                reason: text(v.failure_reason),
                revealed: when(v.revealed_at),
            })
            .collect(),
        events: events
            .into_iter()
            .map(|e| Event {
                seq: e.seq,
                at: DateTime::parse_from_rfc3339(&e.at).map_or_else(
                    |_| e.at.clone(),
                    |t| format!("{} UTC", super::time::second(t.with_timezone(&Utc))),
                ),
                at_stored: e.at,
                actor_name: names.name(&e.actor).to_owned(),
                actor: e.actor,
                action: e.action,
                details: super::event_details::readable_value(&e.details, names),
            })
            .collect(),
    }
}
