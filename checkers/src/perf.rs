//! Latency and throughput of a history, and the windows its faults were
//! active: the numbers and time lines of a run report.
//!
//! Latency is exact: every completed op's latency, sorted, quantiles read off
//! by rank. Fault windows come from nemesis ops: an op whose `f` starts with
//! `start` (`start`, `start-partition`, ...) opens a window that the next
//! nemesis op with the matching `stop` (`stop`, `stop-partition`, ...) closes;
//! a window still open at the end of the history has no end.

use crate::history::{History, OpType, Process};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Latency quantiles in nanoseconds, from invocation to completion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    pub count: usize,
    pub p50: u64,
    pub p95: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Latency {
    fn of(mut nanos: Vec<u64>) -> Self {
        nanos.sort_unstable();
        // Nearest rank: the smallest latency at least q of the ops did not exceed.
        let rank = |q: f64| {
            let i = (q * nanos.len() as f64).ceil() as usize;
            nanos.get(i.saturating_sub(1)).copied().unwrap_or(0)
        };
        Latency {
            count: nanos.len(),
            p50: rank(0.50),
            p95: rank(0.95),
            p99: rank(0.99),
            p999: rank(0.999),
            max: nanos.last().copied().unwrap_or(0),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcomes {
    pub ok: usize,
    pub fail: usize,
    pub info: usize,
}

impl Outcomes {
    fn add(&mut self, kind: OpType) {
        match kind {
            OpType::Ok => self.ok += 1,
            OpType::Fail => self.fail += 1,
            OpType::Info => self.info += 1,
            OpType::Invoke => {}
        }
    }
}

/// Completions in one slice of time, by outcome, with the slowest one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub start: u64,
    pub outcomes: Outcomes,
    pub max_latency: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultWindow {
    /// The `f` that opened it, e.g. `start-partition`.
    pub f: String,
    /// What the nemesis said it did (a grudge, a node name, ...).
    pub value: Value,
    pub start: u64,
    /// None when the history ended with the fault still active.
    pub end: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Perf {
    /// From the first to the last op, in nanoseconds.
    pub duration: u64,
    pub outcomes: Outcomes,
    /// Ok completions per second over the whole run.
    pub ok_per_second: f64,
    /// Latency of ok ops (failed and indeterminate ones are not service times).
    pub latency: Latency,
    pub latency_by_f: BTreeMap<String, Latency>,
    /// Width of each timeline bucket, in nanoseconds.
    pub bucket: u64,
    pub timeline: Vec<Bucket>,
    pub faults: Vec<FaultWindow>,
}

/// The bucket width for about `target` buckets, rounded to a readable step.
fn bucket_width(duration: u64, target: u64) -> u64 {
    const STEPS: [u64; 12] = [
        1_000_000,
        2_000_000,
        5_000_000,
        10_000_000,
        20_000_000,
        50_000_000,
        100_000_000,
        200_000_000,
        500_000_000,
        1_000_000_000,
        2_000_000_000,
        5_000_000_000,
    ];
    let wanted = duration / target.max(1);
    STEPS
        .into_iter()
        .find(|&s| s >= wanted)
        .unwrap_or_else(|| wanted.div_ceil(1_000_000_000) * 1_000_000_000)
}

/// The statistics of `history`, with a timeline of about `buckets` slices.
/// Client ops that never completed count as neither latency nor outcome.
pub fn perf(history: &History, buckets: u64) -> Perf {
    let start = history.ops.iter().map(|op| op.time).min().unwrap_or(0);
    let end = history.ops.iter().map(|op| op.time).max().unwrap_or(0);
    let duration = end - start;
    let width = bucket_width(duration, buckets);
    let mut timeline: Vec<Bucket> = (0..=duration / width)
        .map(|i| Bucket {
            start: i * width,
            ..Default::default()
        })
        .collect();
    let mut outcomes = Outcomes::default();
    let mut ok_latencies: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let mut invoked: BTreeMap<Process, u64> = BTreeMap::new();
    for op in history.ops.iter().filter(|op| op.is_client()) {
        if op.kind == OpType::Invoke {
            invoked.insert(op.process, op.time);
            continue;
        }
        let Some(since) = invoked.remove(&op.process) else {
            continue;
        };
        let latency = op.time.saturating_sub(since);
        outcomes.add(op.kind);
        let bucket = &mut timeline[((op.time - start) / width) as usize];
        bucket.outcomes.add(op.kind);
        bucket.max_latency = bucket.max_latency.max(latency);
        if op.kind == OpType::Ok {
            ok_latencies.entry(op.f.as_str()).or_default().push(latency);
        }
    }
    let all: Vec<u64> = ok_latencies.values().flatten().copied().collect();
    let seconds = duration as f64 / 1e9;
    Perf {
        duration,
        outcomes,
        ok_per_second: if seconds > 0.0 {
            outcomes.ok as f64 / seconds
        } else {
            0.0
        },
        latency: Latency::of(all),
        latency_by_f: ok_latencies
            .into_iter()
            .map(|(f, l)| (f.to_string(), Latency::of(l)))
            .collect(),
        bucket: width,
        timeline,
        faults: fault_windows(history, start),
    }
}

fn fault_windows(history: &History, start: u64) -> Vec<FaultWindow> {
    let mut windows: Vec<FaultWindow> = Vec::new();
    let mut open: BTreeMap<String, usize> = BTreeMap::new();
    for op in history
        .ops
        .iter()
        .filter(|op| op.process == Process::Nemesis)
    {
        let at = op.time - start;
        if let Some(kind) = op.f.strip_prefix("start") {
            if !open.contains_key(kind) {
                open.insert(kind.to_string(), windows.len());
                windows.push(FaultWindow {
                    f: op.f.clone(),
                    value: op.value.clone(),
                    start: at,
                    end: None,
                });
            }
        } else if let Some(kind) = op.f.strip_prefix("stop") {
            if let Some(i) = open.remove(kind) {
                windows[i].end = Some(at);
            }
        }
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Op;
    use serde_json::json;

    fn op(time_ms: u64, process: Process, kind: OpType, f: &str, value: Value) -> Op {
        Op {
            index: 0,
            time: time_ms * 1_000_000,
            process,
            kind,
            f: f.into(),
            key: None,
            value,
            node: None,
            error: None,
        }
    }

    fn client(time_ms: u64, p: u64, kind: OpType, f: &str) -> Op {
        op(time_ms, Process::Client(p), kind, f, Value::Null)
    }

    #[test]
    fn quantiles_are_exact_nearest_rank() {
        let l = Latency::of((1..=1000).collect());
        assert_eq!(
            (l.count, l.p50, l.p95, l.p99, l.p999, l.max),
            (1000, 500, 950, 990, 999, 1000)
        );
        assert_eq!(Latency::of(vec![]), Latency::default());
        assert_eq!(Latency::of(vec![7]).p999, 7);
    }

    #[test]
    fn latency_counts_ok_ops_only_and_outcomes_count_all_completions() {
        let history = History::new(vec![
            client(0, 0, OpType::Invoke, "read"),
            client(0, 1, OpType::Invoke, "write"),
            client(10, 0, OpType::Ok, "read"),
            client(30, 1, OpType::Info, "write"),
            client(30, 2, OpType::Invoke, "write"),
            client(50, 2, OpType::Ok, "write"),
            client(60, 3, OpType::Invoke, "cas"),
            client(70, 3, OpType::Fail, "cas"),
            client(80, 4, OpType::Invoke, "read"),
        ]);
        let p = perf(&history, 10);
        assert_eq!(
            p.outcomes,
            Outcomes {
                ok: 2,
                fail: 1,
                info: 1
            }
        );
        assert_eq!(p.latency.count, 2);
        assert_eq!(p.latency.max, 20_000_000);
        assert_eq!(p.latency_by_f["read"].p50, 10_000_000);
        assert!(!p.latency_by_f.contains_key("cas"));
        assert_eq!(p.duration, 80_000_000);
        assert!((p.ok_per_second - 25.0).abs() < 1e-9);
    }

    #[test]
    fn the_timeline_covers_the_run_in_readable_buckets() {
        let history = History::new(vec![
            client(0, 0, OpType::Invoke, "read"),
            client(5, 0, OpType::Ok, "read"),
            client(990, 0, OpType::Invoke, "read"),
            client(999, 0, OpType::Ok, "read"),
        ]);
        let p = perf(&history, 100);
        assert_eq!(p.bucket, 10_000_000);
        assert_eq!(p.timeline.len(), 100);
        assert_eq!(p.timeline[0].outcomes.ok, 1);
        assert_eq!(p.timeline[99].outcomes.ok, 1);
        assert_eq!(p.timeline[99].max_latency, 9_000_000);
        let total: usize = p.timeline.iter().map(|b| b.outcomes.ok).sum();
        assert_eq!(total, 2);
    }

    #[test]
    fn fault_windows_pair_start_and_stop_and_may_stay_open() {
        let n = Process::Nemesis;
        let history = History::new(vec![
            client(0, 0, OpType::Invoke, "read"),
            op(
                100,
                n,
                OpType::Info,
                "start-partition",
                json!("n1,n2 | n3,n4,n5"),
            ),
            op(150, n, OpType::Info, "start-kill", json!("n3")),
            op(300, n, OpType::Info, "stop-partition", Value::Null),
            op(400, n, OpType::Info, "start-partition", json!("n1 | n2,n3")),
            client(500, 0, OpType::Ok, "read"),
        ]);
        let w = perf(&history, 10).faults;
        assert_eq!(w.len(), 3);
        assert_eq!(
            (w[0].f.as_str(), w[0].start, w[0].end),
            ("start-partition", 100_000_000, Some(300_000_000))
        );
        assert_eq!(w[0].value, json!("n1,n2 | n3,n4,n5"));
        assert_eq!((w[1].f.as_str(), w[1].end), ("start-kill", None));
        assert_eq!((w[2].start, w[2].end), (400_000_000, None));
    }

    #[test]
    fn an_empty_history_has_empty_statistics() {
        let p = perf(&History::default(), 100);
        assert_eq!(p.outcomes, Outcomes::default());
        assert_eq!(p.ok_per_second, 0.0);
        assert!(p.faults.is_empty());
    }
}
