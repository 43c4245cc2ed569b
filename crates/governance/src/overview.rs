//! The overview of an org's numbers: headline counts, the PIN age distribution, health
//! problems by kind and reviews due per month, over the numbers the caller may see (a
//! business admin: its clients'); and, for `/metrics`, every org's numbers by PIN state and
//! health.
//!
//! Everything is counted in the database with the SQL twin of [`crate::health::check`]
//! (`health::sql`), so each count equals the total the numbers list reports for the
//! matching filter, at any size of org.

use chrono::{DateTime, Datelike, Duration, Months, Utc};

use crate::access::{Caller, Permission};
use crate::custody::PinState;
use crate::health::sql as health_sql;
use crate::health::{Cutoffs, Problem};
use crate::numbers::query::{Arg, COUNT_FROM, Where, bind_more};
use crate::store::{Store, Tx, dialect};
use crate::{Error, bind_args, on_tx, policies};

/// How many months, the current one first, the reviews chart shows one by one.
pub const REVIEW_MONTHS: u32 = 12;

/// How old a number's current PIN is (the time since Meta confirmed it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PinAge {
    /// At most 30 days.
    UpTo30Days,
    /// 31 to 90 days.
    UpTo90Days,
    /// 91 to 180 days.
    UpTo180Days,
    /// 181 to 365 days.
    UpTo365Days,
    /// More than a year.
    OverAYear,
    /// No current PIN: never escrowed, or its escrow went stale.
    NoPin,
}

impl PinAge {
    /// Every bucket, youngest first, then [`PinAge::NoPin`].
    pub const ALL: [PinAge; 6] = [
        PinAge::UpTo30Days,
        PinAge::UpTo90Days,
        PinAge::UpTo180Days,
        PinAge::UpTo365Days,
        PinAge::OverAYear,
        PinAge::NoPin,
    ];

    /// The oldest age in the bucket, in days (none for the last two).
    fn max_days(self) -> Option<i64> {
        match self {
            PinAge::UpTo30Days => Some(30),
            PinAge::UpTo90Days => Some(90),
            PinAge::UpTo180Days => Some(180),
            PinAge::UpTo365Days => Some(365),
            PinAge::OverAYear | PinAge::NoPin => None,
        }
    }

    /// A short label for a chart axis.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            PinAge::UpTo30Days => "≤ 30 days",
            PinAge::UpTo90Days => "31–90 days",
            PinAge::UpTo180Days => "91–180 days",
            PinAge::UpTo365Days => "181–365 days",
            PinAge::OverAYear => "> 1 year",
            PinAge::NoPin => "no PIN",
        }
    }
}

/// How many numbers fall in one bucket of a chart.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Count<K> {
    /// The bucket.
    pub key: K,
    /// Numbers in it.
    pub numbers: u64,
}

/// The overview of the numbers a caller may see, at one moment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Overview {
    /// All of them (the unfiltered list's total).
    pub numbers: u64,
    /// In PIN state `escrowed` (the list filtered by that state).
    pub escrowed: u64,
    /// Whose PIN pinward does not hold (health problem `pin_not_escrowed`).
    pub unescrowed: u64,
    /// Released to their clients (PIN state `released`): no longer in pinward's custody.
    pub released: u64,
    /// With at least one health problem.
    pub with_problems: u64,
    /// Whose review is overdue (health problem `review_overdue`).
    pub reviews_overdue: u64,
    /// Numbers by the age of their current PIN, in [`PinAge::ALL`] order. Released numbers
    /// are the client's and not counted.
    pub pin_ages: Vec<Count<PinAge>>,
    /// Numbers with each health problem, in [`Problem::ALL`] order (a number with several
    /// problems counts under each).
    pub problems: Vec<Count<Problem>>,
    /// Reviews due (not yet overdue) in this month and the next ones: `YYYY-MM` (UTC),
    /// [`REVIEW_MONTHS`] entries.
    pub reviews_due: Vec<Count<String>>,
    /// Reviews due after the last month of `reviews_due`.
    pub reviews_later: u64,
}

/// The numbers `caller` may see as rows of per-problem flags: `pin_state`, `pin_set_at`
/// (when the current PIN was confirmed) and `p0`…`p15` (1 when the number has
/// `Problem::ALL[i]`), as a subquery whose binds follow `args`.
fn flagged(caller: &Caller, tx: &Tx, cut: &Cutoffs, args: &mut Vec<Arg>) -> String {
    let backend = tx.backend();
    let clause = Where::visible_to(caller, backend);
    // The clause numbers its binds from $1: they go first.
    debug_assert!(args.is_empty());
    args.extend(clause.args);
    let mut columns = vec![
        "n.pin_state AS pin_state".to_owned(),
        "COALESCE(pv.confirmed_at, pv.created_at) AS pin_set_at".to_owned(),
    ];
    for (i, problem) in Problem::ALL.into_iter().enumerate() {
        let c = health_sql::condition(problem, backend, &caller.org_id, cut);
        let sql = bind_more(args, &c.sql, c.args);
        columns.push(format!("CASE WHEN {sql} THEN 1 ELSE 0 END AS p{i}"));
    }
    format!(
        "SELECT {} {COUNT_FROM}LEFT JOIN pin_versions pv ON pv.phone_number_id = n.id \
         AND pv.status = 'current' {}{}",
        columns.join(", "),
        clause.sql,
        dialect::materialize_subquery(backend)
    )
}

/// `SUM(p0), …` and `p0 + p1 + … > 0` over the flags of [`flagged`].
fn problem_sums() -> (String, String) {
    let sums: Vec<String> = (0..Problem::ALL.len())
        .map(|i| format!("COALESCE(SUM(f.p{i}), 0)"))
        .collect();
    let any: Vec<String> = (0..Problem::ALL.len()).map(|i| format!("f.p{i}")).collect();
    (sums.join(", "), format!("({}) > 0", any.join(" + ")))
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The overview of the numbers `caller` may see at `now`.
///
/// # Errors
/// [`Error::Forbidden`] without `numbers:read`; database errors.
pub async fn summary(
    store: &Store,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Result<Overview, Error> {
    caller.require(Permission::ReadNumbers)?;
    let mut tx = store.read_for(&caller.org_id).await?;
    let policy = policies::load(&mut tx, &caller.org_id).await?;
    let cut = Cutoffs::new(&policy, now);

    let mut args = Vec::new();
    let inner = flagged(caller, &tx, &cut, &mut args);
    let (sums, any) = problem_sums();
    // Each bucket's youngest allowed confirmation: a PIN confirmed at or after it is at
    // most that many days old. Buckets are tried in order, so each number lands in the
    // youngest that holds it; released numbers in none.
    let mut ages = vec!["WHEN f.pin_state = 'released' THEN -1".to_owned()];
    for (i, age) in PinAge::ALL.into_iter().enumerate() {
        let sql = match age.max_days() {
            Some(days) => bind_more(
                &mut args,
                "f.pin_set_at >= ?",
                vec![Arg::Time(now - Duration::days(days))],
            ),
            None if age == PinAge::NoPin => "f.pin_set_at IS NULL".to_owned(),
            None => "f.pin_set_at IS NOT NULL".to_owned(),
        };
        ages.push(format!("WHEN {sql} THEN {i}"));
    }
    let bucket = format!("CASE {} END", ages.join(" "));
    let age_sums: Vec<String> = (0..PinAge::ALL.len())
        .map(|i| format!("COALESCE(SUM(CASE WHEN {bucket} = {i} THEN 1 ELSE 0 END), 0)"))
        .collect();
    // One pass over the numbers for every figure but the review months.
    let sql = format!(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN f.pin_state = 'escrowed' THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN f.pin_state = 'released' THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN {any} THEN 1 ELSE 0 END), 0), {sums}, {} \
         FROM ({inner}) f",
        age_sums.join(", ")
    );
    let columns = 4 + Problem::ALL.len() + PinAge::ALL.len();
    let totals: Vec<i64> = on_tx!(tx, conn => {
        let row = bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql)), &args).fetch_one(&mut *conn).await?;
        (0..columns)
            .map(|i| sqlx::Row::try_get::<i64, _>(&row, i))
            .collect::<Result<Vec<i64>, sqlx::Error>>()
    })?;
    let (reviews_due, reviews_later) = reviews_due(&mut tx, caller, &cut, &policy).await?;
    tx.rollback().await?;

    let (problem_totals, age_totals) = totals[4..].split_at(Problem::ALL.len());
    let problems: Vec<Count<Problem>> = Problem::ALL
        .into_iter()
        .zip(problem_totals)
        .map(|(key, n)| Count {
            key,
            numbers: count(*n),
        })
        .collect();
    let of = |problem: Problem| {
        problems
            .iter()
            .find(|c| c.key == problem)
            .map_or(0, |c| c.numbers)
    };
    let pin_ages = PinAge::ALL
        .into_iter()
        .zip(age_totals)
        .map(|(key, n)| Count {
            key,
            numbers: count(*n),
        })
        .collect();
    Ok(Overview {
        numbers: count(totals[0]),
        escrowed: count(totals[1]),
        unescrowed: of(Problem::PinNotEscrowed),
        released: count(totals[2]),
        with_problems: count(totals[3]),
        reviews_overdue: of(Problem::ReviewOverdue),
        pin_ages,
        problems,
        reviews_due,
        reviews_later,
    })
}

/// `YYYY-MM` of `at` and the months after it, [`REVIEW_MONTHS`] in all.
fn months_from(at: DateTime<Utc>) -> Vec<String> {
    let first = at
        .date_naive()
        .with_day(1)
        .unwrap_or_else(|| at.date_naive());
    (0..REVIEW_MONTHS)
        .filter_map(|i| first.checked_add_months(Months::new(i)))
        .map(|d| d.format("%Y-%m").to_string())
        .collect()
}

/// Reviews not yet overdue by the month they fall due, and those due after the window.
async fn reviews_due(
    tx: &mut Tx,
    caller: &Caller,
    cut: &Cutoffs,
    policy: &policies::Policy,
) -> Result<(Vec<Count<String>>, u64), Error> {
    let backend = tx.backend();
    let mut clause = Where::visible_to(caller, backend);
    let overdue = health_sql::condition(Problem::ReviewOverdue, backend, &caller.org_id, cut);
    clause.and(&format!("NOT {}", overdue.sql), overdue.args);
    let mut args = clause.args;
    let month = bind_more(
        &mut args,
        dialect::review_due_month(backend),
        vec![Arg::Int(i64::from(policy.review_cadence_days))],
    );
    let sql = format!(
        "SELECT {month} AS month, COUNT(*) {COUNT_FROM}{} GROUP BY month",
        clause.sql
    );
    let rows: Vec<(String, i64)> = on_tx!(tx, conn => bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &args).fetch_all(conn).await)?;
    let months = months_from(cut.now);
    let last = months.last().cloned().unwrap_or_default();
    let due = months
        .into_iter()
        .map(|month| Count {
            numbers: rows
                .iter()
                .filter(|(m, _)| *m == month)
                .map(|(_, n)| count(*n))
                .sum(),
            key: month,
        })
        .collect();
    let later = rows
        .iter()
        .filter(|(m, _)| *m > last)
        .map(|(_, n)| count(*n))
        .sum();
    Ok((due, later))
}

/// How many numbers of one PIN state have each problem, over every org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateHealth {
    /// The PIN state.
    pub state: PinState,
    /// Numbers in it.
    pub numbers: u64,
    /// Of those, numbers without any problem.
    pub healthy: u64,
    /// Of those, numbers with each problem, in [`Problem::ALL`] order.
    pub problems: Vec<Count<Problem>>,
}

/// Every org's numbers by PIN state and health at `now` (each org under its own policy),
/// for `/metrics`: one grouped query per org, every [`PinState`] listed even when empty.
///
/// # Errors
/// Database errors.
pub async fn by_state_and_health(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Vec<StateHealth>, Error> {
    let mut out: Vec<StateHealth> = PinState::ALL
        .into_iter()
        .map(|state| StateHealth {
            state,
            numbers: 0,
            healthy: 0,
            problems: Problem::ALL
                .into_iter()
                .map(|key| Count { key, numbers: 0 })
                .collect(),
        })
        .collect();
    let (sums, any) = problem_sums();
    for org in crate::orgs::list(store).await? {
        let caller = Caller::cli(&org.id);
        let mut tx = store.read_for(&org.id).await?;
        let policy = policies::load(&mut tx, &org.id).await?;
        let cut = Cutoffs::new(&policy, now);
        let mut args = Vec::new();
        let inner = flagged(&caller, &tx, &cut, &mut args);
        let sql = format!(
            "SELECT f.pin_state, COUNT(*), COALESCE(SUM(CASE WHEN {any} THEN 0 ELSE 1 END), 0), {sums} \
             FROM ({inner}) f GROUP BY f.pin_state"
        );
        let rows: Vec<(String, Vec<i64>)> = on_tx!(tx, conn => {
            let rows = bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql)), &args).fetch_all(&mut *conn).await?;
            rows.iter()
                .map(|row| {
                    let state: String = sqlx::Row::try_get(row, 0)?;
                    let counts = (1..3 + Problem::ALL.len())
                        .map(|i| sqlx::Row::try_get::<i64, _>(row, i))
                        .collect::<Result<Vec<i64>, sqlx::Error>>()?;
                    Ok::<_, sqlx::Error>((state, counts))
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
        })?;
        tx.rollback().await?;
        for (state, counts) in rows {
            let Some(entry) = out.iter_mut().find(|e| e.state.as_str() == state) else {
                continue;
            };
            entry.numbers += count(counts[0]);
            entry.healthy += count(counts[1]);
            for (c, n) in entry.problems.iter_mut().zip(&counts[2..]) {
                c.numbers += count(*n);
            }
        }
    }
    Ok(out)
}
