//! The network faults beyond a clean cut, on a real 3-node etcd cluster
//! through the Docker backend: a one-way partition, packet loss, a rate
//! limit. Each is journaled and applied as a run applies it
//! (`nemesis::apply`), measured from inside the nodes with their own tools
//! (datagrams, pings, a TCP transfer), watched (`in_force`, also after an
//! operator undoes it by hand) and undone, and the nodes are then checked
//! for anything of ours left (no chain, no qdisc).

mod common;

use std::time::{Duration, Instant};

use chaos::backends::docker::{DockerCluster, DockerNode};
use chaos_nemeses::journal::outstanding;
use chaos_nemeses::{grudge, nemesis, Cluster, Fault, FaultSpec, Journal, Links, Rng};
use common::*;

/// The 95 % interval of a loss rate, from `count` pings.
fn measured_loss(from: &DockerNode, to: &DockerNode, count: usize) -> (f64, (f64, f64)) {
    let (sent, received) = ping_counts(&from.container, &to.address, count);
    assert_eq!(sent, count);
    let lost = sent - received;
    (lost as f64 / sent as f64, wilson_95(lost, sent))
}

fn node<'a>(nodes: &'a [DockerNode], name: &str) -> &'a DockerNode {
    nodes.iter().find(|n| n.name == name).unwrap()
}

/// Nothing of ours in any node's netns: Docker's empty filter table and
/// the interface's default qdisc.
fn assert_clean(nodes: &[DockerNode], run: &str) {
    for n in nodes {
        let rules = iptables_rules(&n.container, run);
        assert_eq!(
            rules.lines().collect::<Vec<_>>(),
            ["-P INPUT ACCEPT", "-P FORWARD ACCEPT", "-P OUTPUT ACCEPT"],
            "{}",
            n.name
        );
        let qdiscs = tc_in(&n.container, run, &["qdisc", "show"]);
        assert!(!qdiscs.contains("c4a"), "{}: {qdiscs}", n.name);
        assert!(
            qdiscs.contains("qdisc noqueue 0: dev eth0 root"),
            "{}: {qdiscs}",
            n.name
        );
    }
}

#[test]
fn one_way_partition_loss_and_rate_on_three_etcd_nodes() {
    if !docker_or_skip("one_way_partition_loss_and_rate_on_three_etcd_nodes") {
        return;
    }
    let guard = ClusterGuard::up("etcd", 3, "netq");
    let rt = runtime();
    let cluster = guard.open(&rt);
    let dir = std::env::temp_dir().join(format!("chaos-{}", guard.run));
    let mut journal = Journal::open(journal_in(&dir), &guard.run).unwrap();
    let nodes = rt.block_on(cluster.refresh()).unwrap();

    one_way(&rt, &cluster, &mut journal, &nodes, &guard.run);
    loss(&rt, &cluster, &mut journal, &nodes, &guard.run);
    rate(&rt, &cluster, &mut journal, &nodes, &guard.run);

    assert!(outstanding(&Journal::read(journal_in(&dir)).unwrap()).is_empty());
    drop(journal);
    let _ = std::fs::remove_dir_all(dir);
    guard.teardown();
}

fn one_way(
    rt: &tokio::runtime::Runtime,
    cluster: &DockerCluster,
    journal: &mut Journal,
    nodes: &[DockerNode],
    run: &str,
) {
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    let fault = FaultSpec::parse("partition-one-way")
        .unwrap()
        .instantiate(&names, &mut Rng::new(5))
        .unwrap();
    let Fault::Partition { grudge } = &fault else {
        panic!("{fault:?}")
    };
    rt.block_on(nemesis::apply(cluster, journal, &fault))
        .unwrap();
    assert_eq!(journal.outstanding().unwrap().len(), 1, "journaled");
    assert!(rt.block_on(cluster.in_force(&fault)).unwrap());

    // Every ordered pair, by datagrams: only the cut direction is silent.
    let mut triples = Vec::new();
    let mut expected = Vec::new();
    for a in nodes {
        for b in nodes.iter().filter(|b| b.name != a.name) {
            triples.push((a.container.clone(), b.container.clone(), b.address.clone()));
            expected.push((
                a.name.clone(),
                b.name.clone(),
                grudge.can_reach(&a.name, &b.name),
            ));
        }
    }
    let cut = expected.iter().filter(|(_, _, reach)| !reach).count();
    assert_eq!(cut, 2, "one node unheard by two: {grudge}");
    let heard = udp_all(&triples, 9100);
    for ((from, to, reach), heard) in expected.iter().zip(&heard) {
        assert_eq!(heard, reach, "{from} -> {to} under {grudge}");
        if !reach {
            // The other way passes: one-way, not a cut.
            assert!(grudge.can_reach(to, from));
        }
    }
    // The harness's own path is never cut.
    for n in nodes {
        let client = n.published(2379).unwrap();
        etcd_get(client, "k", true, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("harness cut off from {}: {e}", n.name));
    }

    rt.block_on(nemesis::undo(cluster, journal, &fault))
        .unwrap();
    let heard = udp_all(&triples, 9200);
    assert!(heard.iter().all(|h| *h), "after heal: {heard:?}");
    assert_clean(nodes, run);
    // The fixed-order shape, for the record of what the seeded one drew.
    assert_eq!(
        grudge::one_way(&names).unwrap().to_string(),
        "n2 drops n1\nn3 drops n1"
    );
}

fn loss(
    rt: &tokio::runtime::Runtime,
    cluster: &DockerCluster,
    journal: &mut Journal,
    nodes: &[DockerNode],
    run: &str,
) {
    let (n1, n2, n3) = (node(nodes, "n1"), node(nodes, "n2"), node(nodes, "n3"));
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    // 20 % on the links n1 -> n2 and n1 -> n3 only: a ping from n1 to n2
    // loses its request there and nothing on the way back, so the loss it
    // sees is the link's.
    let fault = Fault::Loss {
        links: Links::Between(grudge::one_way(&names).unwrap()),
        loss: "20%".parse().unwrap(),
    };
    rt.block_on(nemesis::apply(cluster, journal, &fault))
        .unwrap();
    assert!(rt.block_on(cluster.in_force(&fault)).unwrap());
    let (rate, (low, high)) = measured_loss(n1, n2, 1000);
    eprintln!(
        "loss 20% on n1 -> n2: measured {:.1} % (95 % interval {:.1}-{:.1} %)",
        rate * 100.0,
        low * 100.0,
        high * 100.0
    );
    assert!(low > 0.10 && high < 0.30, "{low}..{high}");
    // The links not named lose nothing: n2 -> n3.
    let (rate, _) = measured_loss(n2, n3, 200);
    assert_eq!(rate, 0.0, "n2 -> n3 is not a lossy link");

    // On one node: every link into and out of n3, so a round trip loses
    // 1 - 0.8 * 0.8 = 36 %. The new loss replaces the first.
    let on_n3 = FaultSpec::parse("loss:20%")
        .unwrap()
        .on("n3".into())
        .unwrap();
    rt.block_on(nemesis::apply(cluster, journal, &on_n3))
        .unwrap();
    let (rate, (low, high)) = measured_loss(n1, n3, 1000);
    eprintln!(
        "loss 20% on n3, round trip n1 -> n3: measured {:.1} % (95 % interval {:.1}-{:.1} %)",
        rate * 100.0,
        low * 100.0,
        high * 100.0
    );
    assert!(low > 0.20 && high < 0.50, "{low}..{high}");
    let (rate, _) = measured_loss(n1, n2, 200);
    assert_eq!(rate, 0.0, "the first loss was replaced");

    // An operator flushes our chain by hand: the watch sees it.
    iptables_in(&n1.container, run, &["-F", "CHAOS-LOSS"]);
    assert!(!rt.block_on(cluster.in_force(&on_n3)).unwrap());

    let removed = rt
        .block_on(nemesis::undo(cluster, journal, &on_n3))
        .unwrap();
    assert_eq!(removed.len(), 3, "a chain on every node: {removed:?}");
    let (rate, _) = measured_loss(n1, n3, 300);
    assert_eq!(rate, 0.0, "lossless after heal");
    assert_clean(nodes, run);
}

fn rate(
    rt: &tokio::runtime::Runtime,
    cluster: &DockerCluster,
    journal: &mut Journal,
    nodes: &[DockerNode],
    run: &str,
) {
    const BYTES: usize = 256 * 1024;
    let (n1, n2) = (node(nodes, "n1"), node(nodes, "n2"));
    let before = transfer_seconds(&n1.container, &n2.container, &n2.address, 9300, BYTES);
    assert!(before < 0.5, "unlimited transfer took {before} s");
    // A large value in n2's own store, to read back through the harness's
    // path while n2's links are slow.
    let n2_client = n2.published(2379).unwrap();
    let big = "x".repeat(200 * 1024);
    etcd_put(n2_client, "big", &big).unwrap();
    wait_until("n2 has the value", Duration::from_secs(10), || {
        etcd_get(n2_client, "big", true, Duration::from_secs(2)).is_ok_and(|v| v.is_some())
    });

    let fault = FaultSpec::parse("rate:1mbit")
        .unwrap()
        .on("n2".into())
        .unwrap();
    rt.block_on(nemesis::apply(cluster, journal, &fault))
        .unwrap();
    assert!(rt.block_on(cluster.in_force(&fault)).unwrap());
    let expected = (BYTES * 8) as f64 / 1e6;
    let took = transfer_seconds(&n1.container, &n2.container, &n2.address, 9301, BYTES);
    eprintln!("rate 1mbit on n2: {BYTES} bytes n1 -> n2 in {took:.2} s (size/rate {expected:.2} s; {before:.3} s unlimited)");
    assert!(
        took > 0.7 * expected && took < 1.5 * expected,
        "{took} s for {expected} s"
    );
    // The harness's path is not limited: 200 KiB from n2's store in well
    // under the 1.6 s it would take at 1 mbit.
    let started = Instant::now();
    let value = etcd_get(n2_client, "big", true, Duration::from_secs(5)).unwrap();
    assert_eq!(value.map(|v| v.len()), Some(big.len()));
    assert!(
        started.elapsed() < Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );

    // Deleted by hand: no longer in force.
    tc_in(&n2.container, run, &["qdisc", "del", "dev", "eth0", "root"]);
    assert!(!rt.block_on(cluster.in_force(&fault)).unwrap());
    rt.block_on(cluster.limit_rate(&Links::On(vec!["n2".into()]), "1mbit".parse().unwrap()))
        .unwrap();
    assert!(
        rt.block_on(cluster.in_force(&fault)).unwrap(),
        "installed again"
    );

    let removed = rt
        .block_on(nemesis::undo(cluster, journal, &fault))
        .unwrap();
    assert_eq!(removed.len(), 3, "a qdisc on every node: {removed:?}");
    let after = transfer_seconds(&n1.container, &n2.container, &n2.address, 9302, BYTES);
    assert!(after < 0.5, "after heal the transfer took {after} s");
    assert_clean(nodes, run);
}
