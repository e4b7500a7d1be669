//! A run folder as a long nightly etcd register run leaves it, without a
//! cluster: for measuring `chaos report DIR` on a large history and for
//! looking at its plots. Numbers for BENCHMARKS.md.
//!
//!     cargo run --release --example report_run -- DIR [OPS] [--invalid]
//!
//! Writes DIR/test.json (a completed run) and DIR/history.jsonl: OPS
//! (default 100,000) completed client ops of 10 workers on rotating keys,
//! about 150 ops/s, a fault every 30 s held 10 s (a partition isolating n1,
//! then a kill of n2, in turn) during which the cut-off node's ops time out
//! (`info`, 1 s) or are refused (`fail`). The results are those of one
//! register per key applied at a point inside each op, so the history is
//! linearizable; `--invalid` makes one read return a value never written.
//! Then: `/usr/bin/time -v target/release/chaos report DIR`.

use std::collections::HashMap;
use std::fmt::Write;
use std::path::PathBuf;

use chaos_nemeses::rng::Rng;
use serde_json::{json, Value};

/// A uniform fraction in `0..1` from the harness's seeded generator (so the
/// folder is the same every time): the top 53 bits of a draw.
fn unit(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

const MS: u64 = 1_000_000;
const WORKERS: u64 = 10;
const OPS_PER_KEY: u64 = 200;
const FAULT_EVERY: u64 = 30_000 * MS;
const FAULT_HOLDS: u64 = 10_000 * MS;

struct Planned {
    process: u64,
    key: u64,
    f: &'static str,
    value: Value,
    node: &'static str,
    invoke: u64,
    complete: u64,
    /// When it takes effect, if it does.
    at: Option<u64>,
    outcome: &'static str,
    error: Option<&'static str>,
}

/// The node cut off at `t`, if a fault is in force: n1 by a partition on
/// odd windows, n2 by a kill on even ones.
fn cut_off(t: u64) -> Option<&'static str> {
    let window = t / FAULT_EVERY;
    let into = t % FAULT_EVERY;
    match (window > 0 && into < FAULT_HOLDS, window % 2) {
        (false, _) => None,
        (true, 1) => Some("n1"),
        (true, _) => Some("n2"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let invalid = args.iter().any(|a| a == "--invalid");
    let mut positional = args.iter().filter(|a| !a.starts_with("--"));
    let Some(dir) = positional.next().map(PathBuf::from) else {
        eprintln!("usage: report_run DIR [OPS] [--invalid]");
        std::process::exit(254);
    };
    let ops: u64 = positional
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let mut rng = Rng::new(7);

    // Each worker: op, think, op... one process id until an op ends info.
    let mut planned = Vec::new();
    let mut next_free = vec![0u64; WORKERS as usize];
    let mut process: Vec<u64> = (0..WORKERS).collect();
    let mut fresh = WORKERS;
    for n in 0..ops {
        let w = (0..WORKERS as usize).min_by_key(|&w| next_free[w]).unwrap();
        let invoke = next_free[w];
        let node = ["n1", "n2", "n3"][w % 3];
        let key = n / OPS_PER_KEY;
        let (f, value) = match rng.below::<u64>(10) {
            0..=3 => ("read", Value::Null),
            4..=7 => ("write", json!(rng.below::<u64>(5))),
            _ => ("cas", json!([rng.below::<u64>(5), rng.below::<u64>(5)])),
        };
        // Mostly 1-4 ms, one in fifty up to 60 ms, one in a thousand 1 s.
        let mut latency = MS + (unit(&mut rng) * 3.0 * MS as f64) as u64;
        if rng.below::<u64>(50) == 0 {
            latency += rng.below::<u64>(60 * MS);
        }
        if rng.below::<u64>(1000) == 0 {
            latency += 1_000 * MS;
        }
        let (mut outcome, mut error) = ("ok", None);
        if cut_off(invoke) == Some(node) {
            if rng.below::<u64>(2) == 0 {
                (outcome, error, latency) = ("info", Some("timeout"), 1_000 * MS);
            } else {
                (outcome, error, latency) = ("fail", Some("unavailable"), MS);
            }
        }
        let complete = invoke + latency;
        // An info write may take effect or not; a refused op certainly not.
        let takes_effect = match outcome {
            "fail" => false,
            "info" => f != "read" && rng.below::<u64>(2) == 0,
            _ => true,
        };
        let at = takes_effect.then(|| invoke + (unit(&mut rng) * latency as f64) as u64);
        planned.push(Planned {
            process: process[w],
            key,
            f,
            value,
            node,
            invoke,
            complete,
            at,
            outcome,
            error,
        });
        if outcome == "info" {
            process[w] = fresh;
            fresh += 1;
        }
        next_free[w] = complete + 40 * MS + rng.below::<u64>(40 * MS);
    }

    // One register per key, applied in the order the ops take effect.
    let mut order: Vec<usize> = (0..planned.len())
        .filter(|&i| planned[i].at.is_some())
        .collect();
    order.sort_by_key(|&i| planned[i].at);
    let mut registers: HashMap<u64, Value> = HashMap::new();
    for i in order {
        let p = &mut planned[i];
        let register = registers.entry(p.key).or_insert(Value::Null);
        match p.f {
            "read" => p.value = register.clone(),
            "write" => *register = p.value.clone(),
            _ => {
                if *register == p.value[0] {
                    *register = p.value[1].clone();
                } else if p.outcome == "ok" {
                    (p.outcome, p.error) = ("fail", Some("mismatch"));
                }
            }
        }
    }
    if invalid {
        let reads: Vec<usize> = (0..planned.len())
            .filter(|&i| planned[i].f == "read" && planned[i].outcome == "ok")
            .collect();
        match reads.get(reads.len() / 2) {
            Some(&middle) => planned[middle].value = json!(424242),
            None => eprintln!("no ok read to make invalid: the history stays valid"),
        }
    }

    let mut events: Vec<(u64, String)> = Vec::new();
    for p in &planned {
        let line = |kind: &str, value: &Value| {
            let mut op = json!({"process": p.process, "type": kind, "f": p.f, "key": p.key, "value": value, "node": p.node});
            if kind != "invoke" {
                if let Some(e) = p.error {
                    op["error"] = json!(e);
                }
            }
            op
        };
        let invoked = match p.f {
            "read" => Value::Null,
            _ => p.value.clone(),
        };
        events.push((p.invoke, line("invoke", &invoked).to_string()));
        let value = match p.outcome {
            "info" if p.f == "read" => Value::Null,
            _ => p.value.clone(),
        };
        events.push((p.complete, line(p.outcome, &value).to_string()));
    }
    let end = events.iter().map(|e| e.0).max().unwrap_or(0);
    let mut t = FAULT_EVERY;
    while t + FAULT_HOLDS < end {
        let (f, value) = match cut_off(t) {
            Some("n1") => ("partition", json!("n1 | n2,n3")),
            _ => ("kill", json!("n2")),
        };
        let nemesis = |f: String, value: &Value| {
            json!({"process": "nemesis", "type": "info", "f": f, "value": value}).to_string()
        };
        events.push((t, nemesis(format!("start-{f}"), &value)));
        events.push((
            t + 150 * MS,
            nemesis(format!("{f}-in-force"), &json!({"ms": 150})),
        ));
        events.push((t + FAULT_HOLDS, nemesis(format!("stop-{f}"), &value)));
        t += FAULT_EVERY;
    }
    events.sort_by_key(|e| e.0);

    let mut history = String::new();
    for (index, (time, line)) in events.iter().enumerate() {
        // {"index":..,"time":.., then the rest of the op.
        let _ = writeln!(
            history,
            "{{\"index\":{index},\"time\":{time},{}",
            &line[1..]
        );
    }
    std::fs::create_dir_all(&dir).expect("the folder can be made");
    std::fs::write(dir.join("history.jsonl"), history).expect("history.jsonl written");
    let test = json!({
        "run_id": "report-run", "test": "etcd-register", "system": "etcd",
        "workload": "register", "backend": "docker", "nodes": 3,
        "nemesis": "partition-one,kill", "nemesis_interval_s": 30.0,
        "time_limit_s": (end / 1_000_000_000) as f64, "concurrency": WORKERS,
        "rate": 150.0, "seed": 7, "read": "linearizable", "keep_cluster": false,
        "results": "results", "command": "cargo run --example report_run",
        "harness_version": env!("CARGO_PKG_VERSION"), "started": "2026-11-30 03:00Z",
        "ended": "completed",
    });
    std::fs::write(dir.join("test.json"), test.to_string()).expect("test.json written");
    println!(
        "{}: {ops} ops, {} history lines, {:.0} s of run",
        dir.display(),
        events.len(),
        end as f64 / 1e9
    );
}
