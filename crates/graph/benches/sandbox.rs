//! Client → sandbox calls per second on loopback, with the sandbox's added latency at 0 and at
//! 50 ms, many calls in flight. Prints figures; asserts nothing.
//!
//! `cargo bench -p graph --bench sandbox`. Knobs: `GRAPH_BENCH_CALLS` (per scenario, default
//! 20000), `GRAPH_BENCH_INFLIGHT` (default 256), `GRAPH_BENCH_NUMBERS` (seeded numbers,
//! default 2000).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};
use graph::sandbox::{FaultPlan, RateLimitConfig, Sandbox, SandboxConfig, SandboxSeed};
use graph::{GraphClient, PhoneNumberField, PinSecret};

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Clone, Copy, Debug)]
enum Call {
    ReadNumber,
    SetPin,
}

struct Figures {
    calls: usize,
    errors: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

async fn run(
    client: &GraphClient,
    token: &graph::AccessToken,
    ids: &[graph::PhoneNumberId],
    call: Call,
    calls: usize,
    inflight: usize,
) -> Figures {
    let start = Instant::now();
    let results: Vec<(bool, Duration)> = stream::iter(0..calls)
        .map(|i| {
            let id = &ids[i % ids.len()];
            async move {
                let t = Instant::now();
                let ok = match call {
                    Call::ReadNumber => client
                        .phone_number(token, id, &[PhoneNumberField::IsPinEnabled])
                        .await
                        .is_ok(),
                    Call::SetPin => {
                        let pin = PinSecret::new(format!("{:06}", (i * 7919) % 1_000_000)).unwrap();
                        client.set_pin(token, id, &pin).await.is_ok()
                    }
                };
                (ok, t.elapsed())
            }
        })
        .buffer_unordered(inflight)
        .collect()
        .await;
    let elapsed = start.elapsed();
    let mut lat: Vec<Duration> = results.iter().map(|(_, d)| *d).collect();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    Figures {
        calls,
        errors: results.iter().filter(|(ok, _)| !ok).count(),
        elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

fn main() {
    let calls = knob("GRAPH_BENCH_CALLS", 20_000);
    let inflight = knob("GRAPH_BENCH_INFLIGHT", 256);
    let numbers = knob("GRAPH_BENCH_NUMBERS", 2_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config = SandboxConfig {
            // Meta's 200/5 000 calls per hour per WABA would throttle a benchmark at once.
            rate_limits: RateLimitConfig::disabled(),
            ..Default::default()
        };
        let seeding = Instant::now();
        let sb = Sandbox::new(
            SandboxSeed {
                seed: 1,
                numbers,
                businesses: 4,
            },
            config,
        );
        println!(
            "seeded {numbers} numbers in {:.1} ms",
            seeding.elapsed().as_secs_f64() * 1e3
        );
        let sb = sb.start().await.unwrap();
        let mut cfg = sb.graph_config();
        cfg.timeout = Duration::from_secs(60);
        let client = GraphClient::new(cfg).unwrap();
        let token = sb.system_user_token();
        let ids: Vec<_> = sb
            .numbers()
            .into_iter()
            .filter(|n| !n.onprem)
            .map(|n| n.id)
            .collect();
        // Open the connections before measuring.
        run(
            &client,
            &token,
            &ids,
            Call::ReadNumber,
            inflight * 2,
            inflight,
        )
        .await;

        println!(
            "{:<10} {:>8} {:>8} {:>8} {:>10} {:>9} {:>9} {:>7}",
            "latency", "call", "inflight", "calls", "calls/s", "p50 ms", "p99 ms", "errors"
        );
        for latency_ms in [0u64, 50] {
            sb.set_faults(if latency_ms == 0 {
                FaultPlan::none()
            } else {
                FaultPlan::latency(latency_ms)
            });
            for call in [Call::ReadNumber, Call::SetPin] {
                let f = run(&client, &token, &ids, call, calls, inflight).await;
                println!(
                    "{:<10} {:>8} {:>8} {:>8} {:>10.0} {:>9.2} {:>9.2} {:>7}",
                    format!("{latency_ms} ms"),
                    match call {
                        Call::ReadNumber => "read",
                        Call::SetPin => "set_pin",
                    },
                    inflight,
                    f.calls,
                    f.calls as f64 / f.elapsed.as_secs_f64(),
                    f.p50.as_secs_f64() * 1e3,
                    f.p99.as_secs_f64() * 1e3,
                    f.errors
                );
            }
        }
        sb.shutdown().await.unwrap();
    });
}
