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

/// `chaos check` on `args`: exit 254 and one line on stderr, returned.
fn refused(args: &[&str]) -> String {
    let out = chaos(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(254), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    err
}

const INVOKE: &str =
    r#"{"index":0,"time":0,"process":0,"type":"invoke","f":"write","key":1,"value":3}"#;
const OK: &str = r#"{"index":1,"time":1,"process":0,"type":"ok","f":"write","key":1,"value":3}"#;

#[test]
fn a_history_cut_mid_op_is_named_at_its_last_line_with_what_to_do() {
    let cut = TempHistory::new(
        "cut.jsonl",
        &format!("{INVOKE}\n{OK}\n{{\"index\":2,\"time\":2,\"process\":1,\"ty"),
    );
    let err = refused(&["check", cut.path()]);
    assert!(
        err.contains("cut.jsonl:3: the last line ends mid-op"),
        "{err}"
    );
    assert!(err.contains("cut short"), "{err}");
    assert!(err.contains("delete that line"), "{err}");

    let edn = TempHistory::new(
        "cut.edn",
        "{:process 0, :type :invoke, :f :read}\n{:process 0, :type :ok, :f :re",
    );
    let err = refused(&["check", edn.path()]);
    assert!(err.contains("cut.edn:2: "), "{err}");
    assert!(err.contains("delete the unfinished op"), "{err}");
}

#[test]
fn a_completion_never_invoked_is_named_at_its_line() {
    let orphan =
        r#"{"index":2,"time":2,"process":4,"type":"info","f":"read","key":1,"value":null}"#;
    let history = TempHistory::new("orphan.jsonl", &format!("{INVOKE}\n\n{OK}\n{orphan}\n"));
    for checker in ["linearizable", "queue", "log"] {
        let err = refused(&["check", history.path(), "--checker", checker]);
        assert!(
            err.contains(
                "orphan.jsonl:4: op 2: process 4 completes an op (info read) it never invoked"
            ),
            "{checker}: {err}"
        );
        assert!(err.contains("pass the whole history"), "{checker}: {err}");
    }
}

#[test]
fn a_missing_file_or_a_folder_says_what_to_pass() {
    let err = refused(&["check", "/nonexistent/history.jsonl"]);
    assert!(
        err.contains("/nonexistent/history.jsonl: no such file; check the path"),
        "{err}"
    );
    assert!(!err.contains("os error"), "{err}");

    let inside = TempHistory::new("history.jsonl", &format!("{INVOKE}\n{OK}\n"));
    let folder = inside.0.parent().unwrap().to_str().unwrap().to_string();
    let err = refused(&["check", &folder]);
    assert!(
        err.contains(&format!(
            "{folder}: is a folder, not a history file; pass the history inside it: {}",
            inside.path()
        )),
        "{err}"
    );
}

#[test]
fn a_kv_initial_that_is_not_a_string_is_refused_as_an_argument() {
    let history = TempHistory::new("kv.jsonl", &format!("{INVOKE}\n{OK}\n"));
    let err = refused(&["check", history.path(), "--model", "kv", "--initial", "3"]);
    assert!(
        err.contains("--initial 3: the kv model's initial value is a string"),
        "{err}"
    );
    assert!(!err.contains("op 0"), "{err}");
}
