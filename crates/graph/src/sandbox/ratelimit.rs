//! Rate limits (GRAPH_API.md §4): the WhatsApp Business Management BUC limit per app × WABA
//! (200 calls/h, 5 000/h when the WABA has a registered number) answered with code 80008, an
//! app-wide hourly limit answered with code 4, and both usage headers.
//!
//! Windows are fixed hours starting at the first call (Meta's are rolling: an approximation).
//! Percentages are of calls; `total_cputime` and `total_time` are reported as a quarter of
//! the call share, since the sandbox has no CPU accounting. The BUC `type` is written
//! `whatsapp_business_management` (Meta's exact value: unverified).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Limits of the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimitConfig {
    /// Off: no limits and no usage headers (benchmarks).
    pub enabled: bool,
    /// Calls per hour per app per WABA without a registered number.
    pub waba_calls_per_hour: u32,
    /// Calls per hour per app per WABA with a registered number.
    pub active_waba_calls_per_hour: u32,
    /// Calls per hour for the whole app.
    pub app_calls_per_hour: u32,
    /// Window length in seconds (an hour at Meta).
    pub window_s: u64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: true,
            waba_calls_per_hour: 200,
            active_waba_calls_per_hour: 5_000,
            app_calls_per_hour: 1_000_000,
            window_s: 3600,
        }
    }
}

impl RateLimitConfig {
    /// No limits, no headers.
    pub fn disabled() -> Self {
        RateLimitConfig {
            enabled: false,
            ..RateLimitConfig::default()
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: DateTime<Utc>,
    count: u32,
}

/// Why a call is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Throttle {
    /// App-wide: code 4.
    App,
    /// App × WABA: code 80008.
    Waba,
}

/// Headers to add, and whether the call is refused.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    pub headers: Vec<(&'static str, String)>,
    pub throttled: Option<Throttle>,
}

#[derive(Debug)]
pub(crate) struct RateLimiter {
    cfg: RateLimitConfig,
    app: HashMap<String, Window>,
    waba: HashMap<(String, String), Window>,
}

impl RateLimiter {
    pub(crate) fn new(cfg: RateLimitConfig) -> Self {
        RateLimiter {
            cfg,
            app: HashMap::new(),
            waba: HashMap::new(),
        }
    }

    fn window(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::try_from(self.cfg.window_s).unwrap_or(i64::MAX / 2))
    }

    fn bump(w: &mut Window, now: DateTime<Utc>, len: chrono::Duration) {
        if now - w.start >= len {
            *w = Window {
                start: now,
                count: 0,
            };
        }
        w.count = w.count.saturating_add(1);
    }

    /// Counts one call by `app` (and, for BUC-covered routes, on `waba`).
    pub(crate) fn check(
        &mut self,
        now: DateTime<Utc>,
        app: &str,
        waba: Option<(&str, bool)>,
    ) -> Verdict {
        let mut verdict = Verdict::default();
        if !self.cfg.enabled {
            return verdict;
        }
        let len = self.window();
        let fresh = Window {
            start: now,
            count: 0,
        };
        let app_w = self.app.entry(app.to_owned()).or_insert(fresh);
        Self::bump(app_w, now, len);
        let app_pct = percent(app_w.count, self.cfg.app_calls_per_hour);
        verdict.headers.push((
            "x-app-usage",
            serde_json::json!({
                "call_count": app_pct,
                "total_cputime": app_pct / 4,
                "total_time": app_pct / 4,
            })
            .to_string(),
        ));
        if app_w.count > self.cfg.app_calls_per_hour {
            verdict.throttled = Some(Throttle::App);
        }
        if let Some((waba_id, active)) = waba {
            let limit = if active {
                self.cfg.active_waba_calls_per_hour
            } else {
                self.cfg.waba_calls_per_hour
            };
            let w = self
                .waba
                .entry((app.to_owned(), waba_id.to_owned()))
                .or_insert(fresh);
            Self::bump(w, now, len);
            let pct = percent(w.count, limit);
            let over = w.count > limit;
            let regain = if over {
                let left = (w.start + len - now).num_seconds().max(0);
                // Minutes, rounded up: a wait of 10 s is reported as 1.
                (left + 59) / 60
            } else {
                0
            };
            verdict.headers.push((
                "x-business-use-case-usage",
                serde_json::json!({
                    waba_id: [{
                        "type": "whatsapp_business_management",
                        "call_count": pct,
                        "total_cputime": pct / 4,
                        "total_time": pct / 4,
                        "estimated_time_to_regain_access": regain,
                    }]
                })
                .to_string(),
            ));
            if over && verdict.throttled.is_none() {
                verdict.throttled = Some(Throttle::Waba);
            }
        }
        verdict
    }

    /// The time left in the app × WABA window (for the error details).
    pub(crate) fn window_left(&self, now: DateTime<Utc>, app: &str, waba: &str) -> Duration {
        self.waba
            .get(&(app.to_owned(), waba.to_owned()))
            .and_then(|w| (w.start + self.window() - now).to_std().ok())
            .unwrap_or_default()
    }
}

fn percent(count: u32, limit: u32) -> u32 {
    if limit == 0 {
        return 100;
    }
    let p = u64::from(count) * 100 / u64::from(limit);
    u32::try_from(p.min(100)).unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_201st_call_on_an_inactive_waba_is_throttled_until_the_window_ends() {
        let mut rl = RateLimiter::new(RateLimitConfig::default());
        let t0 = Utc::now();
        for _ in 0..200 {
            assert!(rl.check(t0, "app", Some(("w", false))).throttled.is_none());
        }
        let v = rl.check(t0, "app", Some(("w", false)));
        assert_eq!(v.throttled, Some(Throttle::Waba));
        assert!(
            v.headers[1]
                .1
                .contains("\"estimated_time_to_regain_access\":60")
        );
        let later = t0 + chrono::Duration::seconds(3600);
        assert!(
            rl.check(later, "app", Some(("w", false)))
                .throttled
                .is_none()
        );
    }

    #[test]
    fn an_active_waba_gets_5000_calls() {
        let mut rl = RateLimiter::new(RateLimitConfig::default());
        let t0 = Utc::now();
        for _ in 0..5000 {
            assert!(rl.check(t0, "app", Some(("w", true))).throttled.is_none());
        }
        assert!(rl.check(t0, "app", Some(("w", true))).throttled.is_some());
    }
}
