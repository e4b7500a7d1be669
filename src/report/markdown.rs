//! `report.md`: the report's model laid out as Markdown, in the shape of
//! the run reports ops people already keep, each plot as an image beside it.

use super::input::RunReport;
use super::model::text::{Block, Item, Line, Span};
use super::model::Report;

#[cfg(test)]
use super::input::{Evidence, NodeSignal, SignalSearch};
#[cfg(test)]
use super::model::fault;
#[cfg(test)]
use chaos_checkers::{
    history::{History, OpType},
    linear::LinearReport,
    perf::FaultWindow,
    Validity,
};

/// The Markdown report of a run, without notices.
pub fn markdown(run: &RunReport<'_>) -> String {
    render(&Report::build(run))
}

pub fn render(report: &Report<'_>) -> String {
    let mut out = String::new();
    for notice in &report.notices {
        out += &format!("> {notice}\n\n");
    }
    out += &format!("## {}\n\n", report.heading());
    for section in &report.sections {
        out += &format!("### {}\n", section.heading);
        for block in &section.blocks {
            out += &match block {
                Block::List { items } => list(items, 0),
                Block::Table { head, rows } => table(head, rows),
                Block::Paragraph { line: l } => format!("{}\n", line(l)),
                Block::Plot { file, alt } => format!("![{alt}]({file})\n"),
            };
            out.push('\n');
        }
    }
    // The report ends on its last line, not on a blank one.
    if out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// A line with its marks: `**strong**`, `` `code` ``.
fn line(line: &Line) -> String {
    line.0
        .iter()
        .map(|span| match span {
            Span::Text(t) => t.clone(),
            Span::Strong(t) => format!("**{t}**"),
            Span::Code(t) => format!("`{t}`"),
        })
        .collect()
}

/// Bullets, two spaces deeper per level, from `depth`.
pub(crate) fn list(items: &[Item], depth: usize) -> String {
    let mut out = String::new();
    for item in items {
        out += &format!("{}- {}\n", "  ".repeat(depth), line(&item.line));
        out += &list(&item.items, depth + 1);
    }
    out
}

fn table(head: &[String], rows: &[Vec<Line>]) -> String {
    // A pipe inside a cell would end it.
    let row = |cells: Vec<String>| {
        let cells: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|")).collect();
        format!("| {} |\n", cells.join(" | "))
    };
    let mut out = row(head.to_vec());
    out += &format!("|{}\n", "---|".repeat(head.len()));
    for cells in rows {
        out += &row(cells.iter().map(line).collect());
    }
    out
}

#[cfg(test)]
#[path = "markdown_tests.rs"]
mod tests;
