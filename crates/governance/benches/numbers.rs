//! The numbers list and number health for an org with many numbers, on SQLite and
//! PostgreSQL (a benchmark: figures printed, nothing asserted about speed).
//!
//! Seeds one org with `PINWARD_BENCH_NUMBERS` numbers (default 10,000; the mix is
//! `pinward_tests::fleet`); then times `governance::numbers::list` (first page, a deep
//! page, each filter, a business admin's view), `numbers::record`,
//! `overview::summary` and `overview::by_state_and_health` over `PINWARD_BENCH_RUNS` runs
//! each (default 50) and prints p50
//! and p99, and finally the throughput of `health::check` alone.
//!
//! Run: `cargo bench -p governance --bench numbers` (PostgreSQL is started by the test
//! harness, as for the tests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use chrono::Utc;
use governance::access::{Caller, Role, Via};
use governance::custody::PinState;
use governance::health::{self, Problem};
use governance::numbers::{self, Filter, PageRequest};
use governance::policies::Policy;
use governance::{DatabaseTarget, Store};
use graph::PhoneNumberId;
use pinward_tests::fleet::{self, ORG, fleet_number, seed_fleet};
use pinward_tests::{Backend, TestDb};

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
    seed_fleet(&db, numbers).await;
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
    let n = fleet_number(i, now);
    let seat = |s: Option<fleet::Seat>| {
        s.map(|s| health::SeatHolder {
            member_id: format!("m-{}", s.member),
            active: s.active,
        })
    };
    health::Facts {
        pin_state: if n.escrowed() {
            PinState::Escrowed
        } else {
            PinState::Unknown
        },
        escrow_stale: n.escrow_stale,
        attention_reason: None,
        vanished: n.vanished,
        recovery_email: n.recovery_email,
        backup_channels: n.backup_channels,
        owner: seat(n.owner),
        manager: seat(n.manager),
        pin_set_at: n.pin_set_at,
        pin_revealed: false,
        next_review_due: n.next_review_due,
        first_seen_at: n.first_seen_at,
    }
}
