//! Fault injection: which calls fail, and how (GRAPH_API.md §5.9).
//!
//! A [`FaultPlan`] is a seed and a list of rules. Each rule names a route (or all), optionally
//! one number, a share of calls, and a [`Fault`]. Every route draws from its own RNG seeded
//! from `(plan seed, route)`, so a sequence of calls on one route meets the same faults on
//! every run whatever happens on other routes. Latency rules add up; of the failure rules, the
//! first that fires wins. With `apply_first`, the call is carried out (the PIN is set) and
//! then its answer is replaced by the fault: the case that makes an outcome uncertain.
//!
//! Set at start ([`crate::sandbox::SandboxConfig::faults`]), at run time through
//! `POST /_sandbox/faults` with the plan as JSON, or with `SandboxHandle::set_faults`.
//! Example: `{"seed":7,"rules":[{"route":"set_pin","apply_first":true,"fault":{"kind":"reset"}}]}`.

use std::collections::HashMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::counters::Route;

/// How a call fails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Adds delay before the call is handled.
    Latency {
        /// Milliseconds.
        ms: u64,
    },
    /// `500` with code 131000 (On-Premises: 1014).
    ServerError,
    /// `503` with code 2 or 133004 (On-Premises: 1011).
    Unavailable {
        /// 2 or 133004.
        #[serde(default = "two")]
        code: i64,
    },
    /// `502` with an HTML body.
    BadGateway,
    /// `504` with an HTML body.
    GatewayTimeout,
    /// Accepts the request and never answers (until `ms` passes or the sandbox stops).
    Hang {
        /// How long to hang; default 5 minutes.
        #[serde(default = "five_minutes")]
        ms: u64,
    },
    /// Closes the connection without an answer.
    Reset,
    /// Sends the head and half the body, then closes.
    Truncate,
    /// `429` with `Retry-After` (sandbox-only: Meta documents no 429).
    TooManyRequests {
        /// The `Retry-After` seconds.
        #[serde(default = "one")]
        retry_after_s: u64,
    },
    /// Any Meta error code with its documented status and envelope (133008, 133009, 133015,
    /// 133000, 368, …).
    MetaError {
        /// Meta's code.
        code: i64,
    },
}

fn two() -> i64 {
    2
}
fn five_minutes() -> u64 {
    300_000
}
fn one() -> u64 {
    1
}
fn all() -> f64 {
    1.0
}

/// One fault rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// The route; absent means every route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<Route>,
    /// Only calls about this phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<String>,
    /// Share of matching calls that fail, 0.0–1.0 (default 1.0).
    #[serde(default = "all")]
    pub share: f64,
    /// Carry the call out, then fail its answer.
    #[serde(default)]
    pub apply_first: bool,
    /// Fire at most this many times (default: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// What happens.
    pub fault: Fault,
}

impl FaultRule {
    /// `fault` on every call of `route`.
    pub fn always(route: Route, fault: Fault) -> Self {
        FaultRule {
            route: Some(route),
            phone_number_id: None,
            share: 1.0,
            apply_first: false,
            times: None,
            fault,
        }
    }

    /// Carry the call out first (see the module doc).
    pub fn apply_first(mut self) -> Self {
        self.apply_first = true;
        self
    }

    /// Fire at most `n` times.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Fire on this share of calls.
    pub fn share(mut self, share: f64) -> Self {
        self.share = share;
        self
    }

    /// Only for one number.
    pub fn for_number(mut self, phone_number_id: &str) -> Self {
        self.phone_number_id = Some(phone_number_id.to_owned());
        self
    }
}

/// A set of fault rules with their seed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultPlan {
    /// Seed of the per-route draws.
    #[serde(default)]
    pub seed: u64,
    /// The rules, in order.
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

impl FaultPlan {
    /// No faults.
    pub fn none() -> Self {
        FaultPlan::default()
    }

    /// A plan with one rule.
    pub fn single(rule: FaultRule) -> Self {
        FaultPlan {
            seed: 0,
            rules: vec![rule],
        }
    }

    /// The same added latency on every route.
    pub fn latency(ms: u64) -> Self {
        FaultPlan::single(FaultRule {
            route: None,
            phone_number_id: None,
            share: 1.0,
            apply_first: false,
            times: None,
            fault: Fault::Latency { ms },
        })
    }
}

/// What happens to one call.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Decision {
    pub latency: Duration,
    pub failure: Option<(Fault, bool)>,
}

/// The plan plus its draw state.
#[derive(Debug)]
pub(crate) struct FaultEngine {
    plan: FaultPlan,
    fired: Vec<u32>,
    rngs: HashMap<Route, StdRng>,
}

impl FaultEngine {
    pub(crate) fn new(plan: FaultPlan) -> Self {
        FaultEngine {
            fired: vec![0; plan.rules.len()],
            plan,
            rngs: HashMap::new(),
        }
    }

    pub(crate) fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    pub(crate) fn decide(&mut self, route: Route, number: Option<&str>) -> Decision {
        let mut decision = Decision::default();
        if self.plan.rules.is_empty() {
            return decision;
        }
        let seed = self.plan.seed;
        let rng = self
            .rngs
            .entry(route)
            .or_insert_with(|| StdRng::seed_from_u64(seed ^ route_salt(route)));
        for (i, rule) in self.plan.rules.iter().enumerate() {
            if rule.route.is_some_and(|r| r != route) {
                continue;
            }
            if rule
                .phone_number_id
                .as_deref()
                .is_some_and(|want| number != Some(want))
            {
                continue;
            }
            let is_latency = matches!(rule.fault, Fault::Latency { .. });
            if !is_latency && decision.failure.is_some() {
                continue;
            }
            if rule.times.is_some_and(|t| self.fired[i] >= t) {
                continue;
            }
            // Always draw, so a rule's outcomes do not depend on earlier rules firing.
            let draw: f64 = rng.r#gen();
            if draw >= rule.share.clamp(0.0, 1.0) {
                continue;
            }
            self.fired[i] += 1;
            match &rule.fault {
                Fault::Latency { ms } => decision.latency += Duration::from_millis(*ms),
                other => decision.failure = Some((other.clone(), rule.apply_first)),
            }
        }
        decision
    }
}

fn route_salt(route: Route) -> u64 {
    // FNV-1a of the route name: stable across builds, unlike `DefaultHasher`.
    route
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(share: f64) -> FaultPlan {
        FaultPlan {
            seed: 42,
            rules: vec![FaultRule::always(Route::PhoneNumber, Fault::ServerError).share(share)],
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_faults() {
        let run = || {
            let mut e = FaultEngine::new(plan(0.3));
            (0..200)
                .map(|_| e.decide(Route::PhoneNumber, None).failure.is_some())
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let fired = a.iter().filter(|f| **f).count();
        assert!((30..=90).contains(&fired), "{fired}");
    }

    #[test]
    fn other_routes_do_not_shift_a_routes_draws() {
        let mut quiet = FaultEngine::new(plan(0.5));
        let mut busy = FaultEngine::new(plan(0.5));
        let mut a = Vec::new();
        let mut b = Vec::new();
        for _ in 0..50 {
            a.push(quiet.decide(Route::PhoneNumber, None).failure.is_some());
            busy.decide(Route::Waba, None);
            b.push(busy.decide(Route::PhoneNumber, None).failure.is_some());
        }
        assert_eq!(a, b);
    }

    #[test]
    fn times_limits_how_often_a_rule_fires() {
        let mut e = FaultEngine::new(FaultPlan::single(
            FaultRule::always(Route::SetPin, Fault::Reset).times(2),
        ));
        let fired = (0..5)
            .filter(|_| e.decide(Route::SetPin, None).failure.is_some())
            .count();
        assert_eq!(fired, 2);
    }

    #[test]
    fn a_plan_reads_from_json() {
        let p: FaultPlan = serde_json::from_str(
            r#"{"seed":7,"rules":[{"route":"set_pin","apply_first":true,"fault":{"kind":"reset"}},
                {"fault":{"kind":"latency","ms":50}}]}"#,
        )
        .unwrap();
        assert_eq!(p.rules.len(), 2);
        assert!(p.rules[0].apply_first);
        assert_eq!(p.rules[1].route, None);
    }
}
