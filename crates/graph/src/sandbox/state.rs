//! The sandbox's world: businesses, WABAs, numbers (with the PIN each holds, as an HMAC only),
//! tokens, signup codes, On-Premises deployments, counters, limits, faults and the clock; and
//! the rules Meta applies to them (GRAPH_API.md §2, §5).
//!
//! Every function here is synchronous and runs under the world's lock; `routes` does the HTTP.

use std::collections::{BTreeMap, HashMap, VecDeque};

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use super::SandboxConfig;
use super::counters::Counters;
use super::envelope::GraphError;
use super::faults::FaultEngine;
use super::ratelimit::RateLimiter;

pub(crate) const SCOPE_BUSINESS: &str = "business_management";
pub(crate) const SCOPE_MANAGE: &str = "whatsapp_business_management";
pub(crate) const SCOPE_MESSAGE: &str = "whatsapp_business_messaging";

#[derive(Debug, Clone)]
pub(crate) struct AppRec {
    pub id: String,
    pub secret: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub(crate) struct BusinessRec {
    pub id: String,
    pub name: String,
    pub owned: Vec<String>,
    pub clients: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct WabaRec {
    pub id: String,
    pub name: String,
    pub currency: &'static str,
    pub timezone_id: String,
    pub namespace: String,
    pub creation_time: i64,
    /// The partner business that owns it or that it is shared with.
    pub partner: String,
    pub client_owned: bool,
    pub country: &'static str,
    pub numbers: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct NumberRec {
    pub id: String,
    pub waba: String,
    pub display: String,
    pub verified_name: String,
    pub quality: &'static str,
    pub code_verification: &'static str,
    pub name_status: &'static str,
    pub account_mode: &'static str,
    pub last_onboarded: i64,
    pub official: bool,
    pub registered: bool,
    pub onprem: bool,
    pub status: &'static str,
    /// HMAC of the PIN under the world's key; `None`: 2SV off.
    pub pin: Option<[u8; 32]>,
    pub region: Option<String>,
    pub register_calls: VecDeque<DateTime<Utc>>,
    pub deregister_calls: VecDeque<DateTime<Utc>>,
    pub blocked_until: Option<DateTime<Utc>>,
    pub wrong_guesses: VecDeque<DateTime<Utc>>,
}

impl NumberRec {
    pub(crate) fn platform_type(&self) -> &'static str {
        match (self.registered, self.onprem) {
            (false, _) => "NOT_APPLICABLE",
            (true, true) => "ON_PREMISE",
            (true, false) => "CLOUD_API",
        }
    }
}

/// What a sandbox token may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSpec {
    /// Granted scopes.
    #[serde(default = "all_scopes")]
    pub scopes: Vec<String>,
    /// Per scope, the WABA ids it is limited to (`granular_scopes.target_ids`); scopes not
    /// listed are unrestricted.
    #[serde(default)]
    pub target_ids: BTreeMap<String, Vec<String>>,
    /// Partner businesses whose assets the token reaches; `None`: all seeded businesses.
    #[serde(default)]
    pub businesses: Option<Vec<String>>,
    /// Seconds until expiry; `None`: never; zero or negative: already expired.
    #[serde(default)]
    pub expires_in_s: Option<i64>,
}

fn all_scopes() -> Vec<String> {
    [SCOPE_BUSINESS, SCOPE_MANAGE, SCOPE_MESSAGE]
        .map(String::from)
        .to_vec()
}

impl Default for TokenSpec {
    fn default() -> Self {
        TokenSpec {
            scopes: all_scopes(),
            target_ids: BTreeMap::new(),
            businesses: None,
            expires_in_s: None,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct TokenRec {
    pub user_id: String,
    pub scopes: Vec<String>,
    pub targets: BTreeMap<String, Vec<String>>,
    pub businesses: Vec<String>,
    /// WABAs reached directly (business-integration tokens).
    pub wabas: Vec<String>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct GrantRec {
    pub wabas: Vec<String>,
    pub used: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct OnPremSession {
    pub number: String,
    pub expires: DateTime<Utc>,
}

/// Who is calling.
#[derive(Debug, Clone)]
pub(crate) enum Principal {
    Token(TokenRec),
    App,
}

pub(crate) struct World {
    pub cfg: SandboxConfig,
    pub app: AppRec,
    pub businesses: BTreeMap<String, BusinessRec>,
    pub wabas: HashMap<String, WabaRec>,
    pub numbers: HashMap<String, NumberRec>,
    pub tokens: HashMap<String, TokenRec>,
    pub codes: HashMap<String, GrantRec>,
    pub system_user_token: String,
    pub onprem_user: String,
    pub onprem_password: String,
    pub onprem_sessions: HashMap<String, OnPremSession>,
    pub counters: Counters,
    pub limiter: RateLimiter,
    pub faults: FaultEngine,
    pub pin_key: [u8; 32],
    pub clock_offset: chrono::Duration,
    pub rng: StdRng,
}

const SIX_DIGITS: &str = "The PIN must be exactly six digits";

/// Six ASCII digits.
pub(crate) fn is_pin(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())
}

pub(crate) fn random_token(rng: &mut StdRng, prefix: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let tail: String = (0..48)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    format!("{prefix}{tail}")
}

impl World {
    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    pub(crate) fn auth_status(&self) -> StatusCode {
        StatusCode::from_u16(self.cfg.auth_error_status).unwrap_or(StatusCode::UNAUTHORIZED)
    }

    fn pin_mac(&self, pin: &str) -> Option<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.pin_key).ok()?;
        mac.update(pin.as_bytes());
        Some(mac)
    }

    pub(crate) fn pin_hash(&self, pin: &str) -> Option<[u8; 32]> {
        self.pin_mac(pin).map(|m| m.finalize().into_bytes().into())
    }

    /// The PIN the number holds equals `pin` (constant-time comparison).
    pub(crate) fn pin_matches(&self, number: &str, pin: &str) -> Option<bool> {
        let n = self.numbers.get(number)?;
        Some(match (&n.pin, self.pin_mac(pin)) {
            (Some(held), Some(mac)) => mac.verify_slice(held).is_ok(),
            _ => false,
        })
    }

    // ---- tokens -------------------------------------------------------------------------

    pub(crate) fn issue_token(&mut self, spec: &TokenSpec, wabas: Vec<String>) -> String {
        let token = random_token(&mut self.rng, "EAAS");
        let user_id = format!(
            "{}",
            self.rng
                .gen_range(100_000_000_000_000u64..999_999_999_999_999)
        );
        let now = self.now();
        let rec = TokenRec {
            user_id,
            scopes: spec.scopes.clone(),
            targets: spec.target_ids.clone(),
            businesses: spec
                .businesses
                .clone()
                .unwrap_or_else(|| self.businesses.keys().cloned().collect()),
            wabas,
            issued_at: now,
            expires_at: spec
                .expires_in_s
                .map(|s| now + chrono::Duration::seconds(s)),
            revoked: false,
        };
        self.tokens.insert(token.clone(), rec);
        token
    }

    fn app_token(&self) -> String {
        format!("{}|{}", self.app.id, self.app.secret)
    }

    /// Checks the bearer token (and `appsecret_proof`).
    pub(crate) fn authenticate(
        &self,
        bearer: Option<&str>,
        proof: Option<&str>,
        allow_app: bool,
    ) -> Result<Principal, GraphError> {
        let auth = self.auth_status();
        let Some(token) = bearer else {
            return Err(GraphError::new(104).status(auth));
        };
        if allow_app && token == self.app_token() {
            return Ok(Principal::App);
        }
        let Some(rec) = self.tokens.get(token) else {
            return Err(GraphError::new(190)
                .title("Invalid OAuth access token - Cannot parse access token")
                .status(auth));
        };
        if rec.revoked {
            return Err(GraphError::new(190)
                .subcode(460)
                .title("Error validating access token: The session has been invalidated")
                .status(auth));
        }
        if rec.expires_at.is_some_and(|t| t <= self.now()) {
            return Err(GraphError::new(190)
                .subcode(463)
                .title("Error validating access token: Session has expired")
                .status(auth));
        }
        self.check_proof(token, proof)?;
        Ok(Principal::Token(rec.clone()))
    }

    fn check_proof(&self, token: &str, proof: Option<&str>) -> Result<(), GraphError> {
        let Some(proof) = proof else {
            if self.cfg.require_appsecret_proof {
                return Err(GraphError::new(100)
                    .title("API calls from the server require an appsecret_proof argument"));
            }
            return Ok(());
        };
        let ok = hex::decode(proof).ok().is_some_and(|given| {
            Hmac::<Sha256>::new_from_slice(self.app.secret.as_bytes())
                .map(|mut m| {
                    m.update(token.as_bytes());
                    m.verify_slice(&given).is_ok()
                })
                .unwrap_or(false)
        });
        if ok {
            Ok(())
        } else {
            Err(GraphError::new(100).title("Invalid appsecret_proof provided in the API argument"))
        }
    }

    /// The token has `scopes` for this WABA.
    pub(crate) fn reach_waba(
        &self,
        principal: &Principal,
        waba: &WabaRec,
        scopes: &[&str],
    ) -> Result<(), GraphError> {
        let Principal::Token(tok) = principal else {
            return Err(GraphError::new(200).title("Requires a system user access token"));
        };
        for scope in scopes {
            if !tok.scopes.iter().any(|s| s == scope) {
                return Err(GraphError::new(200).title(format!("Requires {scope} permission")));
            }
        }
        let owner_ok = tok.businesses.contains(&waba.partner) || tok.wabas.contains(&waba.id);
        let targets_ok = scopes.iter().all(|scope| {
            tok.targets
                .get(*scope)
                .is_none_or(|ids| ids.contains(&waba.id))
        });
        if owner_ok && targets_ok {
            Ok(())
        } else {
            Err(GraphError::new(200).title(
                "Permission denied: the token has no access to this WhatsApp Business Account",
            ))
        }
    }

    pub(crate) fn reach_business(
        &self,
        principal: &Principal,
        business: &str,
    ) -> Result<(), GraphError> {
        let Principal::Token(tok) = principal else {
            return Err(GraphError::new(200).title("Requires a system user access token"));
        };
        if !tok.scopes.iter().any(|s| s == SCOPE_BUSINESS) {
            return Err(GraphError::new(200).title("Requires business_management permission"));
        }
        if !tok.businesses.iter().any(|b| b == business) {
            return Err(GraphError::new(200)
                .title("Permission denied: the token has no access to this business"));
        }
        Ok(())
    }

    pub(crate) fn unknown_object(id: &str, method: &str) -> GraphError {
        GraphError::new(100).subcode(33).title(format!(
            "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation"
        ))
    }

    // ---- 2SV writes ---------------------------------------------------------------------

    fn pin_param(params: &Map<String, Value>) -> Result<&str, GraphError> {
        match params.get("pin") {
            None => Err(GraphError::new(100).title("The parameter pin is required")),
            Some(Value::String(p)) if is_pin(p) => Ok(p),
            Some(_) => Err(GraphError::new(100).details(SIX_DIGITS)),
        }
    }

    /// `POST /{phone-number-id}` `{"pin"}`.
    pub(crate) fn set_pin(
        &mut self,
        number: &str,
        params: &Map<String, Value>,
    ) -> Result<Value, GraphError> {
        let pin = Self::pin_param(params)?;
        let hash = self.pin_hash(pin);
        let n = self
            .numbers
            .get_mut(number)
            .ok_or_else(|| Self::unknown_object(number, "post"))?;
        n.pin = hash;
        Ok(json!({"success": true}))
    }

    fn spend(
        calls: &mut VecDeque<DateTime<Utc>>,
        now: DateTime<Utc>,
        window: chrono::Duration,
        budget: u32,
    ) -> bool {
        while calls.front().is_some_and(|t| now - *t >= window) {
            calls.pop_front();
        }
        if calls.len() >= budget as usize {
            return false;
        }
        calls.push_back(now);
        true
    }

    fn budget_spent(blocked_until: DateTime<Utc>) -> GraphError {
        GraphError::new(133016).details(format!(
            "Registration or deregistration blocked until {}",
            blocked_until.format("%Y-%m-%dT%H:%M:%S%z")
        ))
    }

    /// `POST /{phone-number-id}/register`.
    pub(crate) fn register(
        &mut self,
        number: &str,
        params: &Map<String, Value>,
    ) -> Result<Value, GraphError> {
        if params.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
            return Err(GraphError::new(100).details("messaging_product must be whatsapp"));
        }
        let pin = Self::pin_param(params)?.to_owned();
        let region = match params.get("data_localization_region") {
            None => None,
            Some(Value::String(r)) if REGIONS.contains(&r.as_str()) => Some(r.clone()),
            Some(_) => {
                return Err(GraphError::new(100).details("Unsupported data_localization_region"));
            }
        };
        let now = self.now();
        let cfg = self.cfg.clone();
        let window = chrono::Duration::seconds(cfg.budget_window_s);
        let matches = self.pin_matches(number, &pin);
        let hash = self.pin_hash(&pin);
        let n = self
            .numbers
            .get_mut(number)
            .ok_or_else(|| Self::unknown_object(number, "post"))?;
        if let Some(until) = n.blocked_until.filter(|u| *u > now) {
            return Err(Self::budget_spent(until));
        }
        if !Self::spend(&mut n.register_calls, now, window, cfg.registration_budget) {
            let until = now + chrono::Duration::seconds(cfg.block_s);
            n.blocked_until = Some(until);
            return Err(Self::budget_spent(until));
        }
        if n.code_verification != "VERIFIED" {
            return Err(GraphError::new(133006));
        }
        let guess_window = chrono::Duration::seconds(cfg.guess_window_s);
        while n
            .wrong_guesses
            .front()
            .is_some_and(|t| now - *t >= guess_window)
        {
            n.wrong_guesses.pop_front();
        }
        if n.wrong_guesses.len() >= cfg.guess_limit as usize {
            let wait = n
                .wrong_guesses
                .front()
                .map(|t| (*t + guess_window - now).num_minutes() + 1)
                .unwrap_or(1);
            return Err(GraphError::new(133008).details(format!(
                "Too many incorrect PIN guesses. Try again in {wait} minutes"
            )));
        }
        if n.pin.is_some() && matches != Some(true) {
            let too_fast = n
                .wrong_guesses
                .back()
                .is_some_and(|t| now - *t < chrono::Duration::seconds(cfg.guess_min_interval_s));
            n.wrong_guesses.push_back(now);
            return Err(if too_fast {
                GraphError::new(133009)
            } else {
                GraphError::new(133005)
                    .details("The PIN does not match the PIN set for this number")
            });
        }
        if n.pin.is_none() {
            // With 2SV off, the PIN sent becomes the 2SV PIN.
            n.pin = hash;
        }
        n.registered = true;
        n.status = "CONNECTED";
        n.region = region.or(n.region.take());
        Ok(json!({"success": true}))
    }

    /// `POST /{phone-number-id}/deregister`.
    pub(crate) fn deregister(&mut self, number: &str) -> Result<Value, GraphError> {
        let now = self.now();
        let cfg = self.cfg.clone();
        let window = chrono::Duration::seconds(cfg.budget_window_s);
        let n = self
            .numbers
            .get_mut(number)
            .ok_or_else(|| Self::unknown_object(number, "post"))?;
        if let Some(until) = n.blocked_until.filter(|u| *u > now) {
            return Err(Self::budget_spent(until));
        }
        if !Self::spend(
            &mut n.deregister_calls,
            now,
            window,
            cfg.registration_budget,
        ) {
            let until = now + chrono::Duration::seconds(cfg.block_s);
            n.blocked_until = Some(until);
            return Err(Self::budget_spent(until));
        }
        if !n.registered {
            return Err(GraphError::new(133010));
        }
        n.registered = false;
        n.status = "DISCONNECTED";
        n.region = None;
        Ok(json!({"success": true}))
    }

    // ---- reads --------------------------------------------------------------------------

    pub(crate) fn number_json(&self, n: &NumberRec, fields: &[&str]) -> Result<Value, GraphError> {
        let mut out = Map::new();
        out.insert("id".into(), json!(n.id));
        for f in fields {
            let v = match *f {
                "id" => continue,
                "display_phone_number" => json!(n.display),
                "verified_name" => json!(n.verified_name),
                "code_verification_status" => json!(n.code_verification),
                "quality_rating" => json!(n.quality),
                "platform_type" => json!(n.platform_type()),
                "throughput" => json!({"level": "STANDARD"}),
                "name_status" => json!(n.name_status),
                "new_name_status" => json!("NONE"),
                "last_onboarded_time" => json!(
                    DateTime::from_timestamp(n.last_onboarded, 0)
                        .unwrap_or_default()
                        .format("%Y-%m-%dT%H:%M:%S%z")
                        .to_string()
                ),
                "is_pin_enabled" => json!(n.pin.is_some()),
                "status" => json!(n.status),
                "account_mode" => json!(n.account_mode),
                "messaging_limit_tier" | "whatsapp_business_manager_messaging_limit" => {
                    json!("TIER_1K")
                }
                "is_official_business_account" => json!(n.official),
                "health_status" => json!({
                    "can_send_message": if n.registered { "AVAILABLE" } else { "BLOCKED" },
                    "entities": [{"entity_type": "PHONE_NUMBER", "id": n.id,
                                  "can_send_message": if n.registered { "AVAILABLE" } else { "BLOCKED" }}],
                }),
                "webhook_configuration" => {
                    json!({"application": "https://webhooks.sandbox.invalid/whatsapp"})
                }
                "certificate" => json!("Q2VydGlmaWNhdGUgb2YgdGhlIHNhbmRib3g="),
                "is_on_biz_app" => json!(false),
                "is_preverified_number" => json!(false),
                other => {
                    return Err(GraphError::new(100).title(format!(
                        "Tried accessing nonexisting field ({other}) on node type (WhatsAppBusinessPhoneNumber)"
                    )));
                }
            };
            out.insert((*f).to_owned(), v);
        }
        Ok(Value::Object(out))
    }

    pub(crate) fn waba_json(&self, w: &WabaRec, fields: &[&str]) -> Result<Value, GraphError> {
        let mut out = Map::new();
        out.insert("id".into(), json!(w.id));
        let active = w
            .numbers
            .iter()
            .any(|n| self.numbers.get(n).is_some_and(|n| n.registered));
        for f in fields {
            let v = match *f {
                "id" => continue,
                "name" => json!(w.name),
                "currency" => json!(w.currency),
                "timezone_id" => json!(w.timezone_id),
                "message_template_namespace" => json!(w.namespace),
                "status" => json!("ACTIVE"),
                "country" => json!(w.country),
                "business_verification_status" => json!("verified"),
                "account_review_status" => json!("APPROVED"),
                "ownership_type" => json!(if w.client_owned {
                    "CLIENT_OWNED"
                } else {
                    "SELF"
                }),
                "health_status" => json!({
                    "can_send_message": if active { "AVAILABLE" } else { "LIMITED" },
                    "entities": [{"entity_type": "WABA", "id": w.id,
                                  "can_send_message": if active { "AVAILABLE" } else { "LIMITED" }}],
                }),
                other => {
                    return Err(GraphError::new(100).title(format!(
                        "Tried accessing nonexisting field ({other}) on node type (WhatsAppBusinessAccount)"
                    )));
                }
            };
            out.insert((*f).to_owned(), v);
        }
        Ok(Value::Object(out))
    }

    pub(crate) fn waba_is_active(&self, w: &WabaRec) -> bool {
        w.numbers
            .iter()
            .any(|n| self.numbers.get(n).is_some_and(|n| n.registered))
    }

    /// `debug_token`'s `data` for `input`.
    pub(crate) fn token_facts(&self, input: &str) -> Value {
        if input == self.app_token() {
            return json!({
                "app_id": self.app.id, "type": "APP", "application": self.app.name,
                "is_valid": true, "scopes": [],
            });
        }
        let Some(t) = self.tokens.get(input) else {
            return json!({
                "error": {"code": 190, "message": "Invalid OAuth access token - Cannot parse access token"},
                "is_valid": false,
                "scopes": [],
            });
        };
        let expired = t.expires_at.is_some_and(|e| e <= self.now());
        let granular: Vec<Value> = t
            .scopes
            .iter()
            .filter(|s| s.as_str() != "public_profile")
            .map(|s| match t.targets.get(s) {
                Some(ids) => json!({"scope": s, "target_ids": ids}),
                None if !t.wabas.is_empty() && s != SCOPE_BUSINESS => {
                    json!({"scope": s, "target_ids": t.wabas})
                }
                None => json!({"scope": s}),
            })
            .collect();
        let mut data = json!({
            "app_id": self.app.id,
            "type": "SYSTEM_USER",
            "application": self.app.name,
            "data_access_expires_at": 0,
            "expires_at": t.expires_at.map_or(0, |e| e.timestamp()),
            "is_valid": !expired && !t.revoked,
            "issued_at": t.issued_at.timestamp(),
            "scopes": t.scopes,
            "granular_scopes": granular,
            "user_id": t.user_id,
        });
        if t.revoked {
            data["error"] =
                json!({"code": 190, "subcode": 460, "message": "The session has been invalidated"});
        } else if expired {
            data["error"] = json!({"code": 190, "subcode": 463, "message": "Session has expired"});
        }
        data
    }

    /// Embedded Signup exchange: a fresh business-integration token for the code's WABAs.
    pub(crate) fn exchange(
        &mut self,
        params: &HashMap<String, String>,
    ) -> Result<Value, GraphError> {
        let get = |k: &str| params.get(k).map(String::as_str);
        if get("client_id") != Some(self.app.id.as_str()) {
            return Err(GraphError::new(101)
                .title("Error validating application. Invalid application ID")
                .kind("OAuthException")
                .status(StatusCode::BAD_REQUEST));
        }
        if get("client_secret") != Some(self.app.secret.as_str()) {
            return Err(GraphError::new(100)
                .title("Error validating client secret")
                .kind("OAuthException"));
        }
        let code = get("code").ok_or_else(|| {
            GraphError::new(100)
                .title("Missing code parameter")
                .kind("OAuthException")
        })?;
        let grant = match self.codes.get_mut(code) {
            None => {
                return Err(GraphError::new(100)
                    .subcode(36007)
                    .title("Invalid verification code format")
                    .kind("OAuthException"));
            }
            Some(g) if g.used => {
                return Err(GraphError::new(100)
                    .subcode(36009)
                    .title("This authorization code has been used")
                    .kind("OAuthException"));
            }
            Some(g) => {
                g.used = true;
                g.wabas.clone()
            }
        };
        let spec = TokenSpec {
            scopes: vec![SCOPE_MANAGE.into(), SCOPE_MESSAGE.into()],
            target_ids: BTreeMap::new(),
            businesses: Some(Vec::new()),
            expires_in_s: self.cfg.integration_token_ttl_s,
        };
        let token = self.issue_token(&spec, grant);
        let mut out = json!({"access_token": token, "token_type": "bearer"});
        if let Some(ttl) = self.cfg.integration_token_ttl_s {
            out["expires_in"] = json!(ttl);
        }
        Ok(out)
    }
}

/// `data_localization_region` values (GRAPH_API.md §2.2).
pub(crate) const REGIONS: [&str; 14] = [
    "AU", "ID", "IN", "JP", "SG", "KR", "DE", "CH", "GB", "BR", "BH", "ZA", "AE", "CA",
];
