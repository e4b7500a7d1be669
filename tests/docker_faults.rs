//! Node and network faults on a real 5-node etcd cluster, through the
//! `Cluster` trait of the Docker backend. One cluster serves every step (a
//! cluster start is the expensive part); each step leaves it healthy for the
//! next, and the guard takes it down even if a step fails.
//!
//! What is checked is checked from outside the harness: TCP with `nc` from
//! inside the nodes, etcd's own HTTP API through the published ports.

mod common;

use std::time::Duration;

use chaos::backends::docker::{DockerCluster, DockerNode};
use chaos_nemeses::{grudge, Cluster};
use common::*;

const PEER_PORT: u16 = 2380;

fn client_addr(node: &DockerNode) -> String {
    node.published(2379)
        .expect("client port published")
        .to_string()
}

/// (from, to): a container and an address, or two node names.
type Pairs = Vec<(String, String)>;

/// Every ordered pair of distinct nodes: (from container, to address), and
/// the names, in the same order.
fn all_pairs(nodes: &[DockerNode]) -> (Pairs, Pairs) {
    let mut pairs = Vec::new();
    let mut names = Vec::new();
    for a in nodes {
        for b in nodes.iter().filter(|b| b.name != a.name) {
            pairs.push((a.container.clone(), b.address.clone()));
            names.push((a.name.clone(), b.name.clone()));
        }
    }
    (pairs, names)
}

#[test]
fn five_node_etcd_under_partition_kill_pause_and_stop() {
    if !docker_or_skip("five_node_etcd_under_partition_kill_pause_and_stop") {
        return;
    }
    let guard = ClusterGuard::up("etcd", 5, "faults");
    let rt = runtime();
    let cluster = guard.open(&rt);

    // Up and healthy: five nodes, each answering a quorum read.
    let nodes = rt.block_on(cluster.refresh()).unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["n1", "n2", "n3", "n4", "n5"]);
    for node in &nodes {
        assert_eq!(node.health.as_deref(), Some("healthy"), "{node:?}");
        etcd_get(&client_addr(node), "none", false, Duration::from_secs(5)).unwrap();
    }

    partition_halves_then_heal(&rt, &cluster, &nodes, &guard.run);
    kill_and_restart_keeps_data(&rt, &cluster);
    pause_and_resume(&rt, &cluster);
    stop_and_start(&rt, &cluster);
    unknown_node_is_one_line(&guard.run);

    guard.teardown();
}

fn partition_halves_then_heal(
    rt: &tokio::runtime::Runtime,
    cluster: &DockerCluster,
    nodes: &[DockerNode],
    run: &str,
) {
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    let halves = grudge::halves(&names).unwrap();
    assert_eq!(halves.to_string(), "n1,n2 | n3,n4,n5");
    rt.block_on(cluster.partition(&halves)).unwrap();

    // Across the cut nothing connects, either way; within a side all does.
    let (pairs, pair_names) = all_pairs(nodes);
    let reached = tcp_all(&pairs, PEER_PORT);
    let minority = ["n1", "n2"];
    for ((from, to), ok) in pair_names.iter().zip(&reached) {
        let same_side = minority.contains(&from.as_str()) == minority.contains(&to.as_str());
        assert_eq!(
            *ok, same_side,
            "{from} -> {to}: connected {ok}, same side {same_side}"
        );
    }
    // The harness's own path (published ports, via the Docker gateway) is
    // never cut: every node still takes a local read from us.
    for node in nodes {
        etcd_get(&client_addr(node), "k", true, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("harness cut off from {}: {e}", node.name));
    }
    // A node killed and restarted under the partition comes back in a new,
    // empty netns: the backend puts its share of the rules back.
    rt.block_on(cluster.kill("n2")).unwrap();
    rt.block_on(cluster.restart("n2")).unwrap();
    let n2 = rt.block_on(cluster.node("n2")).unwrap();
    assert!(n2.is_up());
    let rules = iptables_rules(&n2.container, run);
    assert!(
        rules.contains("-A INPUT -j CHAOS-PARTITION"),
        "restarted n2: {rules}"
    );
    wait_until(
        "n1 reaches the restarted n2",
        Duration::from_secs(10),
        || tcp(&nodes[0].container, &n2.address, PEER_PORT),
    );
    assert!(
        !tcp(&nodes[3].container, &n2.address, PEER_PORT),
        "n4 -> restarted n2"
    );

    // A second partition replaces the first: n5 alone, n1..n4 together.
    let one = grudge::isolate(&names, "n5").unwrap();
    rt.block_on(cluster.partition(&one)).unwrap();
    assert!(
        tcp(&nodes[0].container, &nodes[2].address, PEER_PORT),
        "n1 -> n3 after the re-partition"
    );
    assert!(
        !tcp(&nodes[0].container, &nodes[4].address, PEER_PORT),
        "n1 -> n5 after the re-partition"
    );

    rt.block_on(cluster.heal()).unwrap();
    let reached = tcp_all(&pairs, PEER_PORT);
    for ((from, to), ok) in pair_names.iter().zip(&reached) {
        assert!(ok, "{from} -> {to} still cut after heal");
    }
    // Heal removed our chain and nothing else: the node's netns is back to
    // Docker's empty filter table.
    for node in nodes {
        let rules = iptables_rules(&node.container, run);
        assert!(!rules.contains("CHAOS"), "{}: {rules}", node.name);
        assert_eq!(
            rules.lines().collect::<Vec<_>>(),
            ["-P INPUT ACCEPT", "-P FORWARD ACCEPT", "-P OUTPUT ACCEPT"],
            "{}",
            node.name
        );
    }
    // Healing a healed network is fine.
    rt.block_on(cluster.heal()).unwrap();
}

fn node<'a>(nodes: &'a [DockerNode], name: &str) -> &'a DockerNode {
    nodes.iter().find(|n| n.name == name).unwrap()
}

fn wait_healthy(rt: &tokio::runtime::Runtime, cluster: &DockerCluster, name: &str) -> DockerNode {
    let mut found = None;
    wait_until(
        &format!("{name} is healthy"),
        Duration::from_secs(60),
        || {
            let nodes = rt.block_on(cluster.refresh()).unwrap();
            let n = node(&nodes, name).clone();
            let healthy = n.health.as_deref() == Some("healthy");
            found = Some(n);
            healthy
        },
    );
    found.unwrap()
}

fn kill_and_restart_keeps_data(rt: &tokio::runtime::Runtime, cluster: &DockerCluster) {
    let nodes = rt.block_on(cluster.refresh()).unwrap();
    etcd_put(&client_addr(node(&nodes, "n1")), "kept", "across-a-kill").unwrap();
    let n3 = client_addr(node(&nodes, "n3"));
    wait_until(
        "n3 has the key in its own store",
        Duration::from_secs(10),
        || etcd_get(&n3, "kept", true, Duration::from_secs(2)) == Ok(Some("across-a-kill".into())),
    );

    rt.block_on(cluster.kill("n3")).unwrap();
    assert!(!rt.block_on(cluster.is_up("n3")).unwrap());
    let dead = rt.block_on(cluster.node("n3")).unwrap();
    assert_eq!(dead.state, "exited");
    assert!(
        etcd_get(&n3, "kept", true, Duration::from_secs(2)).is_err(),
        "a killed node answered"
    );
    rt.block_on(cluster.kill("n3")).unwrap(); // killing the dead is fine

    rt.block_on(cluster.restart("n3")).unwrap();
    let back = wait_healthy(rt, cluster, "n3");
    // Read from n3's own store, through its new published port: the data
    // survived on its volume.
    assert_eq!(
        etcd_get(&client_addr(&back), "kept", true, Duration::from_secs(5)),
        Ok(Some("across-a-kill".into()))
    );
}

fn pause_and_resume(rt: &tokio::runtime::Runtime, cluster: &DockerCluster) {
    rt.block_on(cluster.pause("n2")).unwrap();
    rt.block_on(cluster.pause("n2")).unwrap(); // pausing the paused is fine
    assert!(!rt.block_on(cluster.is_up("n2")).unwrap());
    let n2 = client_addr(&rt.block_on(cluster.node("n2")).unwrap());
    let frozen = etcd_get(&n2, "kept", true, Duration::from_secs(2));
    assert!(frozen.is_err(), "a paused node answered: {frozen:?}");
    // The rest of the cluster carries on.
    let n1 = client_addr(&rt.block_on(cluster.node("n1")).unwrap());
    etcd_put(&n1, "while-paused", "yes").unwrap();

    rt.block_on(cluster.resume("n2")).unwrap();
    assert!(rt.block_on(cluster.is_up("n2")).unwrap());
    wait_until(
        "n2 answers again and has caught up",
        Duration::from_secs(20),
        || etcd_get(&n2, "while-paused", true, Duration::from_secs(2)) == Ok(Some("yes".into())),
    );
}

fn stop_and_start(rt: &tokio::runtime::Runtime, cluster: &DockerCluster) {
    rt.block_on(cluster.stop("n4")).unwrap();
    assert_eq!(rt.block_on(cluster.node("n4")).unwrap().state, "exited");
    rt.block_on(cluster.start("n4")).unwrap();
    wait_healthy(rt, cluster, "n4");
}

fn unknown_node_is_one_line(run: &str) {
    let dir = std::env::temp_dir().join(format!("chaos-{run}"));
    let journal = journal_in(&dir);
    let out = chaos(&[
        "nemesis",
        "kill",
        "n9",
        "--run",
        run,
        "--journal",
        journal.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(254), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "chaos: no node named n9 in this cluster (nodes: n1, n2, n3, n4, n5)\n"
    );
    // And it never reached the journal, so `chaos heal` will not trip on it.
    let entries = chaos_nemeses::Journal::read(&journal).unwrap();
    assert!(entries.is_empty(), "{entries:?}");
    let _ = std::fs::remove_dir_all(dir);
}
