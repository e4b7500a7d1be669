//! The long one, run by hand (about 15 s a try):
//!
//!     cargo test --test crash_heal_loop -- --ignored --nocapture
//!
//! For each fault kind (partition, pause, kill), CHAOS_CRASH_TRIES times
//! (default 20): start a run, SIGKILL it at a seeded moment between just
//! before and just after its first fault is applied (so some crashes land
//! mid-apply), then a plain `chaos heal` from a folder with no results of
//! its own. Counts the tries that left anything behind: a node not running,
//! a rule of our chain in a node, a sidecar, a lease. The goal is none.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// Everything of `run` still there after the heal, one phrase each.
fn leftovers(run: &str, state: &std::path::Path) -> Vec<String> {
    let mut left = Vec::new();
    for (node, node_state) in node_states(run) {
        if node_state != "running" {
            left.push(format!("{node} is {node_state}"));
        } else if iptables_rules(&node, run).contains("CHAOS-PARTITION") {
            left.push(format!("{node} holds our chain"));
        }
    }
    let sidecars = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            "label=io.chaos.sidecar-of",
            "--filter",
            &format!("label=io.chaos.run={run}"),
        ])
        .output()
        .unwrap();
    if !stdout(&sidecars).trim().is_empty() {
        left.push("a sidecar".into());
    }
    let leases = std::fs::read_dir(state.join("runs"))
        .map(|d| d.count())
        .unwrap_or(0);
    if leases > 0 {
        left.push(format!("{leases} lease(s)"));
    }
    left
}

#[test]
#[ignore = "long: 60 crashed runs, about 15 minutes"]
fn crashed_runs_leave_nothing_after_a_plain_heal() {
    if !docker_or_skip("crashed_runs_leave_nothing_after_a_plain_heal") {
        return;
    }
    let tries: u64 = std::env::var("CHAOS_CRASH_TRIES")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(20);
    let mut failures = Vec::new();
    let mut total = 0;
    for (fault, verb) in [
        ("partition-halves", "partition"),
        ("pause", "pause"),
        ("kill", "kill"),
    ] {
        for attempt in 0..tries {
            total += 1;
            let (results, state) = scratch(&format!("crash-{verb}-{attempt}"));
            let mut child = spawn_run(
                &results,
                &state,
                &[
                    "--time-limit",
                    "120",
                    "--nemesis-interval",
                    "2",
                    "--nemesis",
                    fault,
                    "--concurrency",
                    "2",
                    "--seed",
                    &attempt.to_string(),
                ],
            );
            let dir = wait_for_event(&results, &mut child, &format!("\"start-{verb}\""));
            // 0 to 1.5 s after the fault's start was recorded: before,
            // during and after the apply.
            let delay = Duration::from_millis(attempt * 1500 / tries.max(1));
            let started = Instant::now();
            while started.elapsed() < delay {
                std::thread::sleep(Duration::from_millis(10));
            }
            child.kill().unwrap();
            child.wait().unwrap();
            let run = run_id_of(&dir);
            let elsewhere = results.join("elsewhere");
            std::fs::create_dir_all(&elsewhere).unwrap();
            let heal = chaos_in(&elsewhere, &state, &["heal"]);
            let mut left = leftovers(&run, &state);
            if heal.status.code() != Some(0) {
                left.push(format!(
                    "heal exited {:?}: {}",
                    heal.status.code(),
                    stderr(&heal)
                ));
            }
            eprintln!(
                "{verb} try {attempt} (killed {} ms after start-{verb}): {}",
                delay.as_millis(),
                if left.is_empty() {
                    "nothing left".to_string()
                } else {
                    left.join(", ")
                }
            );
            if !left.is_empty() {
                failures.push(format!("{verb} try {attempt}: {}", left.join(", ")));
            }
            let down = chaos_in(&elsewhere, &state, &["cluster", "down", "--run", &run]);
            assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
            assert_nothing_left(&run);
            let _ = std::fs::remove_dir_all(&results);
        }
    }
    eprintln!(
        "crash-heal loop: {} of {total} tries left something behind",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
