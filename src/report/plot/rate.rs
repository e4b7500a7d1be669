//! `rate.svg`: completions per second over the run, one line per `f` and
//! outcome (colour by outcome, dash by `f`), faults shaded and named. The
//! run is cut into the statistics' time slices; each point is the
//! completions of its slice divided by the time the slice covers.

use std::fmt::Write;

use chaos_checkers::perf::Perf;

use super::canvas::{Canvas, Scale, Swatch};
use super::{Completed, OUTCOMES};
use crate::report::xml::escape;

/// Dash patterns, by the `f`'s place in name order.
const DASHES: [&str; 5] = ["none", "7 3", "2 2", "9 3 2 3", "4 4"];

pub fn rate(done: &Completed<'_>, perf: &Perf) -> String {
    let width = perf.bucket.max(1);
    let slices = (perf.duration / width + 1) as usize;
    // counts[outcome][f][slice]
    let mut counts = vec![vec![vec![0u32; slices]; done.fs.len()]; OUTCOMES.len()];
    for d in &done.ops {
        let Some(o) = OUTCOMES.iter().position(|(kind, _)| *kind == d.outcome) else {
            continue;
        };
        let f = done.fs.binary_search(&d.f).unwrap_or(0);
        let slice = ((d.completed / width) as usize).min(slices - 1);
        counts[o][f][slice] += 1;
    }
    // The last slice is cut short by the end of the run: its rate is over
    // the time it covers (at least half a slice, so one op in its last
    // millisecond is no spike), not a dip to nothing.
    let covered = |i: usize| {
        let start = i as u64 * width;
        perf.duration
            .saturating_sub(start)
            .clamp(width / 2, width)
            .max(1)
    };
    let per_second = |i: usize, n: u32| n as f64 * 1e9 / covered(i) as f64;
    let top = counts
        .iter()
        .flatten()
        .flat_map(|series| series.iter().enumerate())
        .map(|(i, &n)| per_second(i, n))
        .fold(0.0, f64::max);
    let mut canvas = Canvas::new(perf.duration, Scale::linear_of(top));
    canvas.faults(&perf.faults, None);
    for (o, (kind, colour)) in OUTCOMES.iter().enumerate() {
        for (f, series) in counts[o].iter().enumerate() {
            let total: u32 = series.iter().sum();
            if total == 0 {
                continue;
            }
            let points: Vec<String> = series
                .iter()
                .enumerate()
                .map(|(i, &n)| {
                    let t = (i as u64 * width + covered(i) / 2).min(perf.duration);
                    format!("{:.1},{:.1}", canvas.x(t), canvas.y(per_second(i, n)))
                })
                .collect();
            let _ = write!(
                canvas.body,
                r#"<polyline class="series" data-f="{}" data-outcome="{}" data-ops="{total}" fill="none" stroke="{colour}" stroke-width="1.6" stroke-dasharray="{}" points="{}"><title>{} {}: {total} op(s)</title></polyline>"#,
                escape(done.fs[f]),
                kind.as_str(),
                DASHES[f % DASHES.len()],
                points.join(" "),
                escape(done.fs[f]),
                kind.as_str(),
            );
        }
    }
    canvas.axes("completions per second");
    canvas.legend(Swatch::Heading, "outcome:");
    for (kind, colour) in OUTCOMES {
        canvas.legend(Swatch::Line(colour, "none"), kind.as_str());
    }
    canvas.legend(Swatch::Heading, "f:");
    for (i, f) in done.fs.iter().enumerate() {
        canvas.legend(Swatch::Line("#333", DASHES[i % DASHES.len()]), *f);
    }
    canvas.legend(
        Swatch::Note,
        format!("per slice of {}", crate::report::units::duration(width)),
    );
    canvas.finish("Completions per second by f and outcome")
}
