//! Phone numbers: a WABA's numbers (paged), and one number's fields (GRAPH_API.md §2.4, §2.5).
//!
//! No field returns the PIN; `is_pin_enabled` is the only 2SV indicator.

use futures_util::Stream;
use serde::{Deserialize, Serialize};

use crate::client::GraphClient;
use crate::error::Error;
use crate::ids::{PhoneNumberId, WabaId};
use crate::paging::{Page, paged};
use crate::secret::AccessToken;

macro_rules! meta_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)+
            /// A value this crate does not know (Meta added one).
            #[serde(other)]
            Unrecognized,
        }

        impl $name {
            /// Meta's spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Unrecognized => "UNRECOGNIZED",
                }
            }
        }
    };
}

meta_enum!(
    /// `code_verification_status`.
    CodeVerificationStatus { NotVerified = "NOT_VERIFIED", Verified = "VERIFIED", Expired = "EXPIRED" }
);
meta_enum!(
    /// `quality_rating`.
    QualityRating { Green = "GREEN", Yellow = "YELLOW", Red = "RED", Na = "NA", Unknown = "UNKNOWN" }
);
meta_enum!(
    /// `platform_type`: `NOT_APPLICABLE` means not registered.
    PlatformType { CloudApi = "CLOUD_API", OnPremise = "ON_PREMISE", NotApplicable = "NOT_APPLICABLE" }
);
meta_enum!(
    /// `name_status` / `new_name_status`.
    NameStatus {
        Approved = "APPROVED",
        AvailableWithoutReview = "AVAILABLE_WITHOUT_REVIEW",
        Declined = "DECLINED",
        Expired = "EXPIRED",
        PendingReview = "PENDING_REVIEW",
        None = "NONE",
    }
);
meta_enum!(
    /// `status` of a number.
    NumberStatus {
        Pending = "PENDING",
        Deleted = "DELETED",
        Migrated = "MIGRATED",
        Banned = "BANNED",
        Restricted = "RESTRICTED",
        RateLimited = "RATE_LIMITED",
        Flagged = "FLAGGED",
        Connected = "CONNECTED",
        Disconnected = "DISCONNECTED",
        Unknown = "UNKNOWN",
        Unverified = "UNVERIFIED",
    }
);
meta_enum!(
    /// `account_mode`.
    AccountMode { Live = "LIVE", Sandbox = "SANDBOX" }
);

/// `throughput`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throughput {
    /// `STANDARD` or `HIGH`.
    #[serde(default)]
    pub level: Option<String>,
}

/// A business phone number, with the fields that were asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhoneNumber {
    /// Always present.
    pub id: PhoneNumberId,
    /// e.g. `+1 555-013-3742`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_phone_number: Option<String>,
    /// The approved display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_name: Option<String>,
    /// OTP verification of the number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_verification_status: Option<CodeVerificationStatus>,
    /// Quality rating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality_rating: Option<QualityRating>,
    /// Where the number is registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_type: Option<PlatformType>,
    /// Throughput level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<Throughput>,
    /// Display name review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_status: Option<NameStatus>,
    /// Review of a requested new display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_name_status: Option<NameStatus>,
    /// When the customer finished Embedded Signup (Meta's timestamp text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_onboarded_time: Option<String>,
    /// A 2SV PIN is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_pin_enabled: Option<bool>,
    /// Number status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<NumberStatus>,
    /// `LIVE` or `SANDBOX`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_mode: Option<AccountMode>,
    /// Deprecated messaging tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_limit_tier: Option<String>,
    /// Its replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp_business_manager_messaging_limit: Option<String>,
    /// Official business account (green tick).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_official_business_account: Option<bool>,
    /// Health status, as Meta sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_status: Option<serde_json::Value>,
    /// Webhook configuration, as Meta sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_configuration: Option<serde_json::Value>,
    /// Certificate (On-Premises registration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// Also on the WhatsApp Business app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_on_biz_app: Option<bool>,
    /// Pre-verified number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_preverified_number: Option<bool>,
}

meta_enum!(
    /// A field of a phone number that can be asked for.
    PhoneNumberField {
        /// `id`
        Id = "id",
        /// `display_phone_number`
        DisplayPhoneNumber = "display_phone_number",
        /// `verified_name`
        VerifiedName = "verified_name",
        /// `code_verification_status`
        CodeVerificationStatus = "code_verification_status",
        /// `quality_rating`
        QualityRating = "quality_rating",
        /// `platform_type`
        PlatformType = "platform_type",
        /// `throughput`
        Throughput = "throughput",
        /// `name_status`
        NameStatus = "name_status",
        /// `new_name_status`
        NewNameStatus = "new_name_status",
        /// `last_onboarded_time`
        LastOnboardedTime = "last_onboarded_time",
        /// `is_pin_enabled`
        IsPinEnabled = "is_pin_enabled",
        /// `status`
        Status = "status",
        /// `account_mode`
        AccountMode = "account_mode",
        /// `messaging_limit_tier`
        MessagingLimitTier = "messaging_limit_tier",
        /// `whatsapp_business_manager_messaging_limit`
        WhatsappBusinessManagerMessagingLimit = "whatsapp_business_manager_messaging_limit",
        /// `is_official_business_account`
        IsOfficialBusinessAccount = "is_official_business_account",
        /// `health_status`
        HealthStatus = "health_status",
        /// `webhook_configuration`
        WebhookConfiguration = "webhook_configuration",
        /// `certificate`
        Certificate = "certificate",
        /// `is_on_biz_app`
        IsOnBizApp = "is_on_biz_app",
        /// `is_preverified_number`
        IsPreverifiedNumber = "is_preverified_number",
    }
);

impl PhoneNumberField {
    /// Meta's default fields of the `phone_numbers` edge.
    pub const DEFAULT: &'static [PhoneNumberField] = &[
        PhoneNumberField::Id,
        PhoneNumberField::DisplayPhoneNumber,
        PhoneNumberField::VerifiedName,
        PhoneNumberField::QualityRating,
        PhoneNumberField::CodeVerificationStatus,
    ];

    /// What pinward's inventory sync reads.
    pub const INVENTORY: &'static [PhoneNumberField] = &[
        PhoneNumberField::Id,
        PhoneNumberField::DisplayPhoneNumber,
        PhoneNumberField::VerifiedName,
        PhoneNumberField::QualityRating,
        PhoneNumberField::CodeVerificationStatus,
        PhoneNumberField::PlatformType,
        PhoneNumberField::NameStatus,
        PhoneNumberField::LastOnboardedTime,
        PhoneNumberField::IsPinEnabled,
        PhoneNumberField::Status,
        PhoneNumberField::AccountMode,
    ];
}

fn field_list(fields: &[PhoneNumberField]) -> String {
    fields
        .iter()
        .filter(|f| **f != PhoneNumberField::Unrecognized)
        .map(|f| f.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Order of a WABA's numbers by `last_onboarded_time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberSort {
    /// Oldest first.
    Ascending,
    /// Newest first (Meta's default).
    Descending,
}

/// Options of a phone number listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Fields to return; empty means Meta's default set.
    pub fields: Vec<PhoneNumberField>,
    /// Page size; `None` leaves Meta's default.
    pub limit: Option<u32>,
    /// Order.
    pub sort: Option<NumberSort>,
    /// Beta filter on `account_mode`.
    pub account_mode: Option<AccountMode>,
    /// Ask for `summary.total_count`.
    pub total_count: bool,
}

impl GraphClient {
    /// `GET /{waba-id}/phone_numbers`: one page, starting after `after` (a cursor from the
    /// previous page, or `None` for the first).
    pub async fn phone_numbers_page(
        &self,
        token: &AccessToken,
        waba: &WabaId,
        options: &ListOptions,
        after: Option<&str>,
    ) -> Result<Page<PhoneNumber>, Error> {
        let mut url = self.url(&[waba.as_str(), "phone_numbers"])?;
        {
            let mut q = url.query_pairs_mut();
            if !options.fields.is_empty() {
                q.append_pair("fields", &field_list(&options.fields));
            }
            if let Some(limit) = options.limit {
                q.append_pair("limit", &limit.to_string());
            }
            if let Some(sort) = options.sort {
                q.append_pair(
                    "sort",
                    match sort {
                        NumberSort::Ascending => "['last_onboarded_time_ascending']",
                        NumberSort::Descending => "['last_onboarded_time_descending']",
                    },
                );
            }
            if let Some(mode) = options.account_mode {
                let filter = serde_json::json!([
                    {"field": "account_mode", "operator": "EQUAL", "value": mode.as_str()}
                ]);
                q.append_pair("filtering", &filter.to_string());
            }
            if options.total_count {
                q.append_pair("summary", "total_count");
            }
            if let Some(after) = after {
                q.append_pair("after", after);
            }
        }
        self.get("phone_numbers", token, url, &[])
            .await?
            .json("phone_numbers")
    }

    /// Every number of a WABA: follows `after` until a page has no `next`.
    pub fn phone_numbers<'a>(
        &'a self,
        token: &'a AccessToken,
        waba: &'a WabaId,
        options: &'a ListOptions,
    ) -> impl Stream<Item = Result<PhoneNumber, Error>> + Send + 'a {
        paged("phone_numbers", move |after: Option<String>| async move {
            self.phone_numbers_page(token, waba, options, after.as_deref())
                .await
        })
    }

    /// `GET /{phone-number-id}?fields=…`; empty `fields` asks for [`PhoneNumberField::INVENTORY`].
    pub async fn phone_number(
        &self,
        token: &AccessToken,
        phone: &PhoneNumberId,
        fields: &[PhoneNumberField],
    ) -> Result<PhoneNumber, Error> {
        let fields = if fields.is_empty() {
            PhoneNumberField::INVENTORY
        } else {
            fields
        };
        let mut url = self.url(&[phone.as_str()])?;
        url.query_pairs_mut()
            .append_pair("fields", &field_list(fields));
        self.get("phone_number", token, url, &[])
            .await?
            .json("phone_number")
    }
}
