//! The NATS log client (`chaos_workloads::nats::NatsLog`) against a real
//! 3-node JetStream cluster (nats-server 2.9) in Docker: a run of the
//! workers plus the final read that the log checker calls valid with every
//! acknowledged append accounted for, and a run with the stream leader
//! paused mid-way whose ops on that node end `info` / `fail`, never `ok`,
//! that serves again after the resume, and whose verdict is not invalid. One cluster serves both; the guard takes it down
//! even if a step fails.

mod common;

use std::sync::Arc;
use std::time::Instant;

use chaos::backends::docker::DockerCluster;
use chaos_checkers::history::{History, OpType};
use chaos_checkers::log::{check_log, LogReport};
use chaos_checkers::Validity;
use chaos_workloads::nats::NatsLog;
use chaos_workloads::{Mix, NodeTarget, Recorder};
use common::*;

#[test]
fn nats_log_on_a_real_cluster() {
    if !docker_or_skip("nats_log_on_a_real_cluster") {
        return;
    }
    let guard = ClusterGuard::up("nats", 3, "nlog");
    let rt = runtime();
    let cluster = guard.open(&rt);
    let nodes = nats_targets(&rt, &cluster);
    assert_eq!(nodes.len(), 3);

    rt.block_on(healthy_run_accounts_for_every_append(&nodes, &guard.run));
    paused_node_run_is_not_invalid(&rt, &cluster, &nodes, &guard.run);

    guard.teardown();
}

fn counts_add_up(report: &LogReport) {
    let c = report.counts;
    assert_eq!(
        c.produced,
        c.delivered + c.lost + c.unseen,
        "every acknowledged append is read, lost or unseen: {c:?}"
    );
}

async fn healthy_run_accounts_for_every_append(nodes: &[NodeTarget], run_id: &str) {
    let factory = NatsLog::new(&format!("{run_id}-healthy"));
    let started = Instant::now();
    factory.prepare(nodes).await.unwrap();
    let prepare_took = started.elapsed();
    // Idempotent: a second prepare finds the stream and only checks it.
    factory.prepare(nodes).await.unwrap();

    let path = history_path(&format!("nats-log-{run_id}"));
    let recorder = Recorder::start(&path).unwrap();
    let factory = Arc::new(factory);
    let elapsed = run_ops(factory.clone(), Mix::log(1, 1), 7, 600, nodes, &recorder).await;
    let (final_process, done) =
        final_op_on(factory.as_ref(), "final-read", &nodes[0], &recorder).await;
    let history = recorder.finish().await.unwrap();

    eprintln!(
        "nats log, healthy: prepare {prepare_took:?}; 600 ops in {elapsed:?} ({:.0} ops/s)\n{}",
        600.0 / elapsed.as_secs_f64(),
        latency_summary(&history)
    );
    assert_eq!(done.kind, OpType::Ok, "{done:?}");
    let final_entries = done.value.as_array().unwrap().len();
    // The final reader is a process of its own, above every worker's.
    assert!(history
        .ops
        .iter()
        .filter(|o| o.f != "final-read")
        .all(|o| o.process < chaos_checkers::history::Process::Client(final_process)));

    let kinds = |f: &str, kind: OpType| {
        history
            .ops
            .iter()
            .filter(|o| o.f == f && o.kind == kind)
            .count()
    };
    assert_eq!(
        kinds("append", OpType::Info) + kinds("poll", OpType::Info),
        0,
        "a healthy cluster leaves nothing indeterminate: {:?}",
        history.ops.iter().find(|o| o.kind == OpType::Info)
    );
    let polls_with_entries = history
        .ops
        .iter()
        .filter(|o| o.f == "poll" && o.kind == OpType::Ok)
        .filter(|o| o.value.as_array().is_some_and(|a| !a.is_empty()))
        .count();
    assert!(
        polls_with_entries > 10,
        "{polls_with_entries} polls read something"
    );

    let report = check_log(&history).unwrap();
    assert_eq!(report.validity, Validity::Valid, "{report:#?}");
    counts_add_up(&report);
    let c = report.counts;
    assert!(c.produced > 200, "{c:?}");
    assert_eq!(c.produced, kinds("append", OpType::Ok));
    assert_eq!(
        (c.lost, c.unseen, c.duplicates, c.gaps),
        (0, 0, 0, 0),
        "{c:?}"
    );
    assert_eq!(c.delivered, c.produced, "{c:?}");
    assert_eq!(final_entries, c.produced, "the final read saw every append");

    // The clean-up deletes the stream: a final read now finds nothing to
    // read; a second clean-up finds nothing to delete and is fine.
    factory.remove(nodes).await.unwrap();
    let after = Recorder::start(&history_path("nlog-removed")).unwrap();
    let (_, gone) = final_op_on(factory.as_ref(), "final-read", &nodes[0], &after).await;
    assert_ne!(gone.kind, OpType::Ok, "the stream survived: {gone:?}");
    factory.remove(nodes).await.unwrap();
    let _ = after.finish().await;
    // Kept (in target/tmp) when an assertion failed, for a look.
    let _ = std::fs::remove_file(&path);
}

fn paused_node_run_is_not_invalid(
    rt: &tokio::runtime::Runtime,
    cluster: &DockerCluster,
    nodes: &[NodeTarget],
    run_id: &str,
) {
    let factory = NatsLog::new(&format!("{run_id}-paused"));
    rt.block_on(factory.prepare(nodes)).unwrap();
    let path = history_path(&format!("nats-log-paused-{run_id}"));
    let recorder = rt.block_on(async { Recorder::start(&path) }).unwrap();
    let factory = Arc::new(factory);
    // Pause the stream leader: its loss forces an election, the hardest case.
    let victim = rt
        .block_on(factory.leader(&nodes[0]))
        .unwrap()
        .expect("a prepared stream has a leader");
    assert!(nodes.iter().any(|n| n.name == victim), "leader {victim}");
    let paused = run_with_a_pause(
        rt,
        cluster,
        nodes,
        &victim,
        &["append", "poll"],
        factory.clone(),
        Mix::log(1, 1),
        8,
        &recorder,
    );

    // Healed: the stream has a leader and every replica is current again.
    rt.block_on(factory.prepare(nodes)).unwrap();
    let (_, done) = rt.block_on(final_op_on(
        factory.as_ref(),
        "final-read",
        &nodes[0],
        &recorder,
    ));
    let history = rt.block_on(recorder.finish()).unwrap();
    eprintln!(
        "nats log, {} paused for {:?}:\n{}",
        paused.node,
        paused.paused_for,
        latency_summary(&history)
    );
    assert_eq!(done.kind, OpType::Ok, "{done:?}");

    // Ops on the paused node invoked while it was paused, early enough to
    // time out before it came back, ended info (or fail), never ok.
    let window = paused.window.clone();
    let during = paused_ops(&history, &paused.node, window);
    assert!(
        !during.is_empty(),
        "no op on {} during the pause",
        paused.node
    );
    for (f, kind, error) in &during {
        assert!(
            matches!(kind, OpType::Info | OpType::Fail),
            "{f} on the paused node ended {kind:?} ({error:?})"
        );
        if *kind == OpType::Info {
            assert!(
                error.as_deref() == Some(chaos_workloads::client::TIMED_OUT),
                "{f} info with {error:?}"
            );
        }
    }
    // And the node is back: each kind of op succeeds on it again.
    let missing = paused.not_served_again(&history);
    assert!(
        missing.is_empty(),
        "{} never served {missing:?} again",
        paused.node
    );

    let report = check_log(&history).unwrap();
    assert_ne!(report.validity, Validity::Invalid, "{report:#?}");
    counts_add_up(&report);
    assert!(report.counts.produced > 100, "{:?}", report.counts);
    eprintln!("verdict {:?}, counts {:?}", report.validity, report.counts);
    // Kept (in target/tmp) when an assertion failed, for a look.
    let _ = std::fs::remove_file(&path);
}

/// `(f, outcome, error)` of the ops on `node` invoked within `window` (ns).
fn paused_ops(
    history: &History,
    node: &str,
    window: std::ops::Range<u64>,
) -> Vec<(String, OpType, Option<String>)> {
    history
        .pairs()
        .unwrap()
        .iter()
        .filter(|p| p.invoke.node.as_deref() == Some(node) && window.contains(&p.invoke.time))
        .map(|p| {
            (
                p.invoke.f.clone(),
                p.outcome(),
                p.completion.and_then(|c| c.error.clone()),
            )
        })
        .filter(|(f, _, _)| f != "final-read")
        .collect()
}
