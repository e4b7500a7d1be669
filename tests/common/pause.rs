//! A run with one node paused mid-way: what the NATS client tests use to
//! show that ops on a frozen node end `info`/`fail` and that the node
//! serves again afterwards.

use chaos_checkers::history::{History, OpType};
use chaos_nemeses::Cluster;
use chaos_workloads::{
    run, shutdown, Client, ClientFactory, Completion, Generator, GeneratorConfig, Invocation, Mix,
    NodeTarget, OpenError, Recorder, Stats, WorkerConfig,
};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::wait_until;

/// What [`run_with_a_pause`] did.
pub struct PausedRun {
    /// The node that was paused.
    pub node: String,
    /// History times (ns) in which an op invoked on the paused node must
    /// have timed out before the node came back: from the pause until one
    /// op timeout before the resume.
    pub window: std::ops::Range<u64>,
    pub paused_for: Duration,
    /// History time (ns) at which the resume began.
    pub resumed: u64,
    /// The ops the run waited to see `ok` on the node after the resume.
    pub serves_again: Vec<String>,
}

impl PausedRun {
    /// The ops of `serves_again` that never completed `ok` on the paused
    /// node after the resume began (none: the node is back).
    pub fn not_served_again(&self, history: &History) -> Vec<String> {
        let pairs = history.pairs().unwrap();
        let served = |f: &str| {
            pairs.iter().any(|p| {
                p.invoke.node.as_deref() == Some(self.node.as_str())
                    && p.invoke.f == f
                    && p.completion
                        .is_some_and(|c| c.kind == OpType::Ok && c.time > self.resumed)
            })
        };
        self.serves_again
            .iter()
            .filter(|f| !served(f))
            .cloned()
            .collect()
    }
}

/// The op timeout of the workers.
const OP_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the node, once resumed, may take to answer an op `ok` again:
/// a paused stream leader must step down and catch up first.
const RECOVERY_LIMIT: Duration = Duration::from_secs(60);

/// Six workers of `factory` on `nodes` at 200 ops/s (1 s op timeout),
/// recorded by `recorder`. Once they made progress, `victim` is paused for
/// five op timeouts and resumed; the workers go on until each op of
/// `serves_again` (say `["enqueue", "dequeue"]`) has completed `ok` on
/// `victim` after the resume (the test fails if that takes longer than
/// [`RECOVERY_LIMIT`]) and 200 more ops completed `ok`, then stop. Returns
/// when they are done.
#[allow(clippy::too_many_arguments)]
pub fn run_with_a_pause<F: ClientFactory>(
    rt: &tokio::runtime::Runtime,
    cluster: &chaos::backends::docker::DockerCluster,
    nodes: &[NodeTarget],
    victim: &str,
    serves_again: &[&str],
    factory: Arc<F>,
    mix: Mix,
    seed: u64,
    recorder: &Recorder,
) -> PausedRun {
    let handle = recorder.handle();
    let stats = Arc::new(Stats::new());
    let generator = Generator::new(
        mix,
        GeneratorConfig {
            seed,
            // Only a backstop: the run ends when the node served again.
            time_limit: Some(RECOVERY_LIMIT * 2),
            rate: Some(200.0),
            ..Default::default()
        },
    )
    .unwrap();
    let config = WorkerConfig {
        op_timeout: OP_TIMEOUT,
        reopen_backoff: Duration::from_millis(250),
        ..WorkerConfig::new(6, nodes.to_vec())
    };
    let watched = Arc::new(WatchOk {
        inner: factory,
        node: victim.to_string(),
        watch: Arc::new(Watch::default()),
    });
    let watch = watched.watch.clone();
    let (stop, stop_signal) = shutdown();
    let workers = rt.spawn(run(
        watched,
        generator,
        handle.clone(),
        config,
        stop_signal,
        stats.clone(),
    ));
    wait_until("the workers made progress", Duration::from_secs(20), || {
        stats.snapshot().ok > 100
    });
    rt.block_on(cluster.pause(victim)).unwrap();
    let pause_done = handle.elapsed();
    // The fault's length: an op in flight at the pause takes one op timeout
    // to end, reopening on the frozen node another, and a new op must still
    // begin inside the window checked afterwards (up to one timeout before
    // the resume): five timeouts leave room even on a loaded machine.
    std::thread::sleep(OP_TIMEOUT * 5);
    let resume_start = handle.elapsed();
    rt.block_on(cluster.resume(victim)).unwrap();
    watch.armed.store(true, SeqCst);
    wait_until(
        &format!("{serves_again:?} completed ok on {victim} after its resume"),
        RECOVERY_LIMIT,
        || {
            let ok = watch.ok_after_resume.lock().unwrap();
            serves_again.iter().all(|f| ok.contains(*f))
        },
    );
    // And a stretch of ordinary work after it, so the history has a
    // healed tail for the checkers (and the tests' counts) to see.
    let ok_when_back = stats.snapshot().ok;
    wait_until("200 more ops ok after the recovery", RECOVERY_LIMIT, || {
        stats.snapshot().ok >= ok_when_back + 200
    });
    stop.fire();
    rt.block_on(workers).unwrap().unwrap();
    PausedRun {
        node: victim.to_string(),
        window: pause_done.as_nanos() as u64..(resume_start - OP_TIMEOUT).as_nanos() as u64,
        paused_for: resume_start - pause_done,
        resumed: resume_start.as_nanos() as u64,
        serves_again: serves_again.iter().map(|f| f.to_string()).collect(),
    }
}

/// Which ops completed `ok` on one node once armed (after the resume): how
/// the run knows the node serves again without guessing a duration. A
/// completion seen here is recorded after the resume began.
#[derive(Default)]
struct Watch {
    armed: AtomicBool,
    ok_after_resume: Mutex<HashSet<String>>,
}

struct WatchOk<F> {
    inner: Arc<F>,
    node: String,
    watch: Arc<Watch>,
}

struct WatchOkClient<C> {
    inner: C,
    /// Set for clients on the watched node only.
    watch: Option<Arc<Watch>>,
}

impl<F: ClientFactory> ClientFactory for WatchOk<F> {
    type Client = WatchOkClient<F::Client>;

    async fn open(&self, node: &NodeTarget, process: u64) -> Result<Self::Client, OpenError> {
        let inner = self.inner.open(node, process).await?;
        Ok(WatchOkClient {
            inner,
            watch: (node.name == self.node).then(|| self.watch.clone()),
        })
    }
}

impl<C: Client> Client for WatchOkClient<C> {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        let completion = self.inner.invoke(op).await;
        if let Some(watch) = &self.watch {
            if completion.kind == OpType::Ok && watch.armed.load(SeqCst) {
                watch.ok_after_resume.lock().unwrap().insert(op.f.clone());
            }
        }
        completion
    }

    async fn close(self) {
        self.inner.close().await
    }
}
