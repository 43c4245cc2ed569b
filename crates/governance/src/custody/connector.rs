//! Sending a PIN to Meta: the Cloud API for `cloud` numbers, the number's own On-Premises
//! deployment for `on_prem` numbers. Both speak the same protocol to custody: the send
//! either was confirmed, was definitively rejected, or has an unknown outcome.

use std::collections::HashMap;
use std::sync::Mutex;

use graph::{
    AccessToken, AdminPassword, ErrorClass, GraphClient, OnPremClient, OnPremConfig, PhoneNumberId,
    PinSecret,
};
use url::Url;
use vault::Pin;

use super::state::NumberRow;

/// How pinward reaches Meta for one org.
#[derive(Debug)]
pub struct MetaAccess {
    /// The Cloud API client.
    pub graph: GraphClient,
    /// The org's system-user token.
    pub token: AccessToken,
    /// The admin login of the org's On-Premises deployments, if it has any.
    pub on_prem: Option<OnPremLogin>,
}

/// The admin login of On-Premises deployments (each `on_prem` number records its URL).
#[derive(Debug, Clone)]
pub struct OnPremLogin {
    /// Admin user name.
    pub username: String,
    /// Admin password.
    pub password: AdminPassword,
}

/// What a send told us.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Meta holds the PIN now.
    Confirmed,
    /// Meta said no for good: the PIN was not set.
    Rejected { code: Option<i64>, reason: String },
    /// Not confirmed: maybe applied, maybe not. `give_up` when retrying cannot help before an
    /// operator acts (credentials refused, no endpoint configured).
    Unsettled { reason: String, give_up: bool },
    /// Certainly not applied: refused before Meta acted on it (the credential refused, no
    /// endpoint or login configured), so this attempt changed nothing at Meta.
    NotApplied { code: Option<i64>, reason: String },
}

/// Sessions of On-Premises deployments, by base URL.
#[derive(Debug, Default)]
pub(crate) struct OnPremSessions {
    sessions: Mutex<HashMap<String, (OnPremClient, AccessToken)>>,
}

impl MetaAccess {
    /// Sends `pin` to the number and classifies the answer. Never retries a write whose
    /// outcome is unknown: custody decides.
    pub(crate) async fn deliver(
        &self,
        sessions: &OnPremSessions,
        number: &NumberRow,
        pin: &Pin,
    ) -> Verdict {
        let secret = match PinSecret::new(pin.expose()) {
            Ok(secret) => secret,
            Err(_) => {
                return Verdict::NotApplied {
                    code: None,
                    reason: "the escrowed PIN is not six digits".into(),
                };
            }
        };
        if number.connector == "on_prem" {
            return self.deliver_on_prem(sessions, number, &secret).await;
        }
        let phone = match PhoneNumberId::parse(&number.meta_id) {
            Ok(phone) => phone,
            Err(_) => {
                return Verdict::Rejected {
                    code: None,
                    reason: "the stored phone number id is not a Meta id".into(),
                };
            }
        };
        classify(self.graph.set_pin(&self.token, &phone, &secret).await)
    }

    async fn deliver_on_prem(
        &self,
        sessions: &OnPremSessions,
        number: &NumberRow,
        pin: &PinSecret,
    ) -> Verdict {
        let give_up = |reason: &str| Verdict::NotApplied {
            code: None,
            reason: reason.to_owned(),
        };
        let Some(base) = number.onprem_base_url.as_deref() else {
            return give_up("no On-Premises endpoint is configured for this number");
        };
        let Some(login) = &self.on_prem else {
            return give_up("no On-Premises admin login is configured");
        };
        let cached = sessions
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(base)
            .cloned();
        let (client, token) = match cached {
            Some(session) => session,
            None => {
                let Ok(url) = Url::parse(base) else {
                    return give_up("the On-Premises endpoint is not a URL");
                };
                let client = match OnPremClient::new(OnPremConfig::new(url)) {
                    Ok(client) => client,
                    Err(error) => return give_up(&error.to_string()),
                };
                match client.login(&login.username, &login.password).await {
                    Ok(session) => {
                        let pair = (client, session.token);
                        sessions
                            .sessions
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(base.to_owned(), pair.clone());
                        pair
                    }
                    // The login changed nothing at Meta: the PIN certainly was not sent.
                    Err(error) => return unsent(&error),
                }
            }
        };
        let result = client.set_pin(&token, pin).await;
        if matches!(&result, Err(e) if e.class() == ErrorClass::Auth) {
            // An expired session: log in again on the next attempt.
            sessions
                .sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(base);
        }
        classify(result)
    }
}

/// A failed On-Premises login: the PIN was not sent. A refused login is final until an
/// operator fixes it; any other failure is retried.
fn unsent(error: &graph::Error) -> Verdict {
    if error.class() == ErrorClass::Auth {
        Verdict::NotApplied {
            code: error.code(),
            reason: format!("the On-Premises login was refused: {error}"),
        }
    } else {
        Verdict::Unsettled {
            reason: format!("not sent: {error}"),
            give_up: false,
        }
    }
}

/// Graph's error classes mapped onto the custody protocol. Error texts of the graph crate
/// never hold a PIN or token, so they may go to the ledger.
fn classify(result: Result<(), graph::Error>) -> Verdict {
    match result {
        Ok(()) => Verdict::Confirmed,
        Err(error) => match error.class() {
            ErrorClass::Rejected => Verdict::Rejected {
                code: error.code(),
                reason: error.to_string(),
            },
            // Meta refused the credential, not the PIN: the request changed nothing.
            ErrorClass::Auth => Verdict::NotApplied {
                code: error.code(),
                reason: format!("Meta refused the credential: {error}"),
            },
            _ => Verdict::Unsettled {
                reason: error.to_string(),
                give_up: false,
            },
        },
    }
}
