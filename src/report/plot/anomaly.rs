//! The op that cannot be linearized, drawn among the ops around it: one
//! lane per process on a time line, each op a bar labelled with what it did
//! and what it returned; the culprit red, ops whose outcome is unknown
//! dashed and running off the right edge.

use std::fmt::Write;

use chaos_checkers::history::OpType;
use chaos_checkers::linear::{Failure, OpSummary};

use crate::report::xml::escape;

const WIDTH: f64 = 800.0;
/// Room for the process names, and for the state line under the lanes.
const LEFT: f64 = 60.0;
const BOTTOM: f64 = 24.0;

/// The op that cannot be linearized among the ops concurrent with it, one
/// lane per process, on a time line: the anomaly as a picture.
pub fn anomaly(failure: &Failure) -> String {
    let mut ops: Vec<&OpSummary> = failure
        .concurrent
        .iter()
        .chain(failure.prefix_tail.iter())
        .collect();
    ops.push(&failure.op);
    ops.sort_by_key(|o| o.index);
    ops.dedup_by_key(|o| o.index);
    let start = ops.iter().map(|o| o.invoke_time).min().unwrap_or(0);
    let end = ops
        .iter()
        .map(|o| o.complete_time.unwrap_or(o.invoke_time))
        .max()
        .unwrap_or(start)
        .max(start + 1);
    // Info ops run off the right edge: they may take effect any time later.
    let span = end - start + (end - start) / 10;
    let mut lanes: Vec<String> = ops.iter().map(|o| o.process.to_string()).collect();
    lanes.sort();
    lanes.dedup();
    let lane_height = 26.0;
    let height = lane_height * lanes.len() as f64 + BOTTOM;
    let x = |t: u64| LEFT + (WIDTH - LEFT - 10.0) * ((t - start) as f64 / span as f64);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11"><title>The op that cannot be linearized (red) and the ops around it</title>"#
    );
    for (i, lane) in lanes.iter().enumerate() {
        let _ = write!(
            out,
            r#"<text x="{}" y="{:.1}" text-anchor="end">process {}</text>"#,
            LEFT - 4.0,
            lane_height * i as f64 + 17.0,
            escape(lane)
        );
    }
    for o in &ops {
        let lane = lanes
            .iter()
            .position(|l| *l == o.process.to_string())
            .unwrap_or(0);
        let y = lane_height * lane as f64 + 4.0;
        let (x0, x1) = (x(o.invoke_time), o.complete_time.map_or(WIDTH - 10.0, x));
        let culprit = o.index == failure.op.index;
        let fill = if culprit {
            "#e63946"
        } else if o.outcome == OpType::Ok {
            "#a8dadc"
        } else {
            "#dddddd"
        };
        let dash = if o.outcome == OpType::Info {
            r#" stroke-dasharray="4 2""#
        } else {
            ""
        };
        let result = if o.outcome == OpType::Ok {
            o.result.to_string()
        } else {
            o.outcome.as_str().to_string()
        };
        let label = format!("{} {} → {}", o.f, o.value, result);
        let _ = write!(
            out,
            r##"<rect x="{x0:.1}" y="{y:.1}" width="{:.1}" height="18" fill="{fill}" stroke="#333"{dash}><title>op {}: {}</title></rect><text x="{:.1}" y="{:.1}">{}</text>"##,
            (x1 - x0).max(2.0),
            o.index,
            escape(&label),
            x0 + 3.0,
            y + 13.0,
            escape(&label)
        );
    }
    let _ = write!(
        out,
        r#"<text x="{LEFT}" y="{:.1}">{}</text></svg>"#,
        height - 6.0,
        escape(&format!("state before the red op: {}", failure.state))
    );
    out
}
