//! `chaos report DIR` from the outside, on folders made by hand: a run whose
//! harness died (no `ended` in test.json) still gets its verdict and a report
//! marked PARTIAL; a wrong folder or a broken history is one line and 254.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn chaos(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chaos"))
        .args(args)
        .output()
        .expect("the chaos binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A results folder as a run leaves it when the harness dies mid-run: the
/// first test.json and the streamed history, nothing else.
struct Folder(PathBuf);

impl Folder {
    fn new(tag: &str, history: &str) -> Folder {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("report-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("nodes/n1")).unwrap();
        let test = serde_json::json!({
            "run_id": "r-report", "test": "etcd-register", "system": "etcd",
            "workload": "register", "backend": "docker", "nodes": 3,
            "nemesis": "partition-halves", "nemesis_interval_s": 10.0,
            "time_limit_s": 60.0, "concurrency": 2, "rate": 100.0, "seed": 1,
            "read": "linearizable", "keep_cluster": false, "results": "results",
            "command": "chaos run", "harness_version": "0.1.0",
            "started": "2026-11-24 03:25Z", "run_start_unix_ns": 1_700_000_000_000_000_000u64,
        });
        std::fs::write(dir.join("test.json"), test.to_string()).unwrap();
        std::fs::write(dir.join("history.jsonl"), history).unwrap();
        std::fs::write(dir.join("nodes/n1/log"), "not a log line we know\n").unwrap();
        Folder(dir)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.0.join(file)).unwrap_or_default()
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const OP: &str = r#"{"index":0,"time":1000,"process":0,"type":"invoke","f":"write","key":1,"value":3,"node":"n1"}
{"index":1,"time":2000,"process":0,"type":"ok","f":"write","key":1,"value":3,"node":"n1"}
{"index":2,"time":3000,"process":1,"type":"invoke","f":"read","key":1,"value":null,"node":"n2"}
"#;

#[test]
fn a_run_whose_harness_died_gets_a_partial_report() {
    let stale_read = r#"{"index":3,"time":4000,"process":1,"type":"ok","f":"read","key":1,"value":null,"node":"n2"}
"#;
    let folder = Folder::new("died", &format!("{OP}{stale_read}"));
    let out = chaos(&["report", folder.path()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("etcd-register: invalid (2 ops checked"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("[partial]"), "{}", stdout(&out));
    let report = folder.read("report.md");
    assert!(
        report.starts_with("> PARTIAL: the harness did not finish this run"),
        "{report}"
    );
    assert!(
        report.contains("op 2 (process 1 on n2: read null → ok null"),
        "{report}"
    );
    let results: serde_json::Value = serde_json::from_str(&folder.read("results.json")).unwrap();
    assert_eq!(results["valid"], "invalid");
    assert_eq!(results["partial"], true);
    assert!(folder.read("report.html").contains("<svg"));
    assert!(folder.read("history.edn").contains(":type :invoke"));
}

#[test]
fn an_unfinished_op_at_the_end_is_fine() {
    // The invocation without a completion is what a crash leaves: it may
    // have happened or not, and the rest is still checked.
    let folder = Folder::new("open", OP);
    let out = chaos(&["report", folder.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("etcd-register: valid"));
}

#[test]
fn a_folder_that_is_not_a_run_is_one_line_and_254() {
    let nowhere = Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-such-run");
    let out = chaos(&["report", nowhere.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(254));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("pass the folder of one run"), "{err}");
}

#[test]
fn a_broken_history_line_is_named_with_its_line_number() {
    let folder = Folder::new("broken", &format!("{OP}{{\"index\":3,\"time\":\n"));
    let out = chaos(&["report", folder.path()]);
    assert_eq!(out.status.code(), Some(254), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("history.jsonl:4"), "{err}");
}
