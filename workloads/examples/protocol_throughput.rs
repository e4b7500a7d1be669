//! Ops per second through the client protocol: one worker, unpaced, a
//! register workload, every op recorded to a history on disk, against the
//! program given (default: the compiled echo client beside this example).
//!
//!   cargo build --release -p chaos-workloads --examples
//!   /usr/bin/time -v target/release/examples/protocol_throughput 100000 [COMMAND]
//!
//! Prints the ops, their outcomes and ops/s; the history is checked to be
//! linearizable (one worker on an in-memory register), so a fast run that
//! got its answers wrong does not count.

use std::sync::Arc;
use std::time::Instant;

use chaos_checkers::linear::{self, LinearOptions, ModelKind};
use chaos_workloads::protocol::client::Programs;
use chaos_workloads::{
    run, Generator, GeneratorConfig, KeySpec, Mix, NodeTarget, Recorder, ShutdownSignal, Stats,
    WorkerConfig,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let ops: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let echo = std::env::current_exe()
        .unwrap()
        .with_file_name("protocol_echo");
    let command = args.next().unwrap_or_else(|| echo.display().to_string());
    let dir = std::env::temp_dir().join(format!("chaos-protocol-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stats = Arc::new(Stats::new());
    let started = Instant::now();
    let history = runtime.block_on(async {
        let recorder = Recorder::start(&dir.join("history.jsonl")).unwrap();
        let node = NodeTarget {
            name: "n1".into(),
            address: "in-memory".into(),
        };
        let programs = Programs {
            command,
            logs: dir.clone(),
            workload: "register".into(),
            prefix: "bench/".into(),
            seed: 1,
            read: String::new(),
            nodes: vec![node.clone()],
        };
        let generator = Generator::new(
            Mix::cas_register(5),
            GeneratorConfig {
                seed: 1,
                keys: Some(KeySpec {
                    ops_per_key: 60,
                    active: 1,
                }),
                op_limit: Some(ops),
                ..Default::default()
            },
        )
        .unwrap();
        run(
            Arc::new(programs),
            generator,
            recorder.handle(),
            WorkerConfig::new(1, vec![node]),
            ShutdownSignal::never(),
            stats.clone(),
        )
        .await
        .unwrap();
        recorder.finish().await.unwrap()
    });
    let took = started.elapsed().as_secs_f64();
    let done = stats.snapshot();
    let verdict = linear::check(
        &history,
        &LinearOptions {
            model: ModelKind::CasRegister,
            split_keys: true,
            ..Default::default()
        },
    )
    .unwrap()
    .validity;
    println!(
        "{} ops (ok {}, fail {}, info {}) in {took:.2} s: {:.0} ops/s; {verdict:?}",
        done.invoked,
        done.ok,
        done.fail,
        done.info,
        done.invoked as f64 / took
    );
    let _ = std::fs::remove_dir_all(&dir);
}
