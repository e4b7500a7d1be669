//! `chaos run` end to end against real Docker: a short etcd register run
//! under partitions writes every artifact, says PASS and leaves nothing
//! running; a run interrupted with SIGINT heals, writes a partial report,
//! takes its cluster down and exits 130.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

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
    let dir = run_folder(&results, "etcd-register");
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
        "chaos.log",
    ] {
        let path = dir.join(file);
        assert!(
            std::fs::metadata(&path).is_ok_and(|m| m.len() > 0),
            "{} missing or empty",
            path.display()
        );
    }
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("### Consistency Evidence"), "{report}");
    assert!(report.contains("PASS"), "{report}");
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).unwrap()).unwrap();
    assert!(
        test["system_version"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.4")),
        "{test}"
    );
    assert_eq!(test["ended"], "completed", "{test}");
    let log = std::fs::read_to_string(dir.join("chaos.log")).unwrap();
    for event in [
        "cluster up",
        "nemesis: start-partition",
        "etcd-register: valid",
    ] {
        assert!(log.contains(event), "chaos.log lacks {event:?}:\n{log}");
    }
    assert!(report.contains("| partition halves "), "{report}");
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
    // The folder's index of runs lists this one, linked to its report.
    let index = std::fs::read_to_string(results.join("index.md")).unwrap();
    let folder = dir.strip_prefix(&results).unwrap().display().to_string();
    assert!(
        index.contains("| **PASS** | ") && index.contains(&format!("[report]({folder}/report.md)")),
        "{index}"
    );
    assert!(results.join("index.html").is_file());
    assert_nothing_left(&run);

    // `chaos report DIR` makes the same verdict and reports from the folder.
    let report_before = report;
    for file in ["report.md", "report.html", "results.json", "history.edn"] {
        std::fs::remove_file(dir.join(file)).unwrap();
    }
    let again = chaos(&["report", dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("etcd-register: valid"),
        "{}",
        stdout(&again)
    );
    let rebuilt = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert_eq!(rebuilt, report_before, "the rebuilt report differs");
    for file in ["report.html", "results.json", "history.edn"] {
        assert!(dir.join(file).is_file(), "{file} not rebuilt");
    }
    let _ = std::fs::remove_dir_all(&results);
}

/// Starts a long run, waits for its first partition, sends `signal`; returns
/// the exit status, the output and the run's folder.
fn interrupt_a_run(tag: &str, signal: i32, extra: &[&str]) -> (std::process::Output, PathBuf) {
    let results = tmp_results(tag);
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
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the workload runs and a partition is in force.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let in_partition = std::fs::read_link(results.join("latest"))
            .ok()
            .and_then(|t| std::fs::read_to_string(results.join(t).join("history.jsonl")).ok())
            .is_some_and(|h| h.contains("start-partition"));
        if in_partition {
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
        libc::kill(child.id() as i32, signal);
    }
    let out = child.wait_with_output().unwrap();
    let dir = run_folder(&results, "etcd-register");
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        report.starts_with("> PARTIAL: the run was interrupted"),
        "{report}"
    );
    assert!(report.contains("### Consistency Evidence"), "{report}");
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert!(
        history.contains("\"stop-partition\""),
        "the heal is recorded"
    );
    assert!(dir.join("history.edn").is_file());
    assert!(stdout(&out).contains("[partial]"), "{}", stdout(&out));
    let index = std::fs::read_to_string(results.join("index.md")).unwrap();
    assert!(
        index.contains("(interrupted)"),
        "the index marks it: {index}"
    );
    (out, dir)
}

#[test]
fn chaos_run_interrupted_heals_and_writes_a_partial_report() {
    if !docker_or_skip("chaos_run_interrupted_heals_and_writes_a_partial_report") {
        return;
    }
    let (_, dir) = interrupt_a_run("int", libc::SIGINT, &[]);
    assert_nothing_left(&run_id_of(&dir));
    let _ = std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap());
}

/// SIGTERM (what a CronJob's pod gets) during a partition, with the cluster
/// kept so we can look: no rule of ours in any node, no node paused.
#[test]
fn chaos_run_stopped_by_sigterm_leaves_no_fault_applied() {
    if !docker_or_skip("chaos_run_stopped_by_sigterm_leaves_no_fault_applied") {
        return;
    }
    let (out, dir) = interrupt_a_run("term", libc::SIGTERM, &["--keep-cluster"]);
    let run = run_id_of(&dir);
    let nodes = node_states(&run);
    let check = || {
        assert_eq!(nodes.len(), 3, "{nodes:?}\n{}", stderr(&out));
        for (name, state) in &nodes {
            assert_eq!(state, "running", "{name}");
            let rules = iptables_rules(name, &run);
            assert!(
                !rules.contains("CHAOS"),
                "{name} still has our rules:\n{rules}"
            );
        }
    };
    let outcome = std::panic::catch_unwind(check);
    let down = chaos(&["cluster", "down", "--run", &run]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    assert_nothing_left(&run);
    let _ = std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap());
}

/// The pair: the same 60 s run under partition-halves, reads served
/// linearizably (valid) and serializably (the minority member answers from
/// its stale copy: invalid, and the report names the read and the fault).
fn partition_halves_run(tag: &str, read: &str) -> (std::process::Output, PathBuf) {
    let results = tmp_results(tag);
    let out = chaos(&[
        "run",
        "--system",
        "etcd",
        "--workload",
        "register",
        "--nemesis",
        "partition-halves",
        "--time-limit",
        "60",
        "--read",
        read,
        "--results",
        results.to_str().unwrap(),
    ]);
    eprintln!("{}{}", stdout(&out), stderr(&out));
    let dir = run_folder(&results, "etcd-register");
    assert_nothing_left(&run_id_of(&dir));
    (out, dir)
}

#[test]
fn linearizable_reads_under_partition_halves_are_valid() {
    if !docker_or_skip("linearizable_reads_under_partition_halves_are_valid") {
        return;
    }
    let (out, dir) = partition_halves_run("lin", "linearizable");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("- Verdict: **PASS** (valid)"), "{report}");
    let _ = std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap());
}

#[test]
fn serializable_reads_under_partition_halves_are_caught_stale() {
    if !docker_or_skip("serializable_reads_under_partition_halves_are_caught_stale") {
        return;
    }
    let (out, dir) = partition_halves_run("ser", "serializable");
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("etcd-register: invalid"),
        "{}",
        stdout(&out)
    );
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("- Verdict: **FAIL** (invalid)"), "{report}");
    // The report names the stale read: a read that cannot be linearized
    // (served by the member cut off in the minority, during the partition or
    // while it caught up after it).
    let culprits: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("cannot be linearized"))
        .collect();
    assert!(
        culprits.iter().any(|l| l.contains(": read ")),
        "no stale read among the culprits:\n{report}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.contains("cannot be linearized (red)"),
        "no anomaly plot"
    );
    let _ = std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap());
}
