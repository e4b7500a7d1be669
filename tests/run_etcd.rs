//! `chaos run` end to end against real Docker: a short etcd register run
//! under partitions writes every artifact, says PASS and leaves nothing
//! running; a run interrupted with SIGINT heals, writes a partial report,
//! takes its cluster down and exits 130.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn tmp_results(tag: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("run-{}", run_id(tag)));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The one run folder under `results/etcd-register/`, via `results/latest`.
fn run_folder(results: &Path) -> PathBuf {
    let latest = results.join("latest");
    let target = std::fs::read_link(&latest).expect("results/latest is a symlink");
    assert!(target.starts_with("etcd-register"), "{}", target.display());
    let dir = results.join(target);
    assert!(dir.is_dir(), "{}", dir.display());
    dir
}

fn run_id_of(dir: &Path) -> String {
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).unwrap()).unwrap();
    for key in [
        "seed",
        "nodes",
        "nemesis",
        "time_limit_s",
        "harness_version",
    ] {
        assert!(test.get(key).is_some(), "test.json lacks {key}: {test}");
    }
    test["run_id"]
        .as_str()
        .expect("test.json names the run")
        .to_string()
}

#[test]
fn chaos_run_etcd_register_under_partitions() {
    if !docker_or_skip("chaos_run_etcd_register_under_partitions") {
        return;
    }
    let results = tmp_results("run");
    let started = Instant::now();
    let out = chaos(&[
        "run",
        "--time-limit",
        "8",
        "--nemesis-interval",
        "2",
        "--nemesis",
        "partition-halves",
        "--concurrency",
        "3",
        "--seed",
        "7",
        "--results",
        results.to_str().unwrap(),
    ]);
    let took = started.elapsed();
    eprintln!("chaos run took {took:?}\n{}{}", stdout(&out), stderr(&out));
    let dir = run_folder(&results);
    let run = run_id_of(&dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    for file in [
        "test.json",
        "history.jsonl",
        "history.edn",
        "results.json",
        "report.md",
        "report.html",
        "nodes/n1/log",
        "nodes/n2/log",
        "nodes/n3/log",
    ] {
        let path = dir.join(file);
        assert!(
            std::fs::metadata(&path).is_ok_and(|m| m.len() > 0),
            "{} missing or empty",
            path.display()
        );
    }
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("### Durability Evidence"), "{report}");
    assert!(report.contains("PASS"), "{report}");
    assert!(report.contains("start-partition"), "{report}");
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert!(history.contains("\"start-partition\""));
    assert!(history.contains("\"stop-partition\""));
    let results_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(
        results_json["linear"]["validity"], "valid",
        "{results_json}"
    );
    assert!(stdout(&out).contains("report.md"), "{}", stdout(&out));
    assert_nothing_left(&run);
    let _ = std::fs::remove_dir_all(&results);
}

#[test]
fn chaos_run_interrupted_heals_and_writes_a_partial_report() {
    if !docker_or_skip("chaos_run_interrupted_heals_and_writes_a_partial_report") {
        return;
    }
    let results = tmp_results("int");
    let mut child = Command::new(env!("CARGO_BIN_EXE_chaos"))
        .args([
            "run",
            "--time-limit",
            "120",
            "--nemesis-interval",
            "1",
            "--nemesis",
            "partition-one",
            "--concurrency",
            "2",
            "--results",
            results.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the workload runs (the history has ops), plus a fault.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let has_ops = std::fs::read_link(results.join("latest"))
            .ok()
            .and_then(|t| std::fs::read_to_string(results.join(t).join("history.jsonl")).ok())
            .is_some_and(|h| h.contains("start-partition"));
        if has_ops {
            break;
        }
        assert!(Instant::now() < deadline, "the run never started");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("chaos run ended early: {status}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // SAFETY: a plain kill(2) of our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    let dir = run_folder(&results);
    let run = run_id_of(&dir);
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("PARTIAL"), "{report}");
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert!(
        history.contains("\"stop-partition\""),
        "the heal is recorded"
    );
    assert!(dir.join("history.edn").is_file());
    assert_nothing_left(&run);
    let _ = std::fs::remove_dir_all(&results);
}
