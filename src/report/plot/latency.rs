//! `latency.svg`: every completed op as a mark at (when it was invoked,
//! how long it took), latency on a log scale, colour by outcome, shape by
//! `f`, faults shaded and named.
//!
//! Decimation, by drawing: the plot is cut into cells of [`CELL`] × [`CELL`]
//! pixels, and each class of op (one `f` with one outcome) gets one mark in
//! every cell that at least one of its ops falls in. A mark hides only ops
//! of its own class within [`CELL`] pixels of it, which would be drawn
//! over each other anyway; no op is dropped for being rare or far out, so
//! every outlier keeps its mark. Each class's element says how many ops it
//! stands for (`data-ops`) and in how many marks (`data-marks`).

use std::collections::HashSet;
use std::fmt::Write;

use chaos_checkers::perf::Perf;

use super::canvas::{Canvas, Scale, Swatch, PLOT_LEFT, PLOT_TOP};
use super::{Completed, OUTCOMES};
use crate::report::xml::escape;

/// The side of a decimation cell, in pixels.
pub const CELL: f64 = 2.0;

/// How a `f` is marked: the shapes in order of the `f`s' names.
#[derive(Clone, Copy)]
enum Shape {
    Circle,
    Square,
    Triangle,
    Diamond,
    Plus,
    Cross,
}

const SHAPES: [Shape; 6] = [
    Shape::Circle,
    Shape::Square,
    Shape::Triangle,
    Shape::Diamond,
    Shape::Plus,
    Shape::Cross,
];

/// One mark, one `M` (so marks can be counted): its path around (x, y).
fn mark(out: &mut String, shape: Shape, x: f64, y: f64) {
    let _ = match shape {
        Shape::Circle | Shape::Square => write!(out, "M{x} {y}h0"),
        Shape::Triangle => write!(out, "M{x} {}l3 5h-6z", y - 3.0),
        Shape::Diamond => write!(out, "M{x} {}l3 3-3 3-3-3z", y - 3.0),
        Shape::Plus => write!(out, "M{} {y}h6m-3-3v6", x - 3.0),
        Shape::Cross => write!(out, "M{} {}l6 6m0-6l-6 6", x - 3.0, y - 3.0),
    };
}

/// The attributes that draw a shape's marks in `colour`: dots are round or
/// square caps on zero-length strokes, the rest filled or stroked paths.
fn style(shape: Shape, colour: &str) -> String {
    match shape {
        Shape::Circle => {
            format!(r#"fill="none" stroke="{colour}" stroke-width="4.5" stroke-linecap="round""#)
        }
        Shape::Square => {
            format!(r#"fill="none" stroke="{colour}" stroke-width="4" stroke-linecap="square""#)
        }
        Shape::Triangle | Shape::Diamond => format!(r#"fill="{colour}" stroke="none""#),
        Shape::Plus | Shape::Cross => {
            format!(r#"fill="none" stroke="{colour}" stroke-width="1.4""#)
        }
    }
}

/// The ops of one `f` with one outcome, and their marks.
struct Class {
    ops: usize,
    cells: HashSet<(u32, u32)>,
    path: String,
}

pub fn latency(done: &Completed<'_>, perf: &Perf) -> String {
    let latencies = done.ops.iter().map(|d| d.completed - d.invoked);
    let min = latencies.clone().min().unwrap_or(1_000);
    let max = latencies.max().unwrap_or(1_000_000);
    let mut canvas = Canvas::new(perf.duration, Scale::log_of(min, max));
    canvas.faults(&perf.faults, None);
    let shape_of = |f_index: usize| SHAPES[f_index % SHAPES.len()];
    let mut classes: Vec<Vec<Class>> = OUTCOMES
        .iter()
        .map(|_| {
            done.fs
                .iter()
                .map(|_| Class {
                    ops: 0,
                    cells: HashSet::new(),
                    path: String::new(),
                })
                .collect()
        })
        .collect();
    for d in &done.ops {
        let Some(o) = OUTCOMES.iter().position(|(kind, _)| *kind == d.outcome) else {
            continue;
        };
        let f = done.fs.binary_search(&d.f).unwrap_or(0);
        let class = &mut classes[o][f];
        class.ops += 1;
        let x = canvas.x(d.invoked);
        let y = canvas.y((d.completed - d.invoked) as f64);
        let cell = (
            ((x - PLOT_LEFT) / CELL) as u32,
            ((y - PLOT_TOP) / CELL) as u32,
        );
        if class.cells.insert(cell) {
            let centre = |origin: f64, i: u32| origin + CELL * i as f64 + CELL / 2.0;
            mark(
                &mut class.path,
                shape_of(f),
                centre(PLOT_LEFT, cell.0),
                centre(PLOT_TOP, cell.1),
            );
        }
    }
    // The classes with the most marks first: where a dense band of one
    // class lies under another, the rarer one (a failure, an outlier) is
    // drawn last and stays in sight.
    let mut drawn: Vec<(usize, usize, &Class)> = Vec::new();
    for (o, row) in classes.iter().enumerate() {
        for (f, class) in row.iter().enumerate().filter(|(_, c)| c.ops > 0) {
            drawn.push((o, f, class));
        }
    }
    drawn.sort_by_key(|(_, _, class)| std::cmp::Reverse(class.cells.len()));
    let (mut ops, mut marks) = (0, 0);
    for (o, f, class) in drawn {
        let (kind, colour) = OUTCOMES[o];
        ops += class.ops;
        marks += class.cells.len();
        let _ = write!(
            canvas.body,
            r#"<path class="marks" data-f="{}" data-outcome="{}" data-ops="{}" data-marks="{}" {} opacity="0.7" d="{}"><title>{} {}: {} op(s), {} mark(s)</title></path>"#,
            escape(done.fs[f]),
            kind.as_str(),
            class.ops,
            class.cells.len(),
            style(shape_of(f), colour),
            class.path,
            escape(done.fs[f]),
            kind.as_str(),
            class.ops,
            class.cells.len()
        );
    }
    canvas.axes("latency (log scale)");
    canvas.legend(Swatch::Heading, "outcome:");
    for (kind, colour) in OUTCOMES {
        let mut dot = String::new();
        mark(&mut dot, Shape::Circle, 0.0, 0.0);
        canvas.legend(
            Swatch::Mark(dot, style(Shape::Circle, colour)),
            kind.as_str(),
        );
    }
    canvas.legend(Swatch::Heading, "f:");
    for (i, f) in done.fs.iter().enumerate() {
        let mut m = String::new();
        mark(&mut m, shape_of(i), 0.0, 0.0);
        canvas.legend(Swatch::Mark(m, style(shape_of(i), "#333")), *f);
    }
    if marks < ops {
        canvas.legend(
            Swatch::Note,
            format!(
                "{ops} ops in {marks} marks: one per {CELL}×{CELL} px cell for each f and outcome"
            ),
        );
    }
    if done.open > 0 {
        canvas.legend(
            Swatch::Note,
            format!("{} op(s) never completed: not drawn", done.open),
        );
    }
    canvas.finish("Latency of every operation")
}
