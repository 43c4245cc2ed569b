//! Periodic reviews of a number: someone who manages it confirms its record is right; the
//! next review is then due one policy cadence later. Each review is ledgered with the
//! health found at that moment, which is the evidence auditors pull.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use graph::PhoneNumberId;
use serde_json::json;

use crate::access::{Caller, Permission};
use crate::numbers::{self, health_of};
use crate::policies::Policy;
use crate::store::Store;
use crate::{Error, exec, ledger, policies};

/// Longest review note.
pub const MAX_NOTE: usize = 1000;

/// When a number's next review is due, the one rule every view and [`crate::health::check`]
/// share: the date its last review set or, for a number never reviewed, one policy cadence
/// after pinward first saw it (`health::sql` and `store::dialect::review_due_month` are its
/// SQL twins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(
        description = "When the number's next review is due: the date its last review set or, \
                       for a number never reviewed, one policy cadence after pinward first saw it."
    )
)]
pub struct Due {
    /// The moment the review is due.
    pub at: DateTime<Utc>,
    /// No review was ever completed: this is the first one.
    pub first: bool,
}

impl Due {
    /// The due review of a number whose last review set `next_review_due` (none before
    /// the first review) and which pinward first saw at `first_seen_at`.
    #[must_use]
    pub fn of(
        next_review_due: Option<DateTime<Utc>>,
        first_seen_at: DateTime<Utc>,
        policy: &Policy,
    ) -> Due {
        match next_review_due {
            Some(at) => Due { at, first: false },
            None => Due {
                at: first_seen_at + policy.review_cadence(),
                first: true,
            },
        }
    }

    /// The date as the pages print it, marked when it is the first review.
    #[must_use]
    pub fn describe(&self) -> String {
        let date = self.at.format("%Y-%m-%d");
        if self.first {
            format!("{date} (first review)")
        } else {
            date.to_string()
        }
    }
}

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
    record(store, caller, phone, note, None, now).await
}

/// Records a review of `phone` done on an earlier `day` (UTC) and entered now, as one held
/// in a meeting or on paper: `last_reviewed_at` = the start of that day and the next
/// review is due one cadence after it. The `review.completed` event is appended now, with
/// the day in its details (`reviewed_on`), so the ledger's times still only move forward;
/// the health it records is the number's now. A `day` that is today is [`complete`].
///
/// # Errors
/// As [`complete`], and [`Error::Invalid`] naming `reviewed_on` for a day after today,
/// before [`numbers::EARLIEST_DAY`] or before the day of the number's last review.
pub async fn complete_on(
    store: &Store,
    caller: &Caller,
    phone: &PhoneNumberId,
    note: &str,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Completed, Error> {
    check_day(day, now)?;
    let day = (day < now.date_naive()).then_some(day);
    record(store, caller, phone, note, day, now).await
}

/// Checks the day a review was held on its own, as [`complete_on`] does before it looks at
/// the number (whose last review may refuse the day too), so a form can report it beside
/// its other faults.
///
/// # Errors
/// [`Error::Invalid`] naming `reviewed_on` for a day after today or before
/// [`numbers::EARLIEST_DAY`].
pub fn check_day(day: NaiveDate, now: DateTime<Utc>) -> Result<(), Error> {
    let today = now.date_naive();
    let problem = if day > today {
        format!("{day} is after today ({today}, UTC)")
    } else if day < numbers::EARLIEST_DAY {
        format!("must be {} or later", numbers::EARLIEST_DAY)
    } else {
        return Ok(());
    };
    Err(Error::Invalid {
        field: "reviewed_on",
        problem,
    })
}

/// Checks a review's note on its own, as [`complete`] does.
///
/// # Errors
/// [`Error::Invalid`] naming `note`.
pub fn check_note(note: &str) -> Result<(), Error> {
    crate::numbers::note::ledgered("note", note, false, MAX_NOTE).map(drop)
}

async fn record(
    store: &Store,
    caller: &Caller,
    phone: &PhoneNumberId,
    note: &str,
    day: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Result<Completed, Error> {
    caller.require(Permission::ManageNumbers)?;
    let note = crate::numbers::note::ledgered("note", note, false, MAX_NOTE)?;
    let actor = caller.actor()?;
    let mut tx = store.begin_for(&caller.org_id).await?;
    let row = numbers::visible(&mut tx, caller, phone, true).await?;
    let reviewed_at = match day {
        None => now,
        Some(day) => match row.last_reviewed_at {
            // An earlier review entered late must not undo a later one's due date.
            Some(last) if day < last.date_naive() => {
                return Err(Error::Invalid {
                    field: "reviewed_on",
                    problem: format!(
                        "{day} is before the number's last review, on {}",
                        last.format("%Y-%m-%d")
                    ),
                });
            }
            // Held the day of the last review: the later of the two counts.
            Some(last) if day == last.date_naive() => last,
            _ => day.and_time(NaiveTime::MIN).and_utc(),
        },
    };
    let policy = policies::load(&mut tx, &caller.org_id).await?;
    let next = reviewed_at + policy.review_cadence();
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
        reviewed_at,
        next
    )?;
    let mut details = json!({
        "note": note,
        "problems": problems,
        "next_review_due": next.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    if let Some(day) = day {
        details["reviewed_on"] = json!(day.format("%Y-%m-%d").to_string());
    }
    let draft = crate::custody::protocol_event(
        "review.completed",
        format!("phone:{}", row.meta_id),
        &actor,
        details,
    )?;
    ledger::append(&mut tx, &caller.org_id, now, draft).await?;
    tx.commit().await?;
    Ok(Completed {
        reviewed_at,
        next_review_due: next,
        problems,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 8, 0, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn a_reviewed_number_is_due_when_its_last_review_said() {
        let due = Due::of(Some(at(2027, 2, 3)), at(2020, 1, 1), &Policy::default());
        assert_eq!(
            due,
            Due {
                at: at(2027, 2, 3),
                first: false
            }
        );
        assert_eq!(due.describe(), "2027-02-03");
    }

    #[test]
    fn a_never_reviewed_number_is_first_due_one_cadence_after_it_was_first_seen() {
        let policy = Policy {
            review_cadence_days: 90,
            ..Policy::default()
        };
        let due = Due::of(None, at(2026, 1, 10), &policy);
        assert_eq!(
            due,
            Due {
                at: at(2026, 4, 10),
                first: true
            }
        );
        assert_eq!(due.describe(), "2026-04-10 (first review)");
    }
}
