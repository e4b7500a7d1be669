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
        "the shared corpus is missing at {}: these tests read ../shared/corpus beside the checkout",
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
fn a_missing_file_says_what_to_pass() {
    let err = refused(&["check", "/nonexistent/history.jsonl"]);
    assert!(
        err.contains("/nonexistent/history.jsonl: no such file; check the path"),
        "{err}"
    );
    assert!(!err.contains("os error"), "{err}");
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_folder_is_checked_file_by_file_with_a_total_and_the_worst_exit() {
    let valid = TempHistory::new("b-valid.jsonl", &format!("{INVOKE}\n{OK}\n"));
    let folder = valid.0.parent().unwrap().to_path_buf();
    let bad_read = r#"{"index":2,"time":2,"process":0,"type":"invoke","f":"read","key":1,"value":null}
{"index":3,"time":3,"process":0,"type":"ok","f":"read","key":1,"value":4}"#;
    std::fs::write(
        folder.join("a-invalid.jsonl"),
        format!("{INVOKE}\n{OK}\n{bad_read}\n"),
    )
    .unwrap();
    std::fs::write(folder.join("c-empty.log"), "").unwrap();
    std::fs::create_dir(folder.join("skipped-subfolder")).unwrap();
    let dir = folder.to_str().unwrap();
    let out = chaos(&["check", dir]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "invalid is the worst: {}",
        stderr(&out)
    );
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "one line per file, then the total: {text}");
    let file = |name: &str| folder.join(name).display().to_string();
    assert!(
        lines[0].starts_with(&format!("{}: invalid (", file("a-invalid.jsonl"))),
        "{text}"
    );
    assert!(
        lines[1].starts_with(&format!("{}: valid (", file("b-valid.jsonl"))),
        "{text}"
    );
    assert_eq!(
        lines[2],
        format!(
            "{}: unknown: the history has no client operations",
            file("c-empty.log")
        )
    );
    assert_eq!(lines[3], "total: 3 files, 1 valid, 1 invalid, 1 unknown");

    // Several files: the same, in the order given; valid and unknown is unknown.
    let out = chaos(&["check", &file("b-valid.jsonl"), &file("c-empty.log")]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stdout(&out).ends_with("total: 2 files, 1 valid, 0 invalid, 1 unknown\n"));

    // JSON Lines: one object per file, naming it; no total.
    let out = chaos(&["check", dir, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let objects: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect();
    assert_eq!(objects.len(), 3);
    assert_eq!(objects[0]["file"], file("a-invalid.jsonl"));
    assert_eq!(objects[0]["validity"], "invalid");
    assert_eq!(objects[1]["validity"], "valid");
    assert_eq!(objects[2]["validity"], "unknown");

    // A file that cannot be read is named; the others are still checked.
    std::fs::write(
        folder.join("d-broken.jsonl"),
        "{\"index\":0,\"type\":\"okay\"}\n",
    )
    .unwrap();
    let out = chaos(&["check", dir]);
    assert_eq!(out.status.code(), Some(254), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("{}: bad input: ", file("d-broken.jsonl"))),
        "{text}"
    );
    assert!(text.contains(": invalid ("), "{text}");
    assert!(
        text.ends_with("total: 4 files, 1 valid, 1 invalid, 1 unknown, 1 bad input\n"),
        "{text}"
    );
}

#[test]
fn an_empty_folder_is_bad_input() {
    let inside = TempHistory::new("history.jsonl", &format!("{INVOKE}\n{OK}\n"));
    let empty = inside.0.parent().unwrap().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = refused(&["check", empty.to_str().unwrap()]);
    assert!(err.contains("holds no files"), "{err}");
}

#[test]
fn one_file_keeps_its_full_summary() {
    let out = chaos(&["check", &corpus("jepsen/etcd_000.log")]);
    let text = stdout(&out);
    assert!(text.lines().count() > 2, "{text}");
    assert!(!text.contains("total:"), "{text}");
}

#[test]
fn an_invalid_key_stops_the_rest_unless_all_keys() {
    let started = std::time::Instant::now();
    let out = chaos(&[
        "check",
        &corpus("kv/c50-bad.txt"),
        "--model",
        "kv",
        "--initial",
        "\"\"",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let first = text.lines().next().unwrap();
    assert!(first.contains(" stopped))"), "{first}");
    assert!(
        text.contains("not decided: stopped after the first anomaly (--all-keys decides them)"),
        "{text}"
    );
    assert!(
        started.elapsed().as_secs() < 20,
        "took {:?}",
        started.elapsed()
    );
    // The failing op's state is the key's string, not the model's internals.
    let state = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("state before it: "))
        .expect("a state line");
    assert!(state.starts_with('"') && state.ends_with('"'), "{state}");
    assert!(state.chars().count() <= 80, "{state}");

    let out = chaos(&[
        "check",
        &corpus("kv/c50-bad.txt"),
        "--model",
        "kv",
        "--initial",
        "\"\"",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["keys_stopped"].as_u64().unwrap() >= 1, "{report}");

    let out = chaos(&[
        "check",
        &corpus("kv/c50-bad.txt"),
        "--model",
        "kv",
        "--initial",
        "\"\"",
        "--all-keys",
        "--memory-budget",
        "32MiB",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["keys_stopped"], 0, "{report}");
    assert!(report["keys_unknown"].as_u64().unwrap() >= 1);
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

/// A Jepsen history as Knossos reads it: printed as a list, nemesis ops
/// among the client's, and a read whose client wrote nil for "not known".
#[test]
fn a_jepsen_list_with_a_nil_read_hints_at_nil_read_any() {
    let history = TempHistory::new(
        "jepsen.edn",
        "({:process 0, :type :invoke, :f :write, :value 1}\n \
         {:process :nemesis, :type :info, :f :start, :value nil}\n \
         {:process 0, :type :ok, :f :write, :value 1}\n \
         {:process :nemesis, :type :info, :f :start, :value [:isolated {\"n1\" #{\"n2\"}}]}\n \
         {:process 1, :type :invoke, :f :read, :value nil}\n \
         {:process 1, :type :ok, :f :read, :value nil})\n",
    );
    let out = chaos(&["check", history.path(), "--model", "register"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let hints: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("--nil-read any"))
        .collect();
    assert_eq!(hints.len(), 1, "{text}");
    assert!(hints[0].contains("Knossos"), "{text}");

    let out = chaos(&[
        "check",
        history.path(),
        "--model",
        "register",
        "--nil-read",
        "any",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(": valid"), "{}", stdout(&out));

    let err = refused(&["check", history.path(), "--nil-read", "maybe"]);
    assert!(err.contains("unknown --nil-read \"maybe\""), "{err}");
}

/// The hint is for nil reads only: a read of a value nobody wrote has none.
#[test]
fn a_failing_read_of_a_value_has_no_nil_read_hint() {
    let history = TempHistory::new(
        "read7.edn",
        "{:process 1, :type :invoke, :f :read, :value nil}\n\
         {:process 1, :type :ok, :f :read, :value 7}\n",
    );
    let out = chaos(&["check", history.path()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!stdout(&out).contains("--nil-read"), "{}", stdout(&out));
}
