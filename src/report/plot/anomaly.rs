//! The op that cannot be linearized, drawn among the ops around it (those
//! concurrent with it and the last ones the search could order): one lane
//! per process, each op a bar from its invocation to its completion saying
//! what it did and what it returned; the culprit red, ops whose outcome is
//! unknown dashed and running off the right edge (they may take effect at
//! any later moment).
//!
//! Time runs in the order of events, not to scale: each invocation and
//! completion gets a column of its own, so a fast op beside a one-second
//! timeout is still wide enough to read, and which op began before which
//! ended (what linearizability is about) is exactly what the picture shows.

use std::fmt::Write;

use chaos_checkers::history::OpType;
use chaos_checkers::linear::{Failure, OpSummary};

use super::canvas::{text_width, CHAR_WIDTH};
use crate::report::units::offset;
use crate::report::xml::escape;

/// Room for the process names.
const LEFT: f64 = 74.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 26.0;
const LANE: f64 = 30.0;
const BAR: f64 = 20.0;
/// The narrowest column of the event order; the picture widens to keep it.
const MIN_COLUMN: f64 = 24.0;
const MIN_WIDTH: f64 = 800.0;

const CULPRIT: &str = "#e63946";
const OK: &str = "#a8dadc";
const OTHER: &str = "#dddddd";

/// What an op did and returned: `read → 3`, `cas [1,2] → fail` (a null
/// argument, a read's, is left out to keep the bars short).
fn label(o: &OpSummary) -> String {
    let result = match o.outcome {
        OpType::Ok => o.result.to_string(),
        other => other.as_str().to_string(),
    };
    match o.value.is_null() {
        true => format!("{} → {result}", o.f),
        false => format!("{} {} → {result}", o.f, o.value),
    }
}

/// `text` in at most `room` characters: cut with an ellipsis, or nothing
/// when not even a few characters fit.
fn fit(text: &str, room: f64) -> String {
    let room = room.floor().max(0.0) as usize;
    match text.chars().count() <= room {
        true => text.to_string(),
        false if room >= 4 => text.chars().take(room - 1).chain(['…']).collect(),
        false => String::new(),
    }
}

pub fn anomaly(failure: &Failure) -> String {
    let mut ops: Vec<&OpSummary> = failure
        .concurrent
        .iter()
        .chain(failure.prefix_tail.iter())
        .collect();
    ops.push(&failure.op);
    ops.sort_by_key(|o| o.index);
    ops.dedup_by_key(|o| o.index);

    // The columns: every distinct moment an op began or (knowingly) ended.
    let mut moments: Vec<u64> = ops
        .iter()
        .flat_map(|o| {
            let end = (o.outcome != OpType::Info)
                .then_some(o.complete_time)
                .flatten();
            std::iter::once(o.invoke_time).chain(end)
        })
        .collect();
    moments.sort_unstable();
    moments.dedup();
    let columns = moments.len() as f64 + 1.0;
    let width = (LEFT + RIGHT + columns * MIN_COLUMN).max(MIN_WIDTH);
    let column = (width - LEFT - RIGHT) / columns;
    let x = |t: u64| {
        let rank = moments.partition_point(|&m| m < t) as f64;
        LEFT + column * (rank + 0.5)
    };

    let mut lanes: Vec<_> = ops.iter().map(|o| o.process).collect();
    lanes.sort();
    lanes.dedup();
    let axis = TOP + LANE * lanes.len() as f64 + 4.0;
    let height = axis + 64.0;

    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="11"><title>The op that cannot be linearized (red) and the ops around it</title><rect width="100%" height="100%" fill="#fff"/><text x="{LEFT}" y="16" font-size="13" font-weight="bold">op {} cannot be linearized: {}</text>"##,
        failure.op.index,
        escape(&fit(
            &label(&failure.op),
            (width - LEFT - RIGHT) / (CHAR_WIDTH * 13.0 / 11.0)
        ))
    );
    for (i, lane) in lanes.iter().enumerate() {
        let y = TOP + LANE * i as f64;
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end">process {}</text>"##,
            y + LANE / 2.0,
            width - RIGHT,
            y + LANE / 2.0,
            LEFT - 6.0,
            y + LANE / 2.0 + 4.0,
            escape(&lane.to_string())
        );
    }
    // The culprit last, on top.
    let culprit = failure.op.index;
    ops.sort_by_key(|o| o.index == culprit);
    for o in &ops {
        let lane = lanes.iter().position(|l| *l == o.process).unwrap_or(0);
        let y = TOP + LANE * lane as f64 + (LANE - BAR) / 2.0;
        let unknown = o.outcome == OpType::Info || o.complete_time.is_none();
        let x0 = x(o.invoke_time) - column * 0.4;
        let x1 = match (unknown, o.complete_time) {
            (false, Some(end)) => x(end) + column * 0.4,
            _ => width - RIGHT,
        };
        let is_culprit = o.index == culprit;
        let (fill, stroke) = match (is_culprit, o.outcome) {
            (true, _) => (CULPRIT, "#9d0208"),
            (false, OpType::Ok) => (OK, "#333"),
            _ => (OTHER, "#333"),
        };
        let dash = if unknown {
            r#" stroke-dasharray="4 2""#
        } else {
            ""
        };
        let text = label(o);
        let when = match o.complete_time {
            Some(end) => format!("{} to {}", offset(o.invoke_time), offset(end)),
            None => format!("{}, never completed", offset(o.invoke_time)),
        };
        let _ = write!(
            out,
            r#"<rect class="op" x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{BAR}" rx="2" fill="{fill}" stroke="{stroke}"{dash}><title>op {}: {} ({when})</title></rect>"#,
            (x1 - x0).max(2.0),
            o.index,
            escape(&text),
        );
        // The words inside the bar when they fit, else as much as fits
        // (the whole is in the bar's tooltip and in the report's text).
        let shown = fit(&text, (x1 - x0 - 6.0) / CHAR_WIDTH);
        if !shown.is_empty() {
            let colour = if is_culprit { "#fff" } else { "#222" };
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" fill="{colour}">{}</text>"#,
                x0 + 3.0,
                y + 14.0,
                escape(&shown)
            );
        }
    }
    // The time line: the first and last moments, and what the columns mean.
    let first = moments.first().copied().unwrap_or(0);
    let last = moments.last().copied().unwrap_or(first);
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" y1="{axis:.1}" x2="{:.1}" y2="{axis:.1}" stroke="#333"/><text x="{LEFT}" y="{:.1}">{}</text><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><text x="{:.1}" y="{:.1}" text-anchor="middle">events in the order they happened (one column each, not to scale)</text>"##,
        width - RIGHT,
        axis + 14.0,
        offset(first),
        width - RIGHT,
        axis + 14.0,
        offset(last),
        (LEFT + width - RIGHT) / 2.0,
        axis + 14.0,
    );
    // Legend and the state the red op met.
    let mut lx = LEFT;
    let ly = axis + 34.0;
    for (fill, dash, what) in [
        (CULPRIT, "", "cannot be linearized"),
        (OK, "", "ok"),
        (OTHER, "", "fail"),
        (OTHER, "4 2", "outcome unknown (info)"),
    ] {
        let _ = write!(
            out,
            r##"<rect x="{lx:.1}" y="{:.1}" width="16" height="10" fill="{fill}" stroke="#333" stroke-dasharray="{}"/><text x="{:.1}" y="{ly:.1}">{what}</text>"##,
            ly - 9.0,
            if dash.is_empty() { "none" } else { dash },
            lx + 22.0
        );
        lx += 22.0 + text_width(what) + 16.0;
    }
    let state = format!("state before the red op: {}", failure.state);
    let _ = write!(
        out,
        r#"<text x="{LEFT}" y="{:.1}">{}</text></svg>"#,
        ly + 18.0,
        escape(&state)
    );
    out
}
