//! The history readers on the shared corpus, and through the public API.

use chaos_checkers::history::format::{
    parse_history, read_history, write_edn, write_jsonl, Format, ReadError,
};
use chaos_checkers::history::{History, OpType, Process};
use serde_json::json;
use std::path::{Path, PathBuf};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/porcupine");

/// The corpus files in `dir`, sorted; fails loudly when the corpus is missing,
/// so that a missing checkout cannot pass as a green test.
fn corpus_files(dir: &str, extension: &str) -> Vec<PathBuf> {
    let dir = Path::new(CORPUS).join(dir);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "the shared corpus is missing: cannot list {}: {e}",
            dir.display()
        )
    });
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable corpus entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == extension))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no *.{extension} files in {}",
        dir.display()
    );
    files
}

fn count_lines(path: &Path, pred: impl Fn(&str) -> bool) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| pred(l))
        .count()
}

#[test]
fn every_jepsen_log_reads_with_detection() {
    let files = corpus_files("jepsen", "log");
    // 102 runs with a verdict, plus etcd_095, which is empty.
    assert_eq!(files.len(), 103);
    for path in &files {
        let history = read_history(path, None).unwrap_or_else(|e| panic!("{e}"));
        let expected = count_lines(path, |l| l.contains("jepsen.util - "));
        assert_eq!(history.ops.len(), expected, "{}", path.display());
        for (i, op) in history.ops.iter().enumerate() {
            assert_eq!(
                (op.index, op.time),
                (i as u64, i as u64),
                "{}",
                path.display()
            );
            assert!(
                matches!(op.f.as_str(), "read" | "write" | "cas"),
                "{}: {op:?}",
                path.display()
            );
        }
        history
            .pairs()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn the_empty_run_is_an_empty_history() {
    let path = Path::new(CORPUS).join("jepsen/etcd_095.log");
    assert!(
        path.exists(),
        "the shared corpus is missing: {}",
        path.display()
    );
    assert_eq!(read_history(&path, None), Ok(History::default()));
}

#[test]
fn etcd_000_starts_as_logged() {
    let history = read_history(&Path::new(CORPUS).join("jepsen/etcd_000.log"), None).unwrap();
    assert_eq!(history.ops.len(), 170);
    let first = &history.ops[0];
    assert_eq!(
        (first.process, first.kind, first.f.as_str()),
        (Process::Client(0), OpType::Invoke, "read")
    );
    assert_eq!(first.value, serde_json::Value::Null);
    let cas = &history.ops[18];
    assert_eq!(
        (cas.process, cas.f.as_str(), &cas.value),
        (Process::Client(2), "cas", &json!([3, 0]))
    );
}

#[test]
fn timeouts_become_errors_in_every_log() {
    for path in corpus_files("jepsen", "log") {
        let history = read_history(&path, None).unwrap();
        let logged = count_lines(&path, |l| l.trim_end().ends_with(":timed-out"));
        let timed_out: Vec<_> = history
            .ops
            .iter()
            .filter(|op| op.error.as_deref() == Some("timed-out"))
            .collect();
        assert_eq!(timed_out.len(), logged, "{}", path.display());
        for op in timed_out {
            assert!(matches!(op.kind, OpType::Fail | OpType::Info), "{op:?}");
            assert!(op.value.is_null());
        }
    }
}

#[test]
fn space_aligned_logs_read_like_tabbed_ones() {
    // etcd_100..102 have had their tabs expanded to spaces.
    let history = read_history(&Path::new(CORPUS).join("jepsen/etcd_100.log"), None).unwrap();
    assert_eq!(history.ops.len(), 154);
    let first = &history.ops[0];
    assert_eq!(
        (first.process, first.kind, first.f.as_str(), &first.value),
        (Process::Client(1), OpType::Invoke, "write", &json!(3))
    );
}

#[test]
fn every_kv_history_reads_with_detection() {
    let files = corpus_files("kv", "txt");
    assert_eq!(files.len(), 6);
    for path in &files {
        let history = read_history(path, None).unwrap_or_else(|e| panic!("{e}"));
        let expected = count_lines(path, |l| !l.trim().is_empty());
        assert_eq!(history.ops.len(), expected, "{}", path.display());
        for op in &history.ops {
            assert!(
                op.key.as_ref().is_some_and(|k| k.is_string()),
                "{}: {op:?}",
                path.display()
            );
            assert!(matches!(op.f.as_str(), "get" | "put" | "append"), "{op:?}");
        }
        history
            .pairs()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn corpus_histories_round_trip_through_both_writers() {
    let mut paths = corpus_files("kv", "txt");
    paths.extend(corpus_files("jepsen", "log").into_iter().take(5));
    for path in paths {
        let history = read_history(&path, None).unwrap();
        let mut jsonl = Vec::new();
        write_jsonl(&history, &mut jsonl).unwrap();
        let jsonl = String::from_utf8(jsonl).unwrap();
        assert_eq!(
            parse_history(&jsonl, None, "w.jsonl").as_ref(),
            Ok(&history),
            "{}",
            path.display()
        );

        let mut edn = Vec::new();
        write_edn(&history, &mut edn).unwrap();
        let edn = String::from_utf8(edn).unwrap();
        assert_eq!(
            parse_history(&edn, None, "w.edn").as_ref(),
            Ok(&history),
            "{}",
            path.display()
        );

        let vector = format!("[{edn}]");
        assert_eq!(
            parse_history(&vector, Some(Format::Edn), "v.edn"),
            Ok(history)
        );
    }
}

#[test]
fn errors_name_the_file_and_line() {
    let cases: [(&str, Option<Format>, &str); 4] = [
        (
            "{:process 0, :type :invoke, :f :read}\n{:process 0, :type \"ok\", :f :read}\n",
            None,
            "history.edn:2: expected a keyword after :type, found \"ok\"",
        ),
        (
            "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n\n{\"process\":0,\"type\":\"okay\",\"f\":\"read\"}\n",
            None,
            "history.edn:3: unknown op type \"okay\" (expected invoke, ok, fail or info)",
        ),
        (
            "INFO jepsen.core - go\nINFO  jepsen.util - x\t:ok\t:read\tnil\n",
            None,
            "history.edn:2: expected a process (an integer >= 0 or :nemesis) after \"jepsen.util -\", found \"x\"",
        ),
        ("{:process 0}", Some(Format::Jsonl), "history.edn:1: invalid JSON at column 2: key must be a string"),
    ];
    for (text, format, expected) in cases {
        let err: ReadError = parse_history(text, format, "history.edn").unwrap_err();
        assert_eq!(err.to_string(), expected);
    }
}

#[test]
fn the_error_is_a_std_error() {
    let err: Box<dyn std::error::Error> = Box::new(parse_history("junk", None, "f").unwrap_err());
    assert!(err
        .to_string()
        .starts_with("f:1: cannot tell the history format"));
}
