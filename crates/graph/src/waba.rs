//! WhatsApp Business Accounts: a business's owned and client WABAs (paged), and one WABA
//! (GRAPH_API.md §2.6).

use futures_util::Stream;
use serde::{Deserialize, Serialize};

use crate::client::GraphClient;
use crate::error::Error;
use crate::ids::{BusinessId, WabaId};
use crate::paging::{Page, paged};
use crate::secret::AccessToken;

/// A WABA, with the fields that were returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waba {
    /// Always present.
    pub id: WabaId,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Billing currency, e.g. `USD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Meta's timezone id (a number in a string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone_id: Option<String>,
    /// Template namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_template_namespace: Option<String>,
    /// Account status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Business verification of the owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_verification_status: Option<String>,
    /// `PENDING`, `APPROVED` or `REJECTED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_review_status: Option<String>,
    /// `SELF` or `CLIENT_OWNED` (as seen from the partner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ownership_type: Option<String>,
    /// Health status, as Meta sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_status: Option<serde_json::Value>,
}

/// Which WABAs of a business.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WabaRelation {
    /// `owned_whatsapp_business_accounts`.
    Owned,
    /// `client_whatsapp_business_accounts`: shared by client businesses.
    Client,
}

impl WabaRelation {
    fn edge(self) -> &'static str {
        match self {
            WabaRelation::Owned => "owned_whatsapp_business_accounts",
            WabaRelation::Client => "client_whatsapp_business_accounts",
        }
    }

    fn route(self) -> &'static str {
        match self {
            WabaRelation::Owned => "owned_wabas",
            WabaRelation::Client => "client_wabas",
        }
    }
}

/// Options of a WABA listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WabaListOptions {
    /// Page size; `None` leaves Meta's default.
    pub limit: Option<u32>,
    /// `true`: oldest first (`creation_time_ascending`); `false`: Meta's default.
    pub oldest_first: bool,
    /// Only WABAs created after this unix time (`filtering` on `creation_time`).
    pub created_after: Option<i64>,
}

/// Fields read by [`GraphClient::waba`].
const WABA_FIELDS: &str = "id,name,currency,timezone_id,message_template_namespace,status,country,business_verification_status,account_review_status,ownership_type";

impl GraphClient {
    /// One page of a business's owned or client WABAs.
    pub async fn wabas_page(
        &self,
        token: &AccessToken,
        business: &BusinessId,
        relation: WabaRelation,
        options: &WabaListOptions,
        after: Option<&str>,
    ) -> Result<Page<Waba>, Error> {
        let mut url = self.url(&[business.as_str(), relation.edge()])?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(limit) = options.limit {
                q.append_pair("limit", &limit.to_string());
            }
            if options.oldest_first {
                q.append_pair("sort", "creation_time_ascending");
            }
            if let Some(t) = options.created_after {
                let filter = serde_json::json!([
                    {"field": "creation_time", "operator": "GREATER_THAN", "value": t}
                ]);
                q.append_pair("filtering", &filter.to_string());
            }
            if let Some(after) = after {
                q.append_pair("after", after);
            }
        }
        self.get(relation.route(), token, url, &[])
            .await?
            .json(relation.route())
    }

    /// Every owned or client WABA of a business.
    pub fn wabas<'a>(
        &'a self,
        token: &'a AccessToken,
        business: &'a BusinessId,
        relation: WabaRelation,
        options: &'a WabaListOptions,
    ) -> impl Stream<Item = Result<Waba, Error>> + Send + 'a {
        paged(relation.route(), move |after: Option<String>| async move {
            self.wabas_page(token, business, relation, options, after.as_deref())
                .await
        })
    }

    /// `GET /{waba-id}` with the fields pinward uses.
    pub async fn waba(&self, token: &AccessToken, waba: &WabaId) -> Result<Waba, Error> {
        let mut url = self.url(&[waba.as_str()])?;
        url.query_pairs_mut().append_pair("fields", WABA_FIELDS);
        self.get("waba", token, url, &[]).await?.json("waba")
    }
}
