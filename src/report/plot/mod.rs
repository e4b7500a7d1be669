//! The run's plots as plain SVG files: `latency.svg` (every op) and
//! `rate.svg` (completions per second by `f` and outcome), both with the
//! fault windows shaded and named, titled axes and a legend; and the
//! drawing of an op that cannot be linearized.
//!
//! Everything is laid out inside the picture: text widths are estimated
//! from the font size, so no label runs off an edge, and a test checks it.

mod anomaly;
mod canvas;
mod latency;
mod rate;
#[cfg(test)]
mod tests;

pub use anomaly::anomaly;
pub use latency::latency;
#[cfg(test)]
use latency::CELL;
pub use rate::rate;

use chaos_checkers::history::{History, OpType};
use chaos_checkers::linear::Failure;
use chaos_checkers::perf::Perf;

/// A plot file of the report: its name beside `report.md`, what it shows
/// (the image's alternative text), and the SVG.
pub struct Plot {
    pub file: String,
    pub alt: String,
    pub svg: String,
}

/// The plots every report refers to, by file name and alternative text.
pub const PLOTS: [(&str, &str); 2] = [
    (
        "latency.svg",
        "Latency of every operation over time (log scale): colour by outcome, shape by f, faults shaded",
    ),
    (
        "rate.svg",
        "Completions per second by f and outcome over time, faults shaded",
    ),
];

/// The report's plots of `history`.
pub fn plots(history: &History, perf: &Perf) -> Vec<Plot> {
    let ops = Completed::of(history);
    PLOTS
        .iter()
        .map(|&(file, alt)| Plot {
            file: file.to_string(),
            alt: alt.to_string(),
            svg: match file {
                "latency.svg" => latency(&ops, perf),
                _ => rate(&ops, perf),
            },
        })
        .collect()
}

/// What each anomaly drawing shows, for its caption and alternative text.
pub const ANOMALY_ALT: &str = "The op that cannot be linearized (red) with the ops concurrent with it; dashed: outcome unknown";

/// The file of the `n`th anomaly drawing (from 0): `anomaly.svg`, then
/// `anomaly-2.svg`, ...: one anomaly, the usual case, gets the plain name.
pub fn anomaly_file(n: usize) -> String {
    match n {
        0 => "anomaly.svg".to_string(),
        n => format!("anomaly-{}.svg", n + 1),
    }
}

/// The drawings of `failures`, one file each, named by [`anomaly_file`].
pub fn anomaly_plots(failures: &[&Failure]) -> Vec<Plot> {
    failures
        .iter()
        .enumerate()
        .map(|(n, failure)| Plot {
            file: anomaly_file(n),
            alt: ANOMALY_ALT.to_string(),
            svg: anomaly(failure),
        })
        .collect()
}

/// One client op that completed, on the run's clock (ns since its first op).
#[derive(Clone, Copy, Debug)]
pub struct Done<'h> {
    pub f: &'h str,
    pub outcome: OpType,
    pub invoked: u64,
    pub completed: u64,
}

/// The completed client ops of a history, and how many never completed.
pub struct Completed<'h> {
    pub ops: Vec<Done<'h>>,
    pub open: usize,
    /// The `f`s in name order: each has its shape or dash by its place here.
    pub fs: Vec<&'h str>,
}

impl<'h> Completed<'h> {
    /// Pairs each completion with its process's open invocation, as the
    /// statistics do; a completion without one is left out.
    pub fn of(history: &'h History) -> Completed<'h> {
        let base = history.ops.iter().map(|op| op.time).min().unwrap_or(0);
        let mut open = std::collections::HashMap::new();
        let mut ops = Vec::new();
        for op in history.ops.iter().filter(|op| op.is_client()) {
            if op.kind == OpType::Invoke {
                open.insert(op.process, op);
            } else if let Some(invoke) = open.remove(&op.process) {
                ops.push(Done {
                    f: invoke.f.as_str(),
                    outcome: op.kind,
                    invoked: invoke.time - base,
                    completed: op.time - base,
                });
            }
        }
        let mut fs: Vec<&str> = ops.iter().map(|d| d.f).collect();
        fs.sort_unstable();
        fs.dedup();
        Completed {
            ops,
            open: open.len(),
            fs,
        }
    }
}

/// The outcomes, in legend order, with their colours.
pub(crate) const OUTCOMES: [(OpType, &str); 3] = [
    (OpType::Ok, "#2a9d8f"),
    (OpType::Info, "#8d99ae"),
    (OpType::Fail, "#e63946"),
];
