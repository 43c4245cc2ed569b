//! The rules of [`super::check`] as SQL conditions over one `phone_numbers n` row, so the
//! numbers list's health filter, the overview and the metrics count in the database exactly
//! the numbers `check` would flag, without loading every number first.
//!
//! Each arm below mirrors the arm of `check` with the same [`Problem`], against the same
//! [`Cutoffs`] and domain lists; `governance/tests/health_sql.rs` compares the two on
//! varied numbers on both databases. Change a rule in both places.
//!
//! Two facts of the stored data make the translation exact: every timestamp pinward writes
//! is RFC 3339 UTC text of one shape on SQLite (sqlx's encoding), so text order is time
//! order; and a stored recovery email has exactly one `@`, lowercased and trimmed
//! (`numbers::metadata::parse_email` is its only writer).

use super::{Cutoffs, DISPOSABLE_DOMAINS, PERSONAL_DOMAINS, Problem};
use crate::numbers::query::Arg;
use crate::store::{Backend, dialect};

/// A boolean SQL expression over `phone_numbers n` whose `?`s stand for `args`, in order.
/// Never NULL (a NULL would make `NOT condition` NULL too and drop the row).
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    pub sql: String,
    pub args: Vec<Arg>,
}

impl Condition {
    fn fixed(sql: &str) -> Condition {
        Condition {
            sql: sql.to_owned(),
            args: Vec::new(),
        }
    }
}

/// The seat holder (`n.main_owner_id` or `n.permission_manager_id`) can no longer act for
/// the number: a deactivated member or user of the org, a member since made an auditor, or a
/// business admin no longer of the number's client. A seat whose member row is missing
/// counts as active, as the list's outer join reads it. Neither subquery depends on the row
/// (the second pairs each business admin with the WABAs outside its clients), so each
/// database computes them once per statement.
pub(crate) fn departed(seat_column: &str, org: &str) -> Condition {
    Condition {
        sql: format!(
            "(COALESCE({seat_column} IN (SELECT sm.id FROM members sm JOIN users su ON su.id = sm.user_id \
             WHERE sm.org_id = ? AND (sm.deactivated_at IS NOT NULL OR su.deactivated_at IS NOT NULL \
             OR sm.role = 'auditor')), FALSE) \
             OR COALESCE(({seat_column}, n.waba_id) IN (SELECT sm.id, sw.id FROM members sm \
             JOIN wabas sw ON sw.org_id = sm.org_id WHERE sm.org_id = ? AND sm.role = 'business_admin' \
             AND NOT EXISTS (SELECT 1 FROM member_clients smc WHERE smc.org_id = sm.org_id \
             AND smc.member_id = sm.id AND smc.client_id = sw.client_id)), FALSE))"
        ),
        args: vec![Arg::Text(org.to_owned()), Arg::Text(org.to_owned())],
    }
}

/// The recovery email's domain is one of `list` or a subdomain of one.
///
/// The listed domains are written into the SQL as literals: they are constants of this
/// crate made only of `a-z 0-9 . -` (a unit test checks), and literals let both databases
/// look a domain up in a set built once per statement instead of reading a bound list for
/// every row. A subdomain of a listed domain has at least two dots (every listed domain has
/// one), so the suffix matches run only for addresses whose domain has two.
fn domain_in(backend: Backend, list: &[&str]) -> Condition {
    let domain = dialect::email_domain(backend, "n.recovery_email");
    let exact: Vec<String> = list.iter().map(|d| format!("'{d}'")).collect();
    let suffix: Vec<String> = list
        .iter()
        .map(|d| format!("{domain} LIKE '%.{d}'"))
        .collect();
    Condition::fixed(&format!(
        "(n.recovery_email IS NOT NULL AND ({domain} IN ({}) OR (n.recovery_email LIKE '%@%.%.%' AND ({}))))",
        exact.join(", "),
        suffix.join(" OR ")
    ))
}

/// The SQL twin of `check`'s rule for `problem`.
pub(crate) fn condition(problem: Problem, backend: Backend, org: &str, cut: &Cutoffs) -> Condition {
    let in_custody = "n.pin_state <> 'released'";
    match problem {
        Problem::NoOwner => Condition::fixed("n.main_owner_id IS NULL"),
        Problem::NoManager => Condition::fixed("n.permission_manager_id IS NULL"),
        Problem::SameOwnerAndManager => {
            Condition::fixed("COALESCE(n.main_owner_id = n.permission_manager_id, FALSE)")
        }
        Problem::OwnerDeparted => departed("n.main_owner_id", org),
        Problem::ManagerDeparted => departed("n.permission_manager_id", org),
        Problem::PinNotEscrowed => Condition::fixed("n.pin_state = 'unknown'"),
        // The org's current versions set before the cutoff, found once per statement.
        Problem::PinTooOld => Condition {
            sql: format!(
                "({in_custody} AND n.pin_state <> 'unknown' AND n.id IN (SELECT cv.phone_number_id \
                 FROM pin_versions cv WHERE cv.org_id = ? AND cv.status = 'current' \
                 AND COALESCE(cv.confirmed_at, cv.created_at) < ?))"
            ),
            args: vec![Arg::Text(org.to_owned()), Arg::Time(cut.pin_set_before)],
        },
        // The org's current versions shown to a person, found once per statement.
        Problem::PinRevealed if cut.rotate_after_reveal => Condition {
            sql: format!(
                "({in_custody} AND n.pin_state <> 'unknown' AND n.id IN (SELECT rv.phone_number_id \
                 FROM pin_versions rv WHERE rv.org_id = ? AND rv.status = 'current' \
                 AND rv.revealed_at IS NOT NULL))"
            ),
            args: vec![Arg::Text(org.to_owned())],
        },
        Problem::PinRevealed => Condition::fixed("FALSE"),
        Problem::ReviewOverdue => Condition {
            sql: "((n.next_review_due IS NOT NULL AND n.next_review_due < ?) \
                  OR (n.next_review_due IS NULL AND n.first_seen_at < ?))"
                .to_owned(),
            args: vec![Arg::Time(cut.now), Arg::Time(cut.first_seen_before)],
        },
        Problem::NoRecoveryEmail => Condition::fixed("n.recovery_email IS NULL"),
        // `mailbox_kind` lets disposable win over personal; no domain is both (a unit test
        // checks), so the personal list alone decides.
        Problem::PersonalRecoveryEmail => domain_in(backend, PERSONAL_DOMAINS),
        Problem::DisposableRecoveryEmail => domain_in(backend, DISPOSABLE_DOMAINS),
        Problem::FewBackupChannels => Condition::fixed(&format!(
            "{} < 2",
            dialect::json_array_length(backend, "n.backup_channels")
        )),
        Problem::OutOfBandChange => Condition::fixed(&format!("({in_custody} AND n.escrow_stale)")),
        Problem::NeedsAttention => Condition::fixed("n.attention_reason IS NOT NULL"),
        Problem::VanishedAtMeta => Condition::fixed("n.vanished_at IS NOT NULL"),
    }
}

/// True when the number has at least one problem.
pub(crate) fn any(backend: Backend, org: &str, cut: &Cutoffs) -> Condition {
    let mut sql = Vec::new();
    let mut args = Vec::new();
    for problem in Problem::ALL {
        let c = condition(problem, backend, org, cut);
        sql.push(c.sql);
        args.extend(c.args);
    }
    Condition {
        sql: format!("({})", sql.join(" OR ")),
        args,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_domain_has_a_dot_and_only_letters_digits_dots_and_dashes() {
        for domain in PERSONAL_DOMAINS.iter().chain(DISPOSABLE_DOMAINS) {
            assert!(domain.contains('.'), "{domain}");
            // Safe as SQL string literals and LIKE patterns: no quote, no wildcard.
            assert!(
                domain
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-'),
                "{domain}"
            );
        }
    }

    #[test]
    fn no_domain_is_both_personal_and_disposable_nor_under_one_of_the_other_list() {
        for personal in PERSONAL_DOMAINS {
            for disposable in DISPOSABLE_DOMAINS {
                let under = |a: &str, b: &str| a == b || a.ends_with(&format!(".{b}"));
                assert!(
                    !under(personal, disposable) && !under(disposable, personal),
                    "{personal} {disposable}"
                );
            }
        }
    }

    #[test]
    fn each_condition_has_one_value_per_placeholder() {
        let cut = Cutoffs::new(&crate::policies::Policy::default(), chrono::Utc::now());
        for backend in [Backend::Sqlite, Backend::Postgres] {
            for problem in Problem::ALL {
                let c = condition(problem, backend, "org", &cut);
                assert_eq!(c.sql.matches('?').count(), c.args.len(), "{problem:?}");
            }
        }
    }
}
