//! The journal's promise, end to end: a `chaos` process holding a partition
//! is killed with SIGKILL (no chance to clean up), and `chaos heal` then
//! finds the partition it left and removes it, sidecars included. On NATS,
//! so the other system's compose files are exercised too. The same for a
//! one-way partition, a loss and a rate limit in force together, left by a
//! process that is gone: from the journal, and from the scan when no
//! journal names them.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use chaos_nemeses::journal::outstanding;
use chaos_nemeses::{nemesis, Cluster, FaultSpec, Journal, Links, Rng};
use common::*;

const ROUTE_PORT: u16 = 6222;

struct Node {
    container: String,
    address: String,
}

fn nodes(run: &str) -> Vec<Node> {
    (1..=3)
        .map(|i| {
            let out = Command::new("docker")
                .args([
                    "ps",
                    "-q",
                    "--filter",
                    &format!("label=io.chaos.run={run}"),
                    "--filter",
                    &format!("label=io.chaos.node=n{i}"),
                    "--format",
                    "{{.Names}}",
                ])
                .output()
                .unwrap();
            let container = stdout(&out).trim().to_string();
            let out = Command::new("docker")
                .args([
                    "inspect",
                    "-f",
                    "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                    &container,
                ])
                .output()
                .unwrap();
            Node {
                container,
                address: stdout(&out).trim().to_string(),
            }
        })
        .collect()
}

fn sidecars(run: &str) -> String {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "-q",
            "--filter",
            &format!("label=io.chaos.run={run}"),
            "--filter",
            "label=io.chaos.sidecar-of",
        ])
        .output()
        .unwrap();
    stdout(&out).trim().to_string()
}

#[test]
fn kill_dash_nine_mid_partition_then_heal_leaves_no_rule() {
    if !docker_or_skip("kill_dash_nine_mid_partition_then_heal_leaves_no_rule") {
        return;
    }
    let guard = ClusterGuard::up("nats", 3, "heal");
    let run = guard.run.clone();
    let dir = std::env::temp_dir().join(format!("chaos-{run}"));
    let journal = journal_in(&dir);
    let journal_arg = journal.to_str().unwrap();
    let nodes = nodes(&run);

    // A harness holding a partition: halves of 3 is n1 | n2,n3.
    let mut holder = Command::new(env!("CARGO_BIN_EXE_chaos"))
        .args([
            "nemesis",
            "partition",
            "--shape",
            "halves",
            "--hold",
            "10m",
            "--run",
            &run,
            "--journal",
            journal_arg,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(holder.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a line from the holder").unwrap();
    assert!(first.starts_with("partitioned "), "{first}");
    assert!(first.ends_with(": n1 | n2,n3"), "{first}");
    assert!(
        !tcp(&nodes[1].container, &nodes[0].address, ROUTE_PORT),
        "n2 -> n1 under the partition"
    );
    assert!(
        tcp(&nodes[1].container, &nodes[2].address, ROUTE_PORT),
        "n2 -> n3 under the partition"
    );

    // While the holder lives (its lease held), its faults are its own: heal
    // leaves them alone (3), its scan too (the rules are checked below).
    let busy = chaos(&["heal", "--journal", journal_arg, "--run", &run]);
    assert_eq!(busy.status.code(), Some(3), "{}", stdout(&busy));
    assert!(
        stderr(&busy).contains(&format!("left alone: run {run} (pid {} ", holder.id())),
        "{}",
        stderr(&busy)
    );

    holder.kill().unwrap(); // SIGKILL
    holder.wait().unwrap();
    // Nothing healed it: the rules are still in force.
    assert!(iptables_rules(&nodes[0].container, &run).contains("-A INPUT -j CHAOS-PARTITION"));
    assert!(
        !tcp(&nodes[1].container, &nodes[0].address, ROUTE_PORT),
        "n2 -> n1 after the kill -9"
    );
    assert_eq!(outstanding(&Journal::read(&journal).unwrap()).len(), 1);

    let healed = chaos(&["heal", "--journal", journal_arg, "--run", &run]);
    assert_eq!(healed.status.code(), Some(0), "{}", stderr(&healed));
    let report = stdout(&healed);
    assert!(
        report.contains("removed chain CHAOS-PARTITION (2 DROP rules) from n1"),
        "{report}"
    );
    assert!(
        report.contains("removed chain CHAOS-PARTITION (1 DROP rules) from n2"),
        "{report}"
    );
    assert!(report.contains("undid partition n1 | n2,n3"), "{report}");
    assert!(report.contains("removed sidecar "), "{report}");

    // No rule of ours on any node, no sidecar, every link back.
    for node in &nodes {
        let rules = iptables_rules(&node.container, &run);
        assert!(!rules.contains("CHAOS"), "{}: {rules}", node.container);
    }
    assert_eq!(sidecars(&run), "");
    for (from, to) in [(1, 0), (0, 1), (0, 2), (2, 0), (1, 2)] {
        assert!(
            tcp(&nodes[from].container, &nodes[to].address, ROUTE_PORT),
            "n{} -> n{} after heal",
            from + 1,
            to + 1
        );
    }
    assert!(outstanding(&Journal::read(&journal).unwrap()).is_empty());

    // Healing again finds nothing (and says so).
    let again = chaos(&["heal", "--journal", journal_arg, "--run", &run]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(stdout(&again), "nothing to heal\n");

    // The cluster is healthy again after all that.
    wait_until("all 3 NATS nodes healthy", Duration::from_secs(30), || {
        let status = chaos(&["cluster", "status", "--run", &run]);
        stdout(&status).contains("3 nodes (3 healthy)")
    });
    let _ = std::fs::remove_dir_all(dir);
    guard.teardown();
}

/// Nothing of ours in the node's netns: Docker's empty filter table, the
/// interface's default qdisc.
fn assert_clean(node: &Node, run: &str) {
    let rules = iptables_rules(&node.container, run);
    assert_eq!(
        rules.lines().collect::<Vec<_>>(),
        ["-P INPUT ACCEPT", "-P FORWARD ACCEPT", "-P OUTPUT ACCEPT"],
        "{}",
        node.container
    );
    let qdiscs = tc_in(&node.container, run, &["qdisc", "show", "dev", "eth0"]);
    assert!(
        qdiscs.starts_with("qdisc noqueue 0: root"),
        "{}: {qdiscs}",
        node.container
    );
}

#[test]
fn one_way_loss_and_rate_left_behind_are_healed_from_the_journal_and_by_the_scan() {
    if !docker_or_skip(
        "one_way_loss_and_rate_left_behind_are_healed_from_the_journal_and_by_the_scan",
    ) {
        return;
    }
    let guard = ClusterGuard::up("nats", 3, "healnq");
    let run = guard.run.clone();
    let dir = std::env::temp_dir().join(format!("chaos-{run}"));
    let journal_path = journal_in(&dir);
    let journal_arg = journal_path.to_str().unwrap();
    let nodes = nodes(&run);
    let names: Vec<String> = (1..=3).map(|i| format!("n{i}")).collect();

    // A process that put three network faults in force, journaled, and
    // died without healing (its runtime, sessions and journal dropped).
    {
        let rt = runtime();
        let cluster = guard.open(&rt);
        let mut journal = Journal::open(&journal_path, &run).unwrap();
        let mut rng = Rng::new(11);
        for spec in ["partition-one-way", "loss-all:20%", "rate:1mbit"] {
            let fault = FaultSpec::parse(spec)
                .unwrap()
                .instantiate(&names, &mut rng)
                .unwrap();
            rt.block_on(nemesis::apply(&cluster, &mut journal, &fault))
                .unwrap_or_else(|e| panic!("{spec}: {e}"));
        }
    }
    assert_eq!(outstanding(&Journal::read(&journal_path).unwrap()).len(), 3);
    let rules = iptables_rules(&nodes[0].container, &run);
    assert!(rules.contains("-A INPUT -j CHAOS-LOSS"), "{rules}");
    let limited = nodes
        .iter()
        .filter(|n| {
            tc_in(&n.container, &run, &["qdisc", "show"]).contains("qdisc htb c4a0: dev eth0 root")
        })
        .count();
    assert_eq!(
        limited, 3,
        "a rate on one node limits every node's link to it"
    );

    let healed = chaos(&["heal", "--journal", journal_arg, "--run", &run]);
    assert_eq!(healed.status.code(), Some(0), "{}", stderr(&healed));
    let report = stdout(&healed);
    for says in [
        "undid loss 20% on n1,n2,n3",
        "undid rate 1mbit on n",
        "undid partition n",
        "removed chain CHAOS-LOSS (2 DROP rules) from n1",
        "removed the rate limit (qdisc c4a0: on 1 interface) from n",
        "removed sidecar ",
    ] {
        assert!(report.contains(says), "{says:?} not in: {report}");
    }
    for node in &nodes {
        assert_clean(node, &run);
    }
    assert_eq!(sidecars(&run), "");
    assert!(outstanding(&Journal::read(&journal_path).unwrap()).is_empty());

    // No journal names them this time: the scan still finds our chain and
    // our qdisc, and removes exactly those.
    {
        let rt = runtime();
        let cluster = guard.open(&rt);
        let all = Links::On(names.clone());
        rt.block_on(cluster.lose(&all, "5%".parse().unwrap()))
            .unwrap();
        rt.block_on(cluster.limit_rate(&all, "10mbit".parse().unwrap()))
            .unwrap();
    }
    let elsewhere = dir.join("none.jsonl");
    let swept = chaos(&[
        "heal",
        "--journal",
        elsewhere.to_str().unwrap(),
        "--run",
        &run,
    ]);
    assert_eq!(swept.status.code(), Some(0), "{}", stderr(&swept));
    let report = stdout(&swept);
    for node in ["n1", "n2", "n3"] {
        for says in [
            format!("removed chain CHAOS-LOSS (2 DROP rules) from {node} "),
            format!("removed the rate limit (qdisc c4a0: on 1 interface) from {node} "),
        ] {
            assert!(report.contains(&says), "{says:?} not in: {report}");
        }
    }
    for node in &nodes {
        assert_clean(node, &run);
    }
    assert_eq!(sidecars(&run), "");
    let _ = std::fs::remove_dir_all(dir);
    guard.teardown();
}
