//! Plots as plain SVG: small, dependency-free, and readable in any browser
//! or pasted into docs.

use super::markdown::fault;
use super::units::offset;
use chaos_checkers::history::OpType;
use chaos_checkers::linear::{Failure, OpSummary};
use chaos_checkers::perf::{FaultWindow, Perf};
use std::fmt::Write;

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 180.0;
/// Room for the axis labels.
const LEFT: f64 = 60.0;
const BOTTOM: f64 = 24.0;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Maps run time (ns) and values onto the plot area.
struct Frame {
    duration: f64,
    top: f64,
}

impl Frame {
    fn x(&self, t: u64) -> f64 {
        LEFT + (WIDTH - LEFT) * (t as f64 / self.duration.max(1.0))
    }
    fn y(&self, v: f64) -> f64 {
        (HEIGHT - BOTTOM) * (1.0 - v / self.top.max(f64::MIN_POSITIVE))
    }
}

fn open(out: &mut String, title: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11"><title>{}</title>"#,
        escape(title)
    );
}

/// Fault windows as shaded bands behind the data, labelled at their start.
fn faults(out: &mut String, frame: &Frame, faults: &[FaultWindow], end: u64) {
    for w in faults {
        let (x0, x1) = (frame.x(w.start), frame.x(w.end.unwrap_or(end)));
        let (verb, detail) = fault(w, None);
        let _ = write!(
            out,
            r##"<rect x="{x0:.1}" y="0" width="{:.1}" height="{:.1}" fill="#f4a261" fill-opacity="0.25"><title>{}</title></rect>"##,
            (x1 - x0).max(1.0),
            HEIGHT - BOTTOM,
            escape(format!("{verb} {detail}").trim_end())
        );
    }
}

fn axes(out: &mut String, frame: &Frame, top_label: &str) {
    let base = HEIGHT - BOTTOM;
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" y1="{base}" x2="{WIDTH}" y2="{base}" stroke="#333"/><line x1="{LEFT}" y1="0" x2="{LEFT}" y2="{base}" stroke="#333"/>"##
    );
    let _ = write!(
        out,
        r#"<text x="{}" y="12" text-anchor="end">{}</text>"#,
        LEFT - 4.0,
        escape(top_label)
    );
    let _ = write!(
        out,
        r#"<text x="{}" y="{base}" text-anchor="end">0</text>"#,
        LEFT - 4.0
    );
    for i in 0..=4 {
        let t = (frame.duration * i as f64 / 4.0) as u64;
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            frame.x(t),
            HEIGHT - 6.0,
            offset(t)
        );
    }
}

/// Ok, fail and info completions per second over the run, faults shaded.
pub fn throughput(perf: &Perf) -> String {
    let seconds = perf.bucket as f64 / 1e9;
    let rate = |n: usize| n as f64 / seconds;
    let top = perf
        .timeline
        .iter()
        .map(|b| rate(b.outcomes.ok + b.outcomes.fail + b.outcomes.info))
        .fold(0.0, f64::max);
    let frame = Frame {
        duration: perf.duration as f64,
        top,
    };
    let mut out = String::new();
    open(
        &mut out,
        "Throughput: completions per second (ok, fail, info)",
    );
    faults(&mut out, &frame, &perf.faults, perf.duration);
    for (kind, colour) in [
        (OpType::Ok, "#2a9d8f"),
        (OpType::Fail, "#e76f51"),
        (OpType::Info, "#8d99ae"),
    ] {
        let points: Vec<String> = perf
            .timeline
            .iter()
            .map(|b| {
                let n = match kind {
                    OpType::Ok => b.outcomes.ok,
                    OpType::Fail => b.outcomes.fail,
                    _ => b.outcomes.info,
                };
                format!("{:.1},{:.1}", frame.x(b.start), frame.y(rate(n)))
            })
            .collect();
        let _ = write!(
            out,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{}"><title>{}/s</title></polyline>"#,
            points.join(" "),
            kind.as_str()
        );
    }
    axes(&mut out, &frame, &format!("{top:.0}/s"));
    out.push_str("</svg>");
    out
}

/// The slowest completion in each slice of time, faults shaded.
pub fn latency(perf: &Perf) -> String {
    let top = perf
        .timeline
        .iter()
        .map(|b| b.max_latency as f64)
        .fold(0.0, f64::max);
    let frame = Frame {
        duration: perf.duration as f64,
        top,
    };
    let mut out = String::new();
    open(&mut out, "Latency: slowest completion per slice of time");
    faults(&mut out, &frame, &perf.faults, perf.duration);
    for b in perf.timeline.iter().filter(|b| b.max_latency > 0) {
        let _ = write!(
            out,
            r##"<circle cx="{:.1}" cy="{:.1}" r="2" fill="#264653"><title>{} at {}</title></circle>"##,
            frame.x(b.start),
            frame.y(b.max_latency as f64),
            super::units::duration(b.max_latency),
            offset(b.start)
        );
    }
    axes(&mut out, &frame, &super::units::duration(top as u64));
    out.push_str("</svg>");
    out
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use chaos_checkers::history::{History, Op, Process};
    use chaos_checkers::perf::perf;
    use serde_json::json;

    fn history() -> History {
        let mut ops = Vec::new();
        for i in 0..50u64 {
            let p = Process::Client(i % 3);
            ops.push(Op {
                index: 2 * i,
                time: i * 20_000_000,
                process: p,
                kind: OpType::Invoke,
                f: "read".into(),
                key: None,
                value: json!(null),
                node: None,
                error: None,
            });
            ops.push(Op {
                index: 2 * i + 1,
                time: i * 20_000_000 + 5_000_000,
                process: p,
                kind: OpType::Ok,
                f: "read".into(),
                key: None,
                value: json!(1),
                node: None,
                error: None,
            });
        }
        ops.push(Op {
            index: 100,
            time: 300_000_000,
            process: Process::Nemesis,
            kind: OpType::Info,
            f: "start-partition".into(),
            key: None,
            value: json!("n1 | n2,n3"),
            node: None,
            error: None,
        });
        ops.sort_by_key(|o| o.time);
        History::new(ops)
    }

    #[test]
    fn plots_are_svg_with_the_fault_shaded() {
        let p = perf(&history(), 50);
        for svg in [throughput(&p), latency(&p)] {
            assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
            assert_eq!(svg.matches("<rect").count(), 1, "one fault window: {svg}");
            assert!(
                svg.contains("<title>partition n1 | n2,n3</title>"),
                "the fault is named: {svg}"
            );
            assert!(!svg.contains("NaN"), "{svg}");
        }
        assert!(latency(&p).contains("<circle"));
    }

    #[test]
    fn an_empty_run_still_draws() {
        let p = perf(&History::default(), 50);
        assert!(!throughput(&p).contains("NaN"));
        assert!(!latency(&p).contains("NaN"));
    }
}
