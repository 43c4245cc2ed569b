//! Seal and open throughput of one PIN, single-threaded, printed as operations per second on
//! one core. A figure to read, not a test: nothing here asserts on speed.
//!
//! Run: `cargo bench -p vault --bench seal`; `VAULT_BENCH_ITERATIONS=200` runs it small (the
//! default, 20,000, takes about 30 s and keeps run-to-run spread on a shared VM near ±10 %).
//!
//! "Per core" is measured on this thread's CPU time (Linux `/proc/thread-self/schedstat`), so
//! the figure holds on a busy machine where wall time would count other processes' turns; the
//! wall-clock rate is printed beside it.

#![allow(clippy::expect_used, clippy::print_stdout)]

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use vault::{Identity, Pin, Recipients, Sealed, Secret, generate, open, seal};

/// CPU time this thread has run, if the kernel tells us.
fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

fn measure(name: &str, iterations: u32, mut operation: impl FnMut()) {
    // Warm up caches and the allocator before timing.
    for _ in 0..iterations.div_ceil(10) {
        operation();
    }
    let (cpu_start, wall_start) = (thread_cpu_time(), Instant::now());
    for _ in 0..iterations {
        operation();
    }
    let wall = wall_start.elapsed();
    let cpu = match (cpu_start, thread_cpu_time()) {
        (Some(start), Some(end)) => end.saturating_sub(start),
        _ => wall,
    };
    let rate = |elapsed: Duration| f64::from(iterations) / elapsed.as_secs_f64();
    let micros = cpu.as_secs_f64() * 1e6 / f64::from(iterations);
    println!(
        "{name:<48} {:>9.0} ops/s/core (CPU) {micros:>7.1} µs/op   wall {:>9.0} ops/s",
        rate(cpu),
        rate(wall)
    );
}

fn main() {
    let iterations: u32 = std::env::var("VAULT_BENCH_ITERATIONS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(20_000);
    println!("vault seal/open, {iterations} iterations each, one thread");

    let service = Identity::generate();
    let recovery: Vec<Identity> = (0..3).map(|_| Identity::generate()).collect();
    let to_service = Recipients::new([service.recipient()]).expect("one recipient");
    let to_all = Recipients::new(
        std::iter::once(service.recipient()).chain(recovery.iter().map(Identity::recipient)),
    )
    .expect("four recipients");
    let pin = generate();

    measure("seal PIN to 1 recipient", iterations, || {
        black_box(seal(black_box(&pin), &to_service).expect("seal"));
    });
    measure("seal PIN to 1 + 3 recipients", iterations, || {
        black_box(seal(black_box(&pin), &to_all).expect("seal"));
    });

    let sealed: Sealed = seal(&pin, &to_all).expect("seal");
    measure(
        "open PIN (1+3) with the service identity",
        iterations,
        || {
            black_box(open::<Pin>(black_box(&sealed), &service).expect("open"));
        },
    );
    // The service identity's stanza comes first; a recovery key is tried against all four.
    let last = recovery.last().expect("three recovery identities");
    measure(
        "open PIN (1+3) with the last recovery identity",
        iterations,
        || {
            black_box(open::<Pin>(black_box(&sealed), last).expect("open"));
        },
    );

    let token = Secret::new(vec![b'E'; 256]);
    measure("seal 256-byte token to 1 recipient", iterations, || {
        black_box(seal(black_box(&token), &to_service).expect("seal"));
    });
    measure(
        "generate PIN (OsRng)",
        iterations.saturating_mul(20),
        || {
            black_box(generate());
        },
    );
}
