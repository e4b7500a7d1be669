//! The worker loop: `concurrency` tokio tasks, each bound to one node, each
//! taking an op from the generator, recording its invocation, calling its
//! client, and recording the completion.
//!
//! Process ids follow Jepsen: worker `w` starts as process `w`; when one of
//! its ops ends `info`, that process may still have an op in flight inside
//! the system, so it never invokes again: the worker closes its client and
//! continues as process `w + concurrency`, then `w + 2 * concurrency`, ...
//! (so `process % concurrency` always names the worker).

use crate::client::{
    with_timeout, Client, ClientFactory, Completion, Invocation, NodeTarget, OpenError,
};
use crate::generator::{Generator, Next, Planned};
use crate::recorder::{RecordHandle, RecorderClosed};
use crate::shutdown::ShutdownSignal;
use crate::stats::Stats;
use chaos_checkers::history::{Op, OpType, Process};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;

/// The error of an op still in flight when the run was stopped and its
/// grace period ran out.
pub const INTERRUPTED: &str = "interrupted";

#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Workers, and so processes invoking at the same time.
    pub concurrency: usize,
    /// Worker `w` talks to `nodes[w % nodes.len()]`.
    pub nodes: Vec<NodeTarget>,
    /// An op (or a client open) taking longer ends `info` with `timed-out`.
    pub op_timeout: Duration,
    /// At shutdown, how long an op in flight may still take before it is
    /// recorded `info` with error `interrupted`; also bounds `close`.
    pub grace: Duration,
    /// After a client failed to open, wait this long before the next op, so
    /// that a dead node gets one `fail` per interval, not a flood.
    pub reopen_backoff: Duration,
}

impl WorkerConfig {
    /// Defaults: 5 s op timeout, 2 s grace, 1 s between reopen attempts.
    pub fn new(concurrency: usize, nodes: Vec<NodeTarget>) -> Self {
        WorkerConfig {
            concurrency,
            nodes,
            op_timeout: Duration::from_secs(5),
            grace: Duration::from_secs(2),
            reopen_backoff: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration names no node or no worker.
    #[error("bad worker configuration: {0}")]
    Config(String),
    /// The history could not be written; the run stopped.
    #[error(transparent)]
    Recorder(RecorderClosed),
    /// A worker panicked (a client bug); its op in flight has no completion,
    /// which readers take as `info`.
    #[error("a worker panicked: {0}")]
    WorkerPanicked(String),
}

/// Runs the workers until the generator runs dry (op or time limit) or
/// `shutdown` fires, then returns once every worker has stopped and every
/// op it invoked has a completion in the history.
pub async fn run<F: ClientFactory>(
    factory: Arc<F>,
    generator: Generator,
    recorder: RecordHandle,
    config: WorkerConfig,
    shutdown: ShutdownSignal,
    stats: Arc<Stats>,
) -> Result<(), RunError> {
    if config.nodes.is_empty() {
        return Err(RunError::Config("no nodes to send ops to".into()));
    }
    if config.concurrency == 0 {
        return Err(RunError::Config("concurrency must be at least 1".into()));
    }
    let generator = Arc::new(Mutex::new(generator));
    let config = Arc::new(config);
    let mut workers = JoinSet::new();
    for index in 0..config.concurrency {
        let worker = Worker {
            index: index as u64,
            node: config.nodes[index % config.nodes.len()].clone(),
            factory: factory.clone(),
            generator: generator.clone(),
            recorder: recorder.clone(),
            config: config.clone(),
            shutdown: shutdown.clone(),
            stats: stats.clone(),
        };
        workers.spawn(worker.run());
    }
    let mut outcome = Ok(());
    while let Some(joined) = workers.join_next().await {
        let error = match joined {
            Ok(Ok(())) => continue,
            Ok(Err(closed)) => RunError::Recorder(closed),
            Err(e) => RunError::WorkerPanicked(e.to_string()),
        };
        if outcome.is_ok() {
            outcome = Err(error);
        }
    }
    outcome
}

struct Worker<F: ClientFactory> {
    index: u64,
    node: NodeTarget,
    factory: Arc<F>,
    generator: Arc<Mutex<Generator>>,
    recorder: RecordHandle,
    config: Arc<WorkerConfig>,
    shutdown: ShutdownSignal,
    stats: Arc<Stats>,
}

impl<F: ClientFactory> Worker<F> {
    async fn run(self) -> Result<(), RecorderClosed> {
        let mut process = self.index;
        let mut client: Option<F::Client> = None;
        let outcome = loop {
            if self.shutdown.is_fired() {
                break Ok(());
            }
            let Some(planned) = self.next_op().await else {
                break Ok(());
            };
            let op = planned.invocation;
            if client.is_none() {
                match self.open(process).await {
                    Ok(opened) => client = Some(opened),
                    Err(e) => {
                        // Nothing was sent: certainly no effect.
                        let refused = Completion::fail(format!("no-client: {e}"));
                        if let Err(closed) = self.record_refused(process, &op, refused).await {
                            break Err(closed);
                        }
                        if self.pause(self.config.reopen_backoff).await {
                            continue;
                        }
                        break Ok(());
                    }
                }
            }
            let live = client.as_mut().expect("a client was opened above");
            let kind = match self.record_invoke(process, &op).await {
                Ok(()) => {
                    let completion = self.call(live, &op).await;
                    self.record_completion(process, &op, completion)
                }
                Err(closed) => Err(closed),
            };
            match kind {
                Ok(OpType::Info) => {
                    // The process may still have an op in the system: retire it.
                    self.close(client.take()).await;
                    process += self.config.concurrency as u64;
                }
                Ok(_) => {}
                Err(closed) => break Err(closed),
            }
        };
        self.close(client).await;
        outcome
    }

    /// The next op to invoke, waiting out the rate limit; None when the
    /// generator is done or the run was stopped while waiting.
    async fn next_op(&self) -> Option<Planned> {
        loop {
            let next = {
                let mut generator = self.generator.lock().unwrap_or_else(|e| e.into_inner());
                generator.next(self.recorder.elapsed())
            };
            match next {
                Next::Op(planned) => return Some(planned),
                Next::Done => return None,
                Next::Wait(at) => {
                    let deadline = tokio::time::Instant::from_std(self.recorder.start() + at);
                    tokio::select! {
                        _ = tokio::time::sleep_until(deadline) => {}
                        _ = self.shutdown.fired() => return None,
                    }
                }
            }
        }
    }

    /// Sleeps for `pause`; false if the run was stopped meanwhile.
    async fn pause(&self, pause: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(pause) => true,
            _ = self.shutdown.fired() => false,
        }
    }

    async fn open(&self, process: u64) -> Result<F::Client, OpenError> {
        let open = self.factory.open(&self.node, process);
        match tokio::time::timeout(self.config.op_timeout, open).await {
            Ok(opened) => opened,
            Err(_) => Err(crate::client::TIMED_OUT.into()),
        }
    }

    async fn close(&self, client: Option<F::Client>) {
        if let Some(client) = client {
            let _ = tokio::time::timeout(self.config.grace, client.close()).await;
        }
    }

    /// The client's call, bounded by the op timeout, and at shutdown by the
    /// grace period.
    async fn call(&self, client: &mut F::Client, op: &Invocation) -> Completion {
        let call = with_timeout(self.config.op_timeout, client.invoke(op));
        let mut call = std::pin::pin!(call);
        tokio::select! {
            biased;
            completion = &mut call => completion,
            _ = self.shutdown.fired() => {
                match tokio::time::timeout(self.config.grace, call).await {
                    Ok(completion) => completion,
                    Err(_) => Completion::info(INTERRUPTED),
                }
            }
        }
    }

    /// Records the invocation and waits until it is on file: the request
    /// must not reach the system before the history says it was sent.
    async fn record_invoke(&self, process: u64, op: &Invocation) -> Result<(), RecorderClosed> {
        let entry = self.entry(process, OpType::Invoke, op, op.value.clone(), None);
        self.recorder.append(entry).await?;
        self.stats.invoked();
        Ok(())
    }

    fn record_completion(
        &self,
        process: u64,
        op: &Invocation,
        completion: Completion,
    ) -> Result<OpType, RecorderClosed> {
        let Completion { kind, value, error } = settle(op, completion);
        let entry = self.entry(process, kind, op, value, error);
        self.recorder.append_nowait(entry)?;
        self.stats.completed(kind);
        Ok(kind)
    }

    /// An op that never reached a client: its invocation and its completion.
    async fn record_refused(
        &self,
        process: u64,
        op: &Invocation,
        completion: Completion,
    ) -> Result<OpType, RecorderClosed> {
        self.record_invoke(process, op).await?;
        self.record_completion(process, op, completion)
    }

    fn entry(
        &self,
        process: u64,
        kind: OpType,
        op: &Invocation,
        value: serde_json::Value,
        error: Option<String>,
    ) -> Op {
        entry(&self.node, process, kind, op, value, error)
    }
}

/// A client's completion as the history records it: a completion of kind
/// `invoke` (a client bug) becomes `info`, and an op that did not complete
/// `ok` repeats its argument when it carries no value, as Jepsen does.
pub(crate) fn settle(op: &Invocation, completion: Completion) -> Completion {
    let Completion {
        mut kind,
        mut value,
        mut error,
    } = completion;
    if kind == OpType::Invoke {
        // A client bug; what it means for the op is unknown.
        kind = OpType::Info;
        error = Some(format!(
            "client returned :invoke as a completion (error: {})",
            error.as_deref().unwrap_or("none")
        ));
    }
    if kind != OpType::Ok && value.is_null() {
        value = op.value.clone();
    }
    Completion { kind, value, error }
}

/// One history entry of `process` on `node`; index and time are assigned by
/// the recorder.
pub(crate) fn entry(
    node: &NodeTarget,
    process: u64,
    kind: OpType,
    op: &Invocation,
    value: serde_json::Value,
    error: Option<String>,
) -> Op {
    Op {
        index: 0,
        time: 0,
        process: Process::Client(process),
        kind,
        f: op.f.clone(),
        key: op.key.clone(),
        value,
        node: Some(node.name.clone()),
        error,
    }
}
