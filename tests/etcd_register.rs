//! The etcd register client (`chaos_workloads::etcd`) against a real 3-node
//! etcd 3.4 cluster in Docker: each op's meaning, `info` (never `fail`) on a
//! paused node, and a short run of the workers whose history the
//! linearizability checker calls valid. One cluster serves every step; the
//! guard takes it down even if a step fails.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chaos::backends::docker::DockerCluster;
use chaos_checkers::history::OpType;
use chaos_checkers::linear::{self, LinearOptions, ModelKind};
use chaos_checkers::Validity;
use chaos_nemeses::Cluster;
use chaos_workloads::etcd::{EtcdRegister, ReadMode};
use chaos_workloads::{
    run, with_timeout, Client, ClientFactory, Completion, Generator, GeneratorConfig, Invocation,
    KeySpec, Mix, NodeTarget, Recorder, ShutdownSignal, Stats, WorkerConfig,
};
use common::*;
use serde_json::{json, Value};

fn op(f: &str, key: &str, value: Value) -> Invocation {
    Invocation {
        f: f.into(),
        key: Some(json!(key)),
        value,
    }
}

fn targets(rt: &tokio::runtime::Runtime, cluster: &DockerCluster) -> Vec<NodeTarget> {
    rt.block_on(cluster.refresh())
        .unwrap()
        .iter()
        .map(|n| NodeTarget {
            name: n.name.clone(),
            address: format!(
                "http://{}",
                n.published(2379).expect("client port published")
            ),
        })
        .collect()
}

#[test]
fn etcd_register_client_on_a_real_cluster() {
    if !docker_or_skip("etcd_register_client_on_a_real_cluster") {
        return;
    }
    let guard = ClusterGuard::up("etcd", 3, "register");
    let rt = runtime();
    let cluster = guard.open(&rt);
    let nodes = targets(&rt, &cluster);
    assert_eq!(nodes.len(), 3);

    rt.block_on(ops_mean_what_they_say(&nodes));
    rt.block_on(workers_record_a_linearizable_history(&nodes, &guard.run));
    paused_node_is_info_not_fail(&rt, &cluster, &nodes);

    guard.teardown();
}

async fn ops_mean_what_they_say(nodes: &[NodeTarget]) {
    let factory = EtcdRegister::default();
    let mut c = factory.open(&nodes[0], 0).await.unwrap();
    let mut other = factory.open(&nodes[1], 1).await.unwrap();
    let limit = Duration::from_secs(5);
    let key = "basic";

    // The first op may meet a cluster still electing: retry reads until ok.
    let start = Instant::now();
    loop {
        let done = with_timeout(limit, c.invoke(&op("read", "missing", Value::Null))).await;
        if done.kind == OpType::Ok {
            assert_eq!(done, Completion::ok(Value::Null), "a missing key reads nil");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{done:?}");
        c = factory.open(&nodes[0], 0).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let timed = Instant::now();
    let w = with_timeout(limit, c.invoke(&op("write", key, json!(3)))).await;
    let write_latency = timed.elapsed();
    assert_eq!(w, Completion::ok(json!(3)));
    let timed = Instant::now();
    let r = with_timeout(limit, c.invoke(&op("read", key, Value::Null))).await;
    let read_latency = timed.elapsed();
    assert_eq!(r, Completion::ok(json!(3)));
    // A linearizable read on another node sees the write too.
    assert_eq!(
        with_timeout(limit, other.invoke(&op("read", key, Value::Null))).await,
        Completion::ok(json!(3))
    );

    let timed = Instant::now();
    let cas = with_timeout(limit, c.invoke(&op("cas", key, json!([3, 4])))).await;
    let cas_latency = timed.elapsed();
    assert_eq!(cas, Completion::ok(json!([3, 4])));
    assert_eq!(
        with_timeout(limit, other.invoke(&op("read", key, Value::Null))).await,
        Completion::ok(json!(4))
    );

    let wrong = with_timeout(limit, c.invoke(&op("cas", key, json!([3, 5])))).await;
    assert_eq!(wrong.kind, OpType::Fail, "{wrong:?}");
    assert_eq!(wrong.error.as_deref(), Some("mismatch"));
    assert_eq!(
        with_timeout(limit, c.invoke(&op("read", key, Value::Null))).await,
        Completion::ok(json!(4))
    );
    // A cas on a missing key never matches.
    let absent = with_timeout(limit, c.invoke(&op("cas", "nobody", json!([0, 1])))).await;
    assert_eq!(absent.kind, OpType::Fail, "{absent:?}");

    // Serializable reads come from the node's own store: it catches up.
    let local = EtcdRegister::new(ReadMode::Serializable);
    let mut l = local.open(&nodes[2], 2).await.unwrap();
    let start = Instant::now();
    loop {
        let r = with_timeout(limit, l.invoke(&op("read", key, Value::Null))).await;
        if r == Completion::ok(json!(4)) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{r:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "etcd op latency (one connection, warm): write {write_latency:?}, read {read_latency:?}, cas {cas_latency:?}"
    );

    // The clean-up of a run removes every key under its prefix, and only those.
    let kept = EtcdRegister {
        prefix: "chaos0".into(),
        ..EtcdRegister::default()
    };
    let mut k = kept.open(&nodes[0], 3).await.unwrap();
    let w = with_timeout(limit, k.invoke(&op("write", "neighbour", json!(1)))).await;
    assert_eq!(w, Completion::ok(json!(1)));
    factory.remove(nodes).await.unwrap();
    for gone in [key, "missing"] {
        assert_eq!(
            with_timeout(limit, c.invoke(&op("read", gone, Value::Null))).await,
            Completion::ok(Value::Null),
            "{gone} survived the clean-up"
        );
    }
    assert_eq!(
        with_timeout(limit, k.invoke(&op("read", "neighbour", Value::Null))).await,
        Completion::ok(json!(1)),
        "the clean-up reached past its prefix"
    );
    k.close().await;
    c.close().await;
    other.close().await;
    l.close().await;
}

async fn workers_record_a_linearizable_history(nodes: &[NodeTarget], run_id: &str) {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("etcd-register-{run_id}.jsonl"));
    let _ = std::fs::remove_file(&path);
    let recorder = Recorder::start(&path).unwrap();
    let stats = Arc::new(Stats::new());
    let generator = Generator::new(
        Mix::cas_register(5),
        GeneratorConfig {
            seed: 42,
            keys: Some(KeySpec {
                ops_per_key: 40,
                active: 2,
            }),
            op_limit: Some(200),
            ..Default::default()
        },
    )
    .unwrap();
    let factory = Arc::new(EtcdRegister {
        prefix: format!("chaos/{run_id}/"),
        ..EtcdRegister::default()
    });
    let started = Instant::now();
    run(
        factory,
        generator,
        recorder.handle(),
        WorkerConfig::new(3, nodes.to_vec()),
        ShutdownSignal::never(),
        stats.clone(),
    )
    .await
    .unwrap();
    let elapsed = started.elapsed();
    let history = recorder.finish().await.unwrap();
    let _ = std::fs::remove_file(&path);

    let count = |kind| history.ops.iter().filter(|o| o.kind == kind).count();
    let (invoked, ok, fail, info) = (
        count(OpType::Invoke),
        count(OpType::Ok),
        count(OpType::Fail),
        count(OpType::Info),
    );
    eprintln!("workers: 200 ops in {elapsed:?}: ok {ok}, fail {fail}, info {info}");
    assert_eq!(invoked, 200);
    assert_eq!(ok + fail + info, 200);
    // A healthy cluster: only compares that did not match fail, nothing is
    // indeterminate.
    assert_eq!(
        info,
        0,
        "{:?}",
        history.ops.iter().find(|o| o.kind == OpType::Info)
    );
    assert!(ok > 100, "ok {ok}");
    assert!(history
        .ops
        .iter()
        .filter(|o| o.kind == OpType::Fail)
        .all(|o| o.error.as_deref() == Some("mismatch")));

    let report = linear::check(
        &history,
        &LinearOptions {
            model: ModelKind::CasRegister,
            split_keys: true,
            threads: 1,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        report.validity,
        Validity::Valid,
        "{:?}",
        report.keys.iter().find(|k| k.validity != Validity::Valid)
    );
}

fn paused_node_is_info_not_fail(
    rt: &tokio::runtime::Runtime,
    cluster: &DockerCluster,
    nodes: &[NodeTarget],
) {
    let factory = EtcdRegister::default();
    let n2 = &nodes[1];
    let mut c = rt.block_on(factory.open(n2, 10)).unwrap();
    // Connected and answering before the pause.
    assert_eq!(
        rt.block_on(with_timeout(
            Duration::from_secs(5),
            c.invoke(&op("read", "paused", Value::Null))
        ))
        .kind,
        OpType::Ok
    );

    rt.block_on(cluster.pause(&n2.name)).unwrap();
    let limit = Duration::from_secs(2);
    let start = Instant::now();
    let write = rt.block_on(with_timeout(
        limit,
        c.invoke(&op("write", "paused", json!(1))),
    ));
    let took = start.elapsed();
    // A fresh client on the paused node: the kernel still accepts the TCP
    // connection (the socket is there), the request goes out, no answer.
    let mut fresh = rt.block_on(factory.open(n2, 11)).unwrap();
    let read = rt.block_on(with_timeout(
        limit,
        fresh.invoke(&op("read", "paused", Value::Null)),
    ));
    rt.block_on(cluster.resume(&n2.name)).unwrap();
    drop(c);
    drop(fresh);

    assert_eq!(write.kind, OpType::Info, "{write:?}");
    assert_eq!(
        write.error.as_deref(),
        Some(chaos_workloads::client::TIMED_OUT)
    );
    assert!(took >= limit, "ended after {took:?}");
    assert_eq!(read.kind, OpType::Info, "{read:?}");

    // Back: a new client on n2 gets answers again (a client whose op ended
    // `info` is never reused, as the workers do).
    let mut process = 12;
    wait_until("n2 answers again", Duration::from_secs(20), || {
        process += 1;
        let mut back = rt.block_on(factory.open(n2, process)).unwrap();
        rt.block_on(with_timeout(
            Duration::from_secs(2),
            back.invoke(&op("read", "paused", Value::Null)),
        ))
        .kind
            == OpType::Ok
    });
}
