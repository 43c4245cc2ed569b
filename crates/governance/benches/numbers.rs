//! The numbers list and number health for an org with many numbers, on SQLite and
//! PostgreSQL (a benchmark: figures printed, nothing asserted about speed).
//!
//! Seeds one org with `PINWARD_BENCH_NUMBERS` numbers (default 10,000) over 20 clients and
//! 40 WABAs, 50 members, a mix of PIN states, owners, recovery emails and review dates,
//! bulk-inserted with raw SQL; then times `governance::numbers::list` (first page, a deep
//! page, each filter, a business admin's view), `numbers::record`,
//! `reviews::due_by_month`, `overview::summary` and `overview::by_state_and_health` over `PINWARD_BENCH_RUNS` runs each (default 50) and prints p50
//! and p99, and finally the throughput of `health::check` alone.
//!
//! Run: `cargo bench -p governance --bench numbers` (PostgreSQL is started by the test
//! harness, as for the tests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use governance::access::{Caller, Role, Via};
use governance::custody::PinState;
use governance::health::{self, Problem};
use governance::numbers::{self, Filter, PageRequest};
use governance::policies::Policy;
use governance::{DatabaseTarget, Store};
use graph::PhoneNumberId;
use pinward_tests::{Backend, TestDb};
use sqlx::Connection;

const ORG: &str = "bench";
const CLIENTS: usize = 20;
const MEMBERS: usize = 50;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let numbers = env_or("PINWARD_BENCH_NUMBERS", 10_000);
    let runs = env_or("PINWARD_BENCH_RUNS", 50);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("numbers list and health, {numbers} numbers in one org, {runs} runs per figure");
    runtime.block_on(async {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            bench(backend, numbers, runs).await;
        }
    });
    health_throughput(numbers);
}

fn name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

fn admin() -> Caller {
    Caller {
        org_id: ORG.to_owned(),
        user_id: Some("u-0".to_owned()),
        member_id: Some("m-0".to_owned()),
        role: Role::Admin,
        clients: Vec::new(),
        via: Via::Session,
    }
}

fn business_admin() -> Caller {
    Caller {
        role: Role::BusinessAdmin,
        clients: vec!["c-3".to_owned(), "c-7".to_owned()],
        ..admin()
    }
}

async fn bench(backend: Backend, numbers: usize, runs: usize) {
    let db = TestDb::new(backend).await;
    let store = Store::connect(&DatabaseTarget::parse(db.url()).unwrap())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let started = Instant::now();
    seed(&db, numbers).await;
    println!(
        "{:<9} seeded in {:.1} s",
        name(backend),
        started.elapsed().as_secs_f64()
    );
    let now = Utc::now();
    let page = PageRequest::default();
    let last_page = PageRequest {
        page: u32::try_from(numbers / 50).unwrap().max(1),
        per_page: 50,
    };
    let cases: Vec<(&str, Caller, Filter, PageRequest)> = vec![
        ("first page", admin(), Filter::default(), page),
        ("last page", admin(), Filter::default(), last_page),
        (
            "search text",
            admin(),
            Filter {
                search: Some("support".to_owned()),
                ..Filter::default()
            },
            page,
        ),
        (
            "search digits",
            admin(),
            Filter {
                search: Some("0104".to_owned()),
                ..Filter::default()
            },
            page,
        ),
        (
            "client",
            admin(),
            Filter {
                client_id: Some("c-5".to_owned()),
                ..Filter::default()
            },
            page,
        ),
        (
            "PIN state",
            admin(),
            Filter {
                pin_state: Some(PinState::Unknown),
                ..Filter::default()
            },
            page,
        ),
        (
            "health problem",
            admin(),
            Filter {
                problem: Some(Problem::PersonalRecoveryEmail),
                ..Filter::default()
            },
            page,
        ),
        (
            "any health problem",
            admin(),
            Filter {
                unhealthy: true,
                ..Filter::default()
            },
            page,
        ),
        (
            "health problem, last page",
            admin(),
            Filter {
                problem: Some(Problem::PersonalRecoveryEmail),
                ..Filter::default()
            },
            PageRequest {
                page: u32::try_from(numbers / 50 / 4).unwrap().max(1),
                per_page: 50,
            },
        ),
        ("business admin", business_admin(), Filter::default(), page),
    ];
    for (label, caller, filter, page) in &cases {
        let (times, total) = time(runs, || async {
            numbers::list(&store, caller, filter, *page, now)
                .await
                .unwrap()
                .total
        })
        .await;
        report(backend, &format!("list: {label} ({total} match)"), &times);
    }
    let phone = PhoneNumberId::parse("100000042").unwrap();
    let (times, ()) = time(runs, || async {
        numbers::record(&store, &admin(), &phone, now)
            .await
            .unwrap();
    })
    .await;
    report(backend, "record of one number", &times);
    let (times, ()) = time(runs, || async {
        governance::reviews::due_by_month(&store, &admin())
            .await
            .unwrap();
    })
    .await;
    report(backend, "reviews due per month", &times);
    let (times, ()) = time(runs, || async {
        governance::overview::summary(&store, &admin(), now)
            .await
            .unwrap();
    })
    .await;
    report(backend, "overview (counts and charts)", &times);
    let (times, ()) = time(runs, || async {
        governance::overview::by_state_and_health(&store, now)
            .await
            .unwrap();
    })
    .await;
    report(backend, "metrics: numbers by state and health", &times);
    store.close().await;
}

/// Sorted durations of `runs` runs after one warm-up (caches, pool), and the last result.
async fn time<F, Fut, T>(runs: usize, mut run: F) -> (Vec<Duration>, T)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut last = run().await;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        last = run().await;
        times.push(started.elapsed());
    }
    times.sort();
    (times, last)
}

fn report(backend: Backend, label: &str, sorted: &[Duration]) {
    let at = |q: f64| {
        let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[i].as_secs_f64() * 1000.0
    };
    println!(
        "{:<9} {:<44} p50 {:>8.2} ms  p99 {:>8.2} ms",
        name(backend),
        label,
        at(0.50),
        at(0.99)
    );
}

/// `health::check` alone over `numbers` varied numbers, repeated for about a second.
fn health_throughput(numbers: usize) {
    let now = Utc::now();
    let policy = Policy::default();
    let facts: Vec<health::Facts> = (0..numbers).map(|i| facts(i, now)).collect();
    let started = Instant::now();
    let mut checks = 0usize;
    let mut problems = 0usize;
    while started.elapsed() < Duration::from_secs(1) {
        for f in &facts {
            problems += health::check(f, &policy, now).len();
            checks += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "health::check {:>12.0} numbers/s ({checks} checks, {:.1} problems each)",
        checks as f64 / elapsed,
        problems as f64 / checks as f64
    );
}

fn facts(i: usize, now: chrono::DateTime<Utc>) -> health::Facts {
    let seat = |id: usize, active: bool| {
        Some(health::SeatHolder {
            member_id: format!("m-{id}"),
            active,
        })
    };
    health::Facts {
        pin_state: if i.is_multiple_of(5) {
            PinState::Unknown
        } else {
            PinState::Escrowed
        },
        escrow_stale: i.is_multiple_of(97),
        attention_reason: None,
        vanished: i.is_multiple_of(113),
        recovery_email: (!i.is_multiple_of(4)).then(|| recovery_email(i)),
        backup_channels: i % 3,
        owner: if i.is_multiple_of(7) {
            None
        } else {
            seat(i % MEMBERS, !i.is_multiple_of(31))
        },
        manager: if i.is_multiple_of(11) {
            None
        } else {
            seat((i + 1) % MEMBERS, true)
        },
        pin_set_at: Some(now - chrono::Duration::days(i64::try_from(i % 400).unwrap())),
        next_review_due: Some(now + chrono::Duration::days(i64::try_from(i % 200).unwrap() - 50)),
        first_seen_at: now - chrono::Duration::days(365),
    }
}

fn recovery_email(i: usize) -> String {
    match i % 3 {
        0 => format!("owner{i}@gmail.com"),
        1 => format!("wa{i}@client.example"),
        _ => format!("x{i}@mailinator.com"),
    }
}

macro_rules! seed_with {
    ($conn:expr, $numbers:expr) => {{
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let now = Utc::now();
        let mut tx = $conn.begin().await.unwrap();
        sqlx::query("INSERT INTO orgs (id, slug, name, created_at) VALUES ('bench', 'bench', 'Bench', '2026-01-01T00:00:00Z')")
            .execute(&mut *tx)
            .await
            .unwrap();
        for c in 0..CLIENTS {
            sqlx::query("INSERT INTO clients (id, org_id, name, created_at) VALUES ($1, 'bench', $2, $3)")
                .bind(format!("c-{c}"))
                .bind(format!("Client {c}"))
                .bind(t)
                .execute(&mut *tx)
                .await
                .unwrap();
            for w in 0..2 {
                sqlx::query(
                    "INSERT INTO wabas (id, org_id, client_id, meta_waba_id, name, ownership, first_seen_at, last_seen_at) \
                     VALUES ($1, 'bench', $2, $1, $1, 'client', $3, $3)",
                )
                .bind(format!("w-{c}-{w}"))
                .bind(format!("c-{c}"))
                .bind(t)
                .execute(&mut *tx)
                .await
                .unwrap();
            }
        }
        for m in 0..MEMBERS {
            sqlx::query("INSERT INTO users (id, email, display_name, created_at) VALUES ($1, $2, $3, $4)")
                .bind(format!("u-{m}"))
                .bind(format!("u{m}@bench.example"))
                .bind(format!("Member {m}"))
                .bind(t)
                .execute(&mut *tx)
                .await
                .unwrap();
            sqlx::query(
                "INSERT INTO members (id, org_id, user_id, role, created_at, deactivated_at) VALUES ($1, 'bench', $2, 'ops', $3, $4)",
            )
            .bind(format!("m-{m}"))
            .bind(format!("u-{m}"))
            .bind(t)
            .bind((m % 10 == 9).then_some(t))
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        let usages = ["sales", "support", "ads landing page", "delivery updates"];
        let ids: Vec<usize> = (0..$numbers).collect();
        for chunk in ids.chunks(500) {
            let mut query = sqlx::QueryBuilder::new(
                "INSERT INTO phone_numbers (id, org_id, waba_id, meta_phone_number_id, display_phone_number, \
                 verified_name, usage, recovery_email, backup_channels, main_owner_id, permission_manager_id, \
                 pin_state, next_review_due, first_seen_at, last_synced_at) ",
            );
            query.push_values(chunk.iter(), |mut row, &i| {
                let f = facts(i, now);
                let channels = match f.backup_channels {
                    0 => "[]",
                    1 => r#"[{"kind":"email","value":"a@b.example"}]"#,
                    _ => r#"[{"kind":"email","value":"a@b.example"},{"kind":"phone","value":"+1 555 0100"}]"#,
                };
                row.push_bind(format!("n-{i}"))
                    .push_bind("bench")
                    .push_bind(format!("w-{}-{}", i % CLIENTS, (i / CLIENTS) % 2))
                    .push_bind(format!("{}", 100_000_000 + i))
                    .push_bind(format!("+1 555-{:03}-{:04}", i / 10_000, i % 10_000))
                    .push_bind(format!("Business {i}"))
                    .push_bind(usages[i % usages.len()])
                    .push_bind(f.recovery_email.clone())
                    .push_bind(channels)
                    .push_bind(f.owner.as_ref().map(|s| s.member_id.clone()))
                    .push_bind(f.manager.as_ref().map(|s| s.member_id.clone()))
                    .push_bind(f.pin_state.as_str())
                    .push_bind(f.next_review_due)
                    .push_bind(t)
                    .push_bind(t);
            });
            query.build().execute(&mut *tx).await.unwrap();
            let escrowed: Vec<usize> = chunk.iter().copied().filter(|i| !i.is_multiple_of(5)).collect();
            if escrowed.is_empty() {
                continue;
            }
            let mut query = sqlx::QueryBuilder::new(
                "INSERT INTO pin_versions (id, org_id, phone_number_id, version, status, attempt_id, sealed, \
                 fingerprint, created_by, created_at, confirmed_at) ",
            );
            query.push_values(escrowed.iter(), |mut row, &i| {
                let f = facts(i, now);
                row.push_bind(format!("v-{i}"))
                    .push_bind("bench")
                    .push_bind(format!("n-{i}"))
                    .push_bind(1_i64)
                    .push_bind("current")
                    .push_bind(format!("a-{i}"))
                    .push_bind("sealed")
                    .push_bind(format!("fp-{i}"))
                    .push_bind("system")
                    .push_bind(f.pin_set_at)
                    .push_bind(f.pin_set_at);
            });
            query.build().execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
        // Fresh planner statistics, as autovacuum / ANALYZE would have in production.
        sqlx::query("ANALYZE").execute(&mut $conn).await.unwrap();
    }};
}

/// Orgs, clients, WABAs, members, numbers and their current PIN versions, in batches.
async fn seed(db: &TestDb, numbers: usize) {
    match db.backend() {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            seed_with!(conn, numbers);
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
            seed_with!(conn, numbers);
        }
    }
}
