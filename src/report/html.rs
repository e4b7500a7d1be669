//! `report.html`: the run report with its plots, one self-contained file.
//!
//! The text is the markdown report turned into HTML. Only the subset that
//! `markdown` writes is understood (headings, nested bullets, tables, bold,
//! code), which keeps the two reports identical in content.

use super::markdown::{markdown, RunReport};
use super::plot::{self, Plot};
use chaos_checkers::linear::Failure;

const STYLE: &str = "body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px}\
code{background:#f3f3f3;padding:0 3px}figure{margin:1em 0}";

pub fn html(run: &RunReport<'_>, failures: &[&Failure], plots: &[Plot]) -> String {
    let mut body = to_html(&markdown(run), plots);
    body.push_str(&anomalies(failures));
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>\n",
        escape(&run.title)
    )
}

/// Each op that cannot be linearized, drawn among the ops around it.
fn anomalies(failures: &[&Failure]) -> String {
    if failures.is_empty() {
        return String::new();
    }
    let mut out = String::from("<h3>Anomalies</h3>");
    for failure in failures {
        out += &format!(
            "<figure>{}<figcaption>The op that cannot be linearized (red) with the ops concurrent with it; dashed: outcome unknown.</figcaption></figure>",
            plot::anomaly(failure)
        );
    }
    out
}

/// An image line of the Markdown (`![alt](latency.svg)`) becomes the plot
/// itself, inline, so the page stands alone.
fn figure(line: &str, plots: &[Plot]) -> Option<String> {
    let (alt, rest) = line.strip_prefix("![")?.split_once("](")?;
    let file = rest.strip_suffix(')')?;
    let plot = plots.iter().find(|p| p.file == file)?;
    Some(format!(
        "<figure>{}<figcaption>{alt} (<a href=\"{file}\">{file}</a>)</figcaption></figure>",
        plot.svg.trim_end()
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `**bold**` and `` `code` `` inside a line already escaped.
fn inline(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            out += &format!("<code>{part}</code>");
        } else {
            for (j, piece) in part.split("**").enumerate() {
                out += &if j % 2 == 1 {
                    format!("<strong>{piece}</strong>")
                } else {
                    piece.to_string()
                };
            }
        }
    }
    out
}

fn table_row(line: &str, cell: &str) -> String {
    // Cells are split on `|` not preceded by a backslash (an escaped pipe).
    let inner = line
        .trim()
        .trim_start_matches('|')
        .trim_end_matches('|')
        .replace("\\|", "\u{0}");
    let cells: Vec<String> = inner
        .split('|')
        .map(|c| {
            format!(
                "<{cell}>{}</{cell}>",
                inline(c.trim()).replace('\u{0}', "|")
            )
        })
        .collect();
    format!("<tr>{}</tr>", cells.join(""))
}

fn to_html(markdown: &str, plots: &[Plot]) -> String {
    let mut out = String::new();
    let mut depth = 0usize; // open <ul> levels
    let mut in_table = false;
    for raw in markdown.lines() {
        let line = escape(raw);
        let bullet = line
            .trim_start()
            .strip_prefix("- ")
            .map(|rest| ((line.len() - line.trim_start().len()) / 2 + 1, rest));
        if bullet.is_none() {
            out += &"</ul>".repeat(depth);
            depth = 0;
        }
        if !line.starts_with('|') && in_table {
            out += "</table>";
            in_table = false;
        }
        if let Some((level, rest)) = bullet {
            while depth < level {
                out += "<ul>";
                depth += 1;
            }
            while depth > level {
                out += "</ul>";
                depth -= 1;
            }
            out += &format!("<li>{}</li>", inline(rest));
        } else if let Some(h) = line.strip_prefix("### ") {
            out += &format!("<h3>{}</h3>", inline(h));
        } else if let Some(h) = line.strip_prefix("## ") {
            out += &format!("<h2>{}</h2>", inline(h));
        } else if line.starts_with("|---") {
            continue;
        } else if line.starts_with("![") {
            out += &figure(&line, plots).unwrap_or_default();
        } else if line.starts_with('|') {
            let cell = if in_table { "td" } else { "th" };
            if !in_table {
                out += "<table>";
                in_table = true;
            }
            out += &table_row(&line, cell);
        } else if !line.trim().is_empty() {
            out += &format!("<p>{}</p>", inline(&line));
        }
    }
    out += &"</ul>".repeat(depth);
    if in_table {
        out += "</table>";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_markdown_subset_becomes_html() {
        let md = "## Run\n\n### Metadata\n- Command: `chaos run`\n- Artifacts:\n  - `history.jsonl`\n\n| a | b |\n|---|---|\n| 1 \\| 2 | **3** |\n\nText & more.\n";
        let html = to_html(md, &[]);
        assert_eq!(
            html,
            "<h2>Run</h2><h3>Metadata</h3><ul><li>Command: <code>chaos run</code></li><li>Artifacts:</li><ul><li><code>history.jsonl</code></li></ul></ul>\
<table><tr><th>a</th><th>b</th></tr><tr><td>1 | 2</td><td><strong>3</strong></td></tr></table><p>Text &amp; more.</p>"
        );
    }

    #[test]
    fn angle_brackets_in_values_are_escaped() {
        assert_eq!(
            to_html("- value `<script>`", &[]),
            "<ul><li>value <code>&lt;script&gt;</code></li></ul>"
        );
    }
}

#[cfg(test)]
mod render {
    use crate::report::*;
    use chaos_checkers::history::format::read_history;
    use chaos_checkers::linear::{self, LinearOptions};

    #[test]
    fn an_invalid_history_renders_with_its_anomaly_drawn() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/porcupine/jepsen/etcd_000.log"
        );
        let h = read_history(std::path::Path::new(path), None).unwrap_or_else(|e| {
            panic!("{e}: these tests read the shared corpus, ../shared beside the checkout")
        });
        let l = linear::check(
            &h,
            &LinearOptions {
                threads: 1,
                ..Default::default()
            },
        )
        .unwrap();
        let p = chaos_checkers::perf::perf(&h, 50);
        let run = RunReport {
            title: "etcd_000 <sample>".into(),
            started: "2026-11-24 03:00Z".into(),
            command: "chaos check".into(),
            cluster: "none".into(),
            endpoints: vec![],
            parameters: vec![],
            artifacts: vec![],
            history: &h,
            perf: &p,
            evidence: vec![Evidence::Linearizable(&l)],
            signals: vec![],
            search: SignalSearch::default(),
            partition_shape: None,
        };
        let failures: Vec<_> = l.keys.iter().filter_map(|k| k.failure.as_ref()).collect();
        let page = html(&run, &failures, &plots(&h, &p));
        assert_eq!(page.matches("<svg").count(), 3, "latency, rate, anomaly");
        assert_eq!(page.matches("</svg>").count(), 3);
        assert!(page.contains("#e63946"), "the culprit is drawn in red");
        let culprit = format!("op {}:", failures[0].op.index);
        assert!(
            page.contains(&culprit),
            "the culprit is named in the drawing"
        );
        assert!(page.contains("<title>etcd_000 &lt;sample&gt;</title>"));
        assert!(!page.contains("NaN"));
    }
}
