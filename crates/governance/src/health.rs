//! The health of a number: the list of what is wrong with it (DESIGN.md "What a number
//! record holds"). A pure function of the number's facts, the org policy and the time, so
//! the list page, the detail page, the filter and the benchmark all agree.
//!
//! Recovery email domains are classified against two short, documented lists
//! ([`PERSONAL_DOMAINS`], [`DISPOSABLE_DOMAINS`]): a recovery email there belongs to a
//! person or to nobody, and is lost when that person leaves.

use chrono::{DateTime, Utc};

use crate::custody::PinState;
use crate::policies::Policy;

pub(crate) mod sql;

/// Mailbox providers for individuals. A number's recovery email there belongs to a person,
/// not to the business.
pub const PERSONAL_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "ymail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "mail.com",
    "mail.ru",
    "yandex.ru",
    "yandex.com",
    "qq.com",
    "163.com",
    "126.com",
    "zoho.com",
    "fastmail.com",
    "hey.com",
];

/// Throwaway mailbox services: nobody will read a recovery email sent there.
pub const DISPOSABLE_DOMAINS: &[&str] = &[
    "mailinator.com",
    "guerrillamail.com",
    "sharklasers.com",
    "10minutemail.com",
    "temp-mail.org",
    "tempmail.com",
    "yopmail.com",
    "trashmail.com",
    "getnada.com",
    "dispostable.com",
    "maildrop.cc",
    "throwawaymail.com",
    "fakeinbox.com",
];

/// What kind of mailbox an email address is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MailboxKind {
    /// The business's own (or any unlisted) domain.
    Business,
    /// A provider for individuals ([`PERSONAL_DOMAINS`]).
    Personal,
    /// A throwaway mailbox ([`DISPOSABLE_DOMAINS`]).
    Disposable,
}

/// Classifies an address by its domain (case-insensitive; subdomains of a listed domain
/// count as that domain).
#[must_use]
pub fn mailbox_kind(email: &str) -> MailboxKind {
    let domain = email
        .rsplit_once('@')
        .map_or("", |(_, d)| d)
        .trim()
        .to_ascii_lowercase();
    let listed = |list: &[&str]| {
        list.iter().any(|d| {
            domain == *d
                || domain
                    .strip_suffix(d)
                    .is_some_and(|rest| rest.ends_with('.'))
        })
    };
    if listed(DISPOSABLE_DOMAINS) {
        MailboxKind::Disposable
    } else if listed(PERSONAL_DOMAINS) {
        MailboxKind::Personal
    } else {
        MailboxKind::Business
    }
}

/// One thing wrong with a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = HealthProblem))]
pub enum Problem {
    /// Nobody holds the main owner seat.
    NoOwner,
    /// Nobody holds the permission manager seat.
    NoManager,
    /// One person holds both seats.
    SameOwnerAndManager,
    /// The main owner is a deactivated member.
    OwnerDeparted,
    /// The permission manager is a deactivated member.
    ManagerDeparted,
    /// pinward holds no PIN of the number (the take-custody queue).
    PinNotEscrowed,
    /// The current PIN is older than the policy allows.
    PinTooOld,
    /// The current PIN was shown to a person and has not been rotated since, while the
    /// policy asks for a rotation after every reveal (a failed or paused rotation).
    PinRevealed,
    /// The next review is past due.
    ReviewOverdue,
    /// No recovery email is recorded.
    NoRecoveryEmail,
    /// The recovery email is at a provider for individuals.
    PersonalRecoveryEmail,
    /// The recovery email is at a throwaway mailbox service.
    DisposableRecoveryEmail,
    /// Fewer than two backup contact channels.
    FewBackupChannels,
    /// The PIN was changed outside pinward; the escrow is stale.
    OutOfBandChange,
    /// Custody gave up retrying and a person must look (see the attention reason).
    NeedsAttention,
    /// Meta no longer returns the number.
    VanishedAtMeta,
}

impl Problem {
    /// Every problem, in the order they are reported.
    pub const ALL: [Problem; 16] = [
        Problem::NoOwner,
        Problem::NoManager,
        Problem::SameOwnerAndManager,
        Problem::OwnerDeparted,
        Problem::ManagerDeparted,
        Problem::PinNotEscrowed,
        Problem::PinTooOld,
        Problem::PinRevealed,
        Problem::ReviewOverdue,
        Problem::NoRecoveryEmail,
        Problem::PersonalRecoveryEmail,
        Problem::DisposableRecoveryEmail,
        Problem::FewBackupChannels,
        Problem::OutOfBandChange,
        Problem::NeedsAttention,
        Problem::VanishedAtMeta,
    ];

    /// The code used in filters and the API.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Problem::NoOwner => "no_owner",
            Problem::NoManager => "no_manager",
            Problem::SameOwnerAndManager => "same_owner_and_manager",
            Problem::OwnerDeparted => "owner_departed",
            Problem::ManagerDeparted => "manager_departed",
            Problem::PinNotEscrowed => "pin_not_escrowed",
            Problem::PinTooOld => "pin_too_old",
            Problem::PinRevealed => "pin_revealed",
            Problem::ReviewOverdue => "review_overdue",
            Problem::NoRecoveryEmail => "no_recovery_email",
            Problem::PersonalRecoveryEmail => "personal_recovery_email",
            Problem::DisposableRecoveryEmail => "disposable_recovery_email",
            Problem::FewBackupChannels => "few_backup_channels",
            Problem::OutOfBandChange => "out_of_band_change",
            Problem::NeedsAttention => "needs_attention",
            Problem::VanishedAtMeta => "vanished_at_meta",
        }
    }

    /// What a person reads.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Problem::NoOwner => "no main owner",
            Problem::NoManager => "no permission manager",
            Problem::SameOwnerAndManager => "the same person holds both seats",
            Problem::OwnerDeparted => "the main owner left or lost access",
            Problem::ManagerDeparted => "the permission manager left or lost access",
            Problem::PinNotEscrowed => "PIN not escrowed",
            Problem::PinTooOld => "PIN older than the policy allows",
            Problem::PinRevealed => "PIN revealed, not rotated since",
            Problem::ReviewOverdue => "review overdue",
            Problem::NoRecoveryEmail => "no recovery email",
            Problem::PersonalRecoveryEmail => "recovery email on a personal mailbox",
            Problem::DisposableRecoveryEmail => "recovery email on a disposable mailbox",
            Problem::FewBackupChannels => "fewer than two backup channels",
            Problem::OutOfBandChange => "PIN changed outside pinward",
            Problem::NeedsAttention => "needs attention",
            Problem::VanishedAtMeta => "no longer listed at Meta",
        }
    }

    /// Parses a problem code.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] naming `problem`.
    pub fn parse(text: &str) -> Result<Problem, crate::Error> {
        Problem::ALL
            .into_iter()
            .find(|p| p.as_str() == text)
            .ok_or_else(|| crate::Error::Invalid {
                field: "problem",
                problem: "not a known health problem".to_owned(),
            })
    }
}

/// A seat of a number and whether its holder is still an active member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatHolder {
    /// The member holding it.
    pub member_id: String,
    /// False once the member can no longer act for the number: it (or its user) is
    /// deactivated, it was made an auditor, or as a business admin it lost the number's client.
    pub active: bool,
}

/// What health looks at.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The PIN state.
    pub pin_state: PinState,
    /// The escrowed PIN was changed out of band.
    pub escrow_stale: bool,
    /// Why custody needs a person, if it does.
    pub attention_reason: Option<String>,
    /// Meta no longer returns the number.
    pub vanished: bool,
    /// The recorded recovery email.
    pub recovery_email: Option<String>,
    /// How many backup contact channels are recorded.
    pub backup_channels: usize,
    /// The main owner seat.
    pub owner: Option<SeatHolder>,
    /// The permission manager seat.
    pub manager: Option<SeatHolder>,
    /// When the current PIN version was confirmed by Meta.
    pub pin_set_at: Option<DateTime<Utc>>,
    /// The current PIN version was revealed to a person (a rotation's new version never is).
    pub pin_revealed: bool,
    /// When the next review is due (none before the first review).
    pub next_review_due: Option<DateTime<Utc>>,
    /// When pinward first saw the number (a never-reviewed number is due one cadence later).
    pub first_seen_at: DateTime<Utc>,
}

/// The moments the clock-dependent rules compare against, and the policy's switches.
/// Computed here once, so [`check`] and its SQL twin ([`sql`]) draw the same lines: a PIN
/// set before `pin_set_before` is too old; a review due before `now` is overdue, and a
/// never-reviewed number first seen before `first_seen_before` is overdue too; a revealed
/// current PIN is a problem only when `rotate_after_reveal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    /// The moment of the check.
    pub now: DateTime<Utc>,
    /// `now` minus the policy's maximum PIN age.
    pub pin_set_before: DateTime<Utc>,
    /// `now` minus the policy's review cadence.
    pub first_seen_before: DateTime<Utc>,
    /// The policy retires every revealed PIN (an org that turned it off accepted them).
    pub rotate_after_reveal: bool,
}

impl Cutoffs {
    /// The cutoffs of `policy` at `now`.
    #[must_use]
    pub fn new(policy: &Policy, now: DateTime<Utc>) -> Cutoffs {
        Cutoffs {
            now,
            pin_set_before: now - policy.max_pin_age(),
            first_seen_before: now - policy.review_cadence(),
            rotate_after_reveal: policy.rotate_after_reveal,
        }
    }
}

/// Everything wrong with a number at `now` under `policy`, in [`Problem::ALL`] order.
#[must_use]
pub fn check(facts: &Facts, policy: &Policy, now: DateTime<Utc>) -> Vec<Problem> {
    let cut = Cutoffs::new(policy, now);
    let mut problems = Vec::new();
    let mut flag = |problem: Problem, wrong: bool| {
        if wrong {
            problems.push(problem);
        }
    };
    flag(Problem::NoOwner, facts.owner.is_none());
    flag(Problem::NoManager, facts.manager.is_none());
    let same =
        matches!((&facts.owner, &facts.manager), (Some(o), Some(m)) if o.member_id == m.member_id);
    flag(Problem::SameOwnerAndManager, same);
    flag(
        Problem::OwnerDeparted,
        facts.owner.as_ref().is_some_and(|s| !s.active),
    );
    flag(
        Problem::ManagerDeparted,
        facts.manager.as_ref().is_some_and(|s| !s.active),
    );
    // A released number is the client's now: its PIN is no longer pinward's concern.
    let in_custody = facts.pin_state != PinState::Released;
    flag(
        Problem::PinNotEscrowed,
        facts.pin_state == PinState::Unknown,
    );
    // Older than the maximum age: `now - set > max_pin_age`, i.e. set before the cutoff.
    let too_old = facts.pin_set_at.is_some_and(|set| set < cut.pin_set_before);
    flag(
        Problem::PinTooOld,
        in_custody && facts.pin_state != PinState::Unknown && too_old,
    );
    // The reveal queued a rotation that has not confirmed a new version yet.
    flag(
        Problem::PinRevealed,
        cut.rotate_after_reveal
            && in_custody
            && facts.pin_state != PinState::Unknown
            && facts.pin_revealed,
    );
    let due = crate::reviews::Due::of(facts.next_review_due, facts.first_seen_at, policy);
    flag(Problem::ReviewOverdue, due.at < cut.now);
    let mailbox = facts.recovery_email.as_deref().map(mailbox_kind);
    flag(Problem::NoRecoveryEmail, mailbox.is_none());
    flag(
        Problem::PersonalRecoveryEmail,
        mailbox == Some(MailboxKind::Personal),
    );
    flag(
        Problem::DisposableRecoveryEmail,
        mailbox == Some(MailboxKind::Disposable),
    );
    flag(Problem::FewBackupChannels, facts.backup_channels < 2);
    flag(Problem::OutOfBandChange, in_custody && facts.escrow_stale);
    flag(Problem::NeedsAttention, facts.attention_reason.is_some());
    flag(Problem::VanishedAtMeta, facts.vanished);
    problems
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
    }

    fn seat(id: &str) -> Option<SeatHolder> {
        Some(SeatHolder {
            member_id: id.to_owned(),
            active: true,
        })
    }

    /// A number with nothing wrong: two people, escrowed recently, reviewed, a business
    /// recovery email and two backup channels.
    fn healthy() -> Facts {
        Facts {
            pin_state: PinState::Escrowed,
            escrow_stale: false,
            attention_reason: None,
            vanished: false,
            recovery_email: Some("whatsapp-admin@acme.example".to_owned()),
            backup_channels: 2,
            owner: seat("ann"),
            manager: seat("bob"),
            pin_set_at: Some(now() - chrono::Duration::days(10)),
            pin_revealed: false,
            next_review_due: Some(now() + chrono::Duration::days(30)),
            first_seen_at: now() - chrono::Duration::days(400),
        }
    }

    fn problems(facts: &Facts) -> Vec<Problem> {
        check(facts, &Policy::default(), now())
    }

    #[test]
    fn a_well_kept_number_has_no_problem() {
        assert_eq!(problems(&healthy()), vec![]);
    }

    #[test]
    fn an_empty_owner_seat_is_a_problem() {
        let facts = Facts {
            owner: None,
            ..healthy()
        };
        assert_eq!(problems(&facts), vec![Problem::NoOwner]);
    }

    #[test]
    fn an_empty_manager_seat_is_a_problem() {
        let facts = Facts {
            manager: None,
            ..healthy()
        };
        assert_eq!(problems(&facts), vec![Problem::NoManager]);
    }

    #[test]
    fn one_person_in_both_seats_is_a_problem() {
        let facts = Facts {
            manager: seat("ann"),
            ..healthy()
        };
        assert_eq!(problems(&facts), vec![Problem::SameOwnerAndManager]);
    }

    #[test]
    fn a_departed_member_in_either_seat_is_a_problem() {
        let gone = Some(SeatHolder {
            member_id: "carl".to_owned(),
            active: false,
        });
        let facts = Facts {
            owner: gone.clone(),
            ..healthy()
        };
        assert_eq!(problems(&facts), vec![Problem::OwnerDeparted]);
        let facts = Facts {
            manager: gone,
            ..healthy()
        };
        assert_eq!(problems(&facts), vec![Problem::ManagerDeparted]);
    }

    #[test]
    fn a_pin_pinward_does_not_hold_is_a_problem() {
        let facts = Facts {
            pin_state: PinState::Unknown,
            pin_set_at: None,
            ..healthy()
        };
        assert_eq!(problems(&facts), vec![Problem::PinNotEscrowed]);
    }

    #[test]
    fn a_pin_older_than_the_policy_is_a_problem_and_one_just_within_it_is_not() {
        let policy = Policy::default();
        let facts = Facts {
            pin_set_at: Some(now() - policy.max_pin_age() - chrono::Duration::seconds(1)),
            ..healthy()
        };
        assert_eq!(problems(&facts), vec![Problem::PinTooOld]);
        let facts = Facts {
            pin_set_at: Some(now() - policy.max_pin_age()),
            ..healthy()
        };
        assert_eq!(problems(&facts), vec![]);
    }

    #[test]
    fn a_revealed_current_pin_is_a_problem_only_while_the_policy_rotates_after_reveal() {
        let facts = Facts {
            pin_revealed: true,
            ..healthy()
        };
        assert_eq!(problems(&facts), vec![Problem::PinRevealed]);
        let accepting = Policy {
            rotate_after_reveal: false,
            ..Policy::default()
        };
        assert_eq!(check(&facts, &accepting, now()), vec![]);
    }

    #[test]
    fn a_released_number_has_no_pin_problems() {
        let facts = Facts {
            pin_state: PinState::Released,
            pin_set_at: Some(now() - chrono::Duration::days(1000)),
            pin_revealed: true,
            escrow_stale: true,
            ..healthy()
        };
        assert_eq!(problems(&facts), vec![]);
    }

    #[test]
    fn a_past_review_date_is_overdue() {
        let facts = Facts {
            next_review_due: Some(now() - chrono::Duration::seconds(1)),
            ..healthy()
        };
        assert_eq!(problems(&facts), vec![Problem::ReviewOverdue]);
    }

    #[test]
    fn a_never_reviewed_number_is_overdue_one_cadence_after_it_was_first_seen() {
        let policy = Policy::default();
        let recent = Facts {
            next_review_due: None,
            first_seen_at: now() - policy.review_cadence() + chrono::Duration::days(1),
            ..healthy()
        };
        assert_eq!(problems(&recent), vec![]);
        let old = Facts {
            next_review_due: None,
            first_seen_at: now() - policy.review_cadence() - chrono::Duration::days(1),
            ..healthy()
        };
        assert_eq!(problems(&old), vec![Problem::ReviewOverdue]);
    }

    #[test]
    fn a_missing_recovery_email_is_a_problem() {
        let facts = Facts {
            recovery_email: None,
            ..healthy()
        };
        assert_eq!(problems(&facts), vec![Problem::NoRecoveryEmail]);
    }

    #[test]
    fn a_recovery_email_at_a_personal_provider_is_flagged_whatever_its_case() {
        let facts = Facts {
            recovery_email: Some("Ann.Smith@GMail.com".to_owned()),
            ..healthy()
        };
        assert_eq!(problems(&facts), vec![Problem::PersonalRecoveryEmail]);
    }

    #[test]
    fn a_recovery_email_at_a_disposable_service_is_flagged() {
        let facts = Facts {
            recovery_email: Some("x@eu.mailinator.com".to_owned()),
            ..healthy()
        };
        assert_eq!(problems(&facts), vec![Problem::DisposableRecoveryEmail]);
    }

    #[test]
    fn a_domain_that_only_ends_like_a_listed_one_is_a_business_domain() {
        assert_eq!(mailbox_kind("ops@notgmail.com"), MailboxKind::Business);
        assert_eq!(mailbox_kind("ops@mail.gmail.com"), MailboxKind::Personal);
    }

    #[test]
    fn fewer_than_two_backup_channels_is_a_problem() {
        let facts = Facts {
            backup_channels: 1,
            ..healthy()
        };
        assert_eq!(problems(&facts), vec![Problem::FewBackupChannels]);
    }

    #[test]
    fn a_stale_escrow_is_an_out_of_band_change() {
        let facts = Facts {
            escrow_stale: true,
            ..healthy()
        };
        assert_eq!(problems(&facts), vec![Problem::OutOfBandChange]);
    }

    #[test]
    fn an_attention_reason_means_the_number_needs_attention() {
        let facts = Facts {
            attention_reason: Some("Meta did not answer".to_owned()),
            ..healthy()
        };
        assert_eq!(problems(&facts), vec![Problem::NeedsAttention]);
    }

    #[test]
    fn a_number_meta_no_longer_lists_is_flagged() {
        let facts = Facts {
            vanished: true,
            ..healthy()
        };
        assert_eq!(problems(&facts), vec![Problem::VanishedAtMeta]);
    }

    #[test]
    fn problem_codes_round_trip_and_unknown_codes_are_refused() {
        for problem in Problem::ALL {
            assert_eq!(Problem::parse(problem.as_str()).unwrap(), problem);
        }
        assert!(matches!(
            Problem::parse("sad"),
            Err(crate::Error::Invalid {
                field: "problem",
                ..
            })
        ));
    }
}
