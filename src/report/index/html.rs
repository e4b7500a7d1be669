//! `index.html`: the same index as `index.md`, self-contained, with the
//! verdict strips drawn as coloured squares that link to each report.

use super::{
    notes, regression, report_label, report_link, share, strips, thousands, IndexEntry, Mark,
};
use crate::report::units::duration;
use crate::report::xml::escape;
use std::fmt::Write;

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}\
code{background:#f3f3f3;padding:0 3px}\
.sq{display:inline-block;width:14px;height:14px;margin:1px;border-radius:2px}\
.pass{background:#2a9d8f}.fail{background:#e63946}.undecided{background:#e9c46a}\
.none{background:#fff;border:1px solid #999;width:12px;height:12px}.unreadable{background:#333}\
td.v-pass{color:#1d6f65}td.v-fail{color:#c1121f}td.v-undecided{color:#8a6d00}";

fn class(mark: Mark) -> &'static str {
    match mark {
        Mark::Pass => "pass",
        Mark::Fail => "fail",
        Mark::Undecided => "undecided",
        Mark::None => "none",
        Mark::Unreadable => "unreadable",
    }
}

pub fn index_html(entries: &[IndexEntry]) -> String {
    let mut body = String::new();
    let _ = write_body(&mut body, entries);
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Chaos runs</title>\
         <style>{STYLE}</style></head><body>{body}</body></html>\n"
    )
}

fn write_body(out: &mut String, entries: &[IndexEntry]) -> std::fmt::Result {
    write!(out, "<h1>Chaos runs</h1>")?;
    if entries.is_empty() {
        return write!(
            out,
            "<p>No run folder here yet: <code>chaos run --results</code> this folder.</p>"
        );
    }
    write!(
        out,
        "<p>{} run(s), newest first. Written by <code>chaos run</code> after each run and by \
         <code>chaos report --index DIR</code>; every link is relative to this file.</p>",
        entries.len()
    )?;
    write!(
        out,
        "<h2>Verdicts over time</h2><p>Oldest left, newest right: "
    )?;
    for mark in [
        Mark::Pass,
        Mark::Fail,
        Mark::Undecided,
        Mark::None,
        Mark::Unreadable,
    ] {
        write!(
            out,
            "<span class=\"sq {}\"></span> {} ",
            class(mark),
            mark.word()
        )?;
    }
    write!(out, "</p><table>")?;
    for strip in strips(entries) {
        write!(out, "<tr><th><code>{}</code></th><td>", escape(strip.test))?;
        for e in &strip.runs {
            let mark = Mark::of(e);
            let mut title = format!("{} {}", e.started, mark.word());
            for note in notes(e) {
                title += &format!(", {note}");
            }
            write!(
                out,
                "<a class=\"sq {}\" href=\"{}\" title=\"{}\"></a>",
                class(mark),
                escape(&report_link(e, true)),
                escape(&title)
            )?;
        }
        write!(out, "</td><td>")?;
        if let Some((first, pass)) = regression(&strip) {
            write!(
                out,
                "FAIL since <a href=\"{}\">{}</a>",
                escape(&report_link(first, true)),
                escape(&first.started)
            )?;
            match pass {
                Some(pass) => write!(out, ", last PASS {}", escape(&pass.started))?,
                None => write!(out, ", never PASS")?,
            }
        }
        write!(out, "</td></tr>")?;
    }
    write!(out, "</table><h2>Runs</h2><table><tr>")?;
    for head in [
        "date",
        "system",
        "workload",
        "faults",
        "seed",
        "verdict",
        "ops",
        "ok outside faults",
        "ok during faults",
        "p99",
        "report",
    ] {
        write!(out, "<th>{head}</th>")?;
    }
    write!(out, "</tr>")?;
    for e in entries {
        row(out, e)?;
    }
    write!(out, "</table>")
}

fn row(out: &mut String, e: &IndexEntry) -> std::fmt::Result {
    let mark = Mark::of(e);
    let dash = || "–".to_string();
    let cells: [String; 9] = match &e.run {
        Some(r) => [
            e.started.clone(),
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
        ],
        None => [
            e.started.clone(),
            dash(),
            dash(),
            dash(),
            dash(),
            dash(),
            dash(),
            dash(),
            dash(),
        ],
    };
    write!(out, "<tr>")?;
    for c in &cells[..5] {
        write!(out, "<td>{}</td>", escape(c))?;
    }
    let notes = notes(e);
    let notes = match notes.is_empty() {
        true => String::new(),
        false => format!(" ({})", escape(&notes.join("; "))),
    };
    write!(
        out,
        "<td class=\"v-{}\"><strong>{}</strong>{notes}</td>",
        class(mark),
        mark.word()
    )?;
    for c in &cells[5..] {
        write!(out, "<td>{}</td>", escape(c))?;
    }
    write!(
        out,
        "<td><a href=\"{}\">{}</a></td></tr>",
        escape(&report_link(e, true)),
        report_label(e, true)
    )
}
