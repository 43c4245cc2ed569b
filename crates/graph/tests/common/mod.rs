//! Shared test helpers: a sandbox on 127.0.0.1:0, a client with tiny backoff and a sleeper
//! that records instead of waiting, raw HTTP for what the typed client will not send.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use graph::sandbox::{NumberFacts, Sandbox, SandboxConfig, SandboxHandle, SandboxSeed};
use graph::{GraphClient, RetryPolicy, SleepFuture, Sleeper};

/// Records every backoff and returns at once.
#[derive(Default)]
pub struct RecordingSleeper(Mutex<Vec<Duration>>);

impl RecordingSleeper {
    pub fn delays(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, delay: Duration) -> SleepFuture {
        self.0.lock().unwrap().push(delay);
        Box::pin(std::future::ready(()))
    }
}

pub const SEED: SandboxSeed = SandboxSeed {
    seed: 7,
    numbers: 60,
    businesses: 2,
};

pub async fn sandbox() -> SandboxHandle {
    Sandbox::seeded(SEED).start().await.unwrap()
}

pub async fn sandbox_with(config: SandboxConfig) -> SandboxHandle {
    Sandbox::new(SEED, config).start().await.unwrap()
}

pub fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        rate_limit_fallback: Duration::from_secs(60),
    }
}

/// A client of `sb` with a recording sleeper and a short timeout.
pub fn client(sb: &SandboxHandle) -> (GraphClient, Arc<RecordingSleeper>) {
    let sleeper = Arc::new(RecordingSleeper::default());
    let mut cfg = sb.graph_config();
    cfg.retry = policy();
    cfg.timeout = Duration::from_millis(400);
    let c = GraphClient::with_sleeper(cfg, sleeper.clone()).unwrap();
    (c, sleeper)
}

/// The first seeded number that satisfies `pred`.
pub fn number(sb: &Sandbox, pred: impl Fn(&NumberFacts) -> bool) -> NumberFacts {
    sb.numbers()
        .into_iter()
        .find(|n| pred(n))
        .expect("the seed has such a number")
}

/// A registered, verified Cloud API number with 2SV on.
pub fn cloud_number(sb: &Sandbox) -> NumberFacts {
    number(sb, |n| {
        n.registered && n.verified && n.pin_enabled && !n.onprem
    })
}

/// A raw HTTP client for requests the typed client refuses to make.
pub fn raw() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().unwrap()
}

pub fn url(sb: &SandboxHandle, path: &str) -> String {
    format!("{}{}", sb.base_url(), path.trim_start_matches('/'))
}
