//! Bulk rotations: a job over selected numbers, run by any number of workers in any
//! number of processes.
//!
//! A job has one item per number. Workers claim items with a lease (`FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, the write lock on SQLite), so two workers never run the same
//! item; an item whose worker died is claimed again once its lease has expired, and its
//! number's pending PIN (if any) is re-sent, never replaced. Each item runs the custody
//! protocol: `unknown` numbers are taken into custody, `escrowed` ones rotated,
//! `rotating`/`uncertain` ones resumed, `released` ones skipped. A job is `running`,
//! `paused` (workers stop after their current item), `cancelled`, or `done`.

use audit::Actor;
use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use graph::PhoneNumberId;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;
use vault::Recipient;

use crate::custody::{Custodian, Outcome, PinState, protocol_event as event};
use crate::store::{Store, Tx, dialect};
use crate::{Error, exec, ledger, on_tx};

/// Which numbers a job rotates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every number of the org that Meta still lists and that is not released.
    All,
    /// These numbers (Meta phone number ids).
    Numbers(Vec<PhoneNumberId>),
}

/// What a job asks of its workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Stop claiming items.
    Pause,
    /// Claim items again.
    Resume,
    /// Stop for good.
    Cancel,
}

/// A job and its items' counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobStatus {
    /// The job id.
    pub id: String,
    /// `running`, `paused`, `cancelled` or `done`.
    pub status: String,
    /// Workers per process.
    pub concurrency: i64,
    /// Items in total.
    pub total: i64,
    /// Not started.
    pub queued: i64,
    /// Claimed by a worker.
    pub running: i64,
    /// Rotated (or resumed) and confirmed.
    pub done: i64,
    /// Rejected, uncertain, or failed otherwise (see each item's outcome).
    pub failed: i64,
    /// Released numbers.
    pub skipped: i64,
}

impl JobStatus {
    /// Items finished one way or another.
    pub fn finished(&self) -> i64 {
        self.done + self.failed + self.skipped
    }
}

/// What a run calls after each item it finishes: the job's counts, and what the item's
/// PIN change came to (`None` when none was tried: a released number, or an item that
/// failed before a PIN was sent).
pub type Progress<'a> = dyn Fn(&JobStatus, Option<&Outcome>) + Send + Sync + 'a;

/// Creates a `running` job over `selection` and returns its id. Nothing is sent yet: call
/// [`run`] (in this process or any other).
pub async fn start(
    store: &Store,
    org: &str,
    actor: &Actor,
    selection: &Selection,
    concurrency: u32,
) -> Result<String, Error> {
    if !(1..=64).contains(&concurrency) {
        return Err(Error::Invalid {
            field: "concurrency",
            problem: "between 1 and 64".to_owned(),
        });
    }
    let mut tx = store.begin_for(org).await?;
    let numbers: Vec<String> = match selection {
        Selection::All => {
            let sql = "SELECT id FROM phone_numbers WHERE org_id = $1 AND vanished_at IS NULL \
                       AND pin_state <> 'released' ORDER BY meta_phone_number_id";
            on_tx!(tx, conn => sqlx::query_scalar(sql).bind(org).fetch_all(conn).await)?
        }
        Selection::Numbers(ids) => {
            if ids.is_empty() {
                return Err(Error::Invalid {
                    field: "numbers",
                    problem: "select at least one number".to_owned(),
                });
            }
            let mut found = Vec::new();
            for id in ids {
                let sql =
                    "SELECT id FROM phone_numbers WHERE org_id = $1 AND meta_phone_number_id = $2";
                let row: Option<String> = on_tx!(tx, conn => sqlx::query_scalar(sql)
                    .bind(org).bind(id.as_str()).fetch_optional(conn).await)?;
                let row = row.ok_or(Error::NotFound {
                    what: "phone number",
                })?;
                if !found.contains(&row) {
                    found.push(row);
                }
            }
            found
        }
    };
    let id = insert_job(
        &mut tx,
        org,
        actor,
        &numbers,
        concurrency,
        json!({ "numbers": numbers.len(), "concurrency": concurrency }),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Inserts a `running` job over `numbers` (row ids) inside `tx`, ledgered as
/// `rotation.job.started` with `details`; returns its id.
async fn insert_job(
    tx: &mut Tx,
    org: &str,
    actor: &Actor,
    numbers: &[String],
    concurrency: u32,
    details: serde_json::Value,
) -> Result<String, Error> {
    let id = Uuid::now_v7().to_string();
    let now = Utc::now();
    exec!(
        tx,
        "INSERT INTO rotation_jobs (id, org_id, status, concurrency, created_by, created_at, updated_at) \
               VALUES ($1, $2, 'running', $3, $4, $5, $5)",
        &id,
        org,
        i64::from(concurrency),
        actor.as_str(),
        now
    )?;
    for number in numbers {
        exec!(
            tx,
            "INSERT INTO rotation_items (job_id, org_id, phone_number_id, status, updated_at) \
                   VALUES ($1, $2, $3, 'queued', $4)",
            &id,
            org,
            number,
            now
        )?;
    }
    let draft = event("rotation.job.started", format!("job:{id}"), actor, details)?;
    ledger::append(tx, org, now, draft).await?;
    Ok(id)
}

/// `WHERE` of a current PIN version `$v` (of an item's number) that retired what its job
/// `$j` was queued to retire: made current after the job last queued the number (created
/// it, or touched it: a reveal, a pause or resume), and never revealed itself. The second
/// half needs no clocks to agree: a revealed current PIN is never skipped, whenever it
/// became current.
macro_rules! moot_item {
    ($v:literal, $j:literal) => {
        concat!(
            "WHERE ",
            $v,
            ".status = 'current' AND ",
            $v,
            ".revealed_at IS NULL AND ",
            $v,
            ".confirmed_at > ",
            $j,
            ".updated_at"
        )
    };
}

/// SQL: rotation item `i` is one no live worker holds — queued, or claimed by a worker
/// whose lease ran out before `$3` (the items [`claim`] hands out). A macro so each query
/// stays one `&'static str`.
macro_rules! unheld_item {
    () => {
        "(i.status = 'queued' OR (i.status = 'running' AND i.lease_until < $3))"
    };
}

/// Queues the rotation of one number (its row id) inside the caller's transaction, because
/// of `cause` (an action name such as `pin.revealed`, written to the job's ledger event),
/// and returns the job's id. A job of the org still `running` or `paused` with the number
/// still queued is reused instead: one rotation retires the PIN however often it was
/// revealed. Reusing it touches it, so the latest reveal gets the whole [`REVEAL_GRACE`]
/// before `pinward serve` runs it. An item whose worker's lease ran out is not reused:
/// leases are not renewed, so that worker may still be sending and may already have made
/// current the very PIN this reveal shows; a rotation of its own retires it for sure.
pub(crate) async fn queue_one(
    tx: &mut Tx,
    org: &str,
    actor: &Actor,
    number_id: &str,
    cause: &str,
) -> Result<String, Error> {
    let now = Utc::now();
    let sql = "SELECT j.id FROM rotation_items i JOIN rotation_jobs j ON j.id = i.job_id \
               WHERE i.org_id = $1 AND i.phone_number_id = $2 AND i.status = 'queued' \
               AND j.status IN ('running', 'paused') ORDER BY j.created_at LIMIT 1";
    let open: Option<String> = on_tx!(tx, conn => sqlx::query_scalar(sql)
        .bind(org).bind(number_id).fetch_optional(conn).await)?;
    if let Some(job) = open {
        exec!(
            tx,
            "UPDATE rotation_jobs SET updated_at = $2 WHERE id = $1",
            &job,
            now
        )?;
        return Ok(job);
    }
    let numbers = [number_id.to_owned()];
    insert_job(
        tx,
        org,
        actor,
        &numbers,
        1,
        json!({ "numbers": 1, "concurrency": 1, "cause": cause }),
    )
    .await
}

/// The one-number rotation job still waiting for a worker on `phone` — the rotation a
/// reveal queued under the rotate-after-reveal policy, queued or left by a worker whose
/// lease ran out — if there is one and no rotation by other means (a handover's, another
/// job's) retired the revealed PIN since. Running it (with [`run`]) rotates exactly that
/// number; a moot one is skipped when run (`rotated since it was queued`).
///
/// # Errors
/// [`Error::NotFound`] for a number the caller cannot see; database errors.
pub async fn queued_for(
    store: &Store,
    caller: &crate::access::Caller,
    phone: &PhoneNumberId,
) -> Result<Option<String>, Error> {
    caller.require(crate::access::Permission::ReadNumbers)?;
    let mut tx = store.read_for(&caller.org_id).await?;
    let row = crate::numbers::visible(&mut tx, caller, phone, false).await?;
    let sql = concat!(
        "SELECT j.id FROM rotation_items i JOIN rotation_jobs j ON j.id = i.job_id \
         WHERE i.org_id = $1 AND i.phone_number_id = $2 AND ",
        unheld_item!(),
        " AND j.status = 'running' \
         AND (SELECT COUNT(*) FROM rotation_items k WHERE k.job_id = j.id) = 1 \
         AND NOT EXISTS (SELECT 1 FROM pin_versions v ",
        moot_item!("v", "j"),
        " AND v.org_id = i.org_id AND v.phone_number_id = i.phone_number_id) \
         ORDER BY j.created_at LIMIT 1"
    );
    let job: Option<String> = on_tx!(tx, conn => sqlx::query_scalar(sql)
        .bind(&caller.org_id).bind(&row.id).bind(Utc::now()).fetch_optional(conn).await)?;
    tx.rollback().await?;
    Ok(job)
}

/// How long a rotation queued by a reveal waits for a person before the service runs it by
/// itself: the revealed PIN is what re-registers the number, so it must stay valid for a
/// while, but not for good.
pub const REVEAL_GRACE: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// The one-number rotation jobs of `org` that no worker is running — their number still
/// waits in the queue, or the worker that claimed it died and its lease ran out — and which
/// were last queued (by a reveal, or touched otherwise) at or before `queued_by`, oldest
/// first: the rotations reveals queued that nobody ran to the end (`pinward serve` runs
/// those [`REVEAL_GRACE`] old). A job with a live worker on it has its item leased.
///
/// # Errors
/// Database errors.
pub async fn waiting_since(
    store: &Store,
    org: &str,
    queued_by: DateTime<Utc>,
) -> Result<Vec<String>, Error> {
    // The same items `claim` would hand out: an interrupted run (serve restarted mid-way)
    // is not a run, and nothing else would ever finish it.
    let sql = concat!(
        "SELECT j.id FROM rotation_jobs j \
         WHERE j.org_id = $1 AND j.status = 'running' AND j.updated_at <= $2 \
         AND (SELECT COUNT(*) FROM rotation_items k WHERE k.job_id = j.id) = 1 \
         AND EXISTS (SELECT 1 FROM rotation_items i WHERE i.job_id = j.id AND ",
        unheld_item!(),
        ") ORDER BY j.created_at, j.id"
    );
    let jobs: Vec<String> = crate::on_read!(store, org, conn => sqlx::query_scalar(sql)
        .bind(org).bind(queued_by).bind(Utc::now()).fetch_all(conn).await)?;
    Ok(jobs)
}

/// How long after the first failed rotation since a reveal `pinward serve` tries again.
/// Each further failure doubles the wait, up to [`RETRY_LONGEST`]: a Meta outage passes
/// within hours, while a lasting cause (a revoked credential) should not fill the ledger.
pub const RETRY_FIRST: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// The longest wait between two retries of a revealed PIN's rotation.
pub const RETRY_LONGEST: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// The wait before the next retry after `failures` failed rotations since the reveal.
#[must_use]
pub fn retry_after(failures: u32) -> chrono::TimeDelta {
    // 2^5 hours already exceeds a day, so more doublings change nothing.
    let doublings = failures.saturating_sub(1).min(5);
    (RETRY_FIRST * (1 << doublings)).min(RETRY_LONGEST)
}

/// The numbers whose revealed PIN `pinward serve` should try again to retire at `now`:
/// under the rotate-after-reveal policy, their current PIN was revealed at or before
/// `revealed_by` (its grace is over), every rotation since has failed — the last one at
/// least [`retry_after`] ago — and no job still holds them (a paused bulk job does: it
/// runs them when resumed). A rotation a person cancelled is not a failure, so serve never
/// overrules it.
///
/// # Errors
/// Database errors.
pub async fn failed_after_reveal(
    store: &Store,
    org: &str,
    revealed_by: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<PhoneNumberId>, Error> {
    let mut tx = store.read_for(org).await?;
    let due = retries_due(&mut tx, org, revealed_by, now).await?;
    tx.rollback().await?;
    // A stored id that is not a Meta id could never be rotated (`run` fails its item),
    // so retrying it would only ledger another failure.
    Ok(due
        .into_iter()
        .filter_map(|(_, meta_id)| PhoneNumberId::parse(&meta_id).ok())
        .collect())
}

/// Queues (as `system`, ledgered) a new rotation of `phone` if it is still one
/// [`failed_after_reveal`] lists, checked in the same transaction; returns the job to run
/// with [`run`], or `None` when the number is no longer due.
///
/// # Errors
/// Database errors.
pub async fn retry_rotation(
    store: &Store,
    org: &str,
    phone: &PhoneNumberId,
    revealed_by: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<String>, Error> {
    let mut tx = store.begin_for(org).await?;
    let due = retries_due(&mut tx, org, revealed_by, now).await?;
    let Some((number, _)) = due.iter().find(|(_, meta_id)| meta_id == phone.as_str()) else {
        return Ok(None);
    };
    let job = queue_one(&mut tx, org, &Actor::system(), number, RETRY_CAUSE).await?;
    tx.commit().await?;
    Ok(Some(job))
}

/// The cause a retried rotation's `rotation.job.started` event names.
const RETRY_CAUSE: &str = "pin.rotation.failed";

/// [`failed_after_reveal`]'s numbers as `(row id, Meta id)`.
async fn retries_due(
    tx: &mut Tx,
    org: &str,
    revealed_by: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<(String, String)>, Error> {
    if !crate::policies::load(tx, org).await?.rotate_after_reveal {
        return Ok(Vec::new());
    }
    // Started from the org's revealed current versions, which are few.
    let sql = "SELECT n.id, n.meta_phone_number_id, COUNT(*) AS failures, MAX(f.updated_at) AS last_failure \
               FROM pin_versions v \
               JOIN phone_numbers n ON n.org_id = v.org_id AND n.id = v.phone_number_id \
               JOIN rotation_items f ON f.org_id = v.org_id AND f.phone_number_id = v.phone_number_id \
                    AND f.status = 'failed' AND f.updated_at >= v.revealed_at \
               WHERE v.org_id = $1 AND v.status = 'current' AND v.revealed_at <= $2 \
               AND n.pin_state IN ('escrowed', 'rotating', 'uncertain') \
               AND NOT EXISTS (SELECT 1 FROM rotation_items o JOIN rotation_jobs oj ON oj.id = o.job_id \
                    WHERE o.org_id = v.org_id AND o.phone_number_id = v.phone_number_id \
                    AND o.status IN ('queued', 'running') AND oj.status IN ('running', 'paused')) \
               GROUP BY n.id, n.meta_phone_number_id ORDER BY n.meta_phone_number_id";
    let rows: Vec<(String, String, i64, DateTime<Utc>)> = on_tx!(tx, conn => sqlx::query_as(sql)
        .bind(org).bind(revealed_by).fetch_all(conn).await)?;
    Ok(rows
        .into_iter()
        .filter(|(_, _, failures, last)| {
            let failures = u32::try_from(*failures).unwrap_or(u32::MAX);
            *last + retry_after(failures) <= now
        })
        .map(|(number, meta_id, _, _)| (number, meta_id))
        .collect())
}

/// The job's status and counts; `NotFound` for another org's job.
pub async fn status(store: &Store, org: &str, job: &str) -> Result<JobStatus, Error> {
    let sql = "SELECT status, concurrency FROM rotation_jobs WHERE org_id = $1 AND id = $2";
    let row: Option<(String, i64)> = crate::on_read!(store, org, conn => sqlx::query_as(sql).bind(org).bind(job).fetch_optional(conn).await)?;
    let (status, concurrency) = row.ok_or(Error::NotFound {
        what: "rotation job",
    })?;
    let sql = "SELECT status, COUNT(*) FROM rotation_items WHERE job_id = $1 GROUP BY status";
    let counts: Vec<(String, i64)> =
        crate::on_read!(store, org, conn => sqlx::query_as(sql).bind(job).fetch_all(conn).await)?;
    let count = |name: &str| {
        counts
            .iter()
            .find(|(s, _)| s == name)
            .map_or(0, |(_, n)| *n)
    };
    Ok(JobStatus {
        id: job.to_owned(),
        status,
        concurrency,
        total: counts.iter().map(|(_, n)| n).sum(),
        queued: count("queued"),
        running: count("running"),
        done: count("done"),
        failed: count("failed"),
        skipped: count("skipped"),
    })
}

/// Pauses, resumes or cancels a job (ledgered). A finished or cancelled job refuses.
pub async fn control(
    store: &Store,
    org: &str,
    actor: &Actor,
    job: &str,
    command: Command,
) -> Result<JobStatus, Error> {
    let mut tx = store.begin_for(org).await?;
    let current: Option<String> = {
        let sql = dialect::select_job_for_update(tx.backend());
        on_tx!(tx, conn => sqlx::query_scalar(sql)
        .bind(org).bind(job).fetch_optional(conn).await)
    }?;
    let current = current.ok_or(Error::NotFound {
        what: "rotation job",
    })?;
    let (from, to, action): (&[&str], &str, &str) = match command {
        Command::Pause => (&["running"], "paused", "rotation.job.paused"),
        Command::Resume => (&["paused", "running"], "running", "rotation.job.resumed"),
        Command::Cancel => (
            &["running", "paused"],
            "cancelled",
            "rotation.job.cancelled",
        ),
    };
    if !from.contains(&current.as_str()) {
        return Err(Error::Invalid {
            field: "job",
            problem: format!("the job is {current}"),
        });
    }
    let now = Utc::now();
    let finished = (to == "cancelled").then_some(now);
    exec!(
        tx,
        "UPDATE rotation_jobs SET status = $2, updated_at = $3, finished_at = $4 WHERE id = $1",
        job,
        to,
        now,
        finished
    )?;
    if to == "cancelled" {
        exec!(
            tx,
            "UPDATE rotation_items SET status = 'skipped', outcome = 'cancelled', updated_at = $2 \
                   WHERE job_id = $1 AND status = 'queued'",
            job,
            now
        )?;
    }
    let draft = event(
        action,
        format!("job:{job}"),
        actor,
        json!({ "from": current }),
    )?;
    ledger::append(&mut tx, org, now, draft).await?;
    tx.commit().await?;
    status(store, org, job).await
}

/// Works on the job with the job's concurrency until no item is left to claim, the job is
/// paused or cancelled. Calls `progress` after each item. Marks the job `done` (ledgered)
/// when every item is finished.
pub async fn run(
    custodian: &Custodian,
    org: &str,
    actor: &Actor,
    job: &str,
    recovery: &[Recipient],
    progress: &Progress<'_>,
) -> Result<JobStatus, Error> {
    run_claiming(custodian, org, actor, job, None, recovery, progress).await
}

/// [`run`], for a rotation found waiting since `queued_by` (by [`waiting_since`]): each
/// claim first checks, in its own transaction and after the number's lock, that nothing
/// touched the job since. A reveal between finding the job and claiming its number
/// restarts the grace, so the PIN it just showed is not retired under the person's feet;
/// the job then waits again, its item still queued.
///
/// # Errors
/// As [`run`].
pub async fn run_waiting(
    custodian: &Custodian,
    org: &str,
    actor: &Actor,
    job: &str,
    queued_by: DateTime<Utc>,
    recovery: &[Recipient],
    progress: &Progress<'_>,
) -> Result<JobStatus, Error> {
    run_claiming(
        custodian,
        org,
        actor,
        job,
        Some(queued_by),
        recovery,
        progress,
    )
    .await
}

async fn run_claiming(
    custodian: &Custodian,
    org: &str,
    actor: &Actor,
    job: &str,
    queued_by: Option<DateTime<Utc>>,
    recovery: &[Recipient],
    progress: &Progress<'_>,
) -> Result<JobStatus, Error> {
    let store = custodian.store();
    let initial = status(store, org, job).await?;
    let workers = usize::try_from(initial.concurrency).unwrap_or(1).max(1);
    let results = join_all(
        (0..workers).map(|_| work(custodian, org, actor, job, queued_by, recovery, progress)),
    )
    .await;
    for result in results {
        result?;
    }
    finish_if_complete(store, org, job).await?;
    status(store, org, job).await
}

async fn work(
    custodian: &Custodian,
    org: &str,
    actor: &Actor,
    job: &str,
    queued_by: Option<DateTime<Utc>>,
    recovery: &[Recipient],
    progress: &Progress<'_>,
) -> Result<(), Error> {
    let store = custodian.store();
    while let Some((number_id, meta_id, state)) = claim(custodian, org, job, queued_by).await? {
        let (status, outcome, attempt) = match PhoneNumberId::parse(&meta_id) {
            Err(_) => ("failed", "not a Meta phone number id".to_owned(), None),
            Ok(phone) => run_item(custodian, org, actor, &phone, state, recovery).await?,
        };
        let now = Utc::now();
        let sql = "UPDATE rotation_items SET status = $3, outcome = $4, lease_owner = NULL, lease_until = NULL, \
                   updated_at = $5 WHERE job_id = $1 AND phone_number_id = $2 AND lease_owner = $6";
        let mut tx = store.begin_for(org).await?;
        on_tx!(tx, conn => sqlx::query(sql)
            .bind(job).bind(&number_id).bind(status).bind(&outcome).bind(now).bind(custodian.worker_id())
            .execute(conn).await.map(|r| r.rows_affected()))?;
        tx.commit().await?;
        progress(&self::status(store, org, job).await?, attempt.as_ref());
    }
    Ok(())
}

async fn run_item(
    custodian: &Custodian,
    org: &str,
    actor: &Actor,
    phone: &PhoneNumberId,
    state: PinState,
    recovery: &[Recipient],
) -> Result<(&'static str, String, Option<Outcome>), Error> {
    let result = match state {
        PinState::Released => return Ok(("skipped", "released".to_owned(), None)),
        PinState::Unknown => custodian.take(org, actor, phone, recovery).await,
        PinState::Escrowed => custodian.rotate(org, actor, phone, recovery).await,
        PinState::Rotating | PinState::Uncertain => custodian.resume(org, actor, phone).await,
    };
    let outcome = match result {
        Ok(outcome) => outcome,
        // Escrow moved to another identity, or a key rotation runs: every item would fail
        // alike. The worker stops and leaves the item to be claimed again once its lease
        // ends, by a process that may seal.
        Err(error @ (Error::IdentityRotated | Error::KeyRotationUnfinished)) => return Err(error),
        Err(error) => return Ok(("failed", error.to_string(), None)),
    };
    let (status, said) = match &outcome {
        Outcome::Confirmed { version } => ("done", format!("confirmed version {version}")),
        Outcome::Idle => ("done", "nothing pending".to_owned()),
        Outcome::Rejected { version, code } => (
            "failed",
            format!("version {version} rejected (code {code:?})"),
        ),
        Outcome::Uncertain {
            version, failures, ..
        } => (
            "failed",
            format!("version {version} uncertain after {failures} send(s)"),
        ),
    };
    Ok((status, said, Some(outcome)))
}

/// Claims the next item: `(number row id, Meta id, PIN state)`, or `None` when nothing is
/// left, the job is no longer running, or (with `queued_by`) it was touched after then.
async fn claim(
    custodian: &Custodian,
    org: &str,
    job: &str,
    queued_by: Option<DateTime<Utc>>,
) -> Result<Option<(String, String, PinState)>, Error> {
    loop {
        let mut tx = custodian.store().begin_for(org).await?;
        let now: DateTime<Utc> = Utc::now();
        let job_status: Option<String> = on_tx!(tx, conn => sqlx::query_scalar("SELECT status FROM rotation_jobs WHERE org_id = $1 AND id = $2")
            .bind(org).bind(job).fetch_optional(conn).await)?;
        if job_status.as_deref() != Some("running") {
            return Ok(None);
        }
        let item: Option<String> = {
            let sql = dialect::select_claimable_item(tx.backend());
            on_tx!(tx, conn => sqlx::query_scalar(sql)
            .bind(job).bind(now).fetch_optional(conn).await)
        }?;
        let Some(number_id) = item else {
            return Ok(None);
        };
        let (meta_id, state): (String, String) = {
            let sql = dialect::select_item_number_for_update(tx.backend());
            on_tx!(tx, conn => sqlx::query_as(sql).bind(&number_id).fetch_one(conn).await)
        }?;
        if let Some(queued_by) = queued_by {
            // Read after the number's lock: a reveal holding it has committed by now.
            let touched: DateTime<Utc> = on_tx!(tx, conn => sqlx::query_scalar(
                "SELECT updated_at FROM rotation_jobs WHERE id = $1")
                .bind(job).fetch_one(conn).await)?;
            if touched > queued_by {
                return Ok(None);
            }
        }
        // Rotated by other means since it was queued (a handover's rotation, another job):
        // the PIN this rotation was to retire is retired already. Skipped in a transaction
        // of its own, so no two numbers' locks are ever held at once.
        if state == PinState::Escrowed.as_str()
            && let Some(version) = rotated_since_queued(&mut tx, job, &number_id).await?
        {
            exec!(
                tx,
                "UPDATE rotation_items SET status = 'skipped', outcome = $3, lease_owner = NULL, \
                 lease_until = NULL, updated_at = $4 WHERE job_id = $1 AND phone_number_id = $2",
                job,
                &number_id,
                format!("rotated since it was queued (version {version})"),
                now
            )?;
            tx.commit().await?;
            continue;
        }
        return lease(custodian, tx, job, number_id, meta_id, &state, now).await;
    }
}

/// Leases the claimed item to this worker and commits the claim.
async fn lease(
    custodian: &Custodian,
    mut tx: Tx,
    job: &str,
    number_id: String,
    meta_id: String,
    state: &str,
    now: DateTime<Utc>,
) -> Result<Option<(String, String, PinState)>, Error> {
    let until = now
        + chrono::Duration::from_std(custodian.settings().lease)
            .unwrap_or(chrono::Duration::zero());
    exec!(
        tx,
        "UPDATE rotation_items SET status = 'running', lease_owner = $3, lease_until = $4, updated_at = $5 \
               WHERE job_id = $1 AND phone_number_id = $2",
        job,
        &number_id,
        custodian.worker_id(),
        until,
        now
    )?;
    tx.commit().await?;
    let state = PinState::parse(state).unwrap_or(PinState::Unknown);
    Ok(Some((number_id, meta_id, state)))
}

/// The current version of number `number_id` if it retired what `job` was queued to retire
/// (see `moot_item!`).
async fn rotated_since_queued(
    tx: &mut Tx,
    job: &str,
    number_id: &str,
) -> Result<Option<i64>, Error> {
    let sql = concat!(
        "SELECT v.version FROM pin_versions v, rotation_jobs j ",
        moot_item!("v", "j"),
        " AND j.id = $1 AND v.phone_number_id = $2"
    );
    let version: Option<i64> = on_tx!(tx, conn => sqlx::query_scalar(sql)
        .bind(job).bind(number_id).fetch_optional(conn).await)?;
    Ok(version)
}

async fn finish_if_complete(store: &Store, org: &str, job: &str) -> Result<(), Error> {
    let mut tx = store.begin_for(org).await?;
    let current: Option<String> = {
        let sql = dialect::select_job_for_update(tx.backend());
        on_tx!(tx, conn => sqlx::query_scalar(sql)
        .bind(org).bind(job).fetch_optional(conn).await)
    }?;
    let open: i64 = on_tx!(tx, conn => sqlx::query_scalar(
        "SELECT COUNT(*) FROM rotation_items WHERE job_id = $1 AND status IN ('queued', 'running')")
        .bind(job).fetch_one(conn).await)?;
    if current.as_deref() != Some("running") || open > 0 {
        return Ok(());
    }
    let counts: Vec<(String, i64)> = on_tx!(tx, conn => sqlx::query_as(
        "SELECT status, COUNT(*) FROM rotation_items WHERE job_id = $1 GROUP BY status")
        .bind(job).fetch_all(conn).await)?;
    let now = Utc::now();
    exec!(
        tx,
        "UPDATE rotation_jobs SET status = 'done', updated_at = $2, finished_at = $2 WHERE id = $1",
        job,
        now
    )?;
    let details: serde_json::Map<String, serde_json::Value> =
        counts.into_iter().map(|(s, n)| (s, json!(n))).collect();
    let draft = event(
        "rotation.job.finished",
        format!("job:{job}"),
        &Actor::system(),
        serde_json::Value::Object(details),
    )?;
    ledger::append(&mut tx, org, now, draft).await?;
    tx.commit().await?;
    Ok(())
}
