//! Checks one large synthetic register history and prints time and peak
//! memory: the scale targets of BENCHMARKS.md, too slow for criterion.
//!
//!     cargo run --release -p chaos-checkers --example scale -- 1000 500 [threads]
//!     (keys, operations per key); with CHAOS_SCALE_OUT=FILE the history
//!     is also written there as JSONL, to time `chaos check` end to end.

use chaos_checkers::linear::{self, LinearOptions, ModelKind};
use chaos_checkers::synth::{register_history, RegisterSpec};
use std::time::Instant;

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (keys, ops_per_key, threads) = (
        args.first().copied().unwrap_or(1000),
        args.get(1).copied().unwrap_or(500),
        args.get(2).copied().unwrap_or(1),
    );
    let spec = RegisterSpec {
        keys,
        clients_per_key: 5,
        groups: 8,
        ops_per_key,
        timeout_percent: 5,
        seed: 42,
    };
    let started = Instant::now();
    let history = register_history(&spec);
    let generated = started.elapsed();
    if let Ok(path) = std::env::var("CHAOS_SCALE_OUT") {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(&path).expect("CHAOS_SCALE_OUT is writable"),
        );
        chaos_checkers::history::jsonl::write_jsonl(&history, &mut out)
            .expect("the history is written");
    }
    let options = LinearOptions {
        model: ModelKind::CasRegister,
        threads: threads as usize,
        ..Default::default()
    };
    let started = Instant::now();
    let report = linear::check(&history, &options).expect("synthetic histories are well formed");
    println!(
        "{} entries, {} keys: {} in {:.2?} (generated in {:.2?}), peak memory {} MiB",
        history.ops.len(),
        report.keys.len(),
        report.validity.as_str(),
        started.elapsed(),
        generated,
        peak_rss_kib() / 1024
    );
}

/// Peak resident memory of this process (Linux), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
