//! How the report speaks of an op and of a fault: `op 5 (process 0 on n3:
//! read null → ok 1, at +0.1s)`, `, during partition `n1 | n2,n3``, and
//! what became of each fault the nemesis started.

use chaos_checkers::history::{History, OpType, Process};
use chaos_checkers::linear::OpSummary;
use chaos_checkers::perf::FaultWindow;
use chaos_nemeses::Step;

use crate::report::units::{duration, offset};

pub fn op(op: &OpSummary) -> String {
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
pub fn during(op: &OpSummary, faults: &[FaultWindow]) -> String {
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
pub fn fault(w: &FaultWindow, shape: Option<&str>) -> (String, String) {
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

/// What the nemesis recorded between a fault's start and its stop: how
/// long applying took or why it failed, whether something else undid it,
/// and whether undoing it failed.
pub fn how_it_went(history: &History, w: &FaultWindow) -> String {
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
                    if let Some(said) = undo_said(&op.value) {
                        notes.push(said);
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

/// What undoing the fault reported (`stop-<verb>`'s `said` lines), when
/// it fits a cell of the timeline: a disk fault's count of what it changed
/// (`n2: disk faults ended (412 requests failed)`), a rollback's chunks.
/// Longer reports (the rules a network fault's heal took off each of five
/// nodes) stay in the history: in a table pasted into ops docs they would
/// bury the rows.
fn undo_said(stop_value: &serde_json::Value) -> Option<String> {
    const CELL: usize = 100;
    let lines: Vec<&str> = stop_value
        .get("said")?
        .as_array()?
        .iter()
        .filter_map(|line| line.as_str())
        .collect();
    let all = lines.join("; ");
    (!all.is_empty() && all.chars().count() <= CELL).then(|| format!("undo: {all}"))
}
