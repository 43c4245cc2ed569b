//! Token introspection: `GET /debug_token?input_token=…` (GRAPH_API.md §2.7).
//!
//! The inspected token has to travel in the query (Meta offers no other way); the URL is
//! therefore never logged or kept in an error (see `transport`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::client::GraphClient;
use crate::error::Error;
use crate::ids::WabaId;
use crate::secret::AccessToken;

/// `debug_token`'s answer: `{"data":{…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DebugTokenResponse {
    /// The facts.
    pub data: TokenInfo,
}

/// What Meta knows about a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// App the token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// `USER`, `PAGE`, `APP`, `SYSTEM_USER`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<TokenKind>,
    /// App name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    /// Unix time data access ends (0: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_access_expires_at: Option<i64>,
    /// Unix time the token expires; 0 means never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Usable now.
    pub is_valid: bool,
    /// Unix time of issue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<i64>,
    /// Granted scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Scopes with the assets they are limited to.
    #[serde(default)]
    pub granular_scopes: Vec<GranularScope>,
    /// The (system) user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Why the token is invalid (shape unverified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TokenError>,
}

/// `type` of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TokenKind {
    /// A user token.
    User,
    /// A page token.
    Page,
    /// An app token.
    App,
    /// A system-user (or business-integration system-user) token.
    SystemUser,
    /// Something newer.
    #[serde(other)]
    Unrecognized,
}

/// One `granular_scopes` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GranularScope {
    /// The permission.
    pub scope: String,
    /// Assets (WABA ids for WhatsApp scopes), newest first; absent = not limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ids: Option<Vec<String>>,
}

/// `data.error` of an invalid token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenError {
    /// Meta's code (190 for tokens).
    #[serde(default)]
    pub code: Option<i64>,
    /// Meta's message.
    #[serde(default)]
    pub message: Option<String>,
    /// Subcode (e.g. 463 expired).
    #[serde(default)]
    pub subcode: Option<i64>,
}

/// When a token stops working.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// `expires_at` 0.
    Never,
    /// At this instant.
    At(DateTime<Utc>),
    /// Not reported.
    Unknown,
}

/// Which assets a scope reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Targets<'a> {
    /// The scope is not granted.
    NotGranted,
    /// Granted without `target_ids`: every asset the user can reach.
    Unrestricted,
    /// Granted for these ids only.
    Only(&'a [String]),
}

impl TokenInfo {
    /// When the token expires.
    pub fn expiry(&self) -> Expiry {
        match self.expires_at {
            Some(0) => Expiry::Never,
            Some(t) => DateTime::from_timestamp(t, 0).map_or(Expiry::Unknown, Expiry::At),
            None => Expiry::Unknown,
        }
    }

    /// The scope is granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// The assets `scope` reaches.
    pub fn targets(&self, scope: &str) -> Targets<'_> {
        if !self.has_scope(scope) {
            return Targets::NotGranted;
        }
        match self.granular_scopes.iter().find(|g| g.scope == scope) {
            Some(GranularScope {
                target_ids: Some(ids),
                ..
            }) => Targets::Only(ids),
            _ => Targets::Unrestricted,
        }
    }

    /// Both WhatsApp scopes reach this WABA: what set-PIN, register and deregister need.
    pub fn can_manage_pins_of(&self, waba: &WabaId) -> bool {
        [
            "whatsapp_business_management",
            "whatsapp_business_messaging",
        ]
        .iter()
        .all(|scope| match self.targets(scope) {
            Targets::NotGranted => false,
            Targets::Unrestricted => true,
            Targets::Only(ids) => ids.iter().any(|id| id == waba.as_str()),
        })
    }

    /// WABA ids named by the WhatsApp management scope (after an Embedded Signup exchange,
    /// the customer's WABAs).
    pub fn waba_ids(&self) -> Vec<WabaId> {
        match self.targets("whatsapp_business_management") {
            Targets::Only(ids) => ids.iter().filter_map(|id| WabaId::parse(id).ok()).collect(),
            _ => Vec::new(),
        }
    }
}

impl GraphClient {
    /// `GET /debug_token?input_token=…`, authorised by `token` (a system-user token or an app
    /// token `app_id|app_secret`).
    pub async fn debug_token(
        &self,
        token: &AccessToken,
        input: &AccessToken,
    ) -> Result<TokenInfo, Error> {
        let mut url = self.url(&["debug_token"])?;
        url.query_pairs_mut()
            .append_pair("input_token", input.expose());
        let answer = self
            .get("debug_token", token, url, &[input.expose()])
            .await?;
        Ok(answer.json::<DebugTokenResponse>("debug_token")?.data)
    }
}
