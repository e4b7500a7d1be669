//! The workloads `chaos run` knows: which system each runs against, its op
//! mix and client, the set-up before the workers and the final reads after
//! the heal. The checker of each is in `results::analyse`, keyed by the
//! workload name.

use std::sync::Arc;
use std::time::Duration;

use chaos_workloads::etcd::{EtcdRegister, ReadMode};
use chaos_workloads::nats::{NatsLog, NatsQueue};
use chaos_workloads::{
    final_invocation, final_op, ClientFactory, Generator, GeneratorConfig, KeySpec, Mix,
    NodeTarget, RecordHandle, RunError, ShutdownSignal, Stats, WorkerConfig,
};
use tokio::task::JoinHandle;

use super::live::Console;
use crate::error::Failure;

/// A final read or drain gets this long: JetStream serves a read of the
/// whole stream one entry per request (about 1 ms each here).
const FINAL_OP_LIMIT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Read / write / compare-and-set on independent etcd keys.
    Register(ReadMode),
    /// Appends to and reads forward through one JetStream stream.
    Log,
    /// Enqueue / dequeue on a JetStream work queue, then a final drain.
    Queue,
}

/// What the workers of a run share.
pub struct Shared {
    pub seed: u64,
    pub rate: f64,
    pub concurrency: usize,
    pub time_limit: Duration,
    /// Every key or stream of the run is named from it, so runs never meet.
    pub prefix: String,
}

/// A workload's client factory, set up on the cluster.
pub enum Driver {
    Register(Arc<EtcdRegister>),
    Log(Arc<NatsLog>),
    Queue(Arc<NatsQueue>),
}

impl Workload {
    pub fn parse(system: &str, workload: &str, read: &str) -> Result<Workload, String> {
        let read = match read {
            "linearizable" => ReadMode::Linearizable,
            "serializable" => ReadMode::Serializable,
            other => {
                return Err(format!(
                    "--read {other:?}: use linearizable or serializable"
                ))
            }
        };
        match (system, workload) {
            ("etcd", "register") => Ok(Workload::Register(read)),
            ("nats", "log") => Ok(Workload::Log),
            ("nats", "queue") => Ok(Workload::Queue),
            ("etcd", other) | ("nats", other) if !["register", "log", "queue"].contains(&other) => {
                Err(format!(
                    "--workload {other:?}: use register (etcd), log or queue (nats)"
                ))
            }
            (system, workload) if system == "etcd" || system == "nats" => Err(format!(
                "--system {system} does not run the {workload} workload: use --system etcd --workload register, or --system nats --workload log|queue"
            )),
            (other, _) => Err(format!("--system {other:?}: use etcd or nats")),
        }
    }

    /// The port clients connect to on each node.
    pub fn client_port(&self) -> u16 {
        match self {
            Workload::Register(_) => 2379,
            Workload::Log | Workload::Queue => 4222,
        }
    }

    /// The address a client of this workload wants, from `host:port`.
    pub fn address(&self, host_port: &str) -> String {
        match self {
            Workload::Register(_) => format!("http://{host_port}"),
            Workload::Log | Workload::Queue => host_port.to_string(),
        }
    }

    /// The system's version, asked of the first node that answers; None if
    /// none does (the run goes on: the workers will say more).
    pub async fn system_version(&self, targets: &[NodeTarget]) -> Option<String> {
        for node in targets {
            let version = match self {
                Workload::Register(_) => chaos_workloads::etcd::server_version(node).await,
                Workload::Log | Workload::Queue => {
                    chaos_workloads::nats::server_version(node).await
                }
            };
            if let Ok(version) = version {
                return Some(version);
            }
        }
        None
    }

    /// The factory, and whatever must exist before the first op (the
    /// JetStream stream, replicated on every node, with a leader).
    pub async fn prepare(
        &self,
        shared: &Shared,
        targets: &[NodeTarget],
    ) -> Result<Driver, Failure> {
        let not_ready = |e: String| {
            Failure::Harness(format!(
                "cannot set up the stream: {e}; check the cluster (`chaos cluster status`, `chaos cluster logs`)"
            ))
        };
        Ok(match *self {
            Workload::Register(read_mode) => Driver::Register(Arc::new(EtcdRegister {
                read_mode,
                prefix: shared.prefix.clone(),
            })),
            Workload::Log => {
                let log = NatsLog::new(&shared.prefix);
                log.prepare(targets).await.map_err(not_ready)?;
                Driver::Log(Arc::new(log))
            }
            Workload::Queue => {
                let queue = NatsQueue::new(&shared.prefix);
                queue.prepare(targets).await.map_err(not_ready)?;
                Driver::Queue(Arc::new(queue))
            }
        })
    }
}

impl Driver {
    /// Starts the workers; they run until the time limit or `stop`.
    pub fn start(
        &self,
        shared: &Shared,
        targets: Vec<NodeTarget>,
        handle: RecordHandle,
        stop: ShutdownSignal,
        stats: Arc<Stats>,
    ) -> Result<JoinHandle<Result<(), RunError>>, Failure> {
        let workers = WorkerConfig::new(shared.concurrency, targets);
        Ok(match self {
            Driver::Register(factory) => {
                // A few ops per key, then the next key: short per-key
                // histories keep the check fast and the anomalies local.
                let keys = Some(KeySpec {
                    ops_per_key: 60,
                    active: shared.concurrency.max(2),
                });
                let generator = generator(Mix::cas_register(5), shared, keys)?;
                spawn(factory, generator, handle, workers, stop, stats)
            }
            Driver::Log(factory) => {
                let generator = generator(Mix::log(1, 1), shared, None)?;
                spawn(factory, generator, handle, workers, stop, stats)
            }
            Driver::Queue(factory) => {
                // A dequeue's message must not be redelivered while the op
                // that took it may still be running, or the checker would
                // see a duplicate the harness made.
                if factory.ack_wait <= workers.op_timeout {
                    return Err(Failure::Harness(format!(
                        "the queue's ack wait ({:?}) must be longer than the op timeout ({:?})",
                        factory.ack_wait, workers.op_timeout
                    )));
                }
                let generator = generator(Mix::queue(1, 1), shared, None)?;
                spawn(factory, generator, handle, workers, stop, stats)
            }
        })
    }

    /// After the heal, on a healthy cluster: the reads that decide what was
    /// lost. Nothing for the register (every read there checks the state);
    /// the log's final read and the queue's drain, one node after another
    /// until one completes `ok`, each a new process in the history.
    pub async fn finish(&self, targets: &[NodeTarget], handle: &RecordHandle, console: &Console) {
        match self {
            Driver::Register(_) => {}
            Driver::Log(log) => {
                if let Err(e) = log.prepare(targets).await {
                    console.say(&format!("the stream is not whole again: {e}"));
                }
                final_ops(log.as_ref(), "final-read", targets, handle, console).await;
            }
            Driver::Queue(queue) => {
                if let Err(e) = queue.prepare(targets).await {
                    console.say(&format!("the queue is not whole again: {e}"));
                }
                final_ops(queue.as_ref(), "drain", targets, handle, console).await;
            }
        }
    }
}

impl Driver {
    /// Deletes what the run wrote (the etcd keys under its prefix, the
    /// stream): on a cluster that outlives the run. Bounded by the clients'
    /// own timeouts; a failure is said, never fatal.
    pub async fn remove_data(&self, targets: &[NodeTarget], console: &Console) {
        let removed = match self {
            Driver::Register(etcd) => etcd.remove(targets).await,
            Driver::Log(log) => log.remove(targets).await,
            Driver::Queue(queue) => queue.remove(targets).await,
        };
        match removed {
            Ok(()) => console.say("removed the run's data from the cluster"),
            Err(e) => console.say(&format!("clean-up: {e}")),
        }
    }
}

async fn final_ops<F: ClientFactory>(
    factory: &F,
    f: &str,
    targets: &[NodeTarget],
    handle: &RecordHandle,
    console: &Console,
) {
    let op = final_invocation(f);
    for node in targets {
        let process = handle.next_free_process();
        match final_op(factory, node, &op, handle, process, FINAL_OP_LIMIT).await {
            Ok(done) if done.kind == chaos_checkers::history::OpType::Ok => {
                console.say(&format!("{f} on {}: ok", node.name));
                return;
            }
            Ok(done) => console.say(&format!(
                "{f} on {}: {} ({}); trying the next node",
                node.name,
                done.kind.as_str(),
                done.error.unwrap_or_default()
            )),
            Err(e) => {
                console.say(&format!("{f}: {e}"));
                return;
            }
        }
    }
    console.say(&format!(
        "no {f} completed: the verdict can only say what the run itself saw"
    ));
}

/// The workers of one factory, as a task.
fn spawn<F: ClientFactory>(
    factory: &Arc<F>,
    generator: Generator,
    handle: RecordHandle,
    workers: WorkerConfig,
    stop: ShutdownSignal,
    stats: Arc<Stats>,
) -> JoinHandle<Result<(), RunError>> {
    tokio::spawn(chaos_workloads::run(
        factory.clone(),
        generator,
        handle,
        workers,
        stop,
        stats,
    ))
}

fn generator(mix: Mix, shared: &Shared, keys: Option<KeySpec>) -> Result<Generator, Failure> {
    Generator::new(
        mix,
        GeneratorConfig {
            seed: shared.seed,
            keys,
            rate: Some(shared.rate),
            time_limit: Some(shared.time_limit),
            op_limit: None,
        },
    )
    .map_err(Failure::BadInput)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systems_and_workloads_pair_up_or_say_how() {
        assert_eq!(
            Workload::parse("etcd", "register", "serializable"),
            Ok(Workload::Register(ReadMode::Serializable))
        );
        assert_eq!(
            Workload::parse("nats", "log", "linearizable"),
            Ok(Workload::Log)
        );
        assert_eq!(
            Workload::parse("nats", "queue", "linearizable"),
            Ok(Workload::Queue)
        );
        let e = Workload::parse("etcd", "queue", "linearizable").unwrap_err();
        assert!(e.contains("--system nats --workload log|queue"), "{e}");
        let e = Workload::parse("nats", "register", "linearizable").unwrap_err();
        assert!(e.contains("--system etcd --workload register"), "{e}");
        let e = Workload::parse("etcd", "bank", "linearizable").unwrap_err();
        assert!(e.contains("\"bank\""), "{e}");
        let e = Workload::parse("redis", "register", "linearizable").unwrap_err();
        assert!(e.contains("\"redis\""), "{e}");
        let e = Workload::parse("etcd", "register", "stale").unwrap_err();
        assert!(e.contains("\"stale\""), "{e}");
    }
}
