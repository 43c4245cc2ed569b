//! Deterministic generation of the sandbox world from `(seed, numbers, businesses)`: the same
//! seed gives the same ids, names, states and token, so demos and benchmarks are repeatable.
//!
//! Shape: each partner business owns one WABA and serves client WABAs (owned by client
//! businesses, shared with the partner), about eight numbers per WABA. Numbers are mostly
//! registered on Cloud API with 2SV on and a PIN nobody knows (as at a BSP that lost them);
//! some are unregistered, some not OTP-verified, some on an On-Premises deployment.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::counters::Counters;
use super::faults::FaultEngine;
use super::ratelimit::RateLimiter;
use super::state::{AppRec, BusinessRec, NumberRec, TokenSpec, WabaRec, World, random_token};
use super::{SandboxConfig, SandboxSeed};

const ADJECTIVES: [&str; 12] = [
    "Blue", "Bright", "Golden", "Green", "Harbor", "Maple", "North", "Quiet", "Rapid", "Silver",
    "Sunny", "Urban",
];
const NOUNS: [&str; 12] = [
    "Bakery", "Clinic", "Courier", "Dental", "Florist", "Garage", "Hotel", "Motors", "Optics",
    "Pharmacy", "Salon", "Travel",
];
const CURRENCIES: [&str; 5] = ["USD", "EUR", "GBP", "BRL", "INR"];
const COUNTRIES: [&str; 5] = ["US", "DE", "GB", "BR", "IN"];

struct Ids<'a> {
    rng: &'a mut StdRng,
    seen: HashSet<u64>,
}

impl Ids<'_> {
    /// A fresh 15-digit id, like Meta's.
    fn next(&mut self) -> String {
        loop {
            let id = self
                .rng
                .gen_range(100_000_000_000_000u64..1_000_000_000_000_000);
            if self.seen.insert(id) {
                return id.to_string();
            }
        }
    }
}

fn pick<T: Copy>(rng: &mut StdRng, weighted: &[(T, u32)]) -> T {
    let total: u32 = weighted.iter().map(|(_, w)| w).sum();
    let mut roll = rng.gen_range(0..total.max(1));
    for (v, w) in weighted {
        if roll < *w {
            return *v;
        }
        roll -= w;
    }
    weighted[0].0
}

fn random_pin(rng: &mut StdRng) -> String {
    format!("{:06}", rng.gen_range(0..1_000_000u32))
}

pub(crate) fn build(seed: &SandboxSeed, cfg: SandboxConfig) -> World {
    let mut rng = StdRng::seed_from_u64(seed.seed);
    let mut ids = Ids {
        rng: &mut rng,
        seen: HashSet::new(),
    };
    let app_id = ids.next();
    let businesses_n = seed.businesses.max(1);
    let business_ids: Vec<String> = (0..businesses_n).map(|_| ids.next()).collect();
    let waba_n = businesses_n.max(seed.numbers.div_ceil(8));
    let waba_ids: Vec<String> = (0..waba_n).map(|_| ids.next()).collect();
    let number_ids: Vec<String> = (0..seed.numbers).map(|_| ids.next()).collect();
    drop(ids);

    let app = AppRec {
        id: app_id,
        secret: format!("{:032x}", rng.r#gen::<u128>()),
        name: "pinward sandbox".into(),
    };
    let mut businesses: BTreeMap<String, BusinessRec> = business_ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            (
                id.clone(),
                BusinessRec {
                    id: id.clone(),
                    name: format!("Partner {} Solutions", i + 1),
                    owned: Vec::new(),
                    clients: Vec::new(),
                },
            )
        })
        .collect();

    let base_time = 1_672_531_200i64; // 2023-01-01T00:00:00Z
    let mut wabas = HashMap::new();
    for (i, id) in waba_ids.iter().enumerate() {
        let partner = business_ids[i % businesses_n].clone();
        // The first WABA of each partner is its own; the rest are its clients'.
        let client_owned = i >= businesses_n;
        if let Some(b) = businesses.get_mut(&partner) {
            if client_owned {
                b.clients.push(id.clone());
            } else {
                b.owned.push(id.clone());
            }
        }
        let name = format!(
            "{} {}",
            ADJECTIVES[rng.gen_range(0..ADJECTIVES.len())],
            NOUNS[rng.gen_range(0..NOUNS.len())]
        );
        wabas.insert(
            id.clone(),
            WabaRec {
                id: id.clone(),
                name,
                currency: CURRENCIES[rng.gen_range(0..CURRENCIES.len())],
                timezone_id: rng.gen_range(1..500u32).to_string(),
                namespace: format!("{:032x}", rng.r#gen::<u128>())
                    .chars()
                    .take(36)
                    .collect(),
                creation_time: base_time
                    + i64::try_from(i).unwrap_or(0) * 3600
                    + rng.gen_range(0..3600),
                partner,
                client_owned,
                country: COUNTRIES[rng.gen_range(0..COUNTRIES.len())],
                numbers: Vec::new(),
            },
        );
    }

    // PINs are hashed under a key from the OS RNG: nothing observable depends on it.
    let pin_key: [u8; 32] = rand::thread_rng().r#gen();
    let mut world = World {
        cfg: cfg.clone(),
        app,
        businesses,
        wabas,
        numbers: HashMap::new(),
        tokens: HashMap::new(),
        codes: HashMap::new(),
        system_user_token: String::new(),
        onprem_user: "admin".into(),
        onprem_password: String::new(),
        onprem_sessions: HashMap::new(),
        counters: Counters::default(),
        limiter: RateLimiter::new(cfg.rate_limits.clone()),
        faults: FaultEngine::new(cfg.faults.clone()),
        pin_key,
        clock_offset: chrono::Duration::zero(),
        rng,
    };

    for (i, id) in number_ids.iter().enumerate() {
        let rng = &mut world.rng;
        let waba = if i < waba_n {
            waba_ids[i].clone()
        } else {
            waba_ids[rng.gen_range(0..waba_n)].clone()
        };
        let code_verification = pick(
            rng,
            &[("VERIFIED", 90), ("NOT_VERIFIED", 7), ("EXPIRED", 3)],
        );
        let platform = pick(rng, &[("cloud", 85), ("unregistered", 10), ("onprem", 5)]);
        let registered = platform != "unregistered" && code_verification == "VERIFIED";
        let pin_on = registered && rng.gen_range(0..100) < 95;
        let pin = random_pin(rng);
        let number = NumberRec {
            id: id.clone(),
            waba: waba.clone(),
            display: format!("+1 555-{:03}-{:04}", 100 + (i / 10_000) % 900, i % 10_000),
            verified_name: format!(
                "{} {}",
                ADJECTIVES[rng.gen_range(0..ADJECTIVES.len())],
                NOUNS[rng.gen_range(0..NOUNS.len())]
            ),
            quality: pick(
                rng,
                &[("GREEN", 80), ("YELLOW", 10), ("RED", 5), ("UNKNOWN", 5)],
            ),
            code_verification,
            name_status: pick(
                rng,
                &[
                    ("APPROVED", 90),
                    ("PENDING_REVIEW", 5),
                    ("DECLINED", 2),
                    ("AVAILABLE_WITHOUT_REVIEW", 3),
                ],
            ),
            account_mode: pick(rng, &[("LIVE", 97), ("SANDBOX", 3)]),
            last_onboarded: base_time + rng.gen_range(0..3 * 365 * 86_400),
            official: rng.gen_range(0..100) < 5,
            registered,
            onprem: platform == "onprem",
            status: if registered { "CONNECTED" } else { "PENDING" },
            pin: None,
            region: None,
            register_calls: VecDeque::new(),
            deregister_calls: VecDeque::new(),
            blocked_until: None,
            wrong_guesses: VecDeque::new(),
        };
        let hash = if pin_on { world.pin_hash(&pin) } else { None };
        if let Some(w) = world.wabas.get_mut(&waba) {
            w.numbers.push(id.clone());
        }
        world.numbers.insert(
            id.clone(),
            NumberRec {
                pin: hash,
                ..number
            },
        );
    }

    world.onprem_password = random_token(&mut world.rng, "sandbox-");
    world.system_user_token = world.issue_token(&TokenSpec::default(), Vec::new());
    world
}
