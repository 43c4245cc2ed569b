//! Verification throughput and memory: Rust against the independent Python verifier, on the
//! same generated export, in the same run.
//!
//! `cargo bench -p audit --bench verify` (size: `AUDIT_BENCH_EVENTS`, default 1,000,000;
//! `AUDIT_BENCH_PYTHON=0` skips Python; `AUDIT_BENCH_DIR=DIR` keeps the generated exports;
//! `AUDIT_BENCH_RUNS`, default 5, Rust verifications per format, best and median printed,
//! because a shared machine's other work only ever makes a run slower). Each verifier runs in its own child process so its
//! peak RSS (VmHWM) is its own and not the generator's: the Rust one is this binary re-run
//! with `AUDIT_BENCH_CHILD=jsonl|csv`, reporting its VmHWM from /proc/self/status; Python's is
//! sampled from /proc/<pid>/status while it runs (VmHWM only grows, so the last sample
//! before exit is its peak to within the last 10 ms). CPU time comes from
//! /proc/<pid>/schedstat the same way: on a machine shared with other work, wall time
//! overstates what verification costs, so both are printed.
//! Figures are printed, never asserted.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use audit::{
    Action, Actor, ChainHead, Checkpoint, CheckpointKey, CsvWriter, Details, EventDraft,
    JsonlWriter, PublicKey, Start, VerifyOptions, seal, verify_csv, verify_jsonl,
};
use chrono::{TimeZone, Utc};
use serde_json::json;

fn main() {
    if let Ok(kind) = std::env::var("AUDIT_BENCH_CHILD") {
        child(&kind);
        return;
    }
    let events: u64 = std::env::var("AUDIT_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    // AUDIT_BENCH_DIR keeps the generated files there (for profiling the child by hand).
    let tmp = tempfile::tempdir().unwrap();
    let dir =
        std::env::var_os("AUDIT_BENCH_DIR").map_or_else(|| tmp.path().to_owned(), PathBuf::from);
    let jsonl_path = dir.join("ledger.jsonl");
    let csv_path = dir.join("ledger.csv");
    let key = CheckpointKey::generate();

    let started = Instant::now();
    generate(events, &key, &jsonl_path, &csv_path);
    let secs = started.elapsed().as_secs_f64();
    let size = std::fs::metadata(&jsonl_path).unwrap().len();
    println!(
        "generate  {events} events: {secs:.2} s, {:.0} events/s (seal + JSONL + CSV writers); JSONL {:.1} MB, {:.0} bytes/event",
        events as f64 / secs,
        size as f64 / 1e6,
        size as f64 / events as f64
    );

    let b64 = key.public_key().to_base64();
    let runs: usize = std::env::var("AUDIT_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    for kind in ["jsonl", "csv"] {
        let path = if kind == "jsonl" {
            &jsonl_path
        } else {
            &csv_path
        };
        let mut results: Vec<(f64, String)> = (0..runs)
            .map(|_| {
                let out = Command::new(std::env::current_exe().unwrap())
                    .env("AUDIT_BENCH_CHILD", kind)
                    .env("AUDIT_BENCH_FILE", path)
                    .env("AUDIT_BENCH_KEY", &b64)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                let wall: f64 = line
                    .split(" in ")
                    .nth(1)
                    .and_then(|r| r.split(' ').next())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(f64::MAX);
                (wall, line)
            })
            .collect();
        results.sort_by(|a, b| a.0.total_cmp(&b.0));
        println!("{}  [best of {runs}]", results[0].1);
        println!("{}  [median of {runs}]", results[runs / 2].1);
    }

    if std::env::var("AUDIT_BENCH_PYTHON").as_deref() == Ok("0") {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/verify_ledger.py");
    let started = Instant::now();
    let child = Command::new("python3")
        .arg(&script)
        .arg(&jsonl_path)
        .args(["--key", &b64])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    let (out, peak_kb, cpu) = wait_sampling(child);
    let secs = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "python    verify JSONL: {} in {secs:.2} s wall / {cpu:.2} s CPU: {:.0} events/s wall, {:.0} events per CPU-second; peak RSS {:.1} MB (whole process, incl. start-up)",
        stdout.trim(),
        events as f64 / secs,
        events as f64 / cpu,
        peak_kb as f64 / 1024.0
    );
}

/// Generates the exports: plausible events (ids shaped like UUIDs, phone subjects, small
/// details), the size the dashboard will produce.
fn generate(events: u64, key: &CheckpointKey, jsonl_path: &Path, csv_path: &Path) {
    let org = "0190f5e2-7c4b-7d3a-9e1f-1234567890ab";
    let mut jsonl = JsonlWriter::new(BufWriter::new(File::create(jsonl_path).unwrap()));
    let mut csv = CsvWriter::new(BufWriter::new(File::create(csv_path).unwrap())).unwrap();
    let actions = [
        Action::parse("pin.rotation.started").unwrap(),
        Action::parse("pin.rotated").unwrap(),
        Action::parse("review.completed").unwrap(),
        Action::parse("handover.accepted").unwrap(),
    ];
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut head = ChainHead::GENESIS;
    for i in 0..events {
        let draft = EventDraft {
            actor: if i % 5 == 0 {
                Actor::system()
            } else {
                Actor::user(&format!("0190f5e2-7c4b-7d3a-9e1f-{:012}", i % 50)).unwrap()
            },
            action: actions[(i % 4) as usize].clone(),
            subject: format!("phone:1{:014}", i % 20_000),
            details: Details::new(json!({
                "attempt_id": format!("0190f5e3-{:04x}-7d3a-9e1f-{:012}", i % 65_536, i),
                "version": i / 4,
            }))
            .unwrap(),
        };
        let at = t0 + chrono::Duration::microseconds(i as i64 * 1_234_567);
        let event = seal(org, &head, at, draft).unwrap();
        jsonl.write_event(&event).unwrap();
        csv.write_event(&event).unwrap();
        head = ChainHead::from(&event);
    }
    let cp = key
        .sign(Checkpoint::new(org, &head, t0 + chrono::Duration::days(400)).unwrap())
        .unwrap();
    jsonl
        .finish(&cp)
        .unwrap()
        .into_inner()
        .unwrap()
        .sync_all()
        .unwrap();
    csv.finish(&cp)
        .unwrap()
        .into_inner()
        .unwrap()
        .sync_all()
        .unwrap();
}

/// Child mode: verify one file with the pinned key, print throughput and own peak RSS.
fn child(kind: &str) {
    let path = PathBuf::from(std::env::var("AUDIT_BENCH_FILE").unwrap());
    let key = PublicKey::from_base64(&std::env::var("AUDIT_BENCH_KEY").unwrap()).unwrap();
    let options = VerifyOptions {
        pinned_key: Some(key),
        start: Start::Genesis,
    };
    let input = BufReader::with_capacity(256 * 1024, File::open(&path).unwrap());
    let cpu_before = cpu_seconds().unwrap_or(f64::NAN);
    let started = Instant::now();
    let report = match kind {
        "csv" => verify_csv(input, &options),
        _ => verify_jsonl(input, &options),
    }
    .unwrap();
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds().unwrap_or(f64::NAN) - cpu_before;
    let size = std::fs::metadata(&path).unwrap().len();
    println!(
        "rust      verify {:5}: ok {} events in {secs:.3} s wall / {cpu:.3} s CPU: {:.0} events/s wall, {:.0} events per CPU-second, {:.0} MB/s; peak RSS {:.1} MB (whole child process)",
        kind.to_uppercase(),
        report.events,
        report.events as f64 / secs,
        report.events as f64 / cpu,
        size as f64 / 1e6 / secs,
        vm_hwm_kb(std::process::id()).unwrap_or(0) as f64 / 1024.0
    );
}

/// CPU time of this (single-threaded) process so far, from /proc/self/schedstat (ns on CPU):
/// on a machine shared with other work, wall time overstates the cost.
fn cpu_seconds() -> Option<f64> {
    cpu_seconds_of("self")
}

fn cpu_seconds_of(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).ok()?;
    let ns: f64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Waits for `child`, sampling its peak RSS and CPU time every 10 ms (a process's /proc
/// entries vanish when it is reaped, so the last sample stands for the end).
fn wait_sampling(mut child: Child) -> (std::process::Output, u64, f64) {
    let pid = child.id();
    let mut peak = 0;
    let mut cpu = 0.0_f64;
    // Drain the pipes on threads so a chatty child never blocks on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut buf).unwrap();
        buf
    });
    let err_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut buf).unwrap();
        buf
    });
    let status = loop {
        if let Some(kb) = vm_hwm_kb(pid) {
            peak = peak.max(kb);
        }
        if let Some(secs) = cpu_seconds_of(&pid.to_string()) {
            cpu = cpu.max(secs);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let output = std::process::Output {
        status,
        stdout: out_thread.join().unwrap(),
        stderr: err_thread.join().unwrap(),
    };
    (output, peak, cpu)
}
