//! A stateful local fake of Meta's Cloud API and On-Premises API (GRAPH_API.md §5), for
//! tests, the demo and benchmarks.
//!
//! It holds businesses, WABAs (owned and client), numbers, system-user tokens with scopes and
//! asset targets, the PIN each number holds (an HMAC only; no Graph route returns it), the
//! registration budget, rate limits with Meta's codes and usage headers, and injectable faults
//! ([`FaultPlan`]). It refuses what Meta refuses, with Meta's envelopes and statuses.
//!
//! Routes (any `vNN.0`): `GET|POST /{v}/{id}`, `POST /{v}/{id}/register|deregister`,
//! `GET /{v}/{waba}/phone_numbers`, `GET /{v}/{business}/owned_whatsapp_business_accounts`,
//! `…/client_whatsapp_business_accounts`, `GET /{v}/debug_token`, `GET|POST
//! /{v}/oauth/access_token`. On-Premises deployments (one per On-Premises number) live under
//! `/onprem/{phone-number-id}/v1/…`.
//!
//! Sandbox-only control, under `/_sandbox/` (a prefix Meta never uses; no authentication —
//! bind it to loopback): `GET|POST faults`, `POST pin-check {"phone_number_id","pin"} →
//! {"matches"}`, `GET|DELETE counters`, `POST clock {"advance_s"}`, `POST tokens` (a
//! [`TokenSpec`]) `→ {"access_token"}`, `POST tokens/revoke {"access_token"}`, `POST
//! signup-codes {"waba_ids"} → {"code"}`, `POST out-of-band-pin {"phone_number_id","pin"}`
//! (a change made in WhatsApp Manager; `"pin": null` turns 2SV off), `GET summary`.
//!
//! Assumptions where GRAPH_API.md says "unverified" are configurable in [`SandboxConfig`].
//!
//! As its own server (what `pinward graph-sandbox --listen ADDR [--seed S] [--numbers N]
//! [--json]` does):
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use graph::sandbox::{Sandbox, SandboxSeed};
//! let sandbox = Sandbox::seeded(SandboxSeed { seed: 1, numbers: 5_000, businesses: 2 });
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
//! let base = format!("http://{}/", listener.local_addr()?).parse()?;
//! let summary = sandbox.summary(&base);
//! println!("{}", serde_json::to_string(&summary)?); // or `{summary}` for people
//! sandbox
//!     .serve(listener, async {
//!         let _ = tokio::signal::ctrl_c().await;
//!     })
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! In-process (tests, the demo): `Sandbox::seeded(seed).start().await?` binds `127.0.0.1:0`
//! and returns a [`SandboxHandle`] (`base_url()`, `graph_config()`, and, through `Deref`,
//! `set_faults`, `pin_matches`, `counters`, `advance_clock`, `issue_token`, …).

mod control;
mod counters;
mod envelope;
mod faults;
mod listing;
mod onprem;
mod ratelimit;
mod routes;
mod seed;
mod server;
mod state;

use std::fmt;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

pub use counters::{Counters, Route};
pub use faults::{Fault, FaultPlan, FaultRule};
pub use ratelimit::RateLimitConfig;
pub use state::TokenSpec;

use crate::config::{ApiVersion, GraphConfig};
use crate::error::Error;
use crate::ids::{AppId, BusinessId, PhoneNumberId, WabaId};
use crate::secret::{AccessToken, AdminPassword, AppSecret, PinSecret, SignupCode};
use crate::signup::AppCredentials;
use crate::waba::WabaRelation;
use state::World;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxSeed {
    /// Seed of every generated id, name and state.
    pub seed: u64,
    /// Phone numbers in total.
    pub numbers: usize,
    /// Partner businesses (at least one).
    pub businesses: usize,
}

impl Default for SandboxSeed {
    fn default() -> Self {
        SandboxSeed {
            seed: 1,
            numbers: 50,
            businesses: 2,
        }
    }
}

/// Behaviour switches, mostly for what GRAPH_API.md marks unverified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SandboxConfig {
    /// Rate limits.
    pub rate_limits: RateLimitConfig,
    /// Status of token errors: 401 (default) or 400 (as seen in the wild).
    pub auth_error_status: u16,
    /// Refuse calls without a valid `appsecret_proof` ("Require App Secret").
    pub require_appsecret_proof: bool,
    /// Register (and, separately, deregister) calls per number per window.
    pub registration_budget: u32,
    /// The budget's moving window, seconds (72 h).
    pub budget_window_s: i64,
    /// Block after the budget is spent, seconds (72 h).
    pub block_s: i64,
    /// Wrong PINs at register within `guess_window_s` before 133008 (unverified: 5).
    pub guess_limit: u32,
    /// Window of the guess counter, seconds.
    pub guess_window_s: i64,
    /// A wrong PIN sooner than this after the previous one is 133009, seconds.
    pub guess_min_interval_s: i64,
    /// Page size when `limit` is absent (unverified: 25).
    pub default_page_size: u32,
    /// Largest `limit` honoured (unverified: 100).
    pub max_page_size: u32,
    /// The last full page still has `next`, leading to an empty page.
    pub trailing_empty_page: bool,
    /// `expires_in` of exchanged tokens; `None`: never expire.
    pub integration_token_ttl_s: Option<i64>,
    /// Faults active from the start.
    pub faults: FaultPlan,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            rate_limits: RateLimitConfig::default(),
            auth_error_status: 401,
            require_appsecret_proof: false,
            registration_budget: 10,
            budget_window_s: 72 * 3600,
            block_s: 72 * 3600,
            guess_limit: 5,
            guess_window_s: 3600,
            guess_min_interval_s: 10,
            default_page_size: 25,
            max_page_size: 100,
            trailing_empty_page: false,
            integration_token_ttl_s: None,
            faults: FaultPlan::none(),
        }
    }
}

/// The sandbox: cheap to clone, clones share one world.
#[derive(Clone)]
pub struct Sandbox {
    world: Arc<Mutex<World>>,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox").finish_non_exhaustive()
    }
}

/// One On-Premises deployment of the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnPremDeployment {
    /// The number it serves.
    pub phone_number_id: String,
    /// Its base URL (`…/onprem/{id}/`).
    pub base_url: String,
}

/// What a user of the sandbox needs to know. Everything here is fake, printing it is fine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxSummary {
    /// Graph base URL (`PINWARD_GRAPH_BASE_URL`).
    pub base_url: String,
    /// Default version.
    pub graph_version: String,
    /// The sandbox app.
    pub app_id: String,
    /// Its secret (Embedded Signup exchange, `appsecret_proof`).
    pub app_secret: String,
    /// Partner businesses.
    pub business_ids: Vec<String>,
    /// A system-user token with every scope, reaching all of them.
    pub system_user_token: String,
    /// WABAs in total.
    pub wabas: usize,
    /// Numbers in total.
    pub numbers: usize,
    /// On-Premises admin user.
    pub onprem_username: String,
    /// On-Premises admin password.
    pub onprem_password: String,
    /// On-Premises deployments.
    pub onprem_deployments: Vec<OnPremDeployment>,
    /// Control prefix.
    pub control_url: String,
}

impl fmt::Display for SandboxSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Graph sandbox listening on {}", self.base_url)?;
        writeln!(f, "  version            {}", self.graph_version)?;
        writeln!(
            f,
            "  app id / secret    {} / {}",
            self.app_id, self.app_secret
        )?;
        writeln!(f, "  businesses         {}", self.business_ids.join(", "))?;
        writeln!(f, "  WABAs / numbers    {} / {}", self.wabas, self.numbers)?;
        writeln!(f, "  system-user token  {}", self.system_user_token)?;
        writeln!(
            f,
            "  On-Premises        {} deployment(s), admin {} / {}",
            self.onprem_deployments.len(),
            self.onprem_username,
            self.onprem_password
        )?;
        if let Some(d) = self.onprem_deployments.first() {
            writeln!(f, "                     e.g. {}", d.base_url)?;
        }
        write!(
            f,
            "  control            {} (faults, pin-check, counters, clock)",
            self.control_url
        )
    }
}

impl Sandbox {
    /// A sandbox with Meta's documented behaviour.
    pub fn seeded(seed: SandboxSeed) -> Self {
        Sandbox::new(seed, SandboxConfig::default())
    }

    /// A sandbox with switches set.
    pub fn new(seed: SandboxSeed, config: SandboxConfig) -> Self {
        Sandbox {
            world: Arc::new(Mutex::new(seed::build(&seed, config))),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, World> {
        // Nothing panics under this lock; if something did, the world is still usable.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn router(&self) -> Router {
        routes::router(self.clone())
    }

    /// Serves on `listener` until `shutdown` resolves.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), Error> {
        server::serve(listener, self.router(), shutdown).await
    }

    /// Binds `127.0.0.1:0` and serves in the background.
    pub async fn start(self) -> Result<SandboxHandle, Error> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .map_err(|source| Error::Io {
                context: "binding 127.0.0.1:0",
                source,
            })?;
        self.start_on(listener)
    }

    /// Serves on `listener` in the background.
    pub fn start_on(self, listener: TcpListener) -> Result<SandboxHandle, Error> {
        let addr = listener.local_addr().map_err(|source| Error::Io {
            context: "reading the listener's address",
            source,
        })?;
        let base_url = Url::parse(&format!("http://{addr}/"))
            .map_err(|_| Error::Config("listener address is not a URL host".into()))?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let sandbox = self.clone();
        let task = tokio::spawn(async move {
            sandbox
                .serve(listener, async {
                    let _ = stop_rx.await;
                })
                .await
        });
        Ok(SandboxHandle {
            sandbox: self,
            base_url,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }

    /// What to tell a user, for a sandbox served at `base_url`.
    pub fn summary(&self, base_url: &Url) -> SandboxSummary {
        let w = self.lock();
        let base = base_url.as_str().trim_end_matches('/').to_owned();
        let mut onprem: Vec<OnPremDeployment> = w
            .numbers
            .values()
            .filter(|n| n.onprem)
            .map(|n| OnPremDeployment {
                phone_number_id: n.id.clone(),
                base_url: format!("{base}/onprem/{}/", n.id),
            })
            .collect();
        onprem.sort_by(|a, b| a.phone_number_id.cmp(&b.phone_number_id));
        SandboxSummary {
            base_url: format!("{base}/"),
            graph_version: ApiVersion::default().to_string(),
            app_id: w.app.id.clone(),
            app_secret: w.app.secret.clone(),
            business_ids: w.businesses.keys().cloned().collect(),
            system_user_token: w.system_user_token.clone(),
            wabas: w.wabas.len(),
            numbers: w.numbers.len(),
            onprem_username: w.onprem_user.clone(),
            onprem_password: w.onprem_password.clone(),
            onprem_deployments: onprem,
            control_url: format!("{base}/_sandbox/"),
        }
    }

    /// Replaces the fault plan.
    pub fn set_faults(&self, plan: FaultPlan) {
        self.lock().faults = faults::FaultEngine::new(plan);
    }

    /// The fault plan in force.
    pub fn faults(&self) -> FaultPlan {
        self.lock().faults.plan().clone()
    }

    /// Whether `pin` is the PIN the number holds (`None`: unknown number). Not a guess: no
    /// counter moves.
    pub fn pin_matches(&self, phone: &PhoneNumberId, pin: &PinSecret) -> Option<bool> {
        self.lock().pin_matches(phone.as_str(), pin.expose())
    }

    /// Calls so far.
    pub fn counters(&self) -> Counters {
        self.lock().counters.clone()
    }

    /// Zeroes the counters.
    pub fn reset_counters(&self) {
        self.lock().counters = Counters::default();
    }

    /// Moves the sandbox clock forward (budgets, blocks, expiries, rate-limit windows).
    pub fn advance_clock(&self, by: Duration) {
        let mut w = self.lock();
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
        w.clock_offset += by;
    }

    /// The sandbox's current time.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.lock().now()
    }

    /// The seeded system-user token (every scope, every seeded business).
    pub fn system_user_token(&self) -> AccessToken {
        AccessToken::from(self.lock().system_user_token.as_str())
    }

    /// A new token as described.
    pub fn issue_token(&self, spec: &TokenSpec) -> AccessToken {
        AccessToken::from(self.lock().issue_token(spec, Vec::new()))
    }

    /// Revokes a token; `false` if unknown.
    pub fn revoke_token(&self, token: &AccessToken) -> bool {
        let mut w = self.lock();
        match w.tokens.get_mut(token.expose()) {
            Some(t) => {
                t.revoked = true;
                true
            }
            None => false,
        }
    }

    /// A single-use Embedded Signup code granting these WABAs.
    pub fn issue_signup_code(&self, wabas: &[WabaId]) -> SignupCode {
        let mut w = self.lock();
        let code = state::random_token(&mut w.rng, "AQD");
        w.codes.insert(
            code.clone(),
            state::GrantRec {
                wabas: wabas.iter().map(|id| id.as_str().to_owned()).collect(),
                used: false,
            },
        );
        SignupCode::from(code)
    }

    /// A change made in WhatsApp Manager: sets the PIN (`Some`) or turns 2SV off (`None`).
    /// Returns `false` for an unknown number.
    pub fn set_pin_out_of_band(&self, phone: &PhoneNumberId, pin: Option<&PinSecret>) -> bool {
        let mut w = self.lock();
        let hash = pin.and_then(|p| w.pin_hash(p.expose()));
        match w.numbers.get_mut(phone.as_str()) {
            Some(n) => {
                n.pin = hash;
                true
            }
            None => false,
        }
    }

    /// The app: id and secret.
    pub fn app(&self) -> AppCredentials {
        let w = self.lock();
        AppCredentials {
            id: AppId::from_generated(w.app.id.clone()),
            secret: AppSecret::from(w.app.secret.as_str()),
        }
    }

    /// Partner businesses, sorted.
    pub fn business_ids(&self) -> Vec<BusinessId> {
        self.lock()
            .businesses
            .keys()
            .filter_map(|id| BusinessId::parse(id).ok())
            .collect()
    }

    /// A business's owned or client WABAs, in creation order.
    pub fn waba_ids(&self, business: &BusinessId, relation: WabaRelation) -> Vec<WabaId> {
        let w = self.lock();
        w.businesses
            .get(business.as_str())
            .map(|b| match relation {
                WabaRelation::Owned => b.owned.clone(),
                WabaRelation::Client => b.clients.clone(),
            })
            .unwrap_or_default()
            .iter()
            .filter_map(|id| WabaId::parse(id).ok())
            .collect()
    }

    /// A WABA's numbers, in seeding order.
    pub fn numbers_of(&self, waba: &WabaId) -> Vec<PhoneNumberId> {
        let w = self.lock();
        w.wabas
            .get(waba.as_str())
            .map(|x| x.numbers.clone())
            .unwrap_or_default()
            .iter()
            .filter_map(|id| PhoneNumberId::parse(id).ok())
            .collect()
    }

    /// Every number, sorted by id, with its facts: for tests choosing a number in some state.
    pub fn numbers(&self) -> Vec<NumberFacts> {
        let w = self.lock();
        let mut out: Vec<NumberFacts> = w
            .numbers
            .values()
            .filter_map(|n| {
                Some(NumberFacts {
                    id: PhoneNumberId::parse(&n.id).ok()?,
                    waba: WabaId::parse(&n.waba).ok()?,
                    registered: n.registered,
                    verified: n.code_verification == "VERIFIED",
                    pin_enabled: n.pin.is_some(),
                    onprem: n.onprem,
                })
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// The On-Premises admin credentials.
    pub fn onprem_admin(&self) -> (String, AdminPassword) {
        let w = self.lock();
        (
            w.onprem_user.clone(),
            AdminPassword::from(w.onprem_password.as_str()),
        )
    }
}

/// Facts about a seeded number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberFacts {
    /// Its id.
    pub id: PhoneNumberId,
    /// Its WABA.
    pub waba: WabaId,
    /// Registered (Cloud API or On-Premises).
    pub registered: bool,
    /// `code_verification_status` is `VERIFIED`.
    pub verified: bool,
    /// 2SV on.
    pub pin_enabled: bool,
    /// Served by an On-Premises deployment.
    pub onprem: bool,
}

/// A running sandbox; derefs to [`Sandbox`] for state control. Stops when dropped.
#[derive(Debug)]
pub struct SandboxHandle {
    sandbox: Sandbox,
    base_url: Url,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), Error>>>,
}

impl Deref for SandboxHandle {
    type Target = Sandbox;
    fn deref(&self) -> &Sandbox {
        &self.sandbox
    }
}

impl SandboxHandle {
    /// `http://127.0.0.1:PORT/`.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The On-Premises deployment URL of a number.
    pub fn onprem_base_url(&self, phone: &PhoneNumberId) -> Url {
        let mut url = self.base_url.clone();
        url.set_path(&format!("/onprem/{phone}/"));
        url
    }

    /// The summary for this address.
    pub fn summary(&self) -> SandboxSummary {
        self.sandbox.summary(&self.base_url)
    }

    /// A client configuration pointing here.
    pub fn graph_config(&self) -> GraphConfig {
        GraphConfig::new(self.base_url.clone())
    }

    /// Stops serving and waits for the server task.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
