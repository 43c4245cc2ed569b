//! Ledger export throughput from SQLite and PostgreSQL (a benchmark: figures printed,
//! nothing asserted about speed).
//!
//! Seeds one org with `PINWARD_BENCH_EVENTS` events (default 1,000,000) per backend, chained
//! and hashed exactly as `ledger::append` would but bulk-inserted to keep seeding short,
//! then times `governance::export::export` into a sink (JSONL and CSV) and reports events/s
//! and how much the process's peak RSS grew during the export (constant memory means it
//! does not grow with the event count).
//!
//! Run: `cargo bench -p governance --bench export` (PostgreSQL is started by the test
//! harness, as for the tests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use audit::{Action, Actor, ChainHead, CheckpointKey, Details, EventDraft, StoredEvent};
use chrono::{Duration, TimeZone, Utc};
use governance::export::{Format, Range};
use governance::{DatabaseTarget, Store};
use pinward_tests::{Backend, TestDb};
use sqlx::Connection;

const BATCH: usize = 1_000;

fn main() {
    let events: usize = std::env::var("PINWARD_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("ledger export, {events} events of one org (release build)");
    runtime.block_on(async {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            bench(backend, events).await;
        }
    });
}

async fn bench(backend: Backend, events: usize) {
    let db = TestDb::new(backend).await;
    let store = Store::connect(&DatabaseTarget::parse(db.url()).unwrap())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let started = Instant::now();
    seed(&db, events).await;
    settle(&db).await;
    let seeded = started.elapsed();
    println!(
        "{:<9} seeded in {:.1} s",
        backend_name(backend),
        seeded.as_secs_f64()
    );
    raw_stream(&db, events).await;
    let key = CheckpointKey::generate();
    for format in [Format::Jsonl, Format::Csv] {
        reset_peak_rss();
        let before = peak_rss_kib();
        let started = Instant::now();
        let (_, summary) = governance::export::export(
            &store,
            "bench",
            Range::default(),
            format,
            &key,
            Utc::now(),
            std::io::sink(),
        )
        .await
        .unwrap();
        let elapsed = started.elapsed().as_secs_f64();
        assert_eq!(summary.events as usize, events);
        println!(
            "{:<9} {:<5} {:>10.0} events/s  ({:.2} s)  peak RSS growth {} KiB",
            backend_name(backend),
            format!("{format:?}").to_lowercase(),
            events as f64 / elapsed,
            elapsed,
            peak_rss_kib().saturating_sub(before)
        );
    }
    store.close().await;
}

macro_rules! stream_with {
    ($conn:expr) => {{
        use futures_util::TryStreamExt;
        let sql = "SELECT seq, at, actor, action, subject, details, prev, hash FROM ledger_events \
                   WHERE org_id = 'bench' ORDER BY seq";
        let mut rows =
            sqlx::query_as::<_, (i64, String, String, String, String, String, String, String)>(sql)
                .fetch(&mut $conn);
        let mut n = 0_usize;
        while let Some(row) = rows.try_next().await.unwrap() {
            n += row.1.len().min(1);
        }
        n
    }};
}

/// The same rows streamed and decoded by sqlx alone, one row at a time: how fast the
/// driver hands rows over (on SQLite the export reads JSON chunks instead, to go faster).
async fn raw_stream(db: &TestDb, events: usize) {
    let started = Instant::now();
    let n = match db.backend() {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            stream_with!(conn)
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
            stream_with!(conn)
        }
    };
    assert_eq!(n, events);
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{:<9} rows  {:>10.0} rows/s    ({:.2} s)  sqlx streaming the rows, nothing else",
        backend_name(db.backend()),
        events as f64 / elapsed,
        elapsed
    );
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// Builds the chain in memory batch by batch and inserts it with multi-row INSERTs.
async fn seed(db: &TestDb, events: usize) {
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut head = ChainHead::GENESIS;
    let mut batches = Vec::new();
    let mut done = 0;
    while done < events {
        let n = BATCH.min(events - done);
        let mut batch = Vec::with_capacity(n);
        for i in done..done + n {
            let draft = EventDraft {
                actor: Actor::user(&format!("u-{}", i % 17)).unwrap(),
                action: Action::parse("pin.rotated").unwrap(),
                subject: format!("phone:{}", 100_000 + i % 5_000),
                details: Details::new(serde_json::json!({ "version": i, "attempt": "a-1" }))
                    .unwrap(),
            };
            let at = start + Duration::milliseconds(i64::try_from(i).unwrap());
            let event = audit::seal("bench", &head, at, draft).unwrap();
            head = ChainHead::from(&event);
            batch.push(event.to_stored());
        }
        batches.push(batch);
        done += n;
        if batches.len() == 50 || done == events {
            insert(db, &batches, &head).await;
            batches.clear();
        }
    }
}

macro_rules! insert_with {
    ($conn:expr, $batches:expr, $head:expr) => {{
        let mut tx = $conn.begin().await.unwrap();
        sqlx::query("INSERT INTO orgs (id, slug, name, created_at) VALUES ('bench', 'bench', 'Bench', '2026-01-01T00:00:00Z') ON CONFLICT DO NOTHING")
            .execute(&mut *tx)
            .await
            .unwrap();
        for batch in $batches {
            let mut query = sqlx::QueryBuilder::new(
                "INSERT INTO ledger_events (org_id, seq, at, actor, action, subject, details, prev, hash) ",
            );
            query.push_values(batch.iter(), |mut row, e: &StoredEvent| {
                row.push_bind("bench")
                    .push_bind(i64::try_from(e.seq).unwrap())
                    .push_bind(audit::Timestamp::new(e.at).unwrap().to_string())
                    .push_bind(e.actor.clone())
                    .push_bind(e.action.clone())
                    .push_bind(e.subject.clone())
                    .push_bind(e.details.clone())
                    .push_bind(e.prev.clone())
                    .push_bind(e.hash.clone());
            });
            query.build().execute(&mut *tx).await.unwrap();
        }
        sqlx::query("INSERT INTO ledger_heads (org_id, seq, hash) VALUES ('bench', $1, $2) \
                     ON CONFLICT (org_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash")
            .bind(i64::try_from($head.seq).unwrap())
            .bind($head.hash.to_hex())
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }};
}

async fn insert(db: &TestDb, batches: &[Vec<StoredEvent>], head: &ChainHead) {
    match db.backend() {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            insert_with!(conn, batches, head);
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
            insert_with!(conn, batches, head);
        }
    }
}

/// Leaves the database as a running service keeps it: SQLite's write-ahead log copied back
/// into the database file, PostgreSQL's visibility map and statistics up to date (as
/// autovacuum would after a bulk insert; reading freshly inserted rows first makes
/// PostgreSQL write hint bits, which no export of a live ledger pays).
async fn settle(db: &TestDb) {
    match db.backend() {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut conn)
                .await
                .unwrap();
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
            sqlx::query("VACUUM ANALYZE ledger_events")
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
}

/// Resets the kernel's peak-RSS mark (VmHWM) so the next reading covers only what follows.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
