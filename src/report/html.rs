//! `report.html`: the report's model laid out as one page that stands
//! alone: the plots inline where the Markdown shows them as images, the
//! notices on top, and each op that cannot be linearized drawn.

use std::fmt::Write;

use super::model::text::{Block, Item, Line, Span};
use super::model::Report;
use super::plot::Plot;
use super::xml::escape;

const STYLE: &str = "body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px}\
code{background:#f3f3f3;padding:0 3px}figure{margin:1em 0}svg{max-width:100%;height:auto}\
blockquote{border-left:4px solid #e9c46a;margin:1em 0;padding:0.2em 1em;background:#fffbea}";

/// The page of `report`, with `plots` (the files `report.md` refers to).
pub fn render(report: &Report<'_>, plots: &[Plot]) -> String {
    let mut body = String::new();
    for notice in &report.notices {
        let _ = write!(body, "<blockquote><p>{}</p></blockquote>", escape(notice));
    }
    let _ = write!(body, "<h2>{}</h2>", escape(&report.heading()));
    for section in &report.sections {
        let _ = write!(body, "<h3>{}</h3>", escape(&section.heading));
        for block in &section.blocks {
            body += &match block {
                Block::List { items } => list(items),
                Block::Table { head, rows } => table(head, rows),
                Block::Paragraph { line: l } => format!("<p>{}</p>", line(l)),
                Block::Plot { file, alt } => figure(file, alt, plots),
            };
        }
    }
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>\n",
        escape(&report.title)
    )
}

fn line(line: &Line) -> String {
    line.0
        .iter()
        .map(|span| match span {
            Span::Text(t) => escape(t),
            Span::Strong(t) => format!("<strong>{}</strong>", escape(t)),
            Span::Code(t) => format!("<code>{}</code>", escape(t)),
        })
        .collect()
}

fn list(items: &[Item]) -> String {
    let mut out = String::from("<ul>");
    for item in items {
        out += &format!("<li>{}", line(&item.line));
        if !item.items.is_empty() {
            out += &list(&item.items);
        }
        out += "</li>";
    }
    out + "</ul>"
}

fn table(head: &[String], rows: &[Vec<Line>]) -> String {
    let mut out = String::from("<table><tr>");
    for h in head {
        out += &format!("<th>{}</th>", escape(h));
    }
    out += "</tr>";
    for row in rows {
        out += "<tr>";
        for cell in row {
            out += &format!("<td>{}</td>", line(cell));
        }
        out += "</tr>";
    }
    out + "</table>"
}

/// The plot itself, inline, captioned with what it shows and its file.
fn figure(file: &str, alt: &str, plots: &[Plot]) -> String {
    match plots.iter().find(|p| p.file == file) {
        Some(plot) => format!(
            "<figure>{}<figcaption>{} (<a href=\"{}\">{}</a>)</figcaption></figure>",
            plot.svg.trim_end(),
            escape(alt),
            escape(file),
            escape(file)
        ),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_lists_and_tables_become_html_with_values_escaped() {
        let items = vec![Item {
            line: Line::rich("Command: `chaos run <x>` & **3**"),
            items: vec![Item::rich("`history.jsonl`")],
        }];
        assert_eq!(
            list(&items),
            "<ul><li>Command: <code>chaos run &lt;x&gt;</code> &amp; <strong>3</strong><ul><li><code>history.jsonl</code></li></ul></li></ul>"
        );
        assert_eq!(
            table(&["a".into(), "b".into()], &[vec![Line::plain("1 | 2"), Line::rich("**3**")]]),
            "<table><tr><th>a</th><th>b</th></tr><tr><td>1 | 2</td><td><strong>3</strong></td></tr></table>"
        );
    }
}

#[cfg(test)]
mod render {
    use super::render;
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
        let report = Report::build(&run);
        let mut drawn = plots(&h, &p);
        drawn.extend(anomaly_plots(&report.anomalies));
        let page = render(&report, &drawn);
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
