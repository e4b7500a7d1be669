//! The runs' own index: reads every run folder under a results root
//! (`<root>/<test>/<stamp>/`) back into one row each and writes
//! `<root>/index.md` and `<root>/index.html`. `chaos run` refreshes it
//! after every run, `chaos report --index DIR` on demand.
//!
//! A row needs only `test.json` and `results.json`, never the history, so
//! a year of nightly runs indexes in moments. A folder that cannot be read
//! costs its own row (marked unreadable, with why) and one stderr line,
//! never the index.

use std::path::Path;

use chaos_checkers::perf::{Latency, Outcomes};
use chaos_checkers::Validity;
use serde::Deserialize;

use super::meta::{TestMeta, COMPLETED, INTERRUPTED};
use crate::error::Failure;
use crate::report::{index_html, index_markdown, Availability, Ending, IndexEntry, RunRow};

/// The part of `results.json` a row shows.
#[derive(Deserialize)]
struct Results {
    valid: Validity,
    #[serde(default)]
    faults_lost: Vec<String>,
    perf: PerfSummary,
    /// Absent in a `results.json` written before the index existed:
    /// `chaos report DIR` writes it again.
    #[serde(default)]
    availability: Option<Availability>,
}

#[derive(Deserialize)]
struct PerfSummary {
    outcomes: Outcomes,
    latency: Latency,
}

/// What `write` did: how many rows, and the unreadable folders with why.
pub struct Written {
    pub runs: usize,
    pub unreadable: Vec<(String, String)>,
}

/// `20261124T032500Z` (and `20261124T032500Z-2`), the folder names
/// `chaos run` gives, as `2026-11-24 03:25Z`.
fn started_from_stamp(stamp: &str) -> Option<String> {
    let s = stamp.split('-').next()?.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        let part = s.get(r)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| String::from_utf8_lossy(part).into_owned())
    };
    if s.len() != 16 || s[8] != b'T' || s[15] != b'Z' {
        return None;
    }
    Some(format!(
        "{}-{}-{} {}:{}Z",
        digits(0..4)?,
        digits(4..6)?,
        digits(6..8)?,
        digits(9..11)?,
        digits(11..13)?
    ))
}

/// The order of the index, newest first: by when the run began (the
/// folder's stamp to the second, else `test.json`'s minute), then by the
/// `-2`, `-3` of runs that began in the same second, then by name.
fn order_key(entry: &IndexEntry) -> (String, u64, String) {
    let stamp = entry.folder.rsplit('/').next().unwrap_or("");
    let digits: String = if started_from_stamp(stamp).is_some() {
        stamp
            .chars()
            .take(15)
            .filter(char::is_ascii_digit)
            .collect()
    } else {
        let mut d: String = entry.started.chars().filter(char::is_ascii_digit).collect();
        while d.len() < 14 && !d.is_empty() {
            d.push('0');
        }
        d
    };
    let again = stamp
        .split_once('-')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(1);
    (digits, again, entry.folder.clone())
}

/// One run folder as a row; `folder` is relative to the root.
fn read_entry(dir: &Path, test: &str, folder: String) -> IndexEntry {
    let stamp = folder.rsplit('/').next().unwrap_or("");
    let mut entry = IndexEntry {
        started: started_from_stamp(stamp).unwrap_or_else(|| "?".into()),
        test: test.to_string(),
        folder,
        run: None,
        problem: None,
    };
    let meta: TestMeta = match std::fs::read_to_string(dir.join("test.json")) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            entry.problem = Some("no test.json: not a run folder".into());
            return entry;
        }
        Err(e) => {
            entry.problem = Some(format!("cannot read test.json: {e}"));
            return entry;
        }
        Ok(text) => match serde_json::from_str(&text) {
            Ok(meta) => meta,
            Err(e) => {
                entry.problem = Some(format!("test.json is not a chaos test.json: {e}"));
                return entry;
            }
        },
    };
    entry.started = meta.started.clone();
    let mut run = RunRow {
        system: meta.system.clone(),
        workload: meta.workload.clone(),
        faults: meta.nemesis.clone(),
        seed: meta.seed,
        ending: match meta.ended.as_deref() {
            Some(COMPLETED) => Ending::Completed,
            Some(INTERRUPTED) => Ending::Interrupted,
            _ => Ending::Unfinished,
        },
        verdict: None,
        faults_lost: 0,
        ops: None,
        availability: None,
        p99: None,
        report_md: dir.join("report.md").is_file(),
        report_html: dir.join("report.html").is_file(),
    };
    match std::fs::read_to_string(dir.join("results.json")) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => entry.problem = Some(format!("cannot read results.json: {e}")),
        Ok(text) => match serde_json::from_str::<Results>(&text) {
            Ok(r) => {
                let o = r.perf.outcomes;
                run.verdict = Some(r.valid);
                run.faults_lost = r.faults_lost.len();
                run.ops = Some(o.ok + o.fail + o.info);
                run.availability = r.availability;
                run.p99 = (r.perf.latency.count > 0).then_some(r.perf.latency.p99);
            }
            Err(e) => {
                entry.problem = Some(format!("results.json is not a chaos results.json: {e}"))
            }
        },
    }
    entry.run = Some(run);
    entry
}

/// The directories directly in `dir`, by name; symbolic links (`latest`)
/// are not followed, so no run is listed twice.
fn folders(dir: &Path) -> std::io::Result<Vec<(String, std::path::PathBuf)>> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if !e.file_type()?.is_dir() {
            continue;
        }
        if let Ok(name) = e.file_name().into_string() {
            if !name.starts_with('.') {
                found.push((name, e.path()));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Every run folder under `root`, newest first.
pub fn scan(root: &Path) -> Result<Vec<IndexEntry>, Failure> {
    let tests = folders(root).map_err(|e| {
        Failure::BadInput(format!(
            "cannot read {}: {e}; pass the folder runs are written to (chaos run --results, default results)",
            root.display()
        ))
    })?;
    let mut entries = Vec::new();
    for (test, path) in tests {
        match folders(&path) {
            Ok(runs) => entries.extend(
                runs.into_iter()
                    .map(|(stamp, dir)| read_entry(&dir, &test, format!("{test}/{stamp}"))),
            ),
            Err(e) => entries.push(IndexEntry {
                folder: test.clone(),
                test: test.clone(),
                started: "?".into(),
                run: None,
                problem: Some(format!("cannot list its runs: {e}")),
            }),
        }
    }
    entries.sort_by_cached_key(order_key);
    entries.reverse();
    Ok(entries)
}

/// Writes `path` whole (aside, then renamed): a reader, or a nightly job
/// committing the folder, never sees half an index.
fn replace(path: &Path, text: &str) -> Result<(), Failure> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("index");
    let aside = path.with_file_name(format!(".{name}.new"));
    std::fs::write(&aside, text)
        .and_then(|()| std::fs::rename(&aside, path))
        .map_err(|e| Failure::Harness(format!("cannot write {}: {e}", path.display())))
}

/// Scans `root` and writes its `index.md` and `index.html`.
pub fn write(root: &Path) -> Result<Written, Failure> {
    let entries = scan(root)?;
    replace(&root.join("index.md"), &index_markdown(&entries))?;
    replace(&root.join("index.html"), &index_html(&entries))?;
    Ok(Written {
        runs: entries.len(),
        unreadable: entries
            .iter()
            .filter_map(|e| Some((e.folder.clone(), e.problem.clone()?)))
            .collect(),
    })
}

/// What `chaos run` calls when it ends: the index of `root` brought up to
/// date, each unreadable folder and any failure one stderr line; the run's
/// own exit code is not touched by it.
pub fn refresh(root: &Path) {
    if !root.is_dir() {
        return;
    }
    match write(root) {
        Ok(written) => {
            for (folder, why) in written.unreadable {
                eprintln!("chaos: index: {folder}: {why}");
            }
        }
        Err(e) => eprintln!("chaos: index not updated: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_reads_as_the_minute_it_names() {
        assert_eq!(
            started_from_stamp("20261124T032500Z").as_deref(),
            Some("2026-11-24 03:25Z")
        );
        assert_eq!(
            started_from_stamp("20261124T032500Z-2").as_deref(),
            Some("2026-11-24 03:25Z")
        );
        assert_eq!(started_from_stamp("yesterday"), None);
        assert_eq!(started_from_stamp("2026112xT032500Z"), None);
    }

    fn entry(folder: &str, started: &str) -> IndexEntry {
        IndexEntry {
            folder: folder.into(),
            test: folder.split('/').next().unwrap().into(),
            started: started.into(),
            run: None,
            problem: None,
        }
    }

    #[test]
    fn runs_order_by_stamp_then_by_their_repeat_number() {
        let mut entries = [
            entry("b/20261124T032500Z", ""),
            entry("a/20261124T032500Z-10", ""),
            entry("a/20261124T032500Z-2", ""),
            entry("a/20261125T000000Z", ""),
            entry("a/by-hand", "2026-11-24 03:26Z"),
            entry("a/unknown", "?"),
        ];
        entries.sort_by_cached_key(order_key);
        let folders: Vec<&str> = entries.iter().map(|e| e.folder.as_str()).collect();
        assert_eq!(
            folders,
            [
                "a/unknown",
                "b/20261124T032500Z",
                "a/20261124T032500Z-2",
                "a/20261124T032500Z-10",
                "a/by-hand",
                "a/20261125T000000Z",
            ]
        );
    }
}
