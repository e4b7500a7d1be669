//! The report's model: what a run report says, made once from the run's
//! data ([`RunReport`]) and laid out by each format: `report.md`
//! (`markdown`), `report.html` (`html`) and the `report` section of
//! `results.json` (this model, serialised).
//!
//! Its sections follow the replicated-log run reports ops people already
//! keep: run metadata, throughput and latency (with the plots), the
//! checker's evidence, the fault timeline, node log signals, assessment.

mod evidence;
mod examples;
mod ops;
pub mod text;

pub use ops::fault;

use chaos_checkers::linear::Failure;
use chaos_checkers::Validity;
use serde::Serialize;

use super::availability::{availability, Availability};
use super::input::{Evidence, RunReport};
use super::plot::{anomaly_file, ANOMALY_ALT, PLOTS};
use super::units::{duration, offset};
use text::{Block, Item, Line, Section, Span};

#[derive(Serialize)]
pub struct Report<'a> {
    /// What to read before anything else: a run that did not finish, a
    /// fault lost while held (the verdict is then unknown).
    pub notices: Vec<String>,
    pub title: String,
    /// When the run began, UTC, as `2026-02-18 15:45Z`.
    pub started: String,
    /// Every checker's verdict merged, as the evidence states it; a lost
    /// fault makes the run's own verdict unknown whatever this says (see
    /// the notices and `valid` in `results.json`).
    pub checkers_verdict: Validity,
    pub availability: Availability,
    pub sections: Vec<Section>,
    /// The ops that cannot be linearized, each drawn as a plot file beside
    /// the report (`results.json` holds them already).
    #[serde(skip)]
    pub anomalies: Vec<&'a Failure>,
}

/// `PASS`, `FAIL`, `UNDECIDED`: the verdict as the reports word it.
pub fn verdict_word(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "PASS",
        Validity::Invalid => "FAIL",
        Validity::Unknown => "UNDECIDED",
    }
}

impl<'a> Report<'a> {
    pub fn build(run: &RunReport<'a>) -> Report<'a> {
        let verdict: Validity = run.evidence.iter().map(Evidence::validity).collect();
        let availability = availability(run.history, &run.perf.faults);
        let anomalies = run
            .evidence
            .iter()
            .filter_map(|e| match e {
                Evidence::Linearizable(r) => Some(r.keys.iter().filter_map(|k| k.failure.as_ref())),
                _ => None,
            })
            .flatten()
            .collect::<Vec<_>>();
        let mut sections = vec![
            metadata(run),
            throughput(run),
            evidence_section(run, verdict),
            timeline(run),
            signals(run),
            assessment(run, verdict, &availability),
        ];
        if !anomalies.is_empty() {
            // Right after the evidence that names them.
            sections.insert(3, anomaly_section(anomalies.len()));
        }
        Report {
            notices: Vec::new(),
            title: run.title.clone(),
            started: run.started.clone(),
            checkers_verdict: verdict,
            availability,
            sections,
            anomalies,
        }
    }

    /// `2026-11-24 03:25Z etcd register (chaos run)`.
    pub fn heading(&self) -> String {
        format!("{} {}", self.started, self.title)
    }
}

fn plain(text: impl Into<String>) -> Item {
    Item {
        line: Line::plain(text),
        items: Vec::new(),
    }
}

fn list(items: Vec<Item>) -> Block {
    Block::List { items }
}

fn metadata(run: &RunReport<'_>) -> Section {
    let params: Vec<String> = run
        .parameters
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut artifacts = plain("Artifacts:");
    artifacts.items = run
        .artifacts
        .iter()
        .map(|a| Item {
            line: Line(vec![Span::Code(a.clone())]),
            items: Vec::new(),
        })
        .collect();
    Section {
        heading: "Run Metadata".into(),
        blocks: vec![list(vec![
            Item {
                line: Line(vec![
                    Span::Text("Command: ".into()),
                    Span::Code(run.command.clone()),
                ]),
                items: Vec::new(),
            },
            plain(format!("Cluster: {}", run.cluster)),
            plain(format!("Endpoints: {}", run.endpoints.join(", "))),
            plain(format!("Parameters: {}", params.join(", "))),
            artifacts,
        ])],
    }
}

fn throughput(run: &RunReport<'_>) -> Section {
    let perf = run.perf;
    let o = perf.outcomes;
    let l = perf.latency;
    let mut blocks = vec![
        list(vec![
            Item::rich(&format!(
                "Operations: **{}** (ok **{}** / fail **{}** / info **{}**)",
                o.ok + o.fail + o.info,
                o.ok,
                o.fail,
                o.info
            )),
            Item::rich(&format!("Duration: **{}**", duration(perf.duration))),
            Item::rich(&format!("Throughput: **{:.0} ok/s**", perf.ok_per_second)),
            Item::rich(&format!(
                "Latency (ok ops): p50 **{}**, p95 **{}**, p99 **{}**, p99.9 **{}**, max **{}**",
                duration(l.p50),
                duration(l.p95),
                duration(l.p99),
                duration(l.p999),
                duration(l.max)
            )),
        ]),
        Block::Table {
            head: ["f", "ok ops", "p50", "p95", "p99", "p99.9", "max"]
                .map(String::from)
                .to_vec(),
            rows: perf
                .latency_by_f
                .iter()
                .map(|(f, l)| {
                    let mut row = vec![Line::plain(f.clone()), Line::plain(l.count.to_string())];
                    row.extend(
                        [l.p50, l.p95, l.p99, l.p999, l.max].map(|v| Line::plain(duration(v))),
                    );
                    row
                })
                .collect(),
        },
    ];
    // The plots beside the report, where Markdown renders images.
    blocks.extend(PLOTS.iter().map(|(file, alt)| Block::Plot {
        file: file.to_string(),
        alt: alt.to_string(),
    }));
    Section {
        heading: "Throughput and Latency".into(),
        blocks,
    }
}

/// Each anomaly's drawing, as files beside the report: Markdown shows them
/// where it renders images, and report.html inline.
fn anomaly_section(count: usize) -> Section {
    Section {
        heading: "Anomalies".into(),
        blocks: (0..count)
            .map(|n| Block::Plot {
                file: anomaly_file(n),
                alt: ANOMALY_ALT.to_string(),
            })
            .collect(),
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

fn evidence_section(run: &RunReport<'_>, verdict: Validity) -> Section {
    let mut items = vec![Item::rich(&format!(
        "Verdict: **{}** ({})",
        verdict_word(verdict),
        verdict.as_str()
    ))];
    for e in &run.evidence {
        items.extend(evidence::items(e, run.history, &run.perf.faults));
    }
    Section {
        heading: format!("{} Evidence", property(run, false)),
        blocks: vec![list(items)],
    }
}

fn timeline(run: &RunReport<'_>) -> Section {
    let faults = &run.perf.faults;
    let block = match faults.is_empty() {
        true => Block::Paragraph {
            line: Line::plain("No faults were injected."),
        },
        false => Block::Table {
            head: ["start", "end", "fault", "how it went"]
                .map(String::from)
                .to_vec(),
            rows: faults
                .iter()
                .map(|w| {
                    let (verb, detail) = fault(w, run.partition_shape.as_deref());
                    let what = match detail.is_empty() {
                        true => verb,
                        false => format!("{verb} {detail}"),
                    };
                    vec![
                        Line::plain(offset(w.start)),
                        Line::plain(w.end.map_or("not stopped".to_string(), offset)),
                        Line::plain(what),
                        Line::plain(ops::how_it_went(run.history, w)),
                    ]
                })
                .collect(),
        },
    };
    Section {
        heading: "Fault Timeline".into(),
        blocks: vec![block],
    }
}

/// How many signal lines a report shows before pointing to the logs.
const SIGNALS_SHOWN: usize = 20;

fn signals(run: &RunReport<'_>) -> Section {
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
    let blocks = if run.signals.is_empty() {
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
        vec![Block::Paragraph {
            line: Line::rich(&said),
        }]
    } else {
        let mut items: Vec<Item> = run
            .signals
            .iter()
            .take(SIGNALS_SHOWN)
            .map(|s| Item {
                // The log line as written, whatever marks it holds.
                line: Line(vec![
                    Span::Text(format!("{} {}: ", s.node, offset(s.time))),
                    Span::Code(s.line.clone()),
                ]),
                items: Vec::new(),
            })
            .collect();
        if run.signals.len() > SIGNALS_SHOWN {
            items.push(Item::rich(&format!(
                "... {} more in `nodes/`",
                run.signals.len() - SIGNALS_SHOWN
            )));
        }
        vec![
            list(items),
            Block::Paragraph {
                line: Line::rich(&format!(
                    "Lines within {margin} of a fault that mark an election, a leader change or a timeout; read: {}.",
                    logs.join(", ")
                )),
            },
        ]
    };
    Section {
        heading: "Node Log Signals".into(),
        blocks,
    }
}

fn assessment(run: &RunReport<'_>, v: Validity, a: &Availability) -> Section {
    let meaning = match v {
        Validity::Valid => "no anomaly in this window".to_string(),
        Validity::Invalid => "the history shows an anomaly: see the evidence above".to_string(),
        Validity::Unknown => {
            let reasons: Vec<String> = run
                .evidence
                .iter()
                .filter(|e| e.validity() == Validity::Unknown)
                .filter_map(evidence::undecided)
                .collect();
            match reasons.is_empty() {
                true => "the checker could not decide: see the evidence above".to_string(),
                false => reasons.join("; "),
            }
        }
    };
    Section {
        heading: "Assessment".into(),
        blocks: vec![list(vec![
            Item::rich(&format!(
                "**{} verdict**: {} ({meaning}).",
                property(run, true),
                verdict_word(v)
            )),
            Item::rich(&format!(
                "**Availability**: outside faults {}; during faults {}.",
                a.outside_faults.percent(),
                a.during_faults.percent()
            )),
        ])],
    }
}

#[cfg(test)]
mod tests;
