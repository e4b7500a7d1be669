//! What both time plots share: the frame (margins, the time axis, a value
//! axis linear or logarithmic), the fault lane and shading, axis titles and
//! a legend that wraps, all sized from an estimate of text width.

use std::fmt::Write;

use chaos_checkers::perf::FaultWindow;

use crate::report::model::fault;
use crate::report::units::{duration, offset};
use crate::report::xml::escape;

pub const WIDTH: f64 = 900.0;
pub const FONT: f64 = 11.0;
/// Average advance of a character at [`FONT`] in a sans-serif face, a
/// little generous so an estimate never falls short.
pub const CHAR_WIDTH: f64 = 6.6;
pub const PLOT_LEFT: f64 = 78.0;
pub const PLOT_RIGHT: f64 = WIDTH - 26.0;
/// Under the title line and the fault lane.
pub const PLOT_TOP: f64 = 50.0;
pub const PLOT_BOTTOM: f64 = PLOT_TOP + 300.0;
/// Tick labels, then the time axis title.
const BELOW_AXIS: f64 = 44.0;
const LEGEND_ROW: f64 = 18.0;

pub fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR_WIDTH
}

/// The value axis.
pub enum Scale {
    /// 0 to `max`.
    Linear { max: f64 },
    /// 10^`low` to 10^`high` (nanoseconds, for latency).
    Log { low: i32, high: i32 },
}

impl Scale {
    /// A latency axis covering `min..=max` ns in whole decades; latencies
    /// under 1 µs are drawn at 1 µs.
    pub fn log_of(min: u64, max: u64) -> Scale {
        let decade = |v: u64| (v.max(1_000) as f64).log10();
        let low = decade(min).floor() as i32;
        let high = (decade(max).ceil() as i32).max(low + 1);
        Scale::Log { low, high }
    }

    /// A linear axis from 0 up to a round number at or above `max`.
    pub fn linear_of(max: f64) -> Scale {
        Scale::Linear {
            max: nice_step(max.max(1.0) / 5.0) * 5.0,
        }
    }

    /// Where `v` falls, 0 (bottom) to 1 (top).
    fn fraction(&self, v: f64) -> f64 {
        match *self {
            Scale::Linear { max } => v / max,
            Scale::Log { low, high } => (v.max(1_000.0).log10() - low as f64) / (high - low) as f64,
        }
    }

    /// The values worth a tick, with their labels.
    fn ticks(&self) -> Vec<(f64, String)> {
        match *self {
            Scale::Linear { max } => (0..=5)
                .map(|i| {
                    let v = max / 5.0 * i as f64;
                    (v, format!("{}", (v * 100.0).round() / 100.0))
                })
                .collect(),
            Scale::Log { low, high } => (low..=high)
                .map(|e| {
                    let v = 10f64.powi(e);
                    (v, duration(v as u64))
                })
                .collect(),
        }
    }
}

/// 1, 2 or 5 times a power of ten, at or above `x`.
fn nice_step(x: f64) -> f64 {
    let power = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= x * 0.999)
        .unwrap_or(10.0 * power)
}

/// What a legend entry shows before its label.
pub enum Swatch {
    /// An op mark: its path (drawn around 0,0) and style attributes.
    Mark(String, String),
    /// A line in a colour and dash pattern.
    Line(&'static str, &'static str),
    /// A filled box: fault kinds.
    Band(&'static str),
    /// No swatch: the name of the group of entries that follows.
    Heading,
    /// No swatch: a remark on its own, in plain type.
    Note,
}

/// A plot under construction: the frame is fixed, the legend decides the
/// height when the picture is finished.
pub struct Canvas {
    pub body: String,
    /// Run time shown, in ns: the x axis spans 0..duration.
    duration: f64,
    pub scale: Scale,
    legend: Vec<(Swatch, String)>,
}

impl Canvas {
    pub fn new(duration: u64, scale: Scale) -> Canvas {
        Canvas {
            body: String::new(),
            duration: duration.max(1) as f64,
            scale,
            legend: Vec::new(),
        }
    }

    pub fn x(&self, t: u64) -> f64 {
        PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) * (t as f64 / self.duration).min(1.0)
    }

    pub fn y(&self, v: f64) -> f64 {
        PLOT_BOTTOM - (PLOT_BOTTOM - PLOT_TOP) * self.scale.fraction(v).clamp(0.0, 1.0)
    }

    pub fn legend(&mut self, swatch: Swatch, label: impl Into<String>) {
        self.legend.push((swatch, label.into()));
    }

    /// Each fault window shaded over the plot in its kind's colour, and as
    /// a bar in the lane above it, named when the name fits (the legend
    /// names every kind; hovering a bar says what it did and when).
    pub fn faults(&mut self, faults: &[FaultWindow], shape: Option<&str>) {
        let lane = PLOT_TOP - 20.0;
        let _ = write!(
            self.body,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">faults</text>"##,
            PLOT_LEFT - 6.0,
            lane + 11.0
        );
        let mut kinds: Vec<String> = Vec::new();
        for w in faults {
            let (verb, detail) = fault(w, shape);
            let kind = verb.split(' ').next().unwrap_or("fault").to_string();
            let index = match kinds.iter().position(|k| *k == kind) {
                Some(i) => i,
                None => {
                    kinds.push(kind.clone());
                    kinds.len() - 1
                }
            };
            let colour = fault_colour(index);
            let x0 = self.x(w.start);
            let x1 = self.x(w.end.unwrap_or(self.duration as u64));
            let width = (x1 - x0).max(1.5);
            let end = w
                .end
                .map_or("still in force at the end".to_string(), offset);
            let tip = escape(format!("{verb} {detail} ({} to {end})", offset(w.start)).trim());
            let _ = write!(
                self.body,
                r#"<rect class="fault" data-kind="{}" x="{x0:.1}" y="{PLOT_TOP}" width="{width:.1}" height="{}" fill="{colour}" fill-opacity="0.22"><title>{tip}</title></rect><rect x="{x0:.1}" y="{lane}" width="{width:.1}" height="15" fill="{colour}"><title>{tip}</title></rect>"#,
                escape(&kind),
                PLOT_BOTTOM - PLOT_TOP,
            );
            if text_width(&kind) + 6.0 <= width {
                let _ = write!(
                    self.body,
                    r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
                    x0 + 3.0,
                    lane + 11.0,
                    escape(&kind)
                );
            }
        }
        if !kinds.is_empty() {
            self.legend(Swatch::Heading, "faults:");
        }
        for (i, kind) in kinds.into_iter().enumerate() {
            self.legend(Swatch::Band(fault_colour(i)), kind);
        }
    }

    /// Grid, ticks, axes and the two axis titles. The grid goes under
    /// everything drawn so far.
    pub fn axes(&mut self, value_title: &str) {
        let mut grid = String::new();
        for (v, label) in self.scale.ticks() {
            let y = self.y(v);
            let _ = write!(
                grid,
                r##"<line x1="{PLOT_LEFT}" y1="{y:.1}" x2="{PLOT_RIGHT}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                PLOT_LEFT - 6.0,
                y + 4.0,
                escape(&label)
            );
        }
        let step = nice_step(self.duration / 8.0).max(1.0);
        let mut i = 0u64;
        while (i as f64) * step <= self.duration * 1.0001 {
            let t = (i as f64 * step) as u64;
            let x = self.x(t);
            let label = match i {
                0 => "0".to_string(),
                _ => duration(t),
            };
            // A label near the right edge ends at its tick instead.
            let anchor = match x + text_width(&label) / 2.0 > WIDTH - 2.0 {
                true => "end",
                false => "middle",
            };
            let _ = write!(
                grid,
                r##"<line x1="{x:.1}" y1="{PLOT_BOTTOM}" x2="{x:.1}" y2="{:.1}" stroke="#333"/><text x="{x:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"##,
                PLOT_BOTTOM + 4.0,
                PLOT_BOTTOM + 16.0,
                escape(&label)
            );
            i += 1;
        }
        self.body.insert_str(0, &grid);
        let middle = (PLOT_TOP + PLOT_BOTTOM) / 2.0;
        let _ = write!(
            self.body,
            r##"<line class="axis" x1="{PLOT_LEFT}" y1="{PLOT_BOTTOM}" x2="{PLOT_RIGHT}" y2="{PLOT_BOTTOM}" stroke="#333"/><line class="axis" x1="{PLOT_LEFT}" y1="{PLOT_TOP}" x2="{PLOT_LEFT}" y2="{PLOT_BOTTOM}" stroke="#333"/><text class="axis-title" x="{:.1}" y="{:.1}" text-anchor="middle">time since the run began</text><text class="axis-title" x="16" y="{middle:.1}" text-anchor="middle" transform="rotate(-90 16 {middle:.1})">{}</text>"##,
            (PLOT_LEFT + PLOT_RIGHT) / 2.0,
            PLOT_BOTTOM + 34.0,
            escape(value_title)
        );
    }

    /// The whole picture: title, body, legend, as tall as the legend needs.
    pub fn finish(self, title: &str) -> String {
        let mut legend = String::new();
        let (mut x, mut y) = (PLOT_LEFT, PLOT_BOTTOM + BELOW_AXIS + 10.0);
        for (swatch, label) in &self.legend {
            let swatch_width = match swatch {
                Swatch::Heading | Swatch::Note => 0.0,
                _ => 22.0,
            };
            let width = swatch_width + text_width(label) + 14.0;
            if x + width > PLOT_RIGHT && x > PLOT_LEFT {
                x = PLOT_LEFT;
                y += LEGEND_ROW;
            }
            match swatch {
                Swatch::Mark(path, style) => {
                    let _ = write!(
                        legend,
                        r#"<path transform="translate({:.1} {:.1})" d="{path}" {style}/>"#,
                        x + 8.0,
                        y - 4.0
                    );
                }
                Swatch::Line(colour, dash) => {
                    let _ = write!(
                        legend,
                        r#"<line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>"#,
                        y - 4.0,
                        x + 18.0,
                        y - 4.0
                    );
                }
                Swatch::Band(colour) => {
                    let _ = write!(
                        legend,
                        r#"<rect x="{x:.1}" y="{:.1}" width="16" height="10" fill="{colour}"/>"#,
                        y - 9.0
                    );
                }
                Swatch::Heading | Swatch::Note => {}
            }
            let weight = match swatch {
                Swatch::Heading => r#" font-weight="bold""#,
                _ => "",
            };
            let _ = write!(
                legend,
                r#"<text x="{:.1}" y="{y:.1}"{weight}>{}</text>"#,
                x + swatch_width,
                escape(label)
            );
            x += width;
        }
        let height = y + 10.0;
        let mut out = String::with_capacity(self.body.len() + legend.len() + 1024);
        let _ = write!(
            out,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="{FONT}"><title>{0}</title><rect width="100%" height="100%" fill="#fff"/><text x="{PLOT_LEFT}" y="16" font-size="13" font-weight="bold">{0}</text>"##,
            escape(title)
        );
        out.push_str(&self.body);
        let _ = write!(out, r#"<g class="legend">{legend}</g></svg>"#);
        out.push('\n');
        out
    }
}

/// Fault kinds in the order they first appear, each its own colour.
fn fault_colour(index: usize) -> &'static str {
    const COLOURS: [&str; 6] = [
        "#f4a261", "#6fa8dc", "#b39ddb", "#90be6d", "#e9c46a", "#bc8a5f",
    ];
    COLOURS[index % COLOURS.len()]
}
