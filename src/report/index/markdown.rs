//! `index.md`: the verdict strips, then the table of runs, newest first.

use super::{
    notes, regression, report_label, report_link, share, strips, thousands, IndexEntry, Mark,
};
use crate::report::units::duration;
use std::fmt::Write;

fn square(mark: Mark) -> &'static str {
    match mark {
        Mark::Pass => "🟩",
        Mark::Fail => "🟥",
        Mark::Undecided => "🟨",
        Mark::None => "⬜",
        Mark::Unreadable => "⬛",
    }
}

/// A table cell: no pipe or line break may end it early.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

pub fn index_markdown(entries: &[IndexEntry]) -> String {
    let mut out = String::new();
    let _ = write_index(&mut out, entries);
    out
}

fn write_index(out: &mut String, entries: &[IndexEntry]) -> std::fmt::Result {
    writeln!(out, "# Chaos runs\n")?;
    if entries.is_empty() {
        return writeln!(
            out,
            "No run folder here yet: `chaos run --results` this folder."
        );
    }
    writeln!(
        out,
        "{} run(s), newest first. Written by `chaos run` after each run and by \
         `chaos report --index DIR`; every link is relative to this file.\n",
        entries.len()
    )?;
    writeln!(out, "## Verdicts over time\n")?;
    writeln!(
        out,
        "Oldest left, newest right: 🟩 PASS, 🟥 FAIL, 🟨 UNDECIDED, ⬜ no verdict, ⬛ unreadable folder.\n"
    )?;
    for strip in strips(entries) {
        let squares: String = strip
            .runs
            .iter()
            .map(|e| {
                let mut title = format!("{} {}", e.started, Mark::of(e).word());
                for note in notes(e) {
                    title += &format!(", {note}");
                }
                format!(
                    "[{}]({} \"{}\")",
                    square(Mark::of(e)),
                    report_link(e, false),
                    title.replace('"', "'")
                )
            })
            .collect();
        write!(out, "- `{}`: {squares}", strip.test)?;
        if let Some((first, pass)) = regression(&strip) {
            write!(
                out,
                " FAIL since [{}]({})",
                first.started,
                report_link(first, false)
            )?;
            match pass {
                Some(pass) => write!(out, ", last PASS {}", pass.started)?,
                None => write!(out, ", never PASS")?,
            }
        }
        writeln!(out)?;
    }
    writeln!(out, "\n## Runs\n")?;
    writeln!(
        out,
        "| date | system | workload | faults | seed | verdict | ops | ok outside faults | ok during faults | p99 | report |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|")?;
    for e in entries {
        let mark = Mark::of(e);
        let mut verdict = format!("**{}**", mark.word());
        let notes = notes(e);
        if !notes.is_empty() {
            verdict += &format!(" ({})", notes.join("; "));
        }
        let link = format!("[{}]({})", report_label(e, false), report_link(e, false));
        let dash = || "–".to_string();
        let (system, workload, faults, seed, ops, outside, during, p99) = match &e.run {
            Some(r) => (
                r.system.clone(),
                r.workload.clone(),
                r.faults.clone(),
                r.seed.to_string(),
                r.ops.map_or_else(dash, thousands),
                r.availability
                    .map_or_else(dash, |a| share(&a.outside_faults)),
                r.availability
                    .map_or_else(dash, |a| share(&a.during_faults)),
                r.p99.map_or_else(dash, duration),
            ),
            None => (
                dash(),
                dash(),
                dash(),
                dash(),
                dash(),
                dash(),
                dash(),
                dash(),
            ),
        };
        let cells = [
            e.started.clone(),
            system,
            workload,
            faults,
            seed,
            verdict,
            ops,
            outside,
            during,
            p99,
        ]
        .map(|c| cell(&c))
        .join(" | ");
        writeln!(out, "| {cells} | {link} |")?;
    }
    Ok(())
}
