//! Two-step verification writes: set or change the PIN, and register / deregister a number.
//!
//! `register` and `deregister` exist for onboarding and migration only. They are never a way
//! to test a PIN: each spends one of ten calls per number per 72 hours, and a wrong PIN feeds
//! Meta's guess lockout (GRAPH_API.md §2.2, §5).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::client::GraphClient;
use crate::error::{Error, Failure};
use crate::ids::PhoneNumberId;
use crate::secret::{AccessToken, PinSecret};
use crate::transport::{Answer, secret_body};

/// `{"success": true}`, the answer of every write here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuccessResponse {
    /// Meta's flag.
    pub success: bool,
}

/// A `data_localization_region` Meta accepts at registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataRegion(&'static str);

const REGIONS: [&str; 14] = [
    "AU", "ID", "IN", "JP", "SG", "KR", "DE", "CH", "GB", "BR", "BH", "ZA", "AE", "CA",
];

/// Why a string is not a [`DataRegion`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a data localization region Meta supports")]
pub struct DataRegionParseError;

impl FromStr for DataRegion {
    type Err = DataRegionParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        REGIONS
            .iter()
            .find(|r| **r == s)
            .map(|r| DataRegion(r))
            .ok_or(DataRegionParseError)
    }
}

impl DataRegion {
    /// The two-letter code.
    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl fmt::Display for DataRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

#[derive(Serialize)]
struct PinBody<'a> {
    pin: &'a str,
}

#[derive(Serialize)]
struct RegisterBody<'a> {
    messaging_product: &'static str,
    pin: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_localization_region: Option<&'static str>,
}

fn json_body<T: Serialize>(value: &T) -> Result<bytes::Bytes, Error> {
    secret_body(|buf| {
        serde_json::to_writer(buf, value).map_err(|_| Error::InvalidInput("body not serialisable"))
    })
}

/// A write is done only on `{"success":true}`; any other 2xx answer leaves it uncertain.
fn confirm(route: &'static str, answer: &Answer) -> Result<(), Error> {
    match answer.json::<SuccessResponse>(route) {
        Ok(SuccessResponse { success: true }) => Ok(()),
        _ => Err(Error::UnknownOutcome {
            cause: Failure::Status {
                status: answer.status,
                meta: None,
            },
        }),
    }
}

impl GraphClient {
    /// `POST /{phone-number-id}` `{"pin"}`: sets or changes the 2SV PIN (no old PIN needed).
    ///
    /// Never retried after the request may have left: a timeout, reset, 5xx or truncated
    /// answer is [`Error::UnknownOutcome`], and the caller resends the same PIN later.
    pub async fn set_pin(
        &self,
        token: &AccessToken,
        phone: &PhoneNumberId,
        pin: &PinSecret,
    ) -> Result<(), Error> {
        let body = json_body(&PinBody { pin: pin.expose() })?;
        let url = self.url(&[phone.as_str()])?;
        let answer = self
            .post("set_pin", token, url, Some(body), &[pin.expose()])
            .await?;
        confirm("set_pin", &answer)
    }

    /// `POST /{phone-number-id}/register`. With 2SV on, `pin` must be the current PIN (else
    /// 133005); with 2SV off it becomes the PIN. Spends one of ten calls per 72 h.
    pub async fn register(
        &self,
        token: &AccessToken,
        phone: &PhoneNumberId,
        pin: &PinSecret,
        region: Option<DataRegion>,
    ) -> Result<(), Error> {
        let body = json_body(&RegisterBody {
            messaging_product: "whatsapp",
            pin: pin.expose(),
            data_localization_region: region.map(|r| r.as_str()),
        })?;
        let url = self.url(&[phone.as_str(), "register"])?;
        let answer = self
            .post("register", token, url, Some(body), &[pin.expose()])
            .await?;
        confirm("register", &answer)
    }

    /// `POST /{phone-number-id}/deregister`. Spends one of ten calls per 72 h.
    pub async fn deregister(
        &self,
        token: &AccessToken,
        phone: &PhoneNumberId,
    ) -> Result<(), Error> {
        let url = self.url(&[phone.as_str(), "deregister"])?;
        let answer = self.post("deregister", token, url, None, &[]).await?;
        confirm("deregister", &answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_regions_parse() {
        assert_eq!("DE".parse::<DataRegion>().unwrap().as_str(), "DE");
        assert!("US".parse::<DataRegion>().is_err());
        assert!("de".parse::<DataRegion>().is_err());
    }
}
