//! What the integration tests share: a fresh history path, a whole run
//! against the fake register, and checks every history must pass.

#![allow(dead_code)] // each test file uses its own part

use chaos_checkers::history::{History, OpType, Process};
use chaos_workloads::fake::{FakeRegister, Faults};
use chaos_workloads::{
    run, Generator, GeneratorConfig, Mix, NodeTarget, Recorder, ShutdownSignal, Stats, WorkerConfig,
};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A path no other test (or earlier run) uses.
pub fn fresh_path(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("chaos-workloads");
    std::fs::create_dir_all(&dir).unwrap();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("{name}-{}-{n}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

pub fn nodes(n: usize) -> Vec<NodeTarget> {
    (1..=n)
        .map(|i| NodeTarget {
            name: format!("n{i}"),
            address: "in-process".into(),
        })
        .collect()
}

/// Faults that exercise every completion kind without slowing a run much.
pub fn some_faults() -> Faults {
    Faults {
        max_yields: 3,
        slow_percent: 3,
        lost_reply_percent: 2,
        lost_request_percent: 1,
        refuse_open_percent: 5,
    }
}

pub fn worker_config(concurrency: usize) -> WorkerConfig {
    WorkerConfig {
        op_timeout: Duration::from_millis(20),
        grace: Duration::from_millis(100),
        reopen_backoff: Duration::from_millis(1),
        ..WorkerConfig::new(concurrency, nodes(3))
    }
}

pub struct Outcome {
    pub history: History,
    pub stats: Arc<Stats>,
    pub path: PathBuf,
}

// Histories are kept only while a test looks at them.
impl Drop for Outcome {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One whole run against the fake register, on the caller's runtime.
pub async fn run_fake(
    faults: Faults,
    generator: GeneratorConfig,
    workers: WorkerConfig,
    shutdown: ShutdownSignal,
) -> Outcome {
    run_fake_at(fresh_path("run"), faults, generator, workers, shutdown).await
}

/// The same, writing the history to `path`.
pub async fn run_fake_at(
    path: PathBuf,
    faults: Faults,
    generator: GeneratorConfig,
    workers: WorkerConfig,
    shutdown: ShutdownSignal,
) -> Outcome {
    let recorder = Recorder::start(&path).unwrap();
    let stats = Arc::new(Stats::new());
    let generator = Generator::new(Mix::cas_register(5), generator).unwrap();
    let server = Arc::new(FakeRegister::new(faults, 7));
    run(
        server,
        generator,
        recorder.handle(),
        workers,
        shutdown,
        stats.clone(),
    )
    .await
    .unwrap();
    let history = recorder.finish().await.unwrap();
    Outcome {
        history,
        stats,
        path,
    }
}

/// What every history the recorder writes must be: indices 0..n in order,
/// times non-decreasing, invocations and completions paired with at most
/// one completion each (exactly one unless `complete` is false).
pub fn assert_well_formed(history: &History, complete: bool) {
    for (i, op) in history.ops.iter().enumerate() {
        assert_eq!(op.index, i as u64, "indices are positions");
    }
    for w in history.ops.windows(2) {
        assert!(w[0].time <= w[1].time, "time goes back at {}", w[1].index);
    }
    let pairs = history
        .pairs()
        .expect("invocations and completions pair up");
    let invokes = history
        .ops
        .iter()
        .filter(|op| op.is_client() && op.kind == OpType::Invoke)
        .count();
    assert_eq!(pairs.len(), invokes);
    if complete {
        assert!(
            pairs.iter().all(|p| p.completion.is_some()),
            "an op of a finished run has no completion"
        );
    }
}

/// Invocations as (f, key, value) text, in history order.
pub fn invocations(history: &History) -> Vec<String> {
    history
        .ops
        .iter()
        .filter(|op| op.kind == OpType::Invoke && op.process != Process::Nemesis)
        .map(|op| format!("{} {:?} {}", op.f, op.key, op.value))
        .collect()
}
