//! Calls counted per route and per number, so tests can assert what a workflow did at "Meta"
//! (a rotation makes zero `/register` calls).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A sandbox route: one of the calls of GRAPH_API.md §2 or of the On-Premises API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// `POST /{phone-number-id}` `{"pin"}`.
    SetPin,
    /// `POST /{phone-number-id}/register`.
    Register,
    /// `POST /{phone-number-id}/deregister`.
    Deregister,
    /// `GET /{waba-id}/phone_numbers`.
    PhoneNumbers,
    /// `GET /{phone-number-id}`.
    PhoneNumber,
    /// `GET /{waba-id}`.
    Waba,
    /// `GET /{business-id}/owned_whatsapp_business_accounts`.
    OwnedWabas,
    /// `GET /{business-id}/client_whatsapp_business_accounts`.
    ClientWabas,
    /// `GET /debug_token`.
    DebugToken,
    /// `GET|POST /oauth/access_token`.
    OauthAccessToken,
    /// On-Premises `POST /v1/users/login`.
    OnpremLogin,
    /// On-Premises `POST /v1/settings/account/two-step`.
    OnpremSetPin,
    /// On-Premises `DELETE /v1/settings/account/two-step`.
    OnpremDisablePin,
    /// Anything else under a version (unknown ids, edges, methods).
    Other,
}

impl Route {
    /// The snake_case name used in counters and fault rules.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::SetPin => "set_pin",
            Route::Register => "register",
            Route::Deregister => "deregister",
            Route::PhoneNumbers => "phone_numbers",
            Route::PhoneNumber => "phone_number",
            Route::Waba => "waba",
            Route::OwnedWabas => "owned_wabas",
            Route::ClientWabas => "client_wabas",
            Route::DebugToken => "debug_token",
            Route::OauthAccessToken => "oauth_access_token",
            Route::OnpremLogin => "onprem_login",
            Route::OnpremSetPin => "onprem_set_pin",
            Route::OnpremDisablePin => "onprem_disable_pin",
            Route::Other => "other",
        }
    }

    /// Changes state at "Meta".
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Route::SetPin
                | Route::Register
                | Route::Deregister
                | Route::OauthAccessToken
                | Route::OnpremSetPin
                | Route::OnpremDisablePin
        )
    }

    /// Answers with the On-Premises error envelope.
    pub fn is_onprem(self) -> bool {
        matches!(
            self,
            Route::OnpremLogin | Route::OnpremSetPin | Route::OnpremDisablePin
        )
    }
}

/// Calls received, including refused and faulted ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// By route name.
    pub routes: BTreeMap<String, u64>,
    /// By phone number id, then route name.
    pub numbers: BTreeMap<String, BTreeMap<String, u64>>,
    /// Requests that carried `access_token=` in the query (pinward must send none).
    pub access_tokens_in_query: u64,
}

impl Counters {
    /// Calls of `route`.
    pub fn route(&self, route: Route) -> u64 {
        self.routes.get(route.as_str()).copied().unwrap_or(0)
    }

    /// Calls of `route` about one number.
    pub fn number(&self, phone_number_id: &str, route: Route) -> u64 {
        self.numbers
            .get(phone_number_id)
            .and_then(|m| m.get(route.as_str()))
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn hit(&mut self, route: Route, number: Option<&str>) {
        *self.routes.entry(route.as_str().to_owned()).or_default() += 1;
        if let Some(n) = number {
            *self
                .numbers
                .entry(n.to_owned())
                .or_default()
                .entry(route.as_str().to_owned())
                .or_default() += 1;
        }
    }
}
