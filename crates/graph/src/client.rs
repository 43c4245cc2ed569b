//! The Cloud API client: configuration, URL building, authentication (`Authorization: Bearer`,
//! optional `appsecret_proof`). The calls live beside it, grouped by subject: `pin`, `waba`,
//! `numbers`, `token`, `signup`.

use std::sync::Arc;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::Method;
use sha2::Sha256;
use url::Url;

use crate::classify::Usage;
use crate::config::GraphConfig;
use crate::error::Error;
use crate::retry::{Sleeper, TokioSleeper};
use crate::secret::AccessToken;
use crate::transport::{Answer, Auth, Call, Dialect, Transport, http_client};

/// A Graph API client. Cheap to clone; clones share the connection pool.
///
/// Calls take the token to use, so one client serves every org's system-user token.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: GraphConfig,
    transport: Transport,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl GraphClient {
    /// A client that sleeps on the tokio timer between retries.
    pub fn new(config: GraphConfig) -> Result<Self, Error> {
        GraphClient::with_sleeper(config, Arc::new(TokioSleeper))
    }

    /// A client with an injected sleeper (tests record the backoff instead of waiting).
    pub fn with_sleeper(config: GraphConfig, sleeper: Arc<dyn Sleeper>) -> Result<Self, Error> {
        config.validate()?;
        let http = http_client(config.connect_timeout)?;
        let transport = Transport::new(
            http,
            config.timeout,
            config.retry.clone(),
            sleeper,
            Dialect::Graph,
        );
        Ok(GraphClient {
            inner: Arc::new(Inner { config, transport }),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &GraphConfig {
        &self.inner.config
    }

    /// `X-App-Usage` / `X-Business-Use-Case-Usage` of the last answer that carried them, so a
    /// scheduler can slow down before Meta throttles.
    pub fn last_usage(&self) -> Option<Usage> {
        self.inner.transport.last_usage()
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    /// `{base}/{version}/{segments…}`; segments are percent-encoded by `url`.
    pub(crate) fn url(&self, segments: &[&str]) -> Result<Url, Error> {
        let mut url = self.inner.config.base_url.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| Error::Config("base URL cannot carry a path".into()))?;
            path.pop_if_empty();
            path.push(&self.inner.config.version.to_string());
            path.extend(segments);
        }
        Ok(url)
    }

    /// Adds `appsecret_proof` when an app secret is configured.
    fn prove(&self, url: &mut Url, token: &AccessToken) -> Result<(), Error> {
        if let Some(secret) = &self.inner.config.app_secret {
            url.query_pairs_mut().append_pair(
                "appsecret_proof",
                &appsecret_proof(secret.expose(), token.expose())?,
            );
        }
        Ok(())
    }

    /// A read authenticated by `token`.
    pub(crate) async fn get(
        &self,
        route: &'static str,
        token: &AccessToken,
        mut url: Url,
        extra_secrets: &[&str],
    ) -> Result<Answer, Error> {
        self.prove(&mut url, token)?;
        let mut secrets = vec![token.expose()];
        secrets.extend_from_slice(extra_secrets);
        self.transport()
            .execute(Call {
                route,
                method: Method::GET,
                url,
                body: None,
                write: false,
                auth: Auth::Bearer(token),
                secrets,
            })
            .await
    }

    /// A write authenticated by `token`.
    pub(crate) async fn post(
        &self,
        route: &'static str,
        token: &AccessToken,
        mut url: Url,
        body: Option<Bytes>,
        extra_secrets: &[&str],
    ) -> Result<Answer, Error> {
        self.prove(&mut url, token)?;
        let mut secrets = vec![token.expose()];
        secrets.extend_from_slice(extra_secrets);
        self.transport()
            .execute(Call {
                route,
                method: Method::POST,
                url,
                body: body.map(|b| (b, crate::transport::JSON)),
                write: true,
                auth: Auth::Bearer(token),
                secrets,
            })
            .await
    }
}

/// `appsecret_proof`: lowercase hex HMAC-SHA256 of the token, keyed by the app secret.
pub fn appsecret_proof(app_secret: &str, token: &str) -> Result<String, Error> {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes())
        .map_err(|_| Error::Config("app secret unusable as an HMAC key".into()))?;
    mac.update(token.as_bytes());
    Ok(hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appsecret_proof_is_hmac_sha256_hex() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let proof = appsecret_proof("Jefe", "what do ya want for nothing?").unwrap();
        assert_eq!(
            proof,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn debug_of_a_configured_client_shows_no_app_secret() {
        let mut cfg = GraphConfig::new(Url::parse("http://127.0.0.1:9/").unwrap());
        cfg.app_secret = Some(crate::secret::AppSecret::from("s3cr3t-app-secret"));
        let c = GraphClient::new(cfg).unwrap();
        let shown = format!("{c:?} {:?}", c.config());
        assert!(shown.contains("AppSecret([redacted])"));
        assert!(!shown.contains("s3cr3t-app-secret"));
    }

    #[test]
    fn urls_carry_the_version_and_keep_a_base_path() {
        let mut cfg = GraphConfig::new(Url::parse("http://127.0.0.1:9/prefix/").unwrap());
        cfg.version = "v25.0".parse().unwrap();
        let c = GraphClient::new(cfg).unwrap();
        assert_eq!(
            c.url(&["123", "register"]).unwrap().as_str(),
            "http://127.0.0.1:9/prefix/v25.0/123/register"
        );
    }
}
