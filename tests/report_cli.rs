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

    /// Sets `field` of test.json to `value`.
    fn set(&self, field: &str, value: serde_json::Value) -> &Folder {
        let path = self.0.join("test.json");
        let mut test: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        test[field] = value;
        std::fs::write(&path, test.to_string()).unwrap();
        self
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
    assert!(report.contains("### Consistency Evidence"), "{report}");
    assert!(
        report.contains("- **Consistency (linearizability) verdict**: FAIL"),
        "{report}"
    );
    assert!(!report.contains("Durability"), "{report}");
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

/// The files the report's Run Metadata lists.
fn listed(report: &str) -> Vec<String> {
    report
        .lines()
        .skip_while(|l| *l != "- Artifacts:")
        .skip(1)
        .take_while(|l| l.starts_with("  - "))
        .map(|l| l.trim_start_matches("  - ").trim_matches('`').to_string())
        .collect()
}

#[test]
fn a_partial_report_lists_only_the_files_the_folder_holds() {
    let folder = Folder::new("files", OP);
    std::fs::remove_dir_all(folder.0.join("nodes")).unwrap();
    let out = chaos(&["report", folder.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = folder.read("report.md");
    assert!(report.starts_with("> PARTIAL"), "{report}");
    let files = listed(&report);
    assert_eq!(
        files,
        [
            "test.json",
            "history.jsonl",
            "history.edn",
            "results.json",
            "report.md",
            "report.html"
        ],
        "{report}"
    );
    for file in &files {
        assert!(folder.0.join(file).is_file(), "{file} is listed but absent");
    }

    // The node logs a run did write are listed by name.
    std::fs::create_dir_all(folder.0.join("nodes/n2")).unwrap();
    std::fs::write(folder.0.join("nodes/n2/log"), "").unwrap();
    std::fs::write(folder.0.join("chaos.log"), "").unwrap();
    let out = chaos(&["report", folder.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let files = listed(&folder.read("report.md"));
    assert!(
        files.ends_with(&["nodes/n2/log".to_string(), "chaos.log".to_string()]),
        "{files:?}"
    );
}

/// A NATS queue run: two acknowledged enqueues, a kill, two dequeues that
/// ended indeterminate under it, and a final drain that found nothing.
const QUEUE: &str = r#"{"index":0,"time":1000000,"process":0,"type":"invoke","f":"enqueue","value":1,"node":"n1"}
{"index":1,"time":2000000,"process":0,"type":"ok","f":"enqueue","value":1,"node":"n1"}
{"index":2,"time":3000000,"process":0,"type":"invoke","f":"enqueue","value":2,"node":"n1"}
{"index":3,"time":4000000,"process":0,"type":"ok","f":"enqueue","value":2,"node":"n1"}
{"index":4,"time":5000000,"process":"nemesis","type":"info","f":"start-kill","value":"n2"}
{"index":5,"time":6000000,"process":"nemesis","type":"info","f":"kill-in-force","value":{"ms":40}}
{"index":6,"time":7000000,"process":1,"type":"invoke","f":"dequeue","value":null,"node":"n2"}
{"index":7,"time":8000000,"process":2,"type":"invoke","f":"dequeue","value":null,"node":"n2"}
{"index":8,"time":9000000,"process":1,"type":"info","f":"dequeue","value":null,"node":"n2","error":"timed-out"}
{"index":9,"time":9500000,"process":2,"type":"info","f":"dequeue","value":null,"node":"n2","error":"timed-out"}
{"index":10,"time":10000000,"process":"nemesis","type":"info","f":"stop-kill","value":"n2"}
{"index":11,"time":11000000,"process":3,"type":"invoke","f":"drain","value":null,"node":"n1"}
{"index":12,"time":12000000,"process":3,"type":"ok","f":"drain","value":[],"node":"n1"}
"#;

fn nats_queue(tag: &str) -> Folder {
    let folder = Folder::new(tag, QUEUE);
    folder
        .set("test", "nats-queue".into())
        .set("system", "nats".into())
        .set("workload", "queue".into())
        .set("nemesis", "kill".into())
        .set("ended", "completed".into());
    std::fs::write(
        folder.0.join("nodes/n1/log"),
        "[1] 2023/11/14 22:13:20.001000 [INF] Starting nats-server\n[1] 2023/11/14 22:13:20.002000 [INF] Server is ready\n",
    )
    .unwrap();
    folder
}

#[test]
fn an_undecided_queue_names_the_indeterminate_dequeues_not_the_budgets() {
    let folder = nats_queue("queue-unknown");
    let out = chaos(&["report", folder.path()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = folder.read("report.md");
    assert!(report.contains("### Durability Evidence"), "{report}");
    assert!(
        report.contains("- **Durability verdict**: UNDECIDED (2 acknowledged element(s) never came out, but 2 dequeue(s) ended indeterminate (info)"),
        "{report}"
    );
    assert!(!report.contains("budget"), "{report}");
}

#[test]
fn a_nats_report_without_signals_says_which_logs_it_searched() {
    let folder = nats_queue("queue-signals");
    let out = chaos(&["report", folder.path()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = folder.read("report.md");
    let section = report
        .split("### Node Log Signals\n")
        .nth(1)
        .and_then(|rest| rest.split("\n### ").next())
        .unwrap_or_default();
    assert!(
        section.starts_with("None of the known patterns (`became leader`,"),
        "{report}"
    );
    assert!(
        section.contains("matched a line of the node logs read: `nodes/n1/log` (2 lines)."),
        "{report}"
    );
    assert!(folder
        .read("report.html")
        .contains("None of the known patterns"));
}

#[test]
fn the_fault_timeline_says_what_each_fault_was() {
    let folder = nats_queue("queue-timeline");
    let out = chaos(&["report", folder.path()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = folder.read("report.md");
    assert!(
        report.contains("| start | end | fault | how it went |\n|---|---|---|---|\n| +0.0s | +0.0s | kill n2 | in force after 40ms |\n"),
        "{report}"
    );

    let partition = r#"{"index":3,"time":4000,"process":"nemesis","type":"info","f":"start-partition","value":"n1,n2 | n3"}
{"index":4,"time":5000,"process":"nemesis","type":"info","f":"stop-partition","value":"n1,n2 | n3"}
"#;
    let folder = Folder::new("timeline", &format!("{OP}{partition}"));
    let out = chaos(&["report", folder.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = folder.read("report.md");
    assert!(
        report.contains("| partition halves n1,n2 \\| n3 |"),
        "test.json's one partition shape names the partition:\n{report}"
    );
    assert!(!report.contains("start-partition"), "{report}");
}

#[test]
fn a_completion_without_its_invocation_is_named_at_its_line() {
    let orphan = r#"{"index":3,"time":4000,"process":7,"type":"ok","f":"read","key":1,"value":3,"node":"n2"}
"#;
    let folder = Folder::new("orphan", &format!("{OP}{orphan}"));
    let out = chaos(&["report", folder.path()]);
    assert_eq!(out.status.code(), Some(254), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("history.jsonl:4: op 3: process 7 completes an op (ok read) it never invoked"),
        "{err}"
    );
}
