//! The ledger as people read it: an org's events newest first, filtered and paged, and
//! whether the stored chain still holds together.
//!
//! Paging is by seq (keyset), not by offset: a page is "the events before seq N" or "after
//! seq N", so appends between two clicks never shift a page and every query walks the
//! primary key `(org_id, seq)`. Every event is re-hashed on the way out, so a row edited
//! behind pinward's back is an error, never a silent lie.

use audit::{ChainHead, Event, Hash, SignedCheckpoint};

use crate::access::{Caller, Permission};
use crate::{Error, Store, checkpoints, ledger, on_read};

mod names;
mod subject;

pub use names::{Names, names};
pub use subject::resolve_subject;

/// Longest action prefix or subject accepted as a filter.
const FILTER_MAX: usize = 200;
/// Events per page, at most.
pub const PER_PAGE_MAX: u32 = 200;
/// Events re-hashed per database read while verifying.
const VERIFY_BATCH: u64 = 1000;

/// Which events to show; empty means all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Events whose action starts with this (`pin.` or `pin.rotated`).
    pub action_prefix: Option<String>,
    /// Events of exactly this subject (`phone:1093…`); for a member or a client, also the
    /// events naming it in their details ([`named_in_details`]).
    pub subject: Option<String>,
}

impl Filter {
    /// A filter of typed text: blank means "any"; anything else is checked.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `action` (only `a-z`, `0-9`, `_` and `.`) or `subject`
    /// (too long or with control characters).
    pub fn parse(action: Option<&str>, subject: Option<&str>) -> Result<Filter, Error> {
        fn given(text: Option<&str>) -> Option<&str> {
            text.map(str::trim).filter(|t| !t.is_empty())
        }
        let action_prefix = given(action)
            .map(|a| {
                let fits = a.len() <= FILTER_MAX
                    && a.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.".contains(c));
                if fits {
                    Ok(a.to_owned())
                } else {
                    Err(Error::Invalid {
                        field: "action",
                        problem: "an action or its start, e.g. pin. or member.added \
                                  (lower-case letters, digits, _ and .)"
                            .to_owned(),
                    })
                }
            })
            .transpose()?;
        let subject = given(subject)
            .map(|s| {
                if s.len() <= FILTER_MAX && !s.chars().any(char::is_control) {
                    Ok(s.to_owned())
                } else {
                    Err(Error::Invalid {
                        field: "subject",
                        problem: format!(
                            "a subject such as phone:123, at most {FILTER_MAX} characters"
                        ),
                    })
                }
            })
            .transpose()?;
        Ok(Filter {
            action_prefix,
            subject,
        })
    }
}

/// Where a page starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Cursor {
    /// The newest events.
    #[default]
    Newest,
    /// The events just older than this seq.
    Before(u64),
    /// The events just newer than this seq.
    After(u64),
}

/// One page of events, newest first.
#[derive(Debug)]
pub struct HistoryPage {
    /// The events, newest first.
    pub events: Vec<Event>,
    /// The org's chain head (the seq of its newest event; 0 for an empty ledger).
    pub head: u64,
    /// Matching events older than this page exist: the cursor to them.
    pub older: Option<Cursor>,
    /// Matching events newer than this page exist: the cursor to them.
    pub newer: Option<Cursor>,
}

use crate::export::{Row, to_event};

const NEWEST_FIRST: &str = "SELECT seq, at, actor, action, subject, details, prev, hash FROM ledger_events \
     WHERE org_id = $1 AND ($2 = '' OR substr(action, 1, length($2)) = $2) \
     AND ($3 = '' OR subject = $3) AND seq < $4 ORDER BY seq DESC LIMIT $5";
const OLDEST_FIRST: &str = "SELECT seq, at, actor, action, subject, details, prev, hash FROM ledger_events \
     WHERE org_id = $1 AND ($2 = '' OR substr(action, 1, length($2)) = $2) \
     AND ($3 = '' OR subject = $3) AND seq > $4 ORDER BY seq ASC LIMIT $5";

/// The id of `subject` as other events' details name it (a JSON string), when it is a kind
/// they name: a member (a seat's holder before and after, a handover's people) or a client
/// (a business admin's clients). Such a subject's events include those naming it.
pub fn named_in_details(subject: &str) -> Option<String> {
    let (kind, id) = subject.split_once(':')?;
    (matches!(kind, "member" | "client") && !id.is_empty())
        .then(|| serde_json::Value::from(id).to_string())
}

/// `query` ([`NEWEST_FIRST`] or [`OLDEST_FIRST`]) for a subject other events name: of the
/// subject, or naming it (`$6`). A query of its own, so that a number's filter keeps its
/// index.
fn naming_query(backend: crate::store::Backend, query: &str) -> String {
    let naming = crate::store::dialect::text_contains(backend, "details", "$6");
    query.replace("OR subject = $3)", &format!("OR subject = $3 OR {naming})"))
}

enum Direction {
    Older(i64),
    Newer(i64),
}

async fn fetch(
    store: &Store,
    org: &str,
    filter: &Filter,
    direction: Direction,
    limit: i64,
) -> Result<Vec<Event>, Error> {
    let action = filter.action_prefix.as_deref().unwrap_or("");
    let subject = filter.subject.as_deref().unwrap_or("");
    let (sql, bound) = match direction {
        Direction::Older(seq) => (NEWEST_FIRST, seq),
        Direction::Newer(seq) => (OLDEST_FIRST, seq),
    };
    let rows: Vec<Row> = match named_in_details(subject) {
        None => on_read!(store, org, conn => sqlx::query_as(sql)
            .bind(org)
            .bind(action)
            .bind(subject)
            .bind(bound)
            .bind(limit)
            .fetch_all(conn)
            .await)?,
        Some(named) => {
            let sql = naming_query(store.backend(), sql);
            on_read!(store, org, conn => sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(org)
                .bind(action)
                .bind(subject)
                .bind(bound)
                .bind(limit)
                .bind(&named)
                .fetch_all(conn)
                .await)?
        }
    };
    rows.into_iter().map(|row| to_event(org, row)).collect()
}

fn seq_i64(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// One page of the caller's org ledger: up to `per_page` events matching `filter` from
/// `cursor`, newest first.
///
/// # Errors
/// [`Error::Forbidden`] without `ledger:read`; [`Error::Invalid`] naming `per_page` outside
/// 1–[`PER_PAGE_MAX`]; [`Error::Audit`] when a stored event no longer matches its hash.
pub async fn page(
    store: &Store,
    caller: &Caller,
    filter: &Filter,
    cursor: Cursor,
    per_page: u32,
) -> Result<HistoryPage, Error> {
    caller.require(Permission::ReadLedger)?;
    if per_page == 0 || per_page > PER_PAGE_MAX {
        return Err(Error::Invalid {
            field: "per_page",
            problem: format!("must be from 1 to {PER_PAGE_MAX}"),
        });
    }
    let org = caller.org_id.as_str();
    let head = head(store, org).await?.seq;
    let limit = i64::from(per_page) + 1;
    let per_page = per_page as usize;
    let mut events = match cursor {
        Cursor::Newest => fetch(store, org, filter, Direction::Older(i64::MAX), limit).await?,
        Cursor::Before(seq) => {
            fetch(store, org, filter, Direction::Older(seq_i64(seq)), limit).await?
        }
        Cursor::After(seq) => {
            fetch(store, org, filter, Direction::Newer(seq_i64(seq)), limit).await?
        }
    };
    let more = events.len() > per_page;
    events.truncate(per_page);
    if matches!(cursor, Cursor::After(_)) {
        events.reverse();
    }
    let (Some(newest), Some(oldest)) = (events.first(), events.last()) else {
        return Ok(HistoryPage {
            events,
            head,
            older: None,
            newer: None,
        });
    };
    let (newest, oldest) = (newest.seq(), oldest.seq());
    let (older, newer) = match cursor {
        Cursor::After(_) => (
            exists(store, org, filter, Direction::Older(seq_i64(oldest))).await?,
            more,
        ),
        Cursor::Newest => (more, false),
        Cursor::Before(_) => (
            more,
            exists(store, org, filter, Direction::Newer(seq_i64(newest))).await?,
        ),
    };
    Ok(HistoryPage {
        events,
        head,
        older: older.then_some(Cursor::Before(oldest)),
        newer: newer.then_some(Cursor::After(newest)),
    })
}

async fn exists(
    store: &Store,
    org: &str,
    filter: &Filter,
    direction: Direction,
) -> Result<bool, Error> {
    Ok(!fetch(store, org, filter, direction, 1).await?.is_empty())
}

/// The org's chain head as stored (genesis for an org without events).
async fn head(store: &Store, org: &str) -> Result<ChainHead, Error> {
    let sql = "SELECT seq, hash FROM ledger_heads WHERE org_id = $1";
    let row: Option<(i64, String)> =
        on_read!(store, org, conn => sqlx::query_as(sql).bind(org).fetch_optional(conn).await)?;
    match row {
        None => Ok(ChainHead::GENESIS),
        Some((seq, hash)) => Ok(ChainHead {
            seq: u64::try_from(seq).map_err(|_| Error::LedgerCorrupt("a negative head seq"))?,
            hash: Hash::from_hex(&hash)?,
        }),
    }
}

/// What [`status`] found.
#[derive(Debug)]
pub struct Status {
    /// The stored chain head.
    pub head: ChainHead,
    /// The org's latest signed checkpoint, if any was signed.
    pub checkpoint: Option<SignedCheckpoint>,
    /// The check of the stored chain.
    pub verification: Verification,
}

/// How much of the stored chain was checked, and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The first seq re-hashed (1 for a full check; the checkpoint's seq otherwise).
    pub from: u64,
    /// The last seq re-hashed (the head).
    pub to: u64,
    /// Events re-hashed.
    pub events: u64,
    /// The first problem found; `None`: the chain verifies.
    pub problem: Option<String>,
}

/// The caller's org chain head, its latest checkpoint, and whether the stored chain holds
/// together: every event re-hashed and linked to the one before, up to the stored head.
///
/// Cost: with `full`, every event of the org is read and re-hashed (in batches, memory
/// stays constant); otherwise only the events since the latest checkpoint, whose head must
/// still be the stored event at its seq — the periodic checkpoints keep that tail short.
///
/// # Errors
/// [`Error::Forbidden`] without `ledger:read`; database errors. A chain that does not hold
/// is not an error but a [`Verification::problem`].
pub async fn status(store: &Store, caller: &Caller, full: bool) -> Result<Status, Error> {
    caller.require(Permission::ReadLedger)?;
    let org = caller.org_id.as_str();
    let head = head(store, org).await?;
    let (checkpoint, checkpoint_problem) = match checkpoints::latest(store, org).await {
        Ok(checkpoint) => (checkpoint, None),
        Err(Error::Audit(error)) => (None, Some(format!("the latest checkpoint: {error}"))),
        Err(error) => return Err(error),
    };
    let start = match (&checkpoint, full) {
        (Some(signed), false) if signed.checkpoint().seq() > 0 => {
            let c = signed.checkpoint();
            (c.seq(), c.head())
        }
        _ => (0, Hash::ZERO),
    };
    let mut verification = verify(store, org, start, &head).await?;
    if verification.problem.is_none() {
        verification.problem = checkpoint_problem;
    }
    Ok(Status {
        head,
        checkpoint,
        verification,
    })
}

/// Re-hashes the events after `start` (a seq and its expected hash; seq 0 is genesis)
/// up to `head`, checking each links to the one before.
async fn verify(
    store: &Store,
    org: &str,
    start: (u64, Hash),
    head: &ChainHead,
) -> Result<Verification, Error> {
    let (start_seq, start_hash) = start;
    let mut verification = Verification {
        from: start_seq.max(1),
        to: head.seq,
        events: 0,
        problem: None,
    };
    let mut expected_prev = start_hash;
    let mut next = start_seq;
    if start_seq > 0 {
        // The checkpoint's event must still be the one it signed.
        match ledger::events(store, org, start_seq, start_seq).await {
            Ok(events) => match events.first() {
                Some(event) if event.hash() == start_hash => verification.events += 1,
                Some(_) => {
                    verification.problem = Some(format!(
                        "event {start_seq} is not the one the latest checkpoint signed"
                    ));
                    return Ok(verification);
                }
                None => {
                    verification.problem = Some(format!(
                        "event {start_seq}, signed by the latest checkpoint, is missing"
                    ));
                    return Ok(verification);
                }
            },
            Err(Error::Audit(error)) => {
                verification.problem = Some(error.to_string());
                return Ok(verification);
            }
            Err(error) => return Err(error),
        }
    }
    while next < head.seq {
        let from = next + 1;
        let to = (next + VERIFY_BATCH).min(head.seq);
        let events = match ledger::events(store, org, from, to).await {
            Ok(events) => events,
            Err(Error::Audit(error)) => {
                verification.problem = Some(error.to_string());
                return Ok(verification);
            }
            Err(error) => return Err(error),
        };
        for event in &events {
            next += 1;
            if event.seq() != next {
                verification.problem = Some(format!("event {next} is missing"));
                return Ok(verification);
            }
            if event.prev() != expected_prev {
                verification.problem =
                    Some(format!("event {next} does not link to the event before it"));
                return Ok(verification);
            }
            expected_prev = event.hash();
            verification.events += 1;
        }
        if events.len() as u64 != to - from + 1 {
            verification.problem = Some(format!("events {from} to {to} are incomplete"));
            return Ok(verification);
        }
    }
    if expected_prev != head.hash {
        verification.problem = Some("the stored head is not the last event's hash".to_owned());
    }
    Ok(verification)
}

#[cfg(test)]
mod tests {
    use super::named_in_details;

    #[test]
    fn a_members_or_clients_id_is_looked_for_as_a_json_string_and_other_kinds_are_not() {
        assert_eq!(named_in_details("member:m-1").as_deref(), Some("\"m-1\""));
        assert_eq!(
            named_in_details("client:c\"1").as_deref(),
            Some("\"c\\\"1\"")
        );
        for own in ["phone:1093", "org:o-1", "member:", "waba:w-1", "ann"] {
            assert_eq!(named_in_details(own), None, "{own}");
        }
    }
}
