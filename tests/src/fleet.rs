//! A large org for benchmarks: `PINWARD_BENCH_NUMBERS`-sized fleets of numbers over 20
//! clients and 40 WABAs, 50 members (every tenth departed), a mix of PIN states, owners,
//! recovery emails, backup channels and review dates, bulk-inserted with raw SQL because
//! going through the use cases would take minutes per run.
//!
//! The mix is a function of the number's index ([`fleet_number`]), so a benchmark can
//! rebuild the same facts in memory (e.g. to time the health rules alone).

use chrono::{DateTime, TimeZone, Utc};
use sqlx::Connection;

use crate::{Backend, TestDb};

/// The org's id and slug.
pub const ORG: &str = "bench";
/// Clients of the org (two WABAs each).
pub const CLIENTS: usize = 20;
/// Members `m-0` … `m-49`, users `u-0` … (`u{i}@bench.example`), all ops.
pub const MEMBERS: usize = 50;

/// A seat on a number: the member's index and whether they are still active.
#[derive(Debug, Clone, Copy)]
pub struct Seat {
    /// `m-{index}`.
    pub member: usize,
    /// Not departed.
    pub active: bool,
}

/// What the seed writes for number `i`.
#[derive(Debug, Clone)]
pub struct FleetNumber {
    /// `unknown` for every fifth number, else `escrowed` (with a current PIN version).
    pub pin_state: &'static str,
    /// Escrow known to differ from Meta.
    pub escrow_stale: bool,
    /// Gone from Meta's inventory.
    pub vanished: bool,
    /// Personal, business or disposable; none for every fourth.
    pub recovery_email: Option<String>,
    /// 0, 1 or 2 backup channels.
    pub backup_channels: usize,
    /// The main owner.
    pub owner: Option<Seat>,
    /// The permission manager.
    pub manager: Option<Seat>,
    /// When the current PIN was set (escrowed numbers).
    pub pin_set_at: Option<DateTime<Utc>>,
    /// Next permission review, from 50 days overdue to 150 days ahead.
    pub next_review_due: Option<DateTime<Utc>>,
    /// First seen in Meta's inventory.
    pub first_seen_at: DateTime<Utc>,
}

impl FleetNumber {
    /// The PIN state is escrowed.
    #[must_use]
    pub fn escrowed(&self) -> bool {
        self.pin_state == "escrowed"
    }
}

/// The facts of number `i` of a fleet seeded at `now`.
#[must_use]
pub fn fleet_number(i: usize, now: DateTime<Utc>) -> FleetNumber {
    let seat = |member: usize, active: bool| Some(Seat { member, active });
    let days = |d: usize| chrono::Duration::days(i64::try_from(d).unwrap_or(i64::MAX));
    FleetNumber {
        pin_state: if i.is_multiple_of(5) {
            "unknown"
        } else {
            "escrowed"
        },
        escrow_stale: i.is_multiple_of(97),
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
        pin_set_at: Some(now - days(i % 400)),
        next_review_due: Some(now + days(i % 200) - days(50)),
        first_seen_at: now - days(365),
    }
}

fn recovery_email(i: usize) -> String {
    match i % 3 {
        0 => format!("owner{i}@gmail.com"),
        1 => format!("wa{i}@client.example"),
        _ => format!("x{i}@mailinator.com"),
    }
}

/// The Meta id of number `i` (`100000000 + i`).
#[must_use]
pub fn meta_id(i: usize) -> String {
    format!("{}", 100_000_000 + i)
}

macro_rules! seed_with {
    ($conn:expr, $numbers:expr, $durable:expr, $maintain:expr) => {{
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("a valid date");
        let now = Utc::now();
        if let Some(durable) = $durable {
            sqlx::query(durable).execute(&mut $conn).await.expect("make the seed's commits durable");
        }
        let mut tx = $conn.begin().await.expect("begin the seed");
        sqlx::query("INSERT INTO orgs (id, slug, name, created_at) VALUES ('bench', 'bench', 'Bench', '2026-01-01T00:00:00Z')")
            .execute(&mut *tx)
            .await
            .expect("seed the org");
        for c in 0..CLIENTS {
            sqlx::query("INSERT INTO clients (id, org_id, name, created_at) VALUES ($1, 'bench', $2, $3)")
                .bind(format!("c-{c}"))
                .bind(format!("Client {c}"))
                .bind(t)
                .execute(&mut *tx)
                .await
                .expect("seed a client");
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
                .expect("seed a WABA");
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
                .expect("seed a user");
            sqlx::query(
                "INSERT INTO members (id, org_id, user_id, role, created_at, deactivated_at) VALUES ($1, 'bench', $2, 'ops', $3, $4)",
            )
            .bind(format!("m-{m}"))
            .bind(format!("u-{m}"))
            .bind(t)
            .bind((m % 10 == 9).then_some(t))
            .execute(&mut *tx)
            .await
            .expect("seed a member");
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
                let f = fleet_number(i, now);
                let channels = match f.backup_channels {
                    0 => "[]",
                    1 => r#"[{"kind":"email","value":"a@b.example"}]"#,
                    _ => r#"[{"kind":"email","value":"a@b.example"},{"kind":"phone","value":"+1 555 0100"}]"#,
                };
                row.push_bind(format!("n-{i}"))
                    .push_bind("bench")
                    .push_bind(format!("w-{}-{}", i % CLIENTS, (i / CLIENTS) % 2))
                    .push_bind(meta_id(i))
                    .push_bind(format!("+1 555-{:03}-{:04}", i / 10_000, i % 10_000))
                    .push_bind(format!("Business {i}"))
                    .push_bind(usages[i % usages.len()])
                    .push_bind(f.recovery_email.clone())
                    .push_bind(channels)
                    .push_bind(f.owner.map(|s| format!("m-{}", s.member)))
                    .push_bind(f.manager.map(|s| format!("m-{}", s.member)))
                    .push_bind(f.pin_state)
                    .push_bind(f.next_review_due)
                    .push_bind(t)
                    .push_bind(t);
            });
            query.build().execute(&mut *tx).await.expect("seed numbers");
            let escrowed: Vec<usize> = chunk.iter().copied().filter(|&i| fleet_number(i, now).escrowed()).collect();
            if escrowed.is_empty() {
                continue;
            }
            let mut query = sqlx::QueryBuilder::new(
                "INSERT INTO pin_versions (id, org_id, phone_number_id, version, status, attempt_id, sealed, \
                 fingerprint, created_by, created_at, confirmed_at) ",
            );
            query.push_values(escrowed.iter(), |mut row, &i| {
                let f = fleet_number(i, now);
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
            query.build().execute(&mut *tx).await.expect("seed PIN versions");
        }
        tx.commit().await.expect("commit the seed");
        // Fresh planner statistics (and on PostgreSQL a visibility map, so counts can
        // read the index alone), as autovacuum would have made in production. VACUUM marks
        // a page all-visible only once the commit of its rows is known to be flushed, and
        // PostgreSQL tracks that per group of 32 transactions: under the test cluster's
        // `synchronous_commit=off`, the first table's ANALYZE commit (unflushed, in the
        // seed's group) left every later table unmarked. Hence `$durable`.
        sqlx::query($maintain).execute(&mut $conn).await.expect("vacuum and analyze");
    }};
}

/// Seeds the org [`ORG`] with `numbers` numbers into `db` (migrated, otherwise empty).
pub async fn seed_fleet(db: &TestDb, numbers: usize) {
    match db.backend() {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(db.url())
                .await
                .expect("connect to seed");
            seed_with!(conn, numbers, None::<&str>, "ANALYZE");
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url())
                .await
                .expect("connect to seed");
            seed_with!(
                conn,
                numbers,
                Some("SET synchronous_commit = on"),
                "VACUUM ANALYZE"
            );
        }
    }
}
