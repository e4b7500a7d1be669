//! Who owns a cluster while a run is going, on real Docker:
//! - a plain `chaos heal` during a live run leaves its faults in force and
//!   exits 3, naming the run; a fault undone behind the run's back (a
//!   hand-run `iptables -F` in a node's netns) is recorded as lost and the
//!   run's verdict is `unknown`, not `valid`;
//! - a run killed with SIGKILL while a node is down, its results elsewhere
//!   than `results/`: a plain `chaos heal` finds its journal through the run
//!   lease and starts the node again.
//!
//! Each test keeps its leases in a folder of its own (CHAOS_STATE_DIR), and
//! the two run one after the other: a plain heal looks at every cluster.

mod common;

use std::sync::Mutex;

use common::*;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn a_heal_during_a_live_run_refuses_and_a_fault_undone_by_hand_is_recorded_lost() {
    if !docker_or_skip("a_heal_during_a_live_run_refuses") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (results, state) = scratch("live");
    // Quiet 10 s, partition 10 s, quiet 5 s.
    let mut child = spawn_run(
        &results,
        &state,
        &[
            "--time-limit",
            "25",
            "--nemesis-interval",
            "10",
            "--nemesis",
            "partition-halves",
            "--concurrency",
            "2",
            "--seed",
            "3",
        ],
    );
    let dir = wait_for_event(&results, &mut child, "\"partition-in-force\"");
    let run = run_id_of(&dir);

    let heal = chaos_in(&results, &state, &["heal"]);
    assert_eq!(
        heal.status.code(),
        Some(3),
        "{}{}",
        stdout(&heal),
        stderr(&heal)
    );
    let said = stderr(&heal);
    assert!(
        said.contains(&format!("left alone: run {run} (pid {}", child.id()))
            && said.contains("is live"),
        "{said}"
    );
    // Nor may a fault by hand land on it: the run neither scheduled nor
    // reports it.
    let by_hand = chaos_in(&results, &state, &["nemesis", "kill", "n1", "--run", &run]);
    assert_eq!(by_hand.status.code(), Some(3), "{}", stderr(&by_hand));
    assert!(
        stderr(&by_hand).contains("left alone: run"),
        "{}",
        stderr(&by_hand)
    );
    assert!(node_states(&run).iter().all(|(_, s)| s == "running"));
    // Still in force: some node still drops what its peers send.
    let nodes = node_states(&run);
    let partitioned = nodes
        .iter()
        .map(|(name, _)| name)
        .find(|name| iptables_rules(name, &run).contains("-A CHAOS-PARTITION"))
        .expect("the heal left the live run's partition in force");

    flush_by_hand(partitioned, &run);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "unknown, not valid: {}{}",
        stdout(&out),
        stderr(&out)
    );
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert!(history.contains("\"partition-lost\""), "not recorded");
    let results_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(results_json["valid"], "unknown", "{results_json}");
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("no longer in force"), "{report}");
    assert_nothing_left(&run);
    assert_eq!(
        std::fs::read_dir(state.join("runs")).unwrap().count(),
        0,
        "the run's lease stayed"
    );
    let _ = std::fs::remove_dir_all(&results);
}

#[test]
fn a_run_killed_while_a_node_is_down_is_healed_by_a_plain_heal() {
    if !docker_or_skip("a_run_killed_while_a_node_is_down_is_healed_by_a_plain_heal") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (results, state) = scratch("sigkill");
    let mut child = spawn_run(
        &results,
        &state,
        &[
            "--time-limit",
            "120",
            "--nemesis-interval",
            "2",
            "--nemesis",
            "kill",
            "--concurrency",
            "2",
        ],
    );
    let dir = wait_for_event(&results, &mut child, "\"kill-in-force\"");
    let run = run_id_of(&dir);
    child.kill().unwrap();
    child.wait().unwrap();
    let down: Vec<_> = node_states(&run)
        .into_iter()
        .filter(|(_, s)| s != "running")
        .collect();
    assert_eq!(down.len(), 1, "one node killed: {down:?}");

    // From a folder with no results/ at all: only the lease says where the
    // journal is.
    let elsewhere = results.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let heal = chaos_in(&elsewhere, &state, &["heal"]);
    let said = format!("{}{}", stdout(&heal), stderr(&heal));
    assert_eq!(heal.status.code(), Some(0), "{said}");
    assert!(said.contains("undid kill"), "{said}");
    assert!(
        said.contains(&format!("removed the lease of run {run}")),
        "{said}"
    );
    let states = node_states(&run);
    assert!(
        states.iter().all(|(_, s)| s == "running"),
        "after the heal: {states:?}"
    );
    assert_eq!(std::fs::read_dir(state.join("runs")).unwrap().count(), 0);

    let out = chaos_in(&elsewhere, &state, &["cluster", "down", "--run", &run]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_nothing_left(&run);
    let _ = std::fs::remove_dir_all(&results);
}
