//! graph: talks to Meta (Graph API and On-Premises API), and fakes both in a local sandbox.
//!
//! - [`GraphClient`]: typed Cloud API calls — set the 2SV PIN, list a business's WABAs and a
//!   WABA's numbers (paged streams), read a number, `debug_token`, register/deregister, and the
//!   Embedded Signup code exchange — with classified errors ([`Error`]) and safe retries.
//! - [`OnPremClient`]: the On-Premises API's admin login and two-step PIN endpoints.
//! - [`sandbox`]: a stateful local fake of both, for tests, the demo and benchmarks.
//!
//! Tokens and PINs are secret types ([`AccessToken`], [`PinSecret`]) that never reach a log,
//! an error or a URL path.

mod classify;
mod client;
mod config;
mod error;
mod ids;
mod numbers;
mod onprem;
mod paging;
mod pin;
mod retry;
pub mod sandbox;
mod secret;
mod signup;
mod token;
mod transport;
mod waba;

pub use classify::{APP_USAGE_HEADER, AppUsage, BUC_USAGE_HEADER, BusinessUseCaseUsage, Usage};
pub use client::{GraphClient, appsecret_proof};
pub use config::{
    ApiVersion, ApiVersionParseError, DEFAULT_BASE_URL, GraphConfig, RetryPolicy, default_base_url,
};
pub use error::{Error, ErrorClass, Failure, MetaError, WaitHint};
pub use ids::{AppId, BusinessId, IdParseError, PhoneNumberId, WabaId, described};
pub use numbers::{
    AccountMode, CodeVerificationStatus, ListOptions, NameStatus, NumberSort, NumberStatus,
    PhoneNumber, PhoneNumberField, PlatformType, QualityRating, Throughput,
};
pub use onprem::{LoginResponse, LoginUser, OnPremClient, OnPremConfig, OnPremSession};
pub use paging::{Cursors, Page, Paging, Summary};
pub use pin::{DataRegion, DataRegionParseError, SuccessResponse};
pub use retry::{SleepFuture, Sleeper, TokioSleeper, backoff_delay};
pub use secret::{AccessToken, AdminPassword, AppSecret, PinSecret, SignupCode};
pub use signup::{AppCredentials, ExchangedToken};
pub use token::{
    DebugTokenResponse, Expiry, GranularScope, Targets, TokenError, TokenInfo, TokenKind,
};
pub use waba::{Waba, WabaListOptions, WabaRelation};
