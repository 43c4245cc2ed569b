//! PIN custody: take custody, rotate, resume, reveal, release, and record an out-of-band
//! change, following DESIGN.md "Custody protocol" exactly.
//!
//! Every new PIN goes through the same three steps:
//!
//! 1. **TX1** ([`Custodian::start`]): generate (refusing a PIN whose keyed fingerprint
//!    equals another *current* PIN of the org), seal to the service identity and the org's
//!    recovery recipients, insert a `pending` version with a fresh `attempt_id`, set the
//!    number `rotating` under this worker's lease, ledger `pin.rotation.started`, commit.
//! 2. **Send** under the number's lease. Claiming the lease for a re-send gives the pending
//!    version a new `attempt_id`, so a worker whose lease expired and was taken over can no
//!    longer write; the first send keeps TX1's, so start and outcome name one attempt.
//! 3. **TX2**, guarded by this worker's lease, the `attempt_id` and `status = 'pending'`:
//!    confirmed → `current` (old current → `previous`, older previous → `superseded`),
//!    `pin.rotated`; rejected → `rejected`, `pin.rotation.rejected`, the number back to
//!    `escrowed` (or `unknown` if it never had a current); anything else → `uncertain`,
//!    both versions kept, `pin.rotation.uncertain`.
//!
//! [`Custodian::resume`] re-sends the **same** pending PIN; no new PIN is generated while
//! one is pending. Sends are retried with exponential backoff up to
//! [`Settings::max_sends`] per call; then the number carries an `attention_reason`.
//! `/register` is never called.
//!
//! Authorization is the caller's job: these functions take the org, an [`audit::Actor`] and
//! ready-made collaborators.

mod actions;
mod connector;
mod escrow;
mod protocol;
mod state;

use std::sync::Arc;
use std::time::Duration;

use audit::Actor;
use graph::PhoneNumberId;
use vault::{Pin, Recipient};

pub use actions::{
    MAX_OUT_OF_BAND_NOTE, NumberCustody, OutOfBand, Revealed, VersionInfo, may_reveal,
    out_of_band_faults, record_out_of_band, release, reveal, reveal_as, reveal_refused, status,
};
pub use connector::{MetaAccess, OnPremLogin};
pub use escrow::Escrow;
pub(crate) use escrow::open_either;
pub(crate) use escrow::open_pin;
pub(crate) use protocol::event as protocol_event;
pub use state::PinState;

use crate::Error;
use crate::store::Store;

/// Timing of the protocol.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a worker owns a number (or a job item) after claiming it.
    pub lease: Duration,
    /// Sends of one pending version per call before the number needs attention.
    pub max_sends: u32,
    /// Backoff before the second send; doubles each time.
    pub backoff_base: Duration,
    /// Longest backoff.
    pub backoff_max: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lease: Duration::from_secs(60),
            max_sends: 5,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
        }
    }
}

impl Settings {
    fn backoff(&self, failures: i64) -> Duration {
        let exp = u32::try_from(failures.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
        self.backoff_base
            .saturating_mul(1u32 << exp)
            .min(self.backoff_max)
    }
}

/// Where the PINs of new versions come from.
pub trait PinSource: Send + Sync {
    /// A fresh, non-trivial PIN.
    fn next_pin(&self) -> Pin;
}

/// The operating system's CSPRNG through [`vault::generate`].
#[derive(Debug, Clone, Copy, Default)]
pub struct OsPins;

impl PinSource for OsPins {
    fn next_pin(&self) -> Pin {
        vault::generate()
    }
}

/// Why a new PIN is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Custody of a number whose PIN pinward does not know (also the recovery of a forgotten
    /// PIN, and of one changed out of band).
    Take,
    /// A new PIN for an escrowed number.
    Rotate,
    /// Custody of a released number again, asked for as such: the only way a client's PIN
    /// is cut off (see [`Custodian::take_back`]).
    TakeBack,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Take => "take",
            Purpose::Rotate => "rotate",
            Purpose::TakeBack => "take_back",
        }
    }
}

/// How a custody call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Meta confirmed: this version is current.
    Confirmed {
        /// The version now current.
        version: i64,
    },
    /// Meta rejected the pending version for good; the number keeps its previous PIN.
    Rejected {
        /// The rejected version.
        version: i64,
        /// Meta's error code, if any.
        code: Option<i64>,
    },
    /// Not confirmed: both versions are kept and the same PIN will be re-sent.
    Uncertain {
        /// The pending version.
        version: i64,
        /// Sends without a conclusive answer so far.
        failures: i64,
        /// The number now shows "needs attention".
        needs_attention: bool,
    },
    /// Nothing was pending.
    Idle,
}

/// A TX1 that committed: the pending version now in escrow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The pending version.
    pub version: i64,
    /// Its attempt id at TX1.
    pub attempt_id: String,
}

/// Runs the custody protocol for one org's numbers.
pub struct Custodian {
    store: Store,
    escrow: Arc<Escrow>,
    meta: Arc<MetaAccess>,
    settings: Settings,
    pins: Arc<dyn PinSource>,
    worker: String,
    sessions: connector::OnPremSessions,
}

impl std::fmt::Debug for Custodian {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Custodian")
            .field("worker", &self.worker)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Custodian {
    /// A custodian with its own worker id (the lease owner it writes).
    pub fn new(
        store: Store,
        escrow: Arc<Escrow>,
        meta: Arc<MetaAccess>,
        settings: Settings,
    ) -> Custodian {
        Custodian {
            store,
            escrow,
            meta,
            settings,
            pins: Arc::new(OsPins),
            worker: format!("worker-{}-{}", std::process::id(), uuid::Uuid::now_v7()),
            sessions: connector::OnPremSessions::default(),
        }
    }

    /// Replaces where new PINs come from (tests force collisions with it).
    pub fn with_pin_source(mut self, pins: Arc<dyn PinSource>) -> Custodian {
        self.pins = pins;
        self
    }

    /// The lease owner this custodian writes.
    pub fn worker_id(&self) -> &str {
        &self.worker
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Takes custody of a number whose PIN is `unknown` (never escrowed, forgotten, or
    /// changed out of band): sets a fresh PIN by API. Cloud API needs no old PIN. A released
    /// number is refused: it is its client's until someone asks for [`Custodian::take_back`].
    pub async fn take(
        &self,
        org: &str,
        actor: &Actor,
        number: &PhoneNumberId,
        recovery: &[Recipient],
    ) -> Result<Outcome, Error> {
        self.set_pin(org, actor, number, recovery, Purpose::Take)
            .await
    }

    /// Takes a `released` number back from its client (it was given back, or released by
    /// mistake): the PIN handed over becomes `stale` (`pin.reclaimed`) and a fresh PIN is
    /// set as [`Custodian::take`] does; if Meta refuses it, the number stays released with
    /// the PIN handed over.
    pub async fn take_back(
        &self,
        org: &str,
        actor: &Actor,
        number: &PhoneNumberId,
        recovery: &[Recipient],
    ) -> Result<Outcome, Error> {
        self.set_pin(org, actor, number, recovery, Purpose::TakeBack)
            .await
    }

    /// Rotates the PIN of an `escrowed` number.
    pub async fn rotate(
        &self,
        org: &str,
        actor: &Actor,
        number: &PhoneNumberId,
        recovery: &[Recipient],
    ) -> Result<Outcome, Error> {
        self.set_pin(org, actor, number, recovery, Purpose::Rotate)
            .await
    }

    /// TX1 for `purpose`, then the send and TX2 as a resume does.
    async fn set_pin(
        &self,
        org: &str,
        actor: &Actor,
        number: &PhoneNumberId,
        recovery: &[Recipient],
        purpose: Purpose,
    ) -> Result<Outcome, Error> {
        self.start(org, actor, number, recovery, purpose).await?;
        self.resume(org, actor, number).await
    }

    /// Re-sends the pending version, if any (after a restart, a crash or an expired lease),
    /// with bounded retries; never generates a PIN.
    pub async fn resume(
        &self,
        org: &str,
        actor: &Actor,
        number: &PhoneNumberId,
    ) -> Result<Outcome, Error> {
        let mut sends = 0u32;
        loop {
            let Some(claim) = self.claim(org, number).await? else {
                return Ok(Outcome::Idle);
            };
            let outcome = self.send_and_settle(org, actor, &claim).await?;
            sends += 1;
            match outcome {
                Outcome::Uncertain {
                    failures,
                    needs_attention: false,
                    ..
                } if sends < self.settings.max_sends => {
                    tokio::time::sleep(self.settings.backoff(failures)).await;
                }
                other => return Ok(other),
            }
        }
    }

    /// Resumes every number of the org with a pending version whose lease is free.
    pub async fn resume_all(
        &self,
        org: &str,
        actor: &Actor,
    ) -> Result<Vec<(PhoneNumberId, Result<Outcome, Error>)>, Error> {
        let sql = "SELECT n.meta_phone_number_id FROM phone_numbers n JOIN pin_versions v \
                   ON v.phone_number_id = n.id WHERE n.org_id = $1 AND v.status = 'pending' \
                   ORDER BY n.meta_phone_number_id";
        let ids: Vec<String> = crate::on_read!(self.store, org, conn => sqlx::query_scalar(sql).bind(org).fetch_all(conn).await)?;
        let mut results = Vec::new();
        for id in ids {
            let Ok(phone) = PhoneNumberId::parse(&id) else {
                continue;
            };
            let result = self.resume(org, actor, &phone).await;
            results.push((phone, result));
        }
        Ok(results)
    }
}

/// Custody of one org from what pinward stores: a [`Custodian`] reaching Meta with the
/// org's Graph credential (opened with the service identity), and the org's recovery
/// recipients that every new PIN is sealed to, with the On-Premises admin login (if the
/// deployment has one) for numbers that API serves. The dashboard and the API use it; the
/// CLI adds its override (`PINWARD_GRAPH_TOKEN`) on top.
///
/// # Errors
/// [`Error::NotFound`] `graph credential` when the org has none; database and vault errors.
pub async fn for_org(
    store: &Store,
    escrow: Arc<Escrow>,
    graph: graph::GraphClient,
    org: &str,
    on_prem: Option<OnPremLogin>,
    settings: Settings,
) -> Result<(Custodian, Vec<Recipient>), Error> {
    let token = crate::credentials::open(store, &escrow, org).await?;
    let recovery = crate::recovery::recipients_of(store, org).await?;
    let meta = MetaAccess {
        graph,
        token,
        on_prem,
    };
    let custodian = Custodian::new(store.clone(), escrow, Arc::new(meta), settings);
    Ok((custodian, recovery))
}
