//! What recording costs: (a) the ops/s one worker drives and records against
//! a trivial in-process server, on one core (a current-thread runtime), and
//! (b) the cost of recording one op, awaited until written (as invocations
//! are) and not awaited (as completions are). Histories go to the target
//! directory's disk, as a real run's do to `results/`.

use chaos_checkers::history::{Op, OpType, Process};
use chaos_workloads::fake::{FakeRegister, Faults};
use chaos_workloads::{
    run, Client, ClientFactory, Generator, GeneratorConfig, KeySpec, Mix, Next, NodeTarget,
    Recorder, ShutdownSignal, Stats, WorkerConfig,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

const OPS: u64 = 20_000;

fn one_core() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn fresh_path() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("chaos-workloads-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("{}-{n}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

fn node() -> NodeTarget {
    NodeTarget {
        name: "n1".into(),
        address: "in-process".into(),
    }
}

fn generator() -> Generator {
    let config = GeneratorConfig {
        seed: 1,
        keys: Some(KeySpec {
            ops_per_key: 100,
            active: 2,
        }),
        op_limit: Some(OPS),
        ..Default::default()
    };
    Generator::new(Mix::cas_register(5), config).unwrap()
}

/// A whole run of `OPS` ops: workers, generator, client, recorder.
async fn drive(concurrency: usize) {
    let path = fresh_path();
    let recorder = Recorder::start(&path).unwrap();
    let server = Arc::new(FakeRegister::new(Faults::default(), 1));
    run(
        server,
        generator(),
        recorder.handle(),
        WorkerConfig::new(concurrency, vec![node()]),
        ShutdownSignal::never(),
        Arc::new(Stats::new()),
    )
    .await
    .unwrap();
    let history = recorder.finish().await.unwrap();
    assert_eq!(history.ops.len() as u64, 2 * OPS);
    std::fs::remove_file(path).unwrap();
}

/// The same ops straight to the client: what the run costs without workers
/// and recorder around it.
async fn client_alone() {
    let server = FakeRegister::new(Faults::default(), 1);
    let mut client = server.open(&node(), 0).await.unwrap();
    let mut generator = generator();
    while let Next::Op(planned) = generator.next(Duration::ZERO) {
        std::hint::black_box(client.invoke(&planned.invocation).await);
    }
}

fn throughput(c: &mut Criterion) {
    let rt = one_core();
    let mut group = c.benchmark_group("drive, one core");
    group.throughput(Throughput::Elements(OPS));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("client alone, no recorder", |b| {
        b.iter(|| rt.block_on(client_alone()))
    });
    for concurrency in [1, 4] {
        group.bench_with_input(
            BenchmarkId::new("workers, recorder on", concurrency),
            &concurrency,
            |b, &n| b.iter(|| rt.block_on(drive(n))),
        );
    }
    group.finish();

    // The harness's own runtime: two threads, so the writer task and the
    // workers wake each other across cores.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("drive, two threads");
    group.throughput(Throughput::Elements(OPS));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    for concurrency in [1, 4, 16] {
        group.bench_with_input(
            BenchmarkId::new("workers, recorder on", concurrency),
            &concurrency,
            |b, &n| b.iter(|| rt.block_on(drive(n))),
        );
    }
    group.finish();
}

fn sample_op() -> Op {
    Op {
        index: 0,
        time: 0,
        process: Process::Client(3),
        kind: OpType::Invoke,
        f: "cas".into(),
        key: Some(json!(17)),
        value: json!([1, 2]),
        node: Some("n1".into()),
        error: None,
    }
}

/// Records `iters` ops and returns the time taken, finish included (for
/// the ops not awaited, finishing is when they are written).
fn record(rt: &Runtime, iters: u64, awaited: bool) -> Duration {
    rt.block_on(async {
        let path = fresh_path();
        let recorder = Recorder::start(&path).unwrap();
        let handle = recorder.handle();
        let op = sample_op();
        let began = Instant::now();
        for _ in 0..iters {
            if awaited {
                handle.append(op.clone()).await.unwrap();
            } else {
                handle.append_nowait(op.clone()).unwrap();
            }
        }
        recorder.finish().await.unwrap();
        let took = began.elapsed();
        std::fs::remove_file(path).unwrap();
        took
    })
}

fn cost_per_op(c: &mut Criterion) {
    let rt = one_core();
    let mut group = c.benchmark_group("record one op");
    group.throughput(Throughput::Elements(1));
    group.bench_function("awaited until written (invoke)", |b| {
        b.iter_custom(|iters| record(&rt, iters, true))
    });
    group.bench_function("not awaited, batched (completion)", |b| {
        b.iter_custom(|iters| record(&rt, iters, false))
    });
    group.finish();
}

criterion_group!(benches, throughput, cost_per_op);
criterion_main!(benches);
