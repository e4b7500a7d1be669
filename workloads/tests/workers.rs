//! Whole runs of the workers against the in-process fake register: the
//! history they record is well formed, renews processes as Jepsen does,
//! replays from a seed, respects the rate limit, and checks linearizable.

mod common;

use chaos_checkers::history::{History, Op, OpType, Process};
use chaos_checkers::linear::{self, LinearOptions, ModelKind};
use chaos_checkers::Validity;
use chaos_workloads::fake::Faults;
use chaos_workloads::worker::INTERRUPTED;
use chaos_workloads::{read_history, shutdown, GeneratorConfig, KeySpec, ShutdownSignal};
use common::*;
use std::collections::BTreeMap;
use std::time::Duration;

fn keyed(seed: u64, ops: u64) -> GeneratorConfig {
    GeneratorConfig {
        seed,
        keys: Some(KeySpec {
            ops_per_key: 40,
            active: 2,
        }),
        op_limit: Some(ops),
        ..Default::default()
    }
}

/// Each process's ops, in history order.
fn by_process(history: &History) -> BTreeMap<u64, Vec<&Op>> {
    let mut map: BTreeMap<u64, Vec<&Op>> = BTreeMap::new();
    for op in &history.ops {
        if let Process::Client(p) = op.process {
            map.entry(p).or_default().push(op);
        }
    }
    map
}

/// Worker `w` runs as processes w, w + c, w + 2c, ... one after the other,
/// and a process ends exactly when one of its ops ends `info`.
fn assert_processes_renew_after_info(history: &History, concurrency: u64) {
    let processes = by_process(history);
    for w in 0..concurrency {
        let mine: Vec<u64> = processes
            .keys()
            .copied()
            .filter(|p| p % concurrency == w)
            .collect();
        let expected: Vec<u64> = (0..mine.len() as u64)
            .map(|k| w + k * concurrency)
            .collect();
        assert_eq!(mine, expected, "worker {w}'s process ids");
        for pair in mine.windows(2) {
            let (old, new) = (&processes[&pair[0]], &processes[&pair[1]]);
            let last = old.last().unwrap();
            assert_eq!(
                last.kind,
                OpType::Info,
                "process {} ended without info",
                pair[0]
            );
            assert!(
                last.index < new[0].index,
                "process {} began before {} ended",
                pair[1],
                pair[0]
            );
        }
        for p in &mine {
            let ops = &processes[p];
            let infos = ops.iter().filter(|op| op.kind == OpType::Info).count();
            assert!(infos <= 1, "process {p} went on after an info");
            assert!(infos == 0 || ops.last().unwrap().kind == OpType::Info);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_workers_record_a_sound_linearizable_history() {
    let out = run_fake(
        some_faults(),
        keyed(1, 4_000),
        worker_config(4),
        ShutdownSignal::never(),
    )
    .await;
    let history = &out.history;
    assert_well_formed(history, true);
    assert_eq!(invocations(history).len(), 4_000);
    assert_processes_renew_after_info(history, 4);

    let count = |kind| history.ops.iter().filter(|op| op.kind == kind).count() as u64;
    let (ok, fail, info) = (count(OpType::Ok), count(OpType::Fail), count(OpType::Info));
    assert!(
        ok > 2_000 && fail > 0 && info > 0,
        "ok {ok}, fail {fail}, info {info}"
    );
    let timed_out = history
        .ops
        .iter()
        .filter(|op| op.error.as_deref() == Some("timed-out"))
        .count();
    let refused = history
        .ops
        .iter()
        .filter(|op| op.error.as_deref() == Some("no-client: connection refused"))
        .count();
    assert!(
        timed_out > 0 && refused > 0,
        "timed out {timed_out}, refused {refused}"
    );
    assert!(history.ops.iter().all(|op| op.node.is_some()));

    // The live counters saw what the history says.
    let snapshot = out.stats.snapshot();
    assert_eq!(
        (snapshot.invoked, snapshot.ok, snapshot.fail, snapshot.info),
        (4_000, ok, fail, info)
    );

    // The file holds the same history, line for line.
    assert_eq!(&read_history(&out.path).unwrap(), history);

    let report = linear::check(
        history,
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
    // 40 ops per key, two keys open at a time: the last two may be partial.
    assert!(
        (100..=102).contains(&report.keys.len()),
        "{} keys",
        report.keys.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_seed_hands_out_one_sequence_of_invocations() {
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let go = |seed, concurrency| async move {
        let out = run_fake(
            some_faults(),
            keyed(seed, 600),
            worker_config(concurrency),
            ShutdownSignal::never(),
        )
        .await;
        invocations(&out.history)
    };
    // With four workers racing, which op is invoked first varies; the ops do not.
    let a = go(5, 4).await;
    let b = go(5, 4).await;
    assert_eq!(sorted(a.clone()), sorted(b));
    assert_ne!(sorted(a), sorted(go(6, 4).await));
    // One worker invokes them in the order they are handed out.
    assert_eq!(go(5, 1).await, go(5, 1).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_spaces_invocations_evenly() {
    // 250 ops/s: one every 4 ms, 100 ops over ~396 ms.
    let config = GeneratorConfig {
        rate: Some(250.0),
        op_limit: Some(100),
        ..Default::default()
    };
    let out = run_fake(
        Faults::default(),
        config,
        worker_config(4),
        ShutdownSignal::never(),
    )
    .await;
    assert_well_formed(&out.history, true);
    let starts: Vec<u64> = out
        .history
        .ops
        .iter()
        .filter(|op| op.kind == OpType::Invoke)
        .map(|op| op.time)
        .collect();
    assert_eq!(starts.len(), 100);
    let ms = |ns: u64| ns as f64 / 1e6;
    let span = ms(starts[99] - starts[0]);
    // Timers can only be late, and by a lot on a busy machine; never early.
    assert!((376.0..1_200.0).contains(&span), "100 ops took {span} ms");
    // No burst: a 100 ms window holds its 25 ops, plus one for the late
    // start the generator absorbs (up to one interval), plus one for the
    // jitter between an op's start and its recorded time.
    let busiest = (0..starts.len())
        .map(|i| {
            let end = starts[i] + 100_000_000;
            starts[i..].iter().take_while(|&&u| u < end).count()
        })
        .max()
        .unwrap();
    assert!(
        busiest <= 27,
        "{busiest} ops within 100 ms (span {span} ms)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_time_limit_ends_the_run() {
    let config = GeneratorConfig {
        time_limit: Some(Duration::from_millis(150)),
        ..keyed(3, u64::MAX)
    };
    let faults = Faults {
        slow_percent: 100,
        ..Faults::default()
    };
    let out = run_fake(faults, config, worker_config(2), ShutdownSignal::never()).await;
    assert_well_formed(&out.history, true);
    let last_invoke = out
        .history
        .ops
        .iter()
        .rev()
        .find(|op| op.kind == OpType::Invoke)
        .unwrap();
    assert!(last_invoke.time < 150_000_000);
    assert!(invocations(&out.history).len() > 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_records_ops_in_flight_as_info_after_the_grace_period() {
    let (trigger, signal) = shutdown();
    // Every request is lost and the op timeout is far: only shutdown ends them.
    let faults = Faults {
        lost_request_percent: 100,
        ..Faults::default()
    };
    let workers = chaos_workloads::WorkerConfig {
        op_timeout: Duration::from_secs(600),
        grace: Duration::from_millis(50),
        ..worker_config(3)
    };
    let run = tokio::spawn(run_fake(faults, keyed(1, u64::MAX), workers, signal));
    tokio::time::sleep(Duration::from_millis(50)).await;
    trigger.fire();
    let out = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("the run stopped")
        .unwrap();
    assert_well_formed(&out.history, true);
    let kinds: Vec<(OpType, Option<&str>)> = out
        .history
        .ops
        .iter()
        .map(|op| (op.kind, op.error.as_deref()))
        .collect();
    let mut expected = vec![(OpType::Invoke, None); 3];
    expected.extend([(OpType::Info, Some(INTERRUPTED)); 3]);
    assert_eq!(kinds, expected);
}

#[tokio::test]
async fn a_refused_open_fails_the_op_and_keeps_the_process() {
    let faults = Faults {
        refuse_open_percent: 100,
        ..Faults::default()
    };
    let out = run_fake(
        faults,
        keyed(1, 5),
        worker_config(1),
        ShutdownSignal::never(),
    )
    .await;
    assert_well_formed(&out.history, true);
    assert_eq!(out.history.ops.len(), 10);
    for pair in out.history.ops.chunks(2) {
        assert_eq!(pair[0].kind, OpType::Invoke);
        assert_eq!(pair[1].kind, OpType::Fail);
        assert_eq!(
            pair[1].error.as_deref(),
            Some("no-client: connection refused")
        );
        // A fail leaves nothing in flight: the process carries on.
        assert_eq!(pair[1].process, Process::Client(0));
        // As Jepsen does, the completion repeats the argument.
        assert_eq!(pair[1].value, pair[0].value);
    }
}
