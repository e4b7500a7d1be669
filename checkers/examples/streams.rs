//! Generates a large log or queue history (`synth_streams`), checks it in
//! this process, and writes it as JSONL to time `chaos check` end to end:
//! the log and queue scale targets of BENCHMARKS.md.
//!
//!     cargo run --release -p chaos-checkers --example streams -- log 1000000 /tmp/log-1m.jsonl
//!     cargo run --release -p chaos-checkers --example streams -- queue 1000000 /tmp/queue-1m.jsonl
//!
//! The seed is fixed: the same arguments give the same file, byte for byte.

use chaos_checkers::history::jsonl::write_jsonl;
use chaos_checkers::log::check_log;
use chaos_checkers::queue::{check_queue, QueueOptions};
use chaos_checkers::synth_streams::{log_history, queue_history, LogSpec, QueueSpec};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: streams log|queue [OPS] [FILE.jsonl]";
    let kind = args.first().map(String::as_str).unwrap_or("log");
    let ops: u64 = match args.get(1) {
        Some(n) => n.parse().expect(usage),
        None => 1_000_000,
    };
    let started = Instant::now();
    let history = match kind {
        "log" => log_history(&LogSpec {
            ops,
            ..LogSpec::million()
        }),
        "queue" => queue_history(&QueueSpec {
            ops,
            ..QueueSpec::million()
        }),
        _ => panic!("{usage}"),
    };
    let generated = started.elapsed();
    let started = Instant::now();
    let verdict = if kind == "log" {
        check_log(&history)
            .expect("generated histories are well formed")
            .validity
    } else {
        check_queue(&history, &QueueOptions::default())
            .expect("generated histories are well formed")
            .validity
    };
    let checked = started.elapsed();
    println!(
        "{kind}: {ops} ops, {} entries: {} in {checked:.2?} (generated in {generated:.2?}), \
         peak memory {} MiB",
        history.ops.len(),
        verdict.as_str(),
        peak_rss_kib() / 1024
    );
    if let Some(path) = args.get(2) {
        let mut out = std::fs::File::create(path).expect("the output file is writable");
        write_jsonl(&history, &mut out).expect("the history is written");
        println!("written to {path}");
    }
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
