//! Shaping faults (delay, duplicate, reorder, slow-node, flaky-node) on the
//! Kubernetes backend against the fake API server (tests/k8s_fake), whose
//! execs here run to the end: each pod's sidecar answers as a kernel with
//! netem, or without it, would. Checked: which way the backend chose, the
//! exact commands it exec'd in which pod and in what order (the shared
//! netem and delayer scripts, with the peers' pod IPs), the refusals made
//! before anything is exec'd, the looks, and the heals.

mod k8s_fake;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chaos::backends::k8s::heal::heal;
use chaos::backends::k8s::K8sCluster;
use chaos::backends::shaping::{CHAOS_IN_SIDECAR, EACH_LAST_LINE};
use chaos_nemeses::shaping::Mechanism;
use chaos_nemeses::{netem, Cluster, ClusterError, Fault, FaultSpec};
use chaos_netdelay::{iptables as queue_rules, process};
use k8s_fake::*;

const NO_NETEM: &str =
    "netem no: tc qdisc add dev c4b-probe parent c4b0:1 handle c4b1: netem delay 1ms: Error: Specified qdisc kind is unknown.";
const NETEM: &str = "netem yes\ntables: normal pareto paretonormal";

/// An exec's script (`sh -c SCRIPT`) and its arguments (after `$0`); any
/// other command (`pkill -CONT -x etcd`) whole, as its script.
fn script_of(seen: &Seen) -> (String, Vec<String>) {
    let command = seen.query("command");
    match &command[..] {
        [sh, c, script, rest @ ..] if sh == "sh" && c == "-c" => {
            (script.clone(), rest.get(1..).unwrap_or_default().to_vec())
        }
        _ => (command.join(" "), Vec::new()),
    }
}

/// The pod an exec went to.
fn pod_of_exec(seen: &Seen) -> String {
    let path = seen.path();
    let rest = path
        .strip_prefix(&format!("/api/v1/namespaces/{NS}/pods/"))
        .unwrap();
    rest.strip_suffix("/exec").unwrap().to_string()
}

/// Three pods whose sidecars answer with `answer(pod, script, args)`.
async fn three_answering(
    answer: impl Fn(&str, &str, &[String]) -> Ran + Send + 'static,
) -> (K8sCluster, Arc<std::sync::Mutex<Vec<Seen>>>) {
    let (client, seen) = fake_with_exec(
        Box::new(|_| ok(three())),
        Box::new(move |s| {
            let (script, args) = script_of(s);
            Some(answer(&pod_of_exec(s), &script, &args))
        }),
    );
    let cluster = K8sCluster::discover(client, target())
        .await
        .expect("discovery");
    (cluster, seen)
}

/// The execs seen, in the order sent: pod, script, arguments.
fn execs_in_order(seen: &[Seen]) -> Vec<(String, String, Vec<String>)> {
    seen.iter()
        .filter(|s| s.upgrade)
        .map(|s| {
            let (script, args) = script_of(s);
            (pod_of_exec(s), script, args)
        })
        .collect()
}

fn probes(execs: &[(String, String, Vec<String>)]) -> Vec<&str> {
    let mut pods: Vec<&str> = execs
        .iter()
        .filter(|(_, script, _)| script == netem::PROBE)
        .map(|(pod, _, _)| pod.as_str())
        .collect();
    pods.sort();
    pods
}

fn slow_node_on_etcd_0() -> Fault {
    FaultSpec::parse("slow-node")
        .unwrap()
        .on("etcd-0".into())
        .unwrap()
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

#[tokio::test]
async fn a_delay_runs_the_shared_netem_script_where_packets_leave() {
    let (cluster, seen) =
        three_answering(|_, script, _| Ran::ok(if script == netem::PROBE { NETEM } else { "" }))
            .await;
    let fault = slow_node_on_etcd_0();
    fault
        .apply_to(&cluster)
        .await
        .expect("the delay is applied");
    let Fault::Shape { netem: shape, .. } = &fault else {
        panic!("{fault:?}")
    };
    let command = |peers: &[&str]| {
        let mut command = vec![
            "sh".to_string(),
            "-c".into(),
            netem::APPLY.into(),
            "sh".into(),
        ];
        command.extend(netem::args(shape, &strings(peers)));
        command
    };
    let seen = seen.lock().unwrap().clone();
    let probe = vec!["sh".to_string(), "-c".into(), netem::PROBE.into()];
    // Every pod asked once; every link into and out of etcd-0 shaped
    // where it leaves.
    assert_eq!(
        execs_seen(&seen),
        [
            (exec_path("etcd-0"), probe.clone()),
            (exec_path("etcd-0"), command(&["10.0.0.11", "10.0.0.12"])),
            (exec_path("etcd-1"), probe.clone()),
            (exec_path("etcd-1"), command(&["10.0.0.10"])),
            (exec_path("etcd-2"), probe),
            (exec_path("etcd-2"), command(&["10.0.0.10"])),
        ]
    );
    assert_covered(&seen);
}

#[tokio::test]
async fn without_netem_a_delay_starts_the_delayer_in_each_sending_pods_sidecar() {
    let (cluster, seen) = three_answering(|_, script, _| {
        Ran::ok(match script {
            s if s == netem::PROBE => NO_NETEM,
            s if s == process::start_script() => "started 4242",
            _ => "",
        })
    })
    .await;
    let fault = slow_node_on_etcd_0();
    let Fault::Shape { netem: shape, .. } = &fault else {
        panic!("{fault:?}")
    };
    // Before the run: the way test.json and the report name.
    let mechanism = cluster
        .check_shaping(&[("slow-node".into(), *shape)])
        .await
        .expect("the delayer can do slow-node");
    assert_eq!(mechanism, Mechanism::Delayer);
    assert!(mechanism.describe().contains("NFQUEUE delayer"));
    fault
        .apply_to(&cluster)
        .await
        .expect("the delay is applied");

    let seen = seen.lock().unwrap().clone();
    let execs = execs_in_order(&seen);
    assert_eq!(
        probes(&execs),
        ["etcd-0", "etcd-1", "etcd-2"],
        "asked once each"
    );
    // slow-node is 100ms~20ms/normal; each pod draws with its ordinal.
    let start = |seed: &str| {
        let mut args = vec![CHAOS_IN_SIDECAR.to_string()];
        args.extend(strings(&[
            "--queue",
            "3140",
            "--delay",
            "100000us",
            "--jitter",
            "20000us",
            "--distribution",
            "normal",
            "--seed",
            seed,
        ]));
        (process::start_script(), args)
    };
    let rules = |peers: &[&str]| {
        let text = queue_rules::rules(3140, &strings(peers));
        assert!(text.contains("-j NFQUEUE --queue-num 3140"), "{text}");
        (queue_rules::APPLY.to_string(), vec![text])
    };
    let expected = [
        ("etcd-0", start("0"), rules(&["10.0.0.11", "10.0.0.12"])),
        ("etcd-1", start("1"), rules(&["10.0.0.10"])),
        ("etcd-2", start("2"), rules(&["10.0.0.10"])),
    ];
    for (pod, start, rules) in expected {
        // In each pod: the delayer started, then the rules queue to it.
        let in_pod: Vec<(String, Vec<String>)> = execs
            .iter()
            .filter(|(p, script, _)| p == pod && script != netem::PROBE)
            .map(|(_, script, args)| (script.clone(), args.clone()))
            .collect();
        assert_eq!(in_pod, [start, rules], "{pod}");
    }
    assert!(
        execs.iter().all(|(_, script, _)| script != netem::APPLY),
        "no netem where the kernel has none"
    );
    assert_covered(&seen);
}

#[tokio::test]
async fn one_pod_without_netem_puts_the_whole_cluster_on_the_delayer() {
    let (cluster, seen) = three_answering(|pod, script, _| {
        let probe = if pod == "etcd-2" { NO_NETEM } else { NETEM };
        Ran::ok(if script == netem::PROBE { probe } else { "" })
    })
    .await;
    assert_eq!(
        cluster.check_shaping(&[]).await.unwrap(),
        Mechanism::Delayer
    );
    let execs = execs_in_order(&seen.lock().unwrap());
    assert_eq!(probes(&execs), ["etcd-0", "etcd-1", "etcd-2"]);
}

#[tokio::test]
async fn a_pareto_delay_without_netem_is_refused_before_anything_is_execd() {
    let (cluster, seen) =
        three_answering(|_, script, _| Ran::ok(if script == netem::PROBE { NO_NETEM } else { "" }))
            .await;
    let spec = FaultSpec::parse("delay:100ms~20ms/pareto").unwrap();
    let fault = spec.on("etcd-0".into()).unwrap();
    let Fault::Shape { netem: shape, .. } = &fault else {
        panic!("{fault:?}")
    };
    let e = cluster
        .check_shaping(&[(spec.name(), *shape)])
        .await
        .unwrap_err();
    assert!(matches!(e, ClusterError::Unsupported { .. }), "{e:?}");
    let e = e.to_string();
    one_line(&e);
    assert!(e.contains("the pods' kernel has no netem"), "{e}");
    assert!(e.contains("pareto"), "{e}");
    // Applied anyway (by hand): refused again, nothing run.
    let again = fault.apply_to(&cluster).await.unwrap_err().to_string();
    assert!(again.contains("pareto"), "{again}");
    let execs = execs_in_order(&seen.lock().unwrap());
    assert_eq!(probes(&execs), ["etcd-0", "etcd-1", "etcd-2"]);
    assert_eq!(execs.len(), 3, "only the probes: {execs:?}");
}

#[tokio::test]
async fn the_delayer_is_in_force_while_its_rules_and_its_process_are() {
    let etcd_2_alive = Arc::new(AtomicBool::new(true));
    let alive = etcd_2_alive.clone();
    let (cluster, seen) = three_answering(move |pod, script, args| {
        if script == netem::PROBE {
            return Ran::ok(NO_NETEM);
        }
        assert_eq!(script, EACH_LAST_LINE);
        assert_eq!(
            args,
            [queue_rules::CHECK.to_string(), process::alive_script()]
        );
        let queued = if pod == "etcd-0" { 2 } else { 1 };
        let state = if pod == "etcd-2" && !alive.load(Ordering::SeqCst) {
            "gone"
        } else {
            "alive"
        };
        Ran::ok(&format!("hooks 1 queued {queued}\n{state}\n"))
    })
    .await;
    let fault = slow_node_on_etcd_0();
    assert!(cluster.in_force(&fault).await.unwrap());
    etcd_2_alive.store(false, Ordering::SeqCst);
    assert!(
        !cluster.in_force(&fault).await.unwrap(),
        "etcd-2's delayer is gone"
    );
    let execs = execs_in_order(&seen.lock().unwrap());
    assert_eq!(
        execs.len(),
        3 + 2 * 3,
        "three probes, then one look per sender each time"
    );
}

/// The one script that takes every shaping of ours off a pod.
fn unshape() -> Vec<String> {
    vec![
        netem::HEAL.to_string(),
        queue_rules::HEAL.to_string(),
        process::stop_script(),
    ]
}

#[tokio::test]
async fn heal_of_a_shaping_stops_the_delayer_and_removes_its_chain_in_every_sidecar() {
    let (cluster, seen) = three_answering(|pod, script, args| {
        assert_eq!(script, EACH_LAST_LINE);
        assert_eq!(args, unshape());
        Ran::ok(if pod == "etcd-0" {
            "none\nremoved 2\nstopped: netdelay: passed 10 delayed, 0 reordered\n"
        } else {
            "none\nnone\nnone\n"
        })
    })
    .await;
    let removed = slow_node_on_etcd_0().undo_on(&cluster).await.unwrap();
    assert_eq!(
        removed,
        ["removed chain CHAOS-DELAY (2 rules), the delayer from pod etcd-0 in namespace staging"]
    );
    let seen = seen.lock().unwrap().clone();
    let mut command = vec![
        "sh".to_string(),
        "-c".into(),
        EACH_LAST_LINE.into(),
        "sh".into(),
    ];
    command.extend(unshape());
    assert_eq!(
        execs_seen(&seen),
        [
            (exec_path("etcd-0"), command.clone()),
            (exec_path("etcd-1"), command.clone()),
            (exec_path("etcd-2"), command),
        ]
    );
    assert_covered(&seen);
}

#[tokio::test]
async fn chaos_heal_sweeps_a_leftover_delayer_and_its_rules() {
    let (cluster, seen) = three_answering(|pod, script, args| {
        if script == EACH_LAST_LINE && args == unshape() && pod == "etcd-1" {
            return Ran::ok("none\nremoved 1\nstopped: \n");
        }
        if script == EACH_LAST_LINE {
            return Ran::ok("none\nnone\nnone\n");
        }
        // The partition, loss and rate heals find nothing of theirs.
        Ran::ok("none")
    })
    .await;
    let journal = std::env::temp_dir().join("chaos-k8s-shaping-no-journal.jsonl");
    let (lines, errors) = heal(&cluster, &journal).await.unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        lines,
        ["removed chain CHAOS-DELAY (1 rules), the delayer from pod etcd-1 in namespace staging"]
    );
    let execs = execs_in_order(&seen.lock().unwrap());
    let unshaped: Vec<&str> = execs
        .iter()
        .filter(|(_, script, args)| script == EACH_LAST_LINE && *args == unshape())
        .map(|(pod, _, _)| pod.as_str())
        .collect();
    assert_eq!(unshaped.len(), 3, "every sidecar swept: {unshaped:?}");
}
