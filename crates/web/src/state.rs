//! What every request handler may use.

use std::path::PathBuf;
use std::sync::Arc;

use governance::Store;
use url::Url;

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
        }
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
