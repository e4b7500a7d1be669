//! `chaos run` on NATS JetStream, end to end on real Docker: the log and the
//! queue workloads under kills and partitions finish with a final read (or
//! drain) and reports whose counts add up. The verdict itself is whatever
//! the system earned (a duplicate after a failover would be a real finding),
//! so these tests hold the harness to its accounting, not NATS to a verdict.

mod common;

use std::path::PathBuf;

use common::*;

/// Runs the command for `workload`; returns the exit code, the run
/// folder and its results.json.
fn nats_run(workload: &str) -> (i32, PathBuf, serde_json::Value) {
    let results = tmp_results(workload);
    let out = chaos(&[
        "run",
        "--system",
        "nats",
        "--workload",
        workload,
        "--nemesis",
        "kill,partition-halves",
        "--nemesis-interval",
        "4",
        "--time-limit",
        "24",
        "--results",
        results.to_str().unwrap(),
    ]);
    eprintln!("{}{}", stdout(&out), stderr(&out));
    let dir = run_folder(&results, &format!("nats-{workload}"));
    assert_nothing_left(&run_id_of(&dir));
    let code = out.status.code().expect("chaos run exited");
    let results_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    // The exit code is the verdict's.
    let expected = match results_json["valid"].as_str() {
        Some("valid") => 0,
        Some("invalid") => 1,
        _ => 2,
    };
    assert_eq!(code, expected, "{}", stdout(&out));
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert!(history.contains("\"start-kill\"") || history.contains("\"start-partition\""));
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).unwrap()).unwrap();
    assert!(
        test["system_version"]
            .as_str()
            .is_some_and(|v| v.starts_with("2.9")),
        "{test}"
    );
    (code, dir, results_json)
}

#[test]
fn nats_log_under_kills_and_partitions_accounts_for_every_append() {
    if !docker_or_skip("nats_log_under_kills_and_partitions_accounts_for_every_append") {
        return;
    }
    let (_, dir, results) = nats_run("log");
    let log = &results["log"];
    let n = |k: &str| log[k].as_u64().unwrap_or_else(|| panic!("no {k} in {log}"));
    assert!(n("produced") > 100, "hardly anything ran: {log}");
    assert_eq!(
        n("produced"),
        n("delivered") + n("lost") + n("unseen"),
        "{log}"
    );
    assert!(
        log["keys"][0]["final_read"].as_bool().unwrap(),
        "no final read completed: {log}"
    );
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert!(history.contains("\"f\":\"final-read\""));
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let line = format!(
        "- Accounting: produced (acknowledged) {} = read {} + lost {} + unseen {}",
        n("produced"),
        n("delivered"),
        n("lost"),
        n("unseen")
    );
    assert!(report.contains(&line), "{line}\n{report}");
    let _ = std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap());
}

#[test]
fn nats_queue_under_kills_and_partitions_accounts_for_every_enqueue() {
    if !docker_or_skip("nats_queue_under_kills_and_partitions_accounts_for_every_enqueue") {
        return;
    }
    let (_, dir, results) = nats_run("queue");
    let queue = &results["queue"];
    let n = |k: &str| {
        queue[k]
            .as_u64()
            .unwrap_or_else(|| panic!("no {k} in {queue}"))
    };
    let count = |k: &str| {
        queue[k]["count"]
            .as_u64()
            .unwrap_or_else(|| panic!("no {k} in {queue}"))
    };
    assert!(n("acknowledged") > 100, "hardly anything ran: {queue}");
    assert!(
        queue["drained"].as_bool().unwrap(),
        "no final drain: {queue}"
    );
    // A drain came last, so nothing acknowledged is merely pending.
    assert_eq!(count("pending"), 0, "{queue}");
    assert!(
        n("dequeued") + count("lost") >= n("acknowledged"),
        "{queue}"
    );
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert!(history.contains("\"f\":\"drain\""));
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("- Accounting: acknowledged "), "{report}");
    let _ = std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap());
}
