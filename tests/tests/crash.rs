//! Crash safety of the real binary. `pinward rotate` is killed with SIGKILL inside each
//! crash window of the custody protocol, then restarted; `pinward keys rotate` is killed
//! inside each of its windows, then run again. At every moment, for every number pinward
//! ever set, the PIN the Graph sandbox holds must decrypt from escrow.
//!
//! The windows are failpoints compiled in only with `--features pinward/failpoints` (the
//! README's test command). `PINWARD_CRASH_RUNS` sets the runs per database (default 15)
//! and `PINWARD_CRASH_SEED` the seed of the choice of numbers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use graph::sandbox::{Sandbox, SandboxHandle, SandboxSeed};
use graph::{PhoneNumberId, PinSecret};
use pinward_tests::{Backend, PinwardProcess, TestDb, on_both_databases};
use sqlx::Connection;

const ORG: &str = "org-crash";

const CUSTODY_WINDOWS: [&str; 5] = [
    "custody::after_seal",
    "custody::after_tx1",
    "custody::after_send",
    "custody::after_response",
    "custody::inside_tx2",
];

const KEY_WINDOWS: [&str; 2] = ["keys::after_reseal", "keys::after_swap"];

/// One sealed PIN version as stored.
struct Version {
    number: String,
    status: String,
    sealed: String,
    sealed_next: Option<String>,
}

/// A database, a data dir and a Graph sandbox that `pinward` processes share.
struct Rig {
    db: TestDb,
    sandbox: SandboxHandle,
    data_dir: PathBuf,
}

impl Rig {
    async fn new(db: TestDb) -> Rig {
        let sandbox = Sandbox::seeded(SandboxSeed {
            seed: 11,
            numbers: 8,
            businesses: 1,
        })
        .start()
        .await
        .unwrap();
        let data_dir = db.subdir("data");
        let rig = Rig {
            db,
            sandbox,
            data_dir,
        };
        rig.run_ok(&["migrate"], None);
        rig.sql(&format!(
            "INSERT INTO orgs (id, slug, name, created_at) \
             VALUES ('{ORG}', 'crash', 'Crash Co', '2026-01-01T00:00:00Z')"
        ))
        .await;
        let business = rig.sandbox.business_ids()[0].to_string();
        let template = format!("{}onprem/{{id}}/", rig.sandbox.base_url());
        rig.run_ok(
            &[
                "sync",
                "--org",
                ORG,
                "--business",
                &business,
                "--on-prem-url-template",
                &template,
            ],
            None,
        );
        // A later sync needs no business ids: the org remembers them.
        let again = rig.run_ok(&["sync", "--org", ORG], None);
        assert!(again.contains(" 0 changes ledgered"), "{again}");
        rig
    }

    fn envs(&self, failpoints: Option<&str>) -> Vec<(&'static str, String)> {
        let (username, password) = self.sandbox.onprem_admin();
        let mut envs = vec![
            ("PINWARD_DATABASE_URL", self.db.url().to_owned()),
            ("PINWARD_DATA_DIR", self.data_dir.display().to_string()),
            (
                "PINWARD_GRAPH_BASE_URL",
                self.sandbox.base_url().to_string(),
            ),
            (
                "PINWARD_GRAPH_TOKEN",
                self.sandbox.system_user_token().expose().to_owned(),
            ),
            ("PINWARD_ONPREM_USERNAME", username),
            ("PINWARD_ONPREM_PASSWORD", password.expose().to_owned()),
        ];
        if let Some(failpoints) = failpoints {
            envs.push(("FAILPOINTS", failpoints.to_owned()));
        }
        envs
    }

    fn spawn(&self, args: &[&str], failpoints: Option<&str>) -> PinwardProcess {
        let envs = self.envs(failpoints);
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        PinwardProcess::spawn(args, &envs)
    }

    fn run_ok(&self, args: &[&str], failpoints: Option<&str>) -> String {
        let (status, output) = self.spawn(args, failpoints).wait();
        assert!(status.success(), "pinward {args:?} failed:\n{output}");
        output
    }

    /// Starts `args` with `window` armed to hold the process there, waits until it is
    /// there, and kills it with SIGKILL. Returns what it printed.
    fn kill_inside(&self, args: &[&str], window: &str) -> Vec<String> {
        let mut process = self.spawn(args, Some(&format!("{window}=sleep(600000)")));
        let mut printed = Vec::new();
        if args[0] == "rotate" {
            printed.push(process.wait_for_line("rotation job"));
        }
        let reached = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            process.wait_for_line("failpoint reached")
        }));
        match reached {
            Ok(line) => printed.push(line),
            Err(_) => panic!(
                "pinward never reached {window}: build it with `--features pinward/failpoints`"
            ),
        }
        process.signal("KILL");
        let (status, _) = process.wait();
        assert!(!status.success(), "SIGKILL ends the process");
        printed
    }

    async fn sql(&self, statement: &str) {
        let statement = sqlx::AssertSqlSafe(statement.to_owned());
        match self.db.backend() {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(self.db.url())
                    .await
                    .unwrap();
                sqlx::raw_sql(statement).execute(&mut conn).await.unwrap();
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(self.db.url()).await.unwrap();
                sqlx::raw_sql(statement).execute(&mut conn).await.unwrap();
            }
        }
    }

    /// Every row `sql` selects, on whichever database the rig runs.
    async fn rows<T>(&self, sql: &'static str) -> Vec<T>
    where
        T: Send + Unpin,
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
        T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    {
        match self.db.backend() {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(self.db.url())
                    .await
                    .unwrap();
                sqlx::query_as(sql).fetch_all(&mut conn).await.unwrap()
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(self.db.url()).await.unwrap();
                sqlx::query_as(sql).fetch_all(&mut conn).await.unwrap()
            }
        }
    }

    async fn versions(&self) -> Vec<Version> {
        let rows: Vec<(String, String, String, Option<String>)> = self
            .rows(
                "SELECT n.meta_phone_number_id, v.status, v.sealed, v.sealed_next \
                 FROM pin_versions v JOIN phone_numbers n ON n.id = v.phone_number_id \
                 ORDER BY n.meta_phone_number_id, v.version",
            )
            .await;
        rows.into_iter()
            .map(|(number, status, sealed, sealed_next)| Version {
                number,
                status,
                sealed,
                sealed_next,
            })
            .collect()
    }

    async fn pin_states(&self) -> BTreeMap<String, String> {
        let rows: Vec<(String, String)> = self
            .rows("SELECT meta_phone_number_id, pin_state FROM phone_numbers")
            .await;
        rows.into_iter().collect()
    }

    fn identity_file(&self) -> PathBuf {
        self.data_dir.join("identity.txt")
    }

    fn holds(&self, number: &str, pin: &vault::Pin) -> bool {
        let phone = PhoneNumberId::parse(number).unwrap();
        let pin = PinSecret::new(pin.expose()).unwrap();
        self.sandbox.pin_matches(&phone, &pin) == Some(true)
    }

    /// For every number with a live version (pending or current), the PIN the sandbox
    /// holds opens from one of them with one of `identities`. Returns how many numbers.
    async fn meta_pin_decrypts_from_escrow(&self, identities: &[vault::Identity]) -> usize {
        let versions = self.versions().await;
        let mut live: BTreeMap<&str, Vec<&Version>> = BTreeMap::new();
        for v in &versions {
            if v.status == "pending" || v.status == "current" {
                live.entry(v.number.as_str()).or_default().push(v);
            }
        }
        for (number, versions) in &live {
            let found = versions.iter().any(|v| {
                std::iter::once(v.sealed.as_str())
                    .chain(v.sealed_next.as_deref())
                    .any(|sealed| {
                        identities.iter().any(|identity| {
                            vault::open::<vault::Pin>(sealed.as_bytes(), identity)
                                .is_ok_and(|pin| self.holds(number, &pin))
                        })
                    })
            });
            assert!(
                found,
                "{number}: the PIN Meta holds opens from no escrowed version"
            );
        }
        live.len()
    }

    /// After a completed run: every number pinward set is `escrowed`, has no pending
    /// version, and its current version opens with `identity` to the PIN Meta holds.
    async fn settled_and_escrowed(&self, identity: &vault::Identity) {
        let states = self.pin_states().await;
        for v in self.versions().await {
            assert_ne!(
                v.status, "pending",
                "{}: a pending version remains",
                v.number
            );
            if v.status == "current" {
                assert_eq!(states[&v.number], "escrowed", "{}", v.number);
                let pin: vault::Pin = vault::open(v.sealed.as_bytes(), identity).unwrap();
                assert!(
                    self.holds(&v.number, &pin),
                    "{}: Meta holds another PIN",
                    v.number
                );
            }
        }
    }
}

fn load_identity(path: &Path) -> vault::Identity {
    vault::Identity::load(path).unwrap()
}

fn runs() -> usize {
    std::env::var("PINWARD_CRASH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15)
}

/// splitmix64: a reproducible choice of numbers from the seed.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn job_id(line: &str) -> String {
    line.split_whitespace()
        .skip_while(|w| *w != "job")
        .nth(1)
        .expect("`rotation job <id> started`")
        .to_owned()
}

on_both_databases! {
    async fn killing_pinward_in_any_custody_window_never_loses_a_pin(db) {
        let backend = db.backend();
        let rig = Rig::new(db).await;
        // Take custody of every number first, so each holds a PIN pinward set.
        let _ = rig.spawn(&["rotate", "start", "--org", ORG, "--all", "--lease-seconds", "2"], None).wait();
        let identity = load_identity(&rig.identity_file());
        let escrowed: Vec<String> = rig
            .pin_states()
            .await
            .into_iter()
            .filter(|(_, state)| state == "escrowed")
            .map(|(number, _)| number)
            .collect();
        assert!(escrowed.len() >= 4, "the sandbox's numbers were taken into custody: {escrowed:?}");

        let mut seed = std::env::var("PINWARD_CRASH_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0x5eed_u64);
        let runs = runs();
        let mut checked = 0;
        for run in 0..runs {
            let window = CUSTODY_WINDOWS[run % CUSTODY_WINDOWS.len()];
            let pick = usize::try_from(next(&mut seed) % escrowed.len() as u64).unwrap();
            let number = &escrowed[pick];
            let printed = rig.kill_inside(
                &["rotate", "start", "--org", ORG, "--number", number, "--lease-seconds", "1"],
                window,
            );
            let job = job_id(&printed[0]);
            checked += rig.meta_pin_decrypts_from_escrow(std::slice::from_ref(&identity)).await;

            let output = rig.run_ok(
                &["rotate", "resume", &job, "--org", ORG, "--lease-seconds", "1"],
                None,
            );
            assert!(output.contains(&format!("job {job} done: 1 of 1 done")), "run {run} ({window}): {output}");
            rig.settled_and_escrowed(&identity).await;
            checked += rig.meta_pin_decrypts_from_escrow(std::slice::from_ref(&identity)).await;
        }
        println!(
            "custody crash runs on {backend:?}: {runs} kills (each of the {} windows {}×), \
             {checked} number checks, every PIN Meta held opened from escrow",
            CUSTODY_WINDOWS.len(),
            runs.div_ceil(CUSTODY_WINDOWS.len()),
        );
    }

    async fn killing_keys_rotate_in_any_window_keeps_every_version_openable(db) {
        let backend = db.backend();
        let rig = Rig::new(db).await;
        let _ = rig.spawn(&["rotate", "start", "--org", ORG, "--all", "--lease-seconds", "2"], None).wait();
        for window in KEY_WINDOWS {
            let before = load_identity(&rig.identity_file());
            rig.kill_inside(&["keys", "rotate"], window);
            // The old identity is the active file or a retired copy; the new one the next
            // file or the active one: every version opens with one of them.
            let mut identities = vec![before, load_identity(&rig.identity_file())];
            let next = rig.data_dir.join("identity.next.txt");
            if next.exists() {
                identities.push(load_identity(&next));
            }
            let numbers = rig.meta_pin_decrypts_from_escrow(&identities).await;
            assert!(numbers >= 4, "{window}: {numbers} numbers checked");
            for v in rig.versions().await {
                let opens = |sealed: &str| {
                    identities
                        .iter()
                        .any(|i| vault::open::<vault::Pin>(sealed.as_bytes(), i).is_ok())
                };
                assert!(opens(&v.sealed), "{window}: a version of {} does not open", v.number);
            }

            rig.run_ok(&["keys", "rotate"], None);
            let after = load_identity(&rig.identity_file());
            assert!(!rig.data_dir.join("identity.next.txt").exists(), "{window}: next identity left behind");
            for v in rig.versions().await {
                assert!(v.sealed_next.is_none(), "{window}: a re-sealed copy was not swapped in");
                vault::open::<vault::Pin>(v.sealed.as_bytes(), &after)
                    .unwrap_or_else(|_| panic!("{window}: a version of {} does not open with the new identity", v.number));
            }
            rig.settled_and_escrowed(&after).await;
        }
        println!("keys rotate crash runs on {backend:?}: killed in {} windows, every version opened throughout", KEY_WINDOWS.len());
    }
}
