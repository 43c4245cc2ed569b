//! From an answer (status, Meta code, headers) to a decision: AUTH, REJECT, WAIT or RETRY
//! (GRAPH_API.md §3), and how long a WAIT lasts (§4).
//!
//! Decisions follow Meta's `code`, not its titles; the HTTP status only decides when the body
//! is not Meta's envelope (a proxy's HTML 502, say). Codes Meta has not documented fall back to
//! the status too.

use std::collections::BTreeMap;
use std::time::Duration;

use http::HeaderMap;
use rand::Rng;
use serde::{Deserialize, Deserializer, Serialize};

use crate::config::RetryPolicy;
use crate::error::{MetaError, WaitHint};

/// What a failed answer asks of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Auth,
    Reject,
    Wait,
    Retry,
}

/// Graph API codes (GRAPH_API.md §3 table). `None`: not a code we know.
pub(crate) fn graph_code(code: i64) -> Option<Verdict> {
    Some(match code {
        // 104: "An access token is required" (missing token); 102: old session code.
        0 | 102 | 104 | 190 | 3 | 10 | 131005 | 200..=299 => Verdict::Auth,
        1 | 2 | 131000 | 131016 | 133004 => Verdict::Retry,
        4 | 17 | 32 | 613 | 80007 | 80008 | 130429 | 133008 | 133009 | 133015 | 133016 => {
            Verdict::Wait
        }
        100 | 131008 | 131009 | 135000 | 33 | 133005 | 133006 | 133010 | 133000 | 368 | 131031 => {
            Verdict::Reject
        }
        _ => return None,
    })
}

/// On-Premises API codes. An assumption (Meta's On-Premises reference, from memory; the API is
/// sunset): 1005 access denied and 1024 password change required are AUTH; 1015 too many
/// requests is WAIT; 1000 generic, 1011 service not ready, 1014 internal error, 1016 system
/// overloaded, 1017/1018 not primary, 1023 database error are RETRY; other 10xx parameter and
/// resource errors are REJECT.
pub(crate) fn onprem_code(code: i64) -> Option<Verdict> {
    Some(match code {
        1005 | 1024 => Verdict::Auth,
        1015 => Verdict::Wait,
        1000 | 1011 | 1014 | 1016 | 1017 | 1018 | 1023 => Verdict::Retry,
        1001..=1099 => Verdict::Reject,
        _ => return None,
    })
}

/// The decision when the code is unknown or absent.
pub(crate) fn by_status(status: u16) -> Verdict {
    match status {
        429 => Verdict::Wait,
        401 | 403 => Verdict::Auth,
        500..=599 => Verdict::Retry,
        // 408 Request Timeout from a proxy: the request may not have been processed.
        408 => Verdict::Retry,
        _ => Verdict::Reject,
    }
}

/// `X-App-Usage`: the app's hourly usage, in percent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppUsage {
    /// Calls, % of the hourly allowance.
    #[serde(default, deserialize_with = "percent")]
    pub call_count: u32,
    /// CPU time, %.
    #[serde(default, deserialize_with = "percent")]
    pub total_cputime: u32,
    /// Total time, %.
    #[serde(default, deserialize_with = "percent")]
    pub total_time: u32,
}

/// One entry of `X-Business-Use-Case-Usage`, per business object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessUseCaseUsage {
    /// The use case, e.g. `whatsapp_business_management` (Meta's exact value: unverified).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Calls, %.
    #[serde(default, deserialize_with = "percent")]
    pub call_count: u32,
    /// CPU time, %.
    #[serde(default, deserialize_with = "percent")]
    pub total_cputime: u32,
    /// Total time, %.
    #[serde(default, deserialize_with = "percent")]
    pub total_time: u32,
    /// Minutes until throttling ends (0 when not throttled).
    #[serde(default, deserialize_with = "percent")]
    pub estimated_time_to_regain_access: u32,
}

/// Both usage headers of one answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// `X-App-Usage`, if sent and well-formed.
    pub app: Option<AppUsage>,
    /// `X-Business-Use-Case-Usage` by business object id (WABA id for WhatsApp calls).
    pub business: BTreeMap<String, Vec<BusinessUseCaseUsage>>,
}

/// `X-App-Usage`.
pub const APP_USAGE_HEADER: &str = "x-app-usage";
/// `X-Business-Use-Case-Usage`.
pub const BUC_USAGE_HEADER: &str = "x-business-use-case-usage";

impl Usage {
    /// Reads both headers; malformed ones are ignored.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let json = |name: &str| headers.get(name).map(|v| v.as_bytes());
        Usage {
            app: json(APP_USAGE_HEADER).and_then(|b| serde_json::from_slice(b).ok()),
            business: json(BUC_USAGE_HEADER)
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or_default(),
        }
    }

    /// No usage header at all.
    pub fn is_empty(&self) -> bool {
        self.app.is_none() && self.business.is_empty()
    }

    /// The highest percentage reported (any field of any entry).
    pub fn max_percent(&self) -> u32 {
        let app = self
            .app
            .iter()
            .flat_map(|a| [a.call_count, a.total_cputime, a.total_time]);
        let buc = self
            .business
            .values()
            .flatten()
            .flat_map(|b| [b.call_count, b.total_cputime, b.total_time]);
        app.chain(buc).max().unwrap_or(0)
    }

    /// The longest `estimated_time_to_regain_access`, if any is above zero.
    pub fn regain_access_in(&self) -> Option<Duration> {
        self.business
            .values()
            .flatten()
            .map(|b| b.estimated_time_to_regain_access)
            .max()
            .filter(|m| *m > 0)
            .map(|m| Duration::from_secs(u64::from(m) * 60))
    }
}

fn percent<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    // Meta documents integers; accept any JSON number and clamp, so a float is not fatal.
    let n = f64::deserialize(d)?;
    Ok(if n.is_finite() && n > 0.0 {
        n.round().min(f64::from(u32::MAX)) as u32
    } else {
        0
    })
}

/// How long a WAIT lasts: `Retry-After`, else `estimated_time_to_regain_access`, else the
/// code's documented wait, else the policy's fallback with up to 50 % jitter.
pub(crate) fn rate_limit_wait(
    headers: &HeaderMap,
    meta: Option<&MetaError>,
    policy: &RetryPolicy,
) -> (Duration, WaitHint) {
    if let Some(d) = retry_after(headers) {
        return (d, WaitHint::RetryAfter);
    }
    if let Some(d) = Usage::from_headers(headers).regain_access_in() {
        return (d, WaitHint::BusinessUseCaseUsage);
    }
    match meta.map(|m| m.code) {
        Some(133016) => return (Duration::from_secs(72 * 3600), WaitHint::ErrorCode),
        Some(133015) => return (Duration::from_secs(5 * 60), WaitHint::ErrorCode),
        _ => {}
    }
    let base = policy.rate_limit_fallback;
    let jitter = rand::thread_rng().gen_range(0.0..=0.5);
    (base.mul_f64(1.0 + jitter), WaitHint::Fallback)
}

/// `Retry-After` as delta-seconds or an HTTP date (RFC 9110 §10.2.3).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let delta = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn pin_mismatch_is_a_rejection_and_never_retried() {
        assert_eq!(graph_code(133005), Some(Verdict::Reject));
    }

    #[test]
    fn token_and_permission_codes_are_auth() {
        for c in [0, 190, 3, 10, 131005, 200, 299] {
            assert_eq!(graph_code(c), Some(Verdict::Auth), "{c}");
        }
    }

    #[test]
    fn throttling_codes_wait_and_service_codes_retry() {
        for c in [4, 80007, 80008, 133008, 133009, 133015, 133016] {
            assert_eq!(graph_code(c), Some(Verdict::Wait), "{c}");
        }
        for c in [1, 2, 131000, 131016, 133004] {
            assert_eq!(graph_code(c), Some(Verdict::Retry), "{c}");
        }
    }

    #[test]
    fn a_non_json_502_is_retried_and_a_429_waits() {
        assert_eq!(by_status(502), Verdict::Retry);
        assert_eq!(by_status(429), Verdict::Wait);
        assert_eq!(by_status(404), Verdict::Reject);
    }

    #[test]
    fn retry_after_wins_over_usage_headers() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        h.insert(
            BUC_USAGE_HEADER,
            HeaderValue::from_static(r#"{"1":[{"type":"x","call_count":100,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":19}]}"#),
        );
        let (d, hint) = rate_limit_wait(&h, None, &RetryPolicy::default());
        assert_eq!((d, hint), (Duration::from_secs(7), WaitHint::RetryAfter));
        h.remove("retry-after");
        let (d, hint) = rate_limit_wait(&h, None, &RetryPolicy::default());
        assert_eq!(
            (d, hint),
            (Duration::from_secs(19 * 60), WaitHint::BusinessUseCaseUsage)
        );
    }

    #[test]
    fn a_spent_registration_budget_waits_72_hours() {
        let meta = MetaError {
            code: 133016,
            subcode: None,
            message: String::new(),
            kind: None,
            details: None,
            fbtrace_id: None,
        };
        let (d, _) = rate_limit_wait(&HeaderMap::new(), Some(&meta), &RetryPolicy::default());
        assert_eq!(d, Duration::from_secs(72 * 3600));
    }

    #[test]
    fn the_fallback_wait_is_jittered_within_half_again() {
        let p = RetryPolicy::default();
        for _ in 0..50 {
            let (d, hint) = rate_limit_wait(&HeaderMap::new(), None, &p);
            assert_eq!(hint, WaitHint::Fallback);
            assert!(d >= p.rate_limit_fallback && d <= p.rate_limit_fallback.mul_f64(1.5));
        }
    }

    #[test]
    fn an_http_date_retry_after_in_the_past_means_no_wait() {
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }
}
