//! `chaos check` from the outside: verdicts as exit codes, bad input as one
//! clear line and exit 254, never a panic.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn chaos(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chaos"))
        .args(args)
        .output()
        .expect("the chaos binary runs")
}

fn corpus(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/porcupine")
        .join(file);
    assert!(
        path.exists(),
        "the shared corpus is missing at {}",
        path.display()
    );
    path.display().to_string()
}

/// A history file in a fresh temporary directory, removed on drop.
struct TempHistory(PathBuf);

impl TempHistory {
    fn new(name: &str, text: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("chaos-check-cli-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        TempHistory(path)
    }
    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempHistory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.0.parent().unwrap());
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn verdicts_are_exit_codes() {
    let valid = chaos(&["check", &corpus("jepsen/etcd_002.log")]);
    assert_eq!(valid.status.code(), Some(0), "{}", stderr(&valid));
    assert!(String::from_utf8_lossy(&valid.stdout).contains(": valid"));

    let invalid = chaos(&["check", &corpus("jepsen/etcd_000.log")]);
    assert_eq!(invalid.status.code(), Some(1));
    let summary = String::from_utf8_lossy(&invalid.stdout);
    assert!(summary.contains("cannot be linearized"), "{summary}");
    assert!(summary.contains("concurrent:"), "{summary}");
}

#[test]
fn an_empty_history_is_unknown_not_valid() {
    let out = chaos(&[
        "check",
        &corpus("jepsen/etcd_095.log"),
        "--format",
        "jepsen-log",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no client operations"));
}

#[test]
fn json_output_is_the_full_report() {
    let out = chaos(&[
        "check",
        &corpus("kv/c01-bad.txt"),
        "--model",
        "kv",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    assert_eq!(report["validity"], "invalid");
    assert_eq!(report["model"], "kv");
    assert!(report["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["failure"].is_object()));
}

#[test]
fn queue_and_log_checkers_run_from_the_command_line() {
    let queue = TempHistory::new(
        "queue.jsonl",
        r#"{"index":0,"time":0,"process":0,"type":"invoke","f":"enqueue","value":1}
{"index":1,"time":1,"process":0,"type":"ok","f":"enqueue","value":1}
{"index":2,"time":2,"process":1,"type":"invoke","f":"drain","value":null}
{"index":3,"time":3,"process":1,"type":"ok","f":"drain","value":[]}
"#,
    );
    let out = chaos(&["check", queue.path(), "--checker", "queue"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an acknowledged element never drained is lost"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("lost: 1"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let log = TempHistory::new(
        "log.jsonl",
        r#"{"index":0,"time":0,"process":0,"type":"invoke","f":"append","value":"a"}
{"index":1,"time":1,"process":0,"type":"ok","f":"append","value":[0,"a"]}
{"index":2,"time":2,"process":1,"type":"invoke","f":"final-read","value":null}
{"index":3,"time":3,"process":1,"type":"ok","f":"final-read","value":[[0,"a"]]}
"#,
    );
    let out = chaos(&["check", log.path(), "--checker", "log"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn bad_input_is_one_line_and_exit_254() {
    let broken = TempHistory::new(
        "broken.jsonl",
        "{\"index\":0,\"time\":0,\"process\":0,\"type\":\"okay\",\"f\":\"read\"}\n",
    );
    let etcd = corpus("jepsen/etcd_000.log");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["check", broken.path()], "broken.jsonl:1:"),
        (
            vec!["check", "/nonexistent/history.jsonl"],
            "/nonexistent/history.jsonl",
        ),
        (vec!["check", &etcd, "--model", "registr"], "unknown model"),
        (vec!["check", &etcd, "--format", "yaml"], "yaml"),
        (
            vec!["check", &etcd, "--time-budget", "soon"],
            "--time-budget",
        ),
        (
            vec!["check", &etcd, "--model", "fifo-queue"],
            "fifo-queue model has no function :read",
        ),
        (vec!["check", &etcd, "--frobnicate"], "--frobnicate"),
        (vec!["chek"], "chek"),
    ];
    for (args, expected) in cases {
        let out = chaos(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(254), "{args:?}: {err}");
        assert!(
            err.contains(expected),
            "{args:?}: {err:?} should mention {expected:?}"
        );
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    }
}
