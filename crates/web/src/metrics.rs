//! `/metrics` in the Prometheus (OpenMetrics) text format.
//!
//! Requests are counted and timed by route *template* (`/numbers/{id}`, from axum's
//! `MatchedPath`), never by raw path, so the number of series stays bounded whatever
//! URLs clients send.
//!
//! `pinward_pin_rotations_total{outcome}` counts custody attempts that ended (a rotation or
//! taking custody: both set a fresh PIN by the same protocol) as `rotated`, `rejected` or
//! `uncertain`; handlers call [`Metrics::record_custody`] where an attempt returns, and so
//! does `pinward serve`'s background run of the rotations reveals queued. `pinward rotate`
//! is a process of its own: no scrape of the service sees its attempts.
//!
//! `pinward_numbers{state, health}` is computed at scrape time from the database, over
//! every org, each under its own policy (`governance::overview::by_state_and_health`: one
//! grouped query per org). `health` is `all` (every number in the state), `ok` (no
//! problem) or a problem code (a number with several problems counts under each); every
//! state × health pair is always present, zeros included. No org label: the endpoint is
//! unauthenticated and says nothing about any one tenant.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use governance::custody::Outcome;
use governance::overview::StateHealth;

use crate::AppState;
use crate::error::AppError;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NumberLabels {
    state: String,
    health: String,
}

/// How a rotation attempt ends (DESIGN "Custody protocol", TX2).
const ROTATION_OUTCOMES: &[&str] = &["rotated", "rejected", "uncertain"];

fn latency_histogram() -> Histogram {
    // 1 ms … ~16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The service's metrics and the registry that prints them.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    rotations: Family<OutcomeLabels, Counter>,
    numbers: Family<NumberLabels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh registry with every pinward metric registered.
    #[must_use]
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("pinward");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let rotations = Family::<OutcomeLabels, Counter>::default();
        let numbers = Family::<NumberLabels, Gauge>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route template and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method and route template",
            latency.clone(),
        );
        registry.register(
            "pin_rotations",
            "PIN rotations finished, by outcome",
            rotations.clone(),
        );
        registry.register(
            "numbers",
            "Phone numbers by PIN state and health",
            numbers.clone(),
        );
        // Known outcomes start at zero, so a rate() over them works before the first one.
        for outcome in ROTATION_OUTCOMES {
            let _ = rotations.get_or_create_owned(&OutcomeLabels {
                outcome: (*outcome).to_owned(),
            });
        }
        Metrics {
            registry,
            requests,
            latency,
            rotations,
            numbers,
        }
    }

    /// Counts one finished rotation (`rotated`, `rejected`, `uncertain`, …).
    pub fn record_rotation(&self, outcome: &str) {
        self.rotations
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Counts a custody attempt that ended (an [`Outcome::Idle`] call did nothing: not counted).
    pub fn record_custody(&self, outcome: &Outcome) {
        let outcome = match outcome {
            Outcome::Confirmed { .. } => "rotated",
            Outcome::Rejected { .. } => "rejected",
            Outcome::Uncertain { .. } => "uncertain",
            Outcome::Idle => return,
        };
        self.record_rotation(outcome);
    }

    /// Sets every `numbers{state, health}` gauge from a fresh count.
    pub fn set_numbers_by_state(&self, counts: &[StateHealth]) {
        for entry in counts {
            let state = entry.state.as_str();
            self.set_numbers(state, "all", gauge(entry.numbers));
            self.set_numbers(state, "ok", gauge(entry.healthy));
            for c in &entry.problems {
                self.set_numbers(state, c.key.as_str(), gauge(c.numbers));
            }
        }
    }

    /// Sets how many numbers are in `state` with `health` (`ok` or a problem kind).
    pub fn set_numbers(&self, state: &str, health: &str, count: i64) {
        self.numbers
            .get_or_create(&NumberLabels {
                state: state.to_owned(),
                health: health.to_owned(),
            })
            .set(count);
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    /// The registry in the OpenMetrics text format.
    ///
    /// # Errors
    /// Only if formatting into a `String` fails, which it does not.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Middleware: counts and times every request by its route template.
pub(crate) async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    state.metrics.observe(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

fn gauge(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `GET /metrics`. The numbers gauges are refreshed first; if the database does not
/// answer, the other metrics are still served (with the last numbers seen) and the failure
/// is logged.
pub(crate) async fn metrics(State(state): State<AppState>) -> Result<Response, AppError> {
    match governance::overview::by_state_and_health(&state.store, chrono::Utc::now()).await {
        Ok(counts) => state.metrics.set_numbers_by_state(&counts),
        Err(error) => tracing::warn!(%error, "counting numbers for /metrics failed"),
    }
    let text = state
        .metrics
        .encode()
        .map_err(|_| AppError::Internal("metrics could not be encoded"))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        text,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn custody_outcomes_are_counted_as_rotations_by_outcome_and_idle_calls_are_not() {
        let metrics = Metrics::new();
        let text = metrics.encode().unwrap();
        assert!(
            text.contains("pinward_pin_rotations_total{outcome=\"rotated\"} 0"),
            "{text}"
        );
        metrics.record_custody(&Outcome::Confirmed { version: 2 });
        metrics.record_custody(&Outcome::Confirmed { version: 3 });
        metrics.record_custody(&Outcome::Rejected {
            version: 4,
            code: Some(100),
        });
        metrics.record_custody(&Outcome::Uncertain {
            version: 5,
            failures: 1,
            needs_attention: false,
        });
        metrics.record_custody(&Outcome::Idle);
        let text = metrics.encode().unwrap();
        assert!(
            text.contains("pinward_pin_rotations_total{outcome=\"rotated\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("pinward_pin_rotations_total{outcome=\"rejected\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("pinward_pin_rotations_total{outcome=\"uncertain\"} 1"),
            "{text}"
        );
        assert!(!text.contains("idle"), "{text}");
    }
}
