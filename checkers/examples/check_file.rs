//! Checks one history file (kv model unless CHAOS_MODEL says otherwise) and prints the verdict, time
//! and peak memory: for the no-split targets of BENCHMARKS.md, which take
//! seconds and gigabytes, too much for criterion.
//!
//!     cargo run --release -p chaos-checkers --example check_file -- FILE [--no-split] [threads]

use chaos_checkers::history::format::read_history;
use chaos_checkers::linear::{self, LinearOptions, ModelKind};
use serde_json::Value;
use std::path::Path;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let file = args
        .first()
        .expect("usage: check_file FILE [--no-split] [threads]");
    let split_keys = !args.iter().any(|a| a == "--no-split");
    let threads = args.iter().find_map(|a| a.parse().ok()).unwrap_or(1);
    let history = read_history(Path::new(file), None).unwrap_or_else(|e| panic!("{e}"));
    // CHAOS_MODEL: another model (cas-register for the etcd corpus).
    let model: ModelKind = std::env::var("CHAOS_MODEL")
        .map_or(Ok(ModelKind::Kv), |m| m.parse())
        .expect("CHAOS_MODEL names a model");
    let options = LinearOptions {
        model,
        initial: match model {
            ModelKind::Kv => Value::String(String::new()),
            _ => Value::Null,
        },
        split_keys,
        threads,
        // CHAOS_MEMORY_MIB: another memory budget (the default is half the
        // memory available), to see how much a search would need.
        memory_budget: std::env::var("CHAOS_MEMORY_MIB")
            .ok()
            .and_then(|m| m.parse::<usize>().ok())
            .map(|m| m << 20),
        ..Default::default()
    };
    // CHAOS_REPEAT: check this many times and report the fastest, for
    // histories that take milliseconds.
    let repeat: u32 = std::env::var("CHAOS_REPEAT")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let mut elapsed = std::time::Duration::MAX;
    let mut report = None;
    for _ in 0..repeat.max(1) {
        let started = Instant::now();
        report = Some(linear::check(&history, &options).expect("the history is well formed"));
        elapsed = elapsed.min(started.elapsed());
    }
    let report = report.expect("checked at least once");
    for key in &report.keys {
        println!(
            "key {}: {} ({} configurations){}{}",
            key.key,
            key.validity.as_str(),
            key.explored,
            key.failure
                .as_ref()
                .map(|f| format!(" at op {} {}", f.op.index, f.op.f))
                .unwrap_or_default(),
            key.unknown_reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
    }
    println!(
        "{}: {} in {:.2?}, peak memory {} MiB",
        file,
        report.validity.as_str(),
        elapsed,
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
