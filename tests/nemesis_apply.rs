//! `chaos nemesis apply FAULT`: any fault `chaos run --nemesis` knows, fired
//! by hand through the CLI binary on a real 3-node etcd cluster (one for the
//! whole file), journaled so that `chaos heal` undoes it; held under a lease
//! (a second command on the same cluster is refused, 3) and undone at
//! Ctrl-C; and bad input refused in one line, 254, with nothing applied.
//! What is in force is looked at from inside the nodes with iptables and tc
//! from throwaway helpers, not through the harness's code.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use chaos::backends::docker::DockerNode;
use chaos_nemeses::journal::outstanding;
use chaos_nemeses::Journal;
use common::*;

/// Exactly one line on stderr, starting `chaos: `, and nothing on stdout.
fn one_line(out: &Output) -> String {
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with("chaos: "), "{err:?}");
    assert_eq!(stdout(out), "", "stdout: {:?}", stdout(out));
    err.trim_end().to_string()
}

/// `chaos ARGS` with this file's lease folder.
fn chaos_in(state: &Path, args: &[&str]) -> Output {
    chaos_env(args, &[("CHAOS_STATE_DIR", state.to_str().unwrap())])
}

fn has_loss_chain(n: &DockerNode, run: &str) -> bool {
    iptables_rules(&n.container, run).contains("-A INPUT -j CHAOS-LOSS")
}

fn has_rate_qdisc(n: &DockerNode, run: &str) -> bool {
    tc_in(&n.container, run, &["qdisc", "show", "dev", "eth0"]).contains("c4a0:")
}

#[test]
fn nemesis_apply_fires_any_fault_and_heal_undoes_it() {
    if !docker_or_skip("nemesis_apply_fires_any_fault_and_heal_undoes_it") {
        return;
    }
    let guard = ClusterGuard::up("etcd", 3, "apply");
    let run = guard.run.clone();
    let dir = std::env::temp_dir().join(format!("chaos-{run}"));
    let state = dir.join("state");
    let journal = journal_in(&dir);
    let j = journal.to_str().unwrap();
    let rt = runtime();
    let nodes = rt.block_on(guard.open(&rt).refresh()).unwrap();

    bad_input(&state, &run, j);
    loss_everywhere_then_heal(&state, &run, j, &nodes);
    rate_on_one_node_held_then_interrupted(&state, &run, j, &nodes);

    assert!(outstanding(&Journal::read(&journal).unwrap()).is_empty());
    let _ = std::fs::remove_dir_all(dir);
    guard.teardown();
}

/// `loss-all:20%`, drawn over the nodes: CHAOS-LOSS on every node until
/// the `chaos heal` the command names removes it.
fn loss_everywhere_then_heal(state: &Path, run: &str, j: &str, nodes: &[DockerNode]) {
    let out = chaos_in(
        state,
        &[
            "nemesis",
            "apply",
            "loss-all:20%",
            "--run",
            run,
            "--journal",
            j,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let line = stdout(&out);
    assert_eq!(line.lines().count(), 1, "{line}");
    let undo = format!("chaos heal --run {run} --journal {j}");
    assert!(
        line.starts_with("applied loss 20% ")
            && line.trim_end().ends_with(&format!("`{undo}` undoes it")),
        "{line}"
    );
    for n in nodes {
        assert!(has_loss_chain(n, run), "{}: no CHAOS-LOSS", n.name);
    }
    let entries = Journal::read(j).unwrap();
    assert_eq!(outstanding(&entries).len(), 1, "{entries:?}");
    assert_eq!(entries[0].fault.verb(), "loss");

    // Exactly the command it printed.
    let words: Vec<&str> = undo.split(' ').skip(1).collect();
    let healed = chaos_in(state, &words);
    assert_eq!(healed.status.code(), Some(0), "{}", stderr(&healed));
    assert!(
        stdout(&healed).contains("undid loss"),
        "{}",
        stdout(&healed)
    );
    for n in nodes {
        assert!(!has_loss_chain(n, run), "{}: CHAOS-LOSS left", n.name);
    }
    assert!(outstanding(&Journal::read(j).unwrap()).is_empty());
}

/// `rate:1mbit --node n2 --hold 10m`: our qdisc on n2's links; while held, the
/// command's lease keeps another `chaos nemesis` off the cluster (3); Ctrl-C
/// undoes it and the journal records the heal.
fn rate_on_one_node_held_then_interrupted(state: &Path, run: &str, j: &str, nodes: &[DockerNode]) {
    let mut holder = Command::new(env!("CARGO_BIN_EXE_chaos"))
        .args([
            "nemesis",
            "apply",
            "rate:1mbit",
            "--node",
            "n2",
            "--hold",
            "10m",
            "--run",
            run,
            "--journal",
            j,
        ])
        .env("CHAOS_STATE_DIR", state)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(holder.stdout.take().unwrap()).lines();
    let mut next = || lines.next().expect("a line from the holder").unwrap();
    let first = next();
    assert!(first.starts_with("applied rate 1mbit on n2 to "), "{first}");
    assert_eq!(next(), "holding for 600 s (Ctrl-C undoes it now)");
    // Every link into and out of n2: n2's own sending side, and its
    // peers' sending to it, leave through our qdisc.
    for n in nodes {
        assert!(has_rate_qdisc(n, run), "{}: no qdisc c4a0:", n.name);
    }

    let busy = chaos_in(
        state,
        &[
            "nemesis",
            "apply",
            "loss:20%",
            "--node",
            "n1",
            "--run",
            run,
            "--journal",
            j,
        ],
    );
    assert_eq!(busy.status.code(), Some(3), "{}", stdout(&busy));
    assert!(
        one_line(&busy).starts_with(&format!(
            "chaos: left alone: run {run} (pid {} ",
            holder.id()
        )),
        "{}",
        stderr(&busy)
    );
    assert!(
        !has_loss_chain(&nodes[0], run),
        "the refused loss was applied"
    );

    let sent = Command::new("kill")
        .args(["-INT", &holder.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let last = next();
    assert!(last.starts_with("removed rate 1mbit on n2 from "), "{last}");
    assert_eq!(holder.wait().unwrap().code(), Some(0));
    wait_until("our qdiscs are gone", Duration::from_secs(5), || {
        nodes.iter().all(|n| !has_rate_qdisc(n, run))
    });
    let entries = Journal::read(j).unwrap();
    assert!(outstanding(&entries).is_empty(), "{entries:?}");
    assert!(entries.iter().any(|e| e.fault.verb() == "rate"));
}

/// One line and 254 each, nothing applied. The mistakes in the command
/// line are found before the Docker engine is asked (none at DOCKER_HOST).
fn bad_input(state: &Path, run: &str, j: &str) {
    let state_dir = state.to_str().unwrap();
    let nowhere = |args: &[&str]| {
        let mut all = vec!["nemesis", "apply"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--run", run, "--journal", j]);
        let out = chaos_env(
            &all,
            &[
                ("DOCKER_HOST", "tcp://127.0.0.1:1"),
                ("CHAOS_STATE_DIR", state_dir),
            ],
        );
        assert_eq!(out.status.code(), Some(254), "{args:?}: {}", stderr(&out));
        one_line(&out)
    };
    let line = nowhere(&["explode"]);
    assert!(
        line.starts_with(
            "chaos: chaos nemesis apply: unknown fault \"explode\" (use partition-<shape>, kill,"
        ),
        "{line}"
    );
    assert!(!line.contains("none"), "{line}");
    let line = nowhere(&["loss-all:120%"]);
    assert!(
        line.starts_with("chaos: chaos nemesis apply \"loss-all:120%\": "),
        "{line}"
    );
    let line = nowhere(&["rate:1MB"]);
    assert!(
        line.starts_with("chaos: chaos nemesis apply \"rate:1MB\": "),
        "{line}"
    );
    let line = nowhere(&["partition-halves", "--node", "n1"]);
    assert_eq!(
        line,
        "chaos: --node n1: partition-halves acts on several nodes: leave --node out (--seed N draws which)"
    );
    let line = nowhere(&["kill-lose-unsynced-all", "--node", "n1"]);
    assert!(line.contains("acts on several nodes"), "{line}");
    let line = nowhere(&["slow-node", "--hold", "soon"]);
    assert!(line.starts_with("chaos: --hold: "), "{line}");
    let line = nowhere(&["none"]);
    assert!(
        line.starts_with("chaos: chaos nemesis apply none: nothing to apply"),
        "{line}"
    );

    // A node the cluster lacks: found out from the cluster, before the journal.
    let out = chaos_in(
        state,
        &[
            "nemesis",
            "apply",
            "loss:20%",
            "--node",
            "n9",
            "--run",
            run,
            "--journal",
            j,
        ],
    );
    assert_eq!(out.status.code(), Some(254), "{}", stderr(&out));
    assert_eq!(
        one_line(&out),
        "chaos: no node named n9 in this cluster (nodes: n1, n2, n3)"
    );
    assert!(
        Journal::read(j).unwrap().is_empty(),
        "bad input reached the journal"
    );
}
