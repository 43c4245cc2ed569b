//! What every request handler may use.

use std::path::PathBuf;
use std::sync::Arc;

use audit::CheckpointKey;
use governance::Store;
use governance::custody::{Custodian, Escrow, Settings};
use graph::GraphClient;
use url::Url;

use crate::auth::reveals::RevealLimit;
use crate::auth::throttle::Throttle;
use crate::metrics::Metrics;

/// Shared, cheaply cloned state of the service.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The age identity file that opens escrowed PINs; `/readyz` checks it is readable.
    pub identity_file: PathBuf,
    /// How the service is reached from browsers.
    pub site: Arc<Site>,
    /// Prometheus metrics, filled by middleware and handlers.
    pub metrics: Arc<Metrics>,
    /// Failed password checks, for sign-in and step-up throttling.
    pub throttle: Arc<Throttle>,
    /// Recent PIN reveals per user, for the reveal rate limit.
    pub reveals: Arc<RevealLimit>,
    /// One-time form tokens spent lately ([`crate::auth::session::SpentOnce`]).
    pub spent: Arc<crate::auth::session::SpentOnce>,
    /// What custody actions need (take custody, rotate, reveal, release); `None` in tests
    /// that serve pages only.
    pub custody: Option<Arc<Custody>>,
    /// Signs the checkpoint that ends every ledger export; `None` in tests that do not
    /// export.
    pub checkpoint_key: Option<Arc<CheckpointKey>>,
}

/// The service's escrow keys and its Graph client: with an org's stored credential they
/// make that org's [`governance::custody::Custodian`] (see [`Custody::for_org`]).
#[derive(Debug)]
pub struct Custody {
    /// Seals new PINs and opens escrowed ones with the service identity.
    pub escrow: Arc<Escrow>,
    /// Reaches Meta (or the Graph sandbox) for every org.
    pub graph: GraphClient,
    /// Lease and retry timing of the custody protocol.
    pub settings: Settings,
    /// The admin login of On-Premises deployments (`PINWARD_ONPREM_USERNAME` and
    /// `PINWARD_ONPREM_PASSWORD`), for the numbers that API serves.
    pub on_prem: Option<governance::custody::OnPremLogin>,
}

impl Custody {
    /// The custodian of `org` and the org's recovery recipients.
    ///
    /// # Errors
    /// As [`governance::custody::for_org`].
    pub async fn for_org(
        &self,
        store: &Store,
        org: &str,
    ) -> Result<(Custodian, Vec<vault::Recipient>), governance::Error> {
        governance::custody::for_org(
            store,
            Arc::clone(&self.escrow),
            self.graph.clone(),
            org,
            self.on_prem.clone(),
            self.settings.clone(),
        )
        .await
    }
}

impl AppState {
    /// State for a service reached at `public_url` (`PINWARD_PUBLIC_URL`), or, without one,
    /// at whatever host the browser used over plain HTTP (the loopback demo).
    #[must_use]
    pub fn new(store: Store, identity_file: PathBuf, public_url: Option<&Url>) -> AppState {
        AppState {
            store,
            identity_file,
            site: Arc::new(Site::new(public_url)),
            metrics: Arc::new(Metrics::new()),
            throttle: Arc::new(Throttle::default()),
            reveals: Arc::new(RevealLimit::default()),
            spent: Arc::default(),
            custody: None,
            checkpoint_key: None,
        }
    }

    /// The same state, able to run custody actions.
    #[must_use]
    pub fn with_custody(mut self, custody: Custody) -> AppState {
        self.custody = Some(Arc::new(custody));
        self
    }

    /// The same state, able to export the ledger with checkpoints signed by `key`.
    #[must_use]
    pub fn with_checkpoint_key(mut self, key: Arc<CheckpointKey>) -> AppState {
        self.checkpoint_key = Some(key);
        self
    }
}

/// The browser-facing address of the service, which decides cookie and header policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// `scheme://host[:port]` of the public URL, the only origin allowed to post forms.
    /// `None`: the origin the request's `Host` header names, over plain HTTP.
    pub origin: Option<String>,
    /// Served over HTTPS: `Secure` `__Host-` cookie and HSTS.
    pub https: bool,
}

impl Site {
    /// The site of `public_url`, or of plain HTTP on whatever host the browser used.
    #[must_use]
    pub fn new(public_url: Option<&Url>) -> Site {
        match public_url {
            Some(url) => Site {
                origin: Some(url.origin().ascii_serialization()),
                https: url.scheme() == "https",
            },
            None => Site {
                origin: None,
                https: false,
            },
        }
    }

    /// The session cookie's name. Browsers accept a `__Host-` cookie only with `Secure`,
    /// which they refuse to set over plain HTTP, so the plain-HTTP demo uses a plain name.
    #[must_use]
    pub fn cookie_name(&self) -> &'static str {
        if self.https {
            "__Host-pinward"
        } else {
            "pinward"
        }
    }
}
