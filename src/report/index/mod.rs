//! The runs' own index, `results/index.md` and `results/index.html`: one
//! row per run folder, newest first, and per test a strip of verdicts over
//! time on which a regression is the first red square after the greens.
//!
//! Every link is relative to the results folder, so the Markdown reads the
//! same committed into an ops docs folder beside the runs it lists.

mod html;
mod markdown;

pub use html::index_html;
pub use markdown::index_markdown;

use super::Availability;
use chaos_checkers::Validity;

/// How a run ended, as its `test.json` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    Completed,
    /// Stopped by SIGINT or SIGTERM before its time limit.
    Interrupted,
    /// No `ended` in `test.json`: the harness died, or the run is still going.
    Unfinished,
}

/// What the index shows of a run whose `test.json` could be read.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    pub system: String,
    pub workload: String,
    /// `--nemesis` as given: `partition-halves,kill`.
    pub faults: String,
    pub seed: u64,
    pub ending: Ending,
    /// None when the run has no `results.json`: it never reached its check.
    pub verdict: Option<Validity>,
    /// Faults lost while held (the verdict is capped at unknown for them).
    pub faults_lost: usize,
    /// Completed client ops.
    pub ops: Option<usize>,
    pub availability: Option<Availability>,
    /// p99 latency of the ok ops, in nanoseconds.
    pub p99: Option<u64>,
    pub report_md: bool,
    pub report_html: bool,
}

/// One run folder, read or not.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexEntry {
    /// The folder relative to the index, `/`-separated:
    /// `etcd-register/20261124T032500Z`.
    pub folder: String,
    /// The folder its runs share under the results root: `etcd-register`.
    pub test: String,
    /// When it began, UTC, `2026-11-24 03:25Z` (`?` if nothing says).
    pub started: String,
    /// None when not even `test.json` could be read.
    pub run: Option<RunRow>,
    /// Why the folder could not be read whole; shown in its row.
    pub problem: Option<String>,
}

/// The colour class of an entry on the verdict strip and in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mark {
    Pass,
    Fail,
    Undecided,
    /// Read, but no verdict: the run never reached its check.
    None,
    /// Its folder could not be read.
    Unreadable,
}

impl Mark {
    pub(crate) fn of(entry: &IndexEntry) -> Mark {
        if entry.problem.is_some() {
            return Mark::Unreadable;
        }
        match entry.run.as_ref().and_then(|r| r.verdict) {
            Some(Validity::Valid) => Mark::Pass,
            Some(Validity::Invalid) => Mark::Fail,
            Some(Validity::Unknown) => Mark::Undecided,
            None => Mark::None,
        }
    }

    /// The word the run reports use for the verdict.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Mark::Pass => "PASS",
            Mark::Fail => "FAIL",
            Mark::Undecided => "UNDECIDED",
            Mark::None => "NO VERDICT",
            Mark::Unreadable => "UNREADABLE",
        }
    }
}

/// What keeps a row's verdict from standing alone: `interrupted`,
/// `partial: ...`, `a fault was lost`, or why the folder is unreadable.
pub(crate) fn notes(entry: &IndexEntry) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(run) = &entry.run {
        match run.ending {
            Ending::Completed => {}
            Ending::Interrupted => notes.push("interrupted".to_string()),
            Ending::Unfinished => {
                notes.push("partial: the harness died or is still running".to_string())
            }
        }
        if run.faults_lost > 0 {
            notes.push(format!("{} fault(s) lost while held", run.faults_lost));
        }
        if run.verdict.is_none() && entry.problem.is_none() {
            notes.push("never checked: no results.json".to_string());
        }
    }
    if let Some(problem) = &entry.problem {
        notes.push(problem.clone());
    }
    notes
}

/// The link of an entry's report, relative to the index: its `report.md`
/// (or `report.html` for the HTML index), else its folder.
pub(crate) fn report_link(entry: &IndexEntry, html: bool) -> String {
    let (has, file) = match &entry.run {
        Some(run) if html => (run.report_html, "report.html"),
        Some(run) => (run.report_md, "report.md"),
        None => (false, ""),
    };
    match has {
        true => url(&format!("{}/{file}", entry.folder)),
        false => url(&format!("{}/", entry.folder)),
    }
}

/// `report`, or `folder` when the run wrote no report to link to.
pub(crate) fn report_label(entry: &IndexEntry, html: bool) -> &'static str {
    let has = entry
        .run
        .as_ref()
        .is_some_and(|r| if html { r.report_html } else { r.report_md });
    match has {
        true => "report",
        false => "folder",
    }
}

/// A relative path as a link target: every byte outside the unreserved
/// set and `/` percent-encoded, so spaces or parentheses in a folder name
/// do not end the link.
pub(crate) fn url(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `3,631`.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `99.5% of 1,200`, or `–` when no op completed there.
pub(crate) fn share(s: &super::Share) -> String {
    match s.completed {
        0 => "–".to_string(),
        all => format!(
            "{:.1}% of {}",
            100.0 * s.ok as f64 / all as f64,
            thousands(all)
        ),
    }
}

/// One test's runs, oldest first: the strip and what it shows.
pub(crate) struct Strip<'a> {
    pub test: &'a str,
    pub runs: Vec<&'a IndexEntry>,
}

/// Strips per test (by name), each oldest first. `entries` is newest first.
pub(crate) fn strips(entries: &[IndexEntry]) -> Vec<Strip<'_>> {
    let mut tests: Vec<&str> = entries.iter().map(|e| e.test.as_str()).collect();
    tests.sort();
    tests.dedup();
    tests
        .into_iter()
        .map(|test| Strip {
            test,
            runs: entries.iter().rev().filter(|e| e.test == test).collect(),
        })
        .collect()
}

/// The regression a strip shows, if its newest decided run failed: the
/// first FAIL since the last PASS (the first red night), and that PASS.
pub(crate) fn regression<'a>(
    strip: &Strip<'a>,
) -> Option<(&'a IndexEntry, Option<&'a IndexEntry>)> {
    let decided: Vec<&IndexEntry> = strip
        .runs
        .iter()
        .copied()
        .filter(|e| matches!(Mark::of(e), Mark::Pass | Mark::Fail))
        .collect();
    if Mark::of(decided.last()?) != Mark::Fail {
        return None;
    }
    let last_pass = decided.iter().rposition(|e| Mark::of(e) == Mark::Pass);
    let first_fail = last_pass.map_or(0, |i| i + 1);
    Some((decided[first_fail], last_pass.map(|i| decided[i])))
}

#[cfg(test)]
mod tests;
