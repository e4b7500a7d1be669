//! `report.md`: the run report, in the shape of the replicated-log run
//! reports ops people already keep (run metadata, throughput and latency,
//! durability evidence, fault timeline, node log signals, assessment).

use super::availability::availability;
use super::examples;
use super::plot::PLOTS;
use super::units::{duration, offset};
use chaos_checkers::history::{History, OpType, Process};
use chaos_checkers::linear::{LinearReport, OpSummary};
use chaos_checkers::log::LogReport;
use chaos_checkers::perf::{FaultWindow, Perf};
use chaos_checkers::queue::QueueReport;
use chaos_checkers::Validity;
use chaos_nemeses::Step;
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

    /// The property its checker judges: a stale read is a consistency
    /// failure, a lost element a durability one.
    fn property(&self) -> (&'static str, &'static str) {
        match self {
            Evidence::Linearizable(_) => ("Consistency", "Consistency (linearizability)"),
            Evidence::Queue(_) | Evidence::Log(_) => ("Durability", "Durability"),
        }
    }

    /// Why the checker could not decide, and what would decide it.
    fn undecided(&self) -> Option<String> {
        match self {
            Evidence::Linearizable(r) => linear_undecided(r),
            Evidence::Queue(r) => queue_undecided(r),
            Evidence::Log(r) => log_undecided(r),
        }
    }
}

/// The properties the evidence judges, short (`Consistency`) or long
/// (`Consistency (linearizability)`), each once, joined with `and`.
fn property(run: &RunReport<'_>, long: bool) -> String {
    let mut names: Vec<&str> = Vec::new();
    for e in &run.evidence {
        let (short, full) = e.property();
        let name = if long { full } else { short };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    match names.is_empty() {
        true => "Checker".to_string(),
        false => names.join(" and "),
    }
}

fn linear_undecided(r: &LinearReport) -> Option<String> {
    if r.keys_unknown == 0 {
        return None;
    }
    Some(format!(
        "the linearizability search ran out of its budget on {} key(s): re-check `history.jsonl` \
         with `chaos check --time-budget ... --memory-budget ...` and larger budgets, or shorten the run",
        r.keys_unknown
    ))
}

fn queue_undecided(r: &QueueReport) -> Option<String> {
    let mut reasons = Vec::new();
    if !r.lost.is_empty() && !r.loss_is_certain() {
        let drains = match r.indeterminate_drains {
            0 => String::new(),
            n => format!(" and {n} drain(s)"),
        };
        reasons.push(format!(
            "{} acknowledged element(s) never came out, but {} dequeue(s){drains} ended \
             indeterminate (info) and could have taken them unseen, so the loss cannot be decided: \
             a run with fewer indeterminate dequeues (a cluster healthy while they run, a longer \
             client timeout) would decide it",
            r.lost.count, r.indeterminate_dequeues
        ));
    }
    if !r.pending.is_empty() {
        let drain = if r.drained {
            "no drain completed after their acknowledgement"
        } else {
            "the final drain did not complete"
        };
        reasons.push(format!(
            "{} acknowledged element(s) were never looked for because {drain}: \
             a final drain that completes (a cluster healthy at the end, a longer \
             recovery before the drain) would decide them",
            r.pending.count
        ));
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

fn log_undecided(r: &LogReport) -> Option<String> {
    if r.validity != Validity::Unknown || r.counts.unseen == 0 {
        return None;
    }
    let unread: Vec<String> = r
        .keys
        .iter()
        .filter(|k| !k.final_read)
        .map(|k| {
            k.key
                .as_ref()
                .map_or("the log".to_string(), |key| format!("log `{key}`"))
        })
        .collect();
    let why = match unread.is_empty() {
        true => "no final read completed after they were acknowledged".to_string(),
        false => format!("no final read completed on {}", unread.join(", ")),
    };
    Some(format!(
        "{} acknowledged append(s) lie beyond every offset a read reached and {why}, \
         so whether they were lost cannot be decided: a final read that completes \
         (a cluster healthy at the end, a longer final phase) would decide it",
        r.counts.unseen
    ))
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
    /// Where the signals were looked for, and what came of it.
    pub search: SignalSearch,
    /// The partition shape (`halves`, `ring`, ...) when the run drew its
    /// partitions from one shape only: the history records the grudge, not
    /// the shape.
    pub partition_shape: Option<String>,
}

/// Which node logs a report looked in for signals, and what it found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SignalSearch {
    /// `nodes/<node>/log` of each log read, with its number of lines.
    pub logs: Vec<(String, usize)>,
    /// Lines that matched a known pattern, near a fault or not.
    pub matched: usize,
    /// The phrases looked for (the system's).
    pub phrases: Vec<String>,
    /// How far from a fault window a line may be and still be shown (ns).
    pub window: u64,
    /// Why the logs were not searched at all, when they were not.
    pub skipped: Option<String>,
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
    evidence(out, run)?;
    timeline(out, run)?;
    signals(out, run)?;
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
    writeln!(out)?;
    // The plots beside the report, where Markdown renders images.
    for (file, alt) in PLOTS {
        writeln!(out, "![{alt}]({file})\n")?;
    }
    Ok(())
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

fn evidence(out: &mut String, run: &RunReport<'_>) -> std::fmt::Result {
    writeln!(out, "### {} Evidence", property(run, false))?;
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

/// `, during partition `n1 | n2,n3`` when the op began inside a fault.
pub(super) fn during(op: &OpSummary, faults: &[FaultWindow]) -> String {
    faults
        .iter()
        .find(|w| w.start <= op.invoke_time && w.end.is_none_or(|end| op.invoke_time < end))
        .map_or(String::new(), |w| {
            let (verb, detail) = fault(w, None);
            match detail.is_empty() {
                true => format!(", during {verb}"),
                false => format!(", during {verb} `{detail}`"),
            }
        })
}

/// What a fault window's fault was, from its start op: (`partition`,
/// `n1,n2 | n3`), (`kill`, `n2`), with the partition's `shape` when known
/// (`partition halves`). A Jepsen `:start` names no fault: it is `fault`.
pub(super) fn fault(w: &FaultWindow, shape: Option<&str>) -> (String, String) {
    let verb = match Step::parse(&w.f) {
        Some((Step::Start, verb)) => verb.to_string(),
        _ if w.f == "start" => "fault".to_string(),
        _ => w.f.clone(),
    };
    let verb = match shape {
        Some(shape) if verb == "partition" => format!("partition {shape}"),
        _ => verb,
    };
    let detail = match &w.value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    (verb, detail)
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

fn timeline(out: &mut String, run: &RunReport<'_>) -> std::fmt::Result {
    let faults = &run.perf.faults;
    writeln!(out, "### Fault Timeline")?;
    if faults.is_empty() {
        return writeln!(out, "No faults were injected.\n");
    }
    writeln!(out, "| start | end | fault | how it went |")?;
    writeln!(out, "|---|---|---|---|")?;
    for w in faults {
        let end = w.end.map_or("not stopped".to_string(), offset);
        let (verb, detail) = fault(w, run.partition_shape.as_deref());
        let what = match detail.is_empty() {
            true => verb,
            false => format!("{verb} {detail}"),
        };
        writeln!(
            out,
            "| {} | {} | {} | {} |",
            offset(w.start),
            end,
            what.replace('|', "\\|"),
            how_it_went(run.history, w).replace('|', "\\|")
        )?;
    }
    writeln!(out)
}

/// What the nemesis recorded between a fault's start and its stop: how
/// long applying took or why it failed, whether something else undid it,
/// and whether undoing it failed.
fn how_it_went(history: &History, w: &FaultWindow) -> String {
    let base = history.ops.iter().map(|op| op.time).min().unwrap_or(0);
    let mut notes = Vec::new();
    if let Some((Step::Start, verb)) = Step::parse(&w.f) {
        let after_start = history
            .ops
            .iter()
            .filter(|op| op.process == Process::Nemesis)
            .skip_while(|op| !(op.f == w.f && op.time - base == w.start))
            .skip(1);
        for op in after_start {
            let error = op.error.as_deref().unwrap_or("no reason recorded");
            let step = match Step::parse(&op.f) {
                Some((step, of)) if of == verb => step,
                _ => continue,
            };
            match step {
                Step::Stop => {
                    if op.error.is_some() {
                        notes.push(format!("undoing it failed: {error}"));
                    }
                    break;
                }
                Step::InForce => notes.push(match op.value.get("ms").and_then(|ms| ms.as_u64()) {
                    Some(ms) => format!("in force after {}", duration(ms * 1_000_000)),
                    None => "in force".to_string(),
                }),
                Step::Failed => notes.push(format!("never in force: {error}")),
                Step::Lost => notes.push(format!(
                    "undone by something else by {}",
                    offset(op.time - base)
                )),
                Step::Start => {}
            }
        }
    }
    if w.end.is_none() {
        notes.push("still in force when the history ends".to_string());
    }
    notes.join("; ")
}

fn signals(out: &mut String, run: &RunReport<'_>) -> std::fmt::Result {
    writeln!(out, "### Node Log Signals")?;
    let search = &run.search;
    let logs: Vec<String> = search
        .logs
        .iter()
        .map(|(log, lines)| match lines {
            1 => format!("`{log}` (1 line)"),
            n => format!("`{log}` ({n} lines)"),
        })
        .collect();
    let margin = duration(search.window);
    if run.signals.is_empty() {
        let patterns: Vec<String> = search.phrases.iter().map(|p| format!("`{p}`")).collect();
        let said = if let Some(why) = &search.skipped {
            format!("The node logs were not searched: {why}.")
        } else if logs.is_empty() {
            "No node log was found under `nodes/`: there was nothing to search.".to_string()
        } else if search.matched == 0 {
            format!(
                "None of the known patterns ({}) matched a line of the node logs read: {}.",
                patterns.join(", "),
                logs.join(", ")
            )
        } else {
            format!(
                "{} line(s) of the node logs matched a known pattern, none within {margin} of a fault; read: {}.",
                search.matched,
                logs.join(", ")
            )
        };
        return writeln!(out, "{said}\n");
    }
    for s in run.signals.iter().take(20) {
        writeln!(out, "- {} {}: `{}`", s.node, offset(s.time), s.line)?;
    }
    if run.signals.len() > 20 {
        writeln!(out, "- ... {} more in `nodes/`", run.signals.len() - 20)?;
    }
    writeln!(
        out,
        "\nLines within {margin} of a fault that mark an election, a leader change or a timeout; read: {}.",
        logs.join(", ")
    )?;
    writeln!(out)
}

fn assessment(out: &mut String, run: &RunReport<'_>) -> std::fmt::Result {
    writeln!(out, "### Assessment")?;
    let v = overall(run);
    let meaning = match v {
        Validity::Valid => "no anomaly in this window".to_string(),
        Validity::Invalid => "the history shows an anomaly: see the evidence above".to_string(),
        Validity::Unknown => {
            let reasons: Vec<String> = run
                .evidence
                .iter()
                .filter(|e| e.validity() == Validity::Unknown)
                .filter_map(Evidence::undecided)
                .collect();
            match reasons.is_empty() {
                true => "the checker could not decide: see the evidence above".to_string(),
                false => reasons.join("; "),
            }
        }
    };
    writeln!(
        out,
        "- **{} verdict**: {} ({meaning}).",
        property(run, true),
        verdict_word(v)
    )?;
    let a = availability(run.history, &run.perf.faults);
    writeln!(
        out,
        "- **Availability**: outside faults {}; during faults {}.",
        a.outside_faults.percent(),
        a.during_faults.percent()
    )
}

#[cfg(test)]
#[path = "markdown_tests.rs"]
mod tests;
