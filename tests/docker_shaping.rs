//! Delay and duplication on a real 3-node etcd cluster through the Docker
//! backend, the way a run applies them (`nemesis::apply`, journaled):
//! netem where the host's kernel has it, else the NFQUEUE delayer in the
//! node's sidecar. Measured from inside the nodes with ping: the round
//! trip with the delayed node, the links not named, the harness's own
//! path; duplicates counted. Watched (`in_force`, also after the delayer
//! is killed by hand), undone, and nothing of ours left in any node.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use chaos::backends::docker::{DockerCluster, DockerNode};
use chaos_nemeses::journal::outstanding;
use chaos_nemeses::shaping::Mechanism;
use chaos_nemeses::{nemesis, Cluster, Fault, FaultSpec, Journal};
use common::*;

fn node<'a>(nodes: &'a [DockerNode], name: &str) -> &'a DockerNode {
    nodes.iter().find(|n| n.name == name).unwrap()
}

/// The fault `spec` on node `on`, as `chaos run` would draw it there.
fn on(spec: &str, on: &str) -> Fault {
    FaultSpec::parse(spec).unwrap().on(on.into()).unwrap()
}

fn sidecar_of(n: &DockerNode) -> String {
    format!("{}-chaos-sidecar", n.container)
}

/// Nothing of ours shapes any node: no delay chain in mangle, no netem
/// qdisc, no delayer running in a sidecar.
fn assert_unshaped(nodes: &[DockerNode], run: &str) {
    for n in nodes {
        let mangle = iptables_in(&n.container, run, &["-t", "mangle", "-S"]);
        assert!(!mangle.contains("CHAOS-DELAY"), "{}: {mangle}", n.name);
        let qdiscs = tc_in(&n.container, run, &["qdisc", "show"]);
        assert!(!qdiscs.contains("c4b"), "{}: {qdiscs}", n.name);
        let ps = Command::new("docker")
            .args(["exec", &sidecar_of(n), "ps", "-eo", "args"])
            .output()
            .expect("docker runs");
        let ps = stdout(&ps);
        assert!(!ps.contains(" netdelay "), "{}: {ps}", n.name);
    }
}

#[test]
fn delay_and_duplicates_on_three_etcd_nodes() {
    if !docker_or_skip("delay_and_duplicates_on_three_etcd_nodes") {
        return;
    }
    // The sidecars mount the chaos executable for the delayer; this test
    // binary is not it.
    std::env::set_var("CHAOS_BIN", env!("CARGO_BIN_EXE_chaos"));
    let guard = ClusterGuard::up("etcd", 3, "shape");
    let rt = runtime();
    let cluster = guard.open(&rt);
    let dir = std::env::temp_dir().join(format!("chaos-{}", guard.run));
    let mut journal = Journal::open(journal_in(&dir), &guard.run).unwrap();
    let nodes = rt.block_on(cluster.refresh()).unwrap();
    let mechanism = rt.block_on(cluster.shaping()).unwrap();
    eprintln!("shaping with {}", mechanism.describe());

    delay(&rt, &cluster, &mut journal, &nodes, mechanism);
    duplicates(&rt, &cluster, &mut journal, &nodes);
    assert_unshaped(&nodes, &guard.run);

    assert!(outstanding(&Journal::read(journal_in(&dir)).unwrap()).is_empty());
    drop(journal);
    let _ = std::fs::remove_dir_all(dir);
    guard.teardown();
}

fn delay(
    rt: &tokio::runtime::Runtime,
    cluster: &DockerCluster,
    journal: &mut Journal,
    nodes: &[DockerNode],
    mechanism: Mechanism,
) {
    let (n1, n2, n3) = (node(nodes, "n1"), node(nodes, "n2"), node(nodes, "n3"));
    let before = median(&round_trips_ms(&ping_output(
        &n1.container,
        &n2.address,
        10,
        "0.05",
    )));
    let fault = on("delay:100ms", "n1");
    let applying = Instant::now();
    rt.block_on(nemesis::apply(cluster, journal, &fault))
        .unwrap();
    eprintln!("delay applied in {:?}", applying.elapsed());
    assert!(rt.block_on(cluster.in_force(&fault)).unwrap());

    // Every packet n1 sends its peers, and every packet they send n1,
    // waits 100 ms: a round trip with n1 takes 200 ms more.
    let out = ping_output(&n1.container, &n2.address, 40, "0.02");
    let rtts = round_trips_ms(&out);
    assert!(rtts.len() >= 38, "replies lost under a delay alone: {out}");
    let with = median(&rtts);
    assert!(
        (with - 200.0 - before).abs() <= 20.0,
        "median round trip n1 -> n2 {with:.1} ms (before {before:.2} ms), not 200 ms more"
    );
    // The links not named are not delayed.
    let others = median(&round_trips_ms(&ping_output(
        &n2.container,
        &n3.address,
        20,
        "0.02",
    )));
    assert!(others < 20.0, "n2 -> n3 delayed too: {others:.1} ms");
    // Nor is the harness's own path to n1.
    let client = n1.published(2379).unwrap();
    let asked = Instant::now();
    etcd_get(client, "k", true, Duration::from_secs(5)).unwrap();
    assert!(
        asked.elapsed() < Duration::from_millis(100),
        "the harness's own request to n1 took {:?}",
        asked.elapsed()
    );

    if mechanism == Mechanism::Delayer {
        // Killed by hand, the delayer is seen gone, and its rules let the
        // packets pass (--queue-bypass) instead of dropping them.
        let killed = Command::new("docker")
            .args([
                "exec",
                &sidecar_of(n1),
                "sh",
                "-c",
                "kill -KILL $(cat /tmp/chaos-netdelay.pid)",
            ])
            .status()
            .unwrap();
        assert!(killed.success());
        wait_until(
            "the run sees the delayer gone",
            Duration::from_secs(10),
            || !rt.block_on(cluster.in_force(&fault)).unwrap(),
        );
        let bypassed = round_trips_ms(&ping_output(&n1.container, &n2.address, 10, "0.05"));
        assert_eq!(bypassed.len(), 10, "a dead delayer black-holed n1");
        assert!(median(&bypassed) < 100.0 + before, "{bypassed:?}");
    }

    let lines = rt
        .block_on(nemesis::undo(cluster, journal, &fault))
        .unwrap();
    assert!(!lines.is_empty(), "the heal names what it removed");
    let after = median(&round_trips_ms(&ping_output(
        &n1.container,
        &n2.address,
        10,
        "0.05",
    )));
    assert!(after < 20.0, "still delayed after the heal: {after:.1} ms");
}

fn duplicates(
    rt: &tokio::runtime::Runtime,
    cluster: &DockerCluster,
    journal: &mut Journal,
    nodes: &[DockerNode],
) {
    let (n1, n2) = (node(nodes, "n1"), node(nodes, "n2"));
    let fault = on("duplicate:20%", "n2");
    rt.block_on(nemesis::apply(cluster, journal, &fault))
        .unwrap();
    assert!(rt.block_on(cluster.in_force(&fault)).unwrap());
    // Only packets to and from n2 are on its links: n1's request (n1's
    // egress to n2) and n2's reply (n2's egress). Each is doubled a fifth
    // of the time; a doubled request draws a second reply and a doubled
    // reply arrives twice, and ping marks either (DUP!).
    let out = ping_output(&n1.container, &n2.address, 200, "0.01");
    let replies = round_trips_ms(&out).len();
    let dups = out.lines().filter(|l| l.contains("DUP!")).count();
    eprintln!("duplicate:20%: {replies} replies, {dups} duplicates");
    assert!(replies >= 195, "{out}");
    // About 0.2 × 1.2 + 0.2 = 0.44 per ping (the second reply may be
    // doubled too): some 88 of 200; far from none, far from all.
    assert!((40..=140).contains(&dups), "{dups} duplicates in 200 pings");
    rt.block_on(nemesis::undo(cluster, journal, &fault))
        .unwrap();
    let out = ping_output(&n1.container, &n2.address, 50, "0.01");
    assert!(!out.contains("DUP!"), "duplicates after the heal: {out}");
}
