//! `report.md`: the run report, in the shape of the replicated-log run
//! reports ops people already keep (run metadata, throughput and latency,
//! durability evidence, fault timeline, node log signals, assessment).

use super::examples;
use super::units::{duration, offset};
use chaos_checkers::history::{History, OpType};
use chaos_checkers::linear::{LinearReport, OpSummary};
use chaos_checkers::log::LogReport;
use chaos_checkers::perf::{FaultWindow, Perf};
use chaos_checkers::queue::QueueReport;
use chaos_checkers::Validity;
use std::fmt::Write;

/// One checker's verdict and what it found.
pub enum Evidence<'a> {
    Linearizable(&'a LinearReport),
    Queue(&'a QueueReport),
    Log(&'a LogReport),
}

impl Evidence<'_> {
    fn validity(&self) -> Validity {
        match self {
            Evidence::Linearizable(r) => r.validity,
            Evidence::Queue(r) => r.validity,
            Evidence::Log(r) => r.validity,
        }
    }
}

/// A node log line worth reading next to the faults (an election, a leader
/// change, a timeout), with when it was written in run time.
pub struct NodeSignal {
    pub node: String,
    pub time: u64,
    pub line: String,
}

pub struct RunReport<'a> {
    pub title: String,
    /// When the run began, UTC, as `2026-02-18 15:45Z`.
    pub started: String,
    pub command: String,
    pub cluster: String,
    pub endpoints: Vec<String>,
    pub parameters: Vec<(String, String)>,
    pub artifacts: Vec<String>,
    pub history: &'a History,
    pub perf: &'a Perf,
    pub evidence: Vec<Evidence<'a>>,
    pub signals: Vec<NodeSignal>,
}

/// How many examples of one kind a report spells out.
pub(super) const EXAMPLES: usize = 3;

pub fn markdown(run: &RunReport<'_>) -> String {
    let mut out = String::new();
    let _ = write_report(&mut out, run);
    out
}

fn write_report(out: &mut String, run: &RunReport<'_>) -> std::fmt::Result {
    writeln!(out, "## {} {}\n", run.started, run.title)?;
    metadata(out, run)?;
    throughput(out, run.perf)?;
    durability(out, run)?;
    timeline(out, &run.perf.faults)?;
    signals(out, &run.signals)?;
    assessment(out, run)
}

fn metadata(out: &mut String, run: &RunReport<'_>) -> std::fmt::Result {
    writeln!(out, "### Run Metadata")?;
    writeln!(out, "- Command: `{}`", run.command)?;
    writeln!(out, "- Cluster: {}", run.cluster)?;
    writeln!(out, "- Endpoints: {}", run.endpoints.join(", "))?;
    let params: Vec<String> = run
        .parameters
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    writeln!(out, "- Parameters: {}", params.join(", "))?;
    writeln!(out, "- Artifacts:")?;
    for artifact in &run.artifacts {
        writeln!(out, "  - `{artifact}`")?;
    }
    writeln!(out)
}

fn throughput(out: &mut String, perf: &Perf) -> std::fmt::Result {
    let o = perf.outcomes;
    let l = perf.latency;
    writeln!(out, "### Throughput and Latency")?;
    writeln!(
        out,
        "- Operations: **{}** (ok **{}** / fail **{}** / info **{}**)",
        o.ok + o.fail + o.info,
        o.ok,
        o.fail,
        o.info
    )?;
    writeln!(out, "- Duration: **{}**", duration(perf.duration))?;
    writeln!(out, "- Throughput: **{:.0} ok/s**", perf.ok_per_second)?;
    writeln!(
        out,
        "- Latency (ok ops): p50 **{}**, p95 **{}**, p99 **{}**, p99.9 **{}**, max **{}**\n",
        duration(l.p50),
        duration(l.p95),
        duration(l.p99),
        duration(l.p999),
        duration(l.max)
    )?;
    writeln!(out, "| f | ok ops | p50 | p95 | p99 | p99.9 | max |")?;
    writeln!(out, "|---|---|---|---|---|---|---|")?;
    for (f, l) in &perf.latency_by_f {
        let cells = [l.p50, l.p95, l.p99, l.p999, l.max]
            .map(duration)
            .join(" | ");
        writeln!(out, "| {f} | {} | {cells} |", l.count)?;
    }
    writeln!(out)
}

fn verdict_word(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "PASS",
        Validity::Invalid => "FAIL",
        Validity::Unknown => "UNDECIDED",
    }
}

fn overall(run: &RunReport<'_>) -> Validity {
    run.evidence.iter().map(Evidence::validity).collect()
}

fn durability(out: &mut String, run: &RunReport<'_>) -> std::fmt::Result {
    writeln!(out, "### Durability Evidence")?;
    let v = overall(run);
    writeln!(out, "- Verdict: **{}** ({})", verdict_word(v), v.as_str())?;
    for evidence in &run.evidence {
        match evidence {
            Evidence::Linearizable(r) => linearizable(out, r, &run.perf.faults)?,
            Evidence::Queue(r) => queue(out, r, run)?,
            Evidence::Log(r) => log(out, r, run)?,
        }
    }
    writeln!(out)
}

pub(super) fn op(op: &OpSummary) -> String {
    let result = match op.outcome {
        OpType::Ok => format!("ok {}", op.result),
        other => other.as_str().to_string(),
    };
    let on = op
        .node
        .as_ref()
        .map_or(String::new(), |node| format!(" on {node}"));
    // A slow op's end matters as much as its start: show both when they
    // differ at the report's resolution.
    let start = offset(op.invoke_time);
    let when = match op.complete_time.map(offset) {
        Some(end) if end != start => format!("{start} until {end}"),
        _ => start,
    };
    format!(
        "op {} (process {}{on}: {} {} → {}, at {when})",
        op.index, op.process, op.f, op.value, result,
    )
}

/// `, during start-partition n1 | n2,n3` when the op began inside a fault.
pub(super) fn during(op: &OpSummary, faults: &[FaultWindow]) -> String {
    faults
        .iter()
        .find(|w| w.start <= op.invoke_time && w.end.is_none_or(|end| op.invoke_time < end))
        .map_or(String::new(), |w| match &w.value {
            serde_json::Value::String(s) => format!(", during {} `{s}`", w.f),
            serde_json::Value::Null => format!(", during {}", w.f),
            other => format!(", during {} `{other}`", w.f),
        })
}

fn linearizable(out: &mut String, r: &LinearReport, faults: &[FaultWindow]) -> std::fmt::Result {
    writeln!(
        out,
        "- Linearizability ({}): **{}**: keys: {} ({} valid / {} invalid / {} unknown); ops checked: {}",
        r.model,
        r.validity.as_str(),
        r.keys.len(),
        r.keys_valid,
        r.keys_invalid,
        r.keys_unknown,
        r.ops
    )?;
    for key in r.keys.iter().filter(|k| k.failure.is_some()).take(EXAMPLES) {
        let f = key.failure.as_ref().expect("filtered on failures");
        writeln!(
            out,
            "  - key `{}`: {} cannot be linearized{}",
            key.key,
            op(&f.op),
            during(&f.op, faults)
        )?;
        match &f.reason {
            Some(why) => writeln!(out, "    - {why}")?,
            None => writeln!(
                out,
                "    - state before it: `{}`; longest linearizable prefix: {} ops",
                f.state,
                f.prefix.len()
            )?,
        }
        for c in f.concurrent.iter().take(5) {
            writeln!(out, "    - concurrent: {}", op(c))?;
        }
    }
    for key in r
        .keys
        .iter()
        .filter(|k| k.unknown_reason.is_some())
        .take(EXAMPLES)
    {
        writeln!(
            out,
            "  - key `{}`: undecided: {}",
            key.key,
            key.unknown_reason.as_deref().unwrap_or("")
        )?;
    }
    Ok(())
}

fn queue(out: &mut String, r: &QueueReport, run: &RunReport<'_>) -> std::fmt::Result {
    writeln!(out, "- Queue: **{}**", r.validity.as_str())?;
    writeln!(
        out,
        "- Enqueued (acknowledged): **{}** of {} attempted; dequeued: **{}**",
        r.acknowledged, r.attempted, r.dequeued
    )?;
    writeln!(
        out,
        "- Lost/Duplicated/Unexpected/Failed-but-dequeued: **{}/{}/{}/{}**",
        r.lost.count, r.duplicated.count, r.unexpected.count, r.failed_but_dequeued.count
    )?;
    writeln!(
        out,
        "- Recovered (indeterminate enqueues later seen): {}; pending (no drain after them): {}",
        r.recovered.count, r.pending.count
    )?;
    examples::loss_certainty(out, r)?;
    // The sum ops people check first: every acknowledged element is out
    // exactly once, lost, or still waiting for a drain.
    let out_once = r
        .acknowledged
        .saturating_sub(r.lost.count + r.pending.count);
    writeln!(
        out,
        "- Accounting: acknowledged {} = dequeued {} + lost {} + pending {}{}",
        r.acknowledged,
        out_once,
        r.lost.count,
        r.pending.count,
        if r.drained {
            ""
        } else {
            " (no final drain completed: losses cannot be told from pending)"
        }
    )?;
    examples::queue_examples(out, r, run.history, &run.perf.faults)
}

fn log(out: &mut String, r: &LogReport, run: &RunReport<'_>) -> std::fmt::Result {
    let c = &r.counts;
    writeln!(out, "- Log: **{}**", r.validity.as_str())?;
    writeln!(
        out,
        "- Produced: **{}**, Consumed: **{}**",
        c.produced, c.consumed
    )?;
    writeln!(out, "- Lost/Unseen: **{}/{}**", c.lost, c.unseen)?;
    writeln!(
        out,
        "- Gaps/Duplicates/Out-of-order: **{}/{}/{}**",
        c.gaps, c.duplicates, c.out_of_order
    )?;
    writeln!(
        out,
        "- Accounting: produced (acknowledged) {} = read {} + lost {} + unseen {}; consumed also counts {} value(s) whose append ended indeterminate or never completed",
        c.produced,
        c.delivered,
        c.lost,
        c.unseen,
        c.consumed.saturating_sub(c.delivered)
    )?;
    examples::log_examples(out, r, run.history, &run.perf.faults)
}

fn timeline(out: &mut String, faults: &[FaultWindow]) -> std::fmt::Result {
    writeln!(out, "### Fault Timeline")?;
    if faults.is_empty() {
        return writeln!(out, "No faults were injected.\n");
    }
    writeln!(out, "| start | end | fault | detail |")?;
    writeln!(out, "|---|---|---|---|")?;
    for w in faults {
        let end = w.end.map_or("still active at the end".to_string(), offset);
        let detail = match &w.value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        writeln!(
            out,
            "| {} | {} | {} | {} |",
            offset(w.start),
            end,
            w.f,
            detail.replace('|', "\\|")
        )?;
    }
    writeln!(out)
}

fn signals(out: &mut String, signals: &[NodeSignal]) -> std::fmt::Result {
    writeln!(out, "### Node Log Signals")?;
    if signals.is_empty() {
        return writeln!(
            out,
            "No election, leader change or timeout lines in the node logs.\n"
        );
    }
    for s in signals.iter().take(20) {
        writeln!(out, "- {} {}: `{}`", s.node, offset(s.time), s.line)?;
    }
    if signals.len() > 20 {
        writeln!(out, "- ... {} more in `nodes/`", signals.len() - 20)?;
    }
    writeln!(out)
}

/// (ok, completed) for completions inside and outside fault windows.
fn availability(history: &History, faults: &[FaultWindow]) -> [(usize, usize); 2] {
    let start = history.ops.iter().map(|op| op.time).min().unwrap_or(0);
    let mut counts = [(0, 0); 2];
    for op in history
        .ops
        .iter()
        .filter(|op| op.is_client() && op.kind != OpType::Invoke)
    {
        let t = op.time - start;
        let during = faults
            .iter()
            .any(|w| w.start <= t && w.end.is_none_or(|e| t < e));
        let slot = &mut counts[during as usize];
        slot.1 += 1;
        slot.0 += (op.kind == OpType::Ok) as usize;
    }
    counts
}

fn percent((ok, all): (usize, usize)) -> String {
    if all == 0 {
        "no operations".to_string()
    } else {
        format!("{:.1}% ok of {all}", 100.0 * ok as f64 / all as f64)
    }
}

fn assessment(out: &mut String, run: &RunReport<'_>) -> std::fmt::Result {
    writeln!(out, "### Assessment")?;
    let v = overall(run);
    let meaning = match v {
        Validity::Valid => "no anomaly in this window",
        Validity::Invalid => "the history shows an anomaly: see the evidence above",
        Validity::Unknown => {
            "the checkers could not decide within their budgets: raise them or shorten the run"
        }
    };
    writeln!(
        out,
        "- **Durability verdict**: {} ({meaning}).",
        verdict_word(v)
    )?;
    let [outside, during] = availability(run.history, &run.perf.faults);
    writeln!(
        out,
        "- **Availability**: outside faults {}; during faults {}.",
        percent(outside),
        percent(during)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chaos_checkers::history::{Op, Process};
    use chaos_checkers::linear::{self, LinearOptions, ModelKind};
    use chaos_checkers::perf::perf;
    use serde_json::{json, Value};

    fn op(ms: u64, process: Process, kind: OpType, f: &str, value: Value) -> Op {
        Op {
            index: 0,
            time: ms * 1_000_000,
            process,
            kind,
            f: f.into(),
            key: Some(json!("k")),
            value,
            node: None,
            error: None,
        }
    }

    /// A write, a partition, a stale read during it, and the heal.
    fn history() -> History {
        let c = Process::Client;
        let mut ops = vec![
            op(0, c(0), OpType::Invoke, "write", json!(1)),
            op(10, c(0), OpType::Ok, "write", json!(1)),
            op(
                100,
                Process::Nemesis,
                OpType::Info,
                "start-partition",
                json!("n1,n2 | n3"),
            ),
            op(120, c(1), OpType::Invoke, "write", json!(2)),
            op(130, c(1), OpType::Ok, "write", json!(2)),
            Op {
                node: Some("n3".into()),
                ..op(140, c(0), OpType::Invoke, "read", Value::Null)
            },
            op(150, c(0), OpType::Ok, "read", json!(1)),
            op(160, c(2), OpType::Invoke, "write", json!(3)),
            op(300, c(2), OpType::Info, "write", json!(3)),
            op(
                400,
                Process::Nemesis,
                OpType::Info,
                "stop-partition",
                Value::Null,
            ),
        ];
        for (i, o) in ops.iter_mut().enumerate() {
            o.index = i as u64;
        }
        History::new(ops)
    }

    fn report(history: &History, linear: &LinearReport) -> String {
        let perf = perf(history, 10);
        markdown(&RunReport {
            title: "etcd register, partition-halves".into(),
            started: "2026-11-24 03:00Z".into(),
            command: "chaos run --nemesis partition-halves --read serializable".into(),
            cluster: "docker, etcd 3.4, 3 nodes".into(),
            endpoints: vec!["n1 127.0.0.1:32770".into()],
            parameters: vec![
                ("concurrency".into(), "3".into()),
                ("seed".into(), "7".into()),
            ],
            artifacts: vec!["history.jsonl".into(), "results.json".into()],
            history,
            perf: &perf,
            evidence: vec![Evidence::Linearizable(linear)],
            signals: vec![NodeSignal {
                node: "n3".into(),
                time: 105_000_000,
                line: "lost leader".into(),
            }],
        })
    }

    #[test]
    fn a_stale_read_makes_a_failing_report_that_names_it() {
        let h = history();
        let options = LinearOptions {
            model: ModelKind::CasRegister,
            threads: 1,
            ..Default::default()
        };
        let linear = linear::check(&h, &options).unwrap();
        assert_eq!(linear.validity, Validity::Invalid);
        let md = report(&h, &linear);
        for section in [
            "### Run Metadata",
            "### Throughput and Latency",
            "### Durability Evidence",
            "### Fault Timeline",
            "### Node Log Signals",
            "### Assessment",
        ] {
            assert!(md.contains(section), "{section} missing:\n{md}");
        }
        assert!(md.contains("- Verdict: **FAIL** (invalid)"), "{md}");
        assert!(
            md.contains("op 5 (process 0 on n3: read null → ok 1, at +0.1s) cannot be linearized, during start-partition `n1,n2 | n3`"),
            "{md}"
        );
        assert!(
            md.contains("| +0.1s | +0.4s | start-partition | n1,n2 \\| n3 |"),
            "{md}"
        );
        assert!(
            md.contains("- Operations: **4** (ok **3** / fail **0** / info **1**)"),
            "{md}"
        );
        assert!(md.contains("- n3 +0.1s: `lost leader`"), "{md}");
        assert!(
            md.contains("outside faults 100.0% ok of 1; during faults 66.7% ok of 3"),
            "{md}"
        );
    }

    #[test]
    fn a_valid_run_passes_and_says_so() {
        let mut h = history();
        h.ops[6].value = json!(2);
        let options = LinearOptions {
            model: ModelKind::CasRegister,
            threads: 1,
            ..Default::default()
        };
        let linear = linear::check(&h, &options).unwrap();
        let md = report(&h, &linear);
        assert!(md.contains("- Verdict: **PASS** (valid)"), "{md}");
        assert!(
            md.contains("**Durability verdict**: PASS (no anomaly in this window)"),
            "{md}"
        );
    }
}
