//! Ledger export from the database: events streamed row by row into an `audit` writer,
//! then a freshly signed (and stored) checkpoint of the last exported event.
//!
//! Memory stays constant whatever the ledger's size: events are read a bounded chunk at a
//! time, then re-hashed and written one by one. The range is fixed when the export starts (`to` defaults to the
//! head at that moment), so events appended meanwhile don't make the file inconsistent:
//! rows at or below a committed head never change (the table is append-only).

use std::io::Write;

use audit::{
    ChainHead, CheckpointKey, CsvWriter, Event, JsonlWriter, SignedCheckpoint, StoredEvent,
    Timestamp,
};
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;

use crate::store::Tx;
use crate::store::dialect::{self, LedgerRead};
use crate::{Error, Store, checkpoints, on_pool, on_tx};

/// The file formats of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON Lines: one canonical JSON object per line, then the checkpoint line.
    Jsonl,
    /// RFC 4180 CSV with formula injection neutralized, then the checkpoint row.
    Csv,
}

/// Which events to export: `from..=to` by seq; `None` means the first event / the head.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Range {
    /// First seq to export (default 1).
    pub from: Option<u64>,
    /// Last seq to export (default: the head when the export starts).
    pub to: Option<u64>,
}

/// What an export wrote.
#[derive(Debug)]
pub struct Summary {
    /// The org's id.
    pub org_id: String,
    /// Events written.
    pub events: u64,
    /// The checkpoint that ends the file (also stored in the database).
    pub checkpoint: SignedCheckpoint,
}

/// Streams the events of `org` (an org id or slug) in `range` to `out` in `format`, ending
/// with a checkpoint signed by `key` at `now`, which is also stored.
pub async fn export<W: Write>(
    store: &Store,
    org: &str,
    range: Range,
    format: Format,
    key: &CheckpointKey,
    now: DateTime<Utc>,
    out: W,
) -> Result<(W, Summary), Error> {
    let org_id = resolve_org(store, org).await?;
    let head = head_seq(store, &org_id).await?;
    let from = range.from.unwrap_or(1);
    let to = range.to.unwrap_or(head);
    if from == 0 {
        return Err(Error::Invalid {
            field: "from",
            problem: "seq numbers start at 1".into(),
        });
    }
    if range.from.is_some() && from > head {
        return Err(Error::Invalid {
            field: "from",
            problem: format!("the ledger ends at seq {head}"),
        });
    }
    if range.to.is_some() && to > head {
        // Never a file that looks complete up to a seq the ledger has not reached.
        return Err(Error::Invalid {
            field: "to",
            problem: format!("the ledger ends at seq {head}"),
        });
    }
    if from > to && head > 0 {
        return Err(Error::Invalid {
            field: "to",
            problem: format!("{to} is before the first seq asked for ({from})"),
        });
    }

    let mut sink = match format {
        Format::Jsonl => Sink::Jsonl(JsonlWriter::new(out)),
        Format::Csv => Sink::Csv(Box::new(CsvWriter::new(out)?)),
    };
    let mut last = ChainHead::GENESIS;
    let mut events = 0_u64;
    if head > 0 {
        // The newest head this key vouched for inside the range: the chain read now must
        // still pass through it, or rows were rewritten (and re-hashed) since, and this
        // export would sign the rewritten history.
        let vouched = checkpoints::latest_signed_by(store, &org_id, &key.public_key(), to)
            .await?
            .map(|signed| (signed.checkpoint().seq(), signed.checkpoint().head()))
            .filter(|&(seq, _)| seq >= from);
        let mut batches = read_in_batches(store.clone(), org_id.clone(), from, to)?;
        while let Some(batch) = batches.recv().await {
            for row in batch? {
                let event = to_event(&org_id, row)?;
                if vouched.is_some_and(|(seq, hash)| seq == event.seq() && hash != event.hash()) {
                    return Err(Error::LedgerCorrupt(
                        "the stored chain no longer matches a checkpoint this service signed",
                    ));
                }
                sink.write(&event)?;
                last = ChainHead::from(&event);
                events += 1;
            }
        }
        let expected = to - from + 1;
        if events != expected {
            return Err(Error::LedgerCorrupt(
                "events are missing from the stored chain",
            ));
        }
    }

    let mut tx = store.begin_for(&org_id).await?;
    let checkpoint = checkpoints::sign_and_store(&mut tx, key, &org_id, &last, now).await?;
    tx.commit().await?;
    let out = sink.finish(&checkpoint)?;
    Ok((
        out,
        Summary {
            org_id,
            events,
            checkpoint,
        },
    ))
}

/// A `ledger_events` row: seq, at, actor, action, subject, details, prev, hash.
pub(crate) type Row = (i64, String, String, String, String, String, String, String);

/// Events per message from the reading task (and per query, when reading JSON chunks).
const CHUNK: usize = 512;

type Batches = tokio::sync::mpsc::Sender<Result<Vec<Row>, Error>>;

/// Reads the rows `from..=to` on a task of its own and hands them over in batches, so the
/// database's work and the re-hashing and writing run on two cores at once. The bounded
/// channel keeps memory constant: the reader waits while the writer is behind.
fn read_in_batches(
    store: Store,
    org_id: String,
    from: u64,
    to: u64,
) -> Result<tokio::sync::mpsc::Receiver<Result<Vec<Row>, Error>>, Error> {
    let (from, to) = (to_i64(from)?, to_i64(to)?);
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        let read: Result<(), Error> = async {
            let mut tx = store.read_for(&org_id).await?;
            match dialect::ledger_read(tx.backend()) {
                LedgerRead::JsonChunks(sql) => {
                    read_json_chunks(&mut tx, sql, &org_id, from, to, &sender).await?;
                }
                LedgerRead::Rows(sql) => {
                    read_rows(&mut tx, sql, &org_id, from, to, &sender).await?
                }
            }
            tx.rollback().await?;
            Ok(())
        }
        .await;
        if let Err(error) = read {
            let _ = sender.send(Err(error)).await;
        }
    });
    Ok(receiver)
}

async fn read_json_chunks(
    tx: &mut Tx,
    sql: &'static str,
    org_id: &str,
    from: i64,
    to: i64,
    sender: &Batches,
) -> Result<(), Error> {
    let chunk = i64::try_from(CHUNK).unwrap_or(1);
    let mut start = from;
    while start <= to {
        let end = to.min(start.saturating_add(chunk - 1));
        let json: String = on_tx!(tx, conn => sqlx::query_scalar(sql)
            .bind(org_id).bind(start).bind(end).fetch_one(conn).await)?;
        let mut rows: Vec<Row> = serde_json::from_str(&json).map_err(|_| {
            Error::LedgerCorrupt("the database returned a ledger chunk that is not JSON")
        })?;
        // An aggregate keeps its input's order in practice, not by promise.
        rows.sort_unstable_by_key(|row| row.0);
        if sender.send(Ok(rows)).await.is_err() {
            return Ok(()); // the export stopped; stop reading
        }
        start = end.saturating_add(1);
    }
    Ok(())
}

async fn read_rows(
    tx: &mut Tx,
    sql: &'static str,
    org_id: &str,
    from: i64,
    to: i64,
    sender: &Batches,
) -> Result<(), Error> {
    on_tx!(tx, conn => {
        let mut rows = sqlx::query_as::<_, Row>(sql)
            .bind(org_id)
            .bind(from)
            .bind(to)
            .fetch(conn);
        let mut batch = Vec::with_capacity(CHUNK);
        while let Some(row) = rows.try_next().await? {
            batch.push(row);
            if batch.len() == CHUNK {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(CHUNK));
                if sender.send(Ok(full)).await.is_err() {
                    return Ok(()); // the export stopped; stop reading
                }
            }
        }
        if !batch.is_empty() {
            let _ = sender.send(Ok(batch)).await;
        }
        Ok::<(), Error>(())
    })
}

/// The event of a stored row, re-hashed.
pub(crate) fn to_event(org: &str, row: Row) -> Result<Event, Error> {
    let (seq, at, actor, action, subject, details, prev, hash) = row;
    let stored = StoredEvent {
        seq: u64::try_from(seq).map_err(|_| Error::LedgerCorrupt("a negative seq"))?,
        org: org.to_owned(),
        at: Timestamp::parse(&at)?.as_datetime(),
        actor,
        action,
        subject,
        details,
        prev,
        hash,
    };
    // Re-hashing on the way out turns a row edited behind pinward's back into an error
    // here instead of a file that fails only at the auditor's desk.
    Ok(Event::from_stored(stored)?)
}

enum Sink<W: Write> {
    Jsonl(JsonlWriter<W>),
    Csv(Box<CsvWriter<W>>),
}

impl<W: Write> Sink<W> {
    fn write(&mut self, event: &Event) -> Result<(), Error> {
        match self {
            Sink::Jsonl(writer) => writer.write_event(event)?,
            Sink::Csv(writer) => writer.write_event(event)?,
        }
        Ok(())
    }

    fn finish(self, checkpoint: &SignedCheckpoint) -> Result<W, Error> {
        Ok(match self {
            Sink::Jsonl(writer) => writer.finish(checkpoint)?,
            Sink::Csv(writer) => writer.finish(checkpoint)?,
        })
    }
}

/// The id of the org named by `org`, an id or a slug.
async fn resolve_org(store: &Store, org: &str) -> Result<String, Error> {
    let sql = "SELECT id FROM orgs WHERE id = $1 OR slug = $1 ORDER BY (id = $1) DESC LIMIT 1";
    let id: Option<String> =
        on_pool!(store, pool => sqlx::query_scalar(sql).bind(org).fetch_optional(pool).await)?;
    id.ok_or(Error::NotFound { what: "org" })
}

async fn head_seq(store: &Store, org_id: &str) -> Result<u64, Error> {
    let sql = "SELECT seq FROM ledger_heads WHERE org_id = $1";
    let seq: Option<i64> = crate::on_read!(store, org_id, conn => sqlx::query_scalar(sql).bind(org_id).fetch_optional(conn).await)?;
    u64::try_from(seq.unwrap_or(0)).map_err(|_| Error::LedgerCorrupt("a negative head seq"))
}

fn to_i64(seq: u64) -> Result<i64, Error> {
    i64::try_from(seq).map_err(|_| Error::Invalid {
        field: "seq",
        problem: "beyond the largest seq a ledger can hold".into(),
    })
}

#[cfg(test)]
mod tests {
    use audit::{Action, Actor, Details, EventDraft, Start, VerifyOptions};
    use pinward_tests::on_both_databases;

    use super::*;
    use crate::{DatabaseTarget, ledger, on_tx};

    async fn store_with_events(db: &pinward_tests::TestDb, org: &str, events: usize) -> Store {
        let store = Store::connect(&DatabaseTarget::parse(db.url()).unwrap())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        add_org(&store, org).await;
        append_events(&store, org, events).await;
        store
    }

    async fn add_org(store: &Store, org: &str) {
        let mut tx = store.begin().await.unwrap();
        let sql = "INSERT INTO orgs (id, slug, name, created_at) VALUES ($1, $2, 'Org', '2026-01-01T00:00:00Z')";
        let slug = format!("{org}-slug");
        on_tx!(tx, conn => sqlx::query(sql).bind(org).bind(&slug).execute(conn).await.map(|r| r.rows_affected()))
            .unwrap();
        tx.commit().await.unwrap();
    }

    async fn append_events(store: &Store, org: &str, events: usize) {
        let mut tx = store.begin().await.unwrap();
        for n in 0..events {
            let draft = EventDraft {
                actor: Actor::system(),
                action: Action::parse("number.discovered").unwrap(),
                // Cells a spreadsheet would run as formulas must survive the CSV round trip.
                subject: if n % 3 == 0 {
                    format!("=phone:{n}")
                } else {
                    format!("phone:{n}")
                },
                details: Details::new(serde_json::json!({ "n": n, "note": "a, \"quoted\"\nline" }))
                    .unwrap(),
            };
            ledger::append(&mut tx, org, Utc::now(), draft)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }

    /// What someone with write access to the database could do: lift the append-only
    /// triggers and rewrite the events from `seq` on into a different chain that hashes and
    /// links correctly.
    async fn rewrite_from(db: &pinward_tests::TestDb, store: &Store, org: &str, seq: u64) {
        let drop = match db.backend() {
            pinward_tests::Backend::Sqlite => "DROP TRIGGER ledger_events_no_update",
            pinward_tests::Backend::Postgres => {
                "DROP TRIGGER ledger_events_no_update ON ledger_events"
            }
        };
        let mut tx = store.begin().await.unwrap();
        on_tx!(tx, conn => sqlx::query(drop).execute(conn).await.map(|r| r.rows_affected()))
            .unwrap();
        let before: String = on_tx!(tx, conn => sqlx::query_scalar("SELECT hash FROM ledger_events WHERE org_id = $1 AND seq = $2")
            .bind(org).bind(i64::try_from(seq - 1).unwrap()).fetch_one(conn).await).unwrap();
        let mut head = ChainHead {
            seq: seq - 1,
            hash: audit::Hash::from_hex(&before).unwrap(),
        };
        let last: i64 =
            on_tx!(tx, conn => sqlx::query_scalar("SELECT seq FROM ledger_heads WHERE org_id = $1")
            .bind(org).fetch_one(conn).await)
            .unwrap();
        while head.seq < u64::try_from(last).unwrap() {
            let draft = EventDraft {
                actor: Actor::system(),
                action: Action::parse("number.discovered").unwrap(),
                subject: "phone:forged".to_owned(),
                details: Details::empty(),
            };
            let forged = audit::seal(org, &head, Utc::now(), draft)
                .unwrap()
                .to_stored();
            let update = "UPDATE ledger_events SET at = $3, actor = $4, action = $5, subject = $6, details = $7, \
                          prev = $8, hash = $9 WHERE org_id = $1 AND seq = $2";
            on_tx!(tx, conn => sqlx::query(update)
                .bind(org).bind(i64::try_from(forged.seq).unwrap())
                .bind(Timestamp::new(forged.at).unwrap().to_string()).bind(&forged.actor).bind(&forged.action)
                .bind(&forged.subject).bind(&forged.details).bind(&forged.prev).bind(&forged.hash)
                .execute(conn).await.map(|r| r.rows_affected())).unwrap();
            head = ChainHead {
                seq: forged.seq,
                hash: audit::Hash::from_hex(&forged.hash).unwrap(),
            };
        }
        on_tx!(tx, conn => sqlx::query("UPDATE ledger_heads SET hash = $2 WHERE org_id = $1")
            .bind(org).bind(head.hash.to_hex()).execute(conn).await.map(|r| r.rows_affected()))
        .unwrap();
        tx.commit().await.unwrap();
    }

    async fn export_to_vec(
        store: &Store,
        org: &str,
        range: Range,
        format: Format,
        key: &CheckpointKey,
    ) -> Result<(Vec<u8>, Summary), Error> {
        export(store, org, range, format, key, Utc::now(), Vec::new()).await
    }

    fn pinned(key: &CheckpointKey, start: Start) -> VerifyOptions {
        VerifyOptions {
            pinned_key: Some(key.public_key()),
            start,
        }
    }

    on_both_databases! {
        async fn a_jsonl_export_verifies_against_the_pinned_key_and_its_checkpoint_is_stored(db) {
            let store = store_with_events(&db, "acme", 40).await;
            let key = CheckpointKey::generate();
            let (file, summary) = export_to_vec(&store, "acme", Range::default(), Format::Jsonl, &key)
                .await
                .unwrap();
            let report = audit::verify_jsonl(file.as_slice(), &pinned(&key, Start::Genesis)).unwrap();
            assert_eq!(report.events, 40);
            assert_eq!(summary.events, 40);
            assert_eq!(summary.checkpoint.checkpoint().seq(), 40);
            let stored = checkpoints::latest(&store, "acme").await.unwrap().unwrap();
            assert_eq!(stored, summary.checkpoint);
        }

        async fn an_export_refuses_a_chain_rewritten_and_re_hashed_since_a_checkpoint_it_signed(db) {
            let store = store_with_events(&db, "acme", 10).await;
            let key = CheckpointKey::generate();
            export_to_vec(&store, "acme", Range::default(), Format::Jsonl, &key).await.unwrap();
            append_events(&store, "acme", 2).await;
            rewrite_from(&db, &store, "acme", 10).await;

            let error = export_to_vec(&store, "acme", Range::default(), Format::Jsonl, &key)
                .await
                .unwrap_err();
            assert!(matches!(error, Error::LedgerCorrupt(_)), "{error:?}");
            let stored = checkpoints::latest(&store, "acme").await.unwrap().unwrap();
            assert_eq!(stored.checkpoint().seq(), 10, "no checkpoint signed over the rewrite");
            // A range after the checkpoint cannot be linked to it, and another key vouched
            // for nothing here.
            let range = Range { from: Some(11), to: None };
            export_to_vec(&store, "acme", range, Format::Jsonl, &key).await.unwrap();
            export_to_vec(&store, "acme", Range::default(), Format::Jsonl, &CheckpointKey::generate())
                .await
                .unwrap();
        }

        async fn an_export_longer_than_one_read_has_every_event_once_in_order(db) {
            let events = 2 * CHUNK + 77;
            let store = store_with_events(&db, "acme", events).await;
            let key = CheckpointKey::generate();
            let (file, summary) = export_to_vec(&store, "acme", Range::default(), Format::Jsonl, &key)
                .await
                .unwrap();
            let report = audit::verify_jsonl(file.as_slice(), &pinned(&key, Start::Genesis)).unwrap();
            let events = u64::try_from(events).unwrap();
            assert_eq!((report.events, summary.events), (events, events));

            let chunk = u64::try_from(CHUNK).unwrap();
            let range = Range { from: Some(chunk - 5), to: Some(2 * chunk + 9) };
            let (file, summary) = export_to_vec(&store, "acme", range, Format::Csv, &key).await.unwrap();
            let report = audit::verify_csv(file.as_slice(), &pinned(&key, Start::Seq(chunk - 5))).unwrap();
            assert_eq!((report.events, summary.events), (chunk + 15, chunk + 15));
            assert_eq!(summary.checkpoint.checkpoint().seq(), 2 * chunk + 9);
        }

        async fn a_csv_export_verifies_and_neutralizes_formula_cells(db) {
            let store = store_with_events(&db, "acme", 12).await;
            let key = CheckpointKey::generate();
            let (file, _) = export_to_vec(&store, "acme", Range::default(), Format::Csv, &key)
                .await
                .unwrap();
            let report = audit::verify_csv(file.as_slice(), &pinned(&key, Start::Genesis)).unwrap();
            assert_eq!(report.events, 12);
            let text = String::from_utf8(file).unwrap();
            assert!(text.contains(",'=phone:0,"), "formula cell not neutralized: {text}");
        }

        async fn the_org_may_be_named_by_its_slug(db) {
            let store = store_with_events(&db, "acme", 3).await;
            let key = CheckpointKey::generate();
            let (_, summary) = export_to_vec(&store, "acme-slug", Range::default(), Format::Jsonl, &key)
                .await
                .unwrap();
            assert_eq!(summary.org_id, "acme");
            assert_eq!(summary.events, 3);
        }

        async fn a_range_export_holds_exactly_its_events_and_verifies_from_its_first_seq(db) {
            let store = store_with_events(&db, "acme", 30).await;
            let key = CheckpointKey::generate();
            let range = Range { from: Some(11), to: Some(20) };
            let (file, summary) = export_to_vec(&store, "acme", range, Format::Jsonl, &key)
                .await
                .unwrap();
            assert_eq!(summary.events, 10);
            let report = audit::verify_jsonl(file.as_slice(), &pinned(&key, Start::Seq(11))).unwrap();
            assert_eq!(report.events, 10);
            assert!(audit::verify_jsonl(file.as_slice(), &pinned(&key, Start::Genesis)).is_err());
        }

        async fn an_export_covers_only_one_org(db) {
            let store = store_with_events(&db, "acme", 5).await;
            add_org(&store, "globex").await;
            append_events(&store, "globex", 7).await;
            let key = CheckpointKey::generate();
            let (_, acme) = export_to_vec(&store, "acme", Range::default(), Format::Jsonl, &key).await.unwrap();
            let (_, globex) = export_to_vec(&store, "globex", Range::default(), Format::Jsonl, &key).await.unwrap();
            assert_eq!((acme.events, globex.events), (5, 7));
        }

        async fn an_empty_ledger_exports_the_genesis_checkpoint(db) {
            let store = store_with_events(&db, "acme", 0).await;
            let key = CheckpointKey::generate();
            let (file, summary) = export_to_vec(&store, "acme", Range::default(), Format::Jsonl, &key)
                .await
                .unwrap();
            assert_eq!(summary.checkpoint.checkpoint().seq(), 0);
            let report = audit::verify_jsonl(file.as_slice(), &pinned(&key, Start::Genesis)).unwrap();
            assert_eq!(report.events, 0);
        }

        async fn bad_ranges_and_unknown_orgs_are_typed_errors_and_store_no_checkpoint(db) {
            let store = store_with_events(&db, "acme", 5).await;
            let key = CheckpointKey::generate();
            let beyond = Range { from: Some(6), to: None };
            let backwards = Range { from: Some(4), to: Some(2) };
            let zero = Range { from: Some(0), to: None };
            for range in [beyond, backwards, zero] {
                let error = export_to_vec(&store, "acme", range, Format::Jsonl, &key).await.unwrap_err();
                assert!(matches!(error, Error::Invalid { .. }), "{range:?}: {error}");
            }
            let error = export_to_vec(&store, "nobody", Range::default(), Format::Jsonl, &key)
                .await
                .unwrap_err();
            assert!(matches!(error, Error::NotFound { what: "org" }), "{error}");
            assert!(checkpoints::latest(&store, "acme").await.unwrap().is_none());
        }

        async fn the_service_signs_a_checkpoint_only_for_orgs_whose_chain_moved(db) {
            let store = store_with_events(&db, "acme", 4).await;
            add_org(&store, "globex").await;
            append_events(&store, "globex", 2).await;
            let key = CheckpointKey::generate();
            assert_eq!(checkpoints::sign_moved_heads(&store, &key, Utc::now()).await.unwrap(), 2);
            assert_eq!(checkpoints::sign_moved_heads(&store, &key, Utc::now()).await.unwrap(), 0);
            append_events(&store, "globex", 1).await;
            assert_eq!(checkpoints::sign_moved_heads(&store, &key, Utc::now()).await.unwrap(), 1);
            let latest = checkpoints::latest(&store, "globex").await.unwrap().unwrap();
            assert_eq!(latest.checkpoint().seq(), 3);
            assert_eq!(latest.key(), &key.public_key());
        }
    }

    #[tokio::test]
    async fn a_row_edited_behind_pinwards_back_fails_the_export() {
        let db = pinward_tests::TestDb::new(pinward_tests::Backend::Sqlite).await;
        let store = store_with_events(&db, "acme", 5).await;
        let mut tx = store.begin().await.unwrap();
        for sql in [
            "DROP TRIGGER ledger_events_no_update",
            "UPDATE ledger_events SET subject = 'phone:forged' WHERE seq = 3",
        ] {
            on_tx!(tx, conn => sqlx::query(sql).execute(conn).await.map(|r| r.rows_affected()))
                .unwrap();
        }
        tx.commit().await.unwrap();
        let key = CheckpointKey::generate();
        let error = export_to_vec(&store, "acme", Range::default(), Format::Jsonl, &key)
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Audit(_)), "{error}");
    }
}
