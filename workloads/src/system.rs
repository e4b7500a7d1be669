//! What the harness knows of a system under test, as data: one [`System`]
//! per system (its image, port, version probe, log phrases, process) and,
//! for each workload it offers, a [`Workload`] (its set-up, its workers,
//! its final ops, the checker that judges it). `chaos run`, the reports,
//! the CLI's help and the tests read these and name no system themselves.
//!
//! A system is a module with a `SYSTEM` constant, listed in
//! [`crate::registry`]; `docs/extending.md` has the recipe.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chaos_checkers::history::OpType;
use chaos_checkers::linear::ModelKind;
use tokio::task::JoinHandle;

use crate::{
    final_invocation, final_op, ClientFactory, Generator, GeneratorConfig, KeySpec, Mix,
    NodeTarget, RecordHandle, RunError, ShutdownSignal, Stats, WorkerConfig,
};

/// Lower-case phrases of raft's log lines worth reading under faults:
/// elections, leader changes, timeouts. Systems built on raft start
/// their [`System::log_phrases`] from these.
pub const RAFT_PHRASES: [&str; 10] = [
    "became leader",
    "became candidate",
    "became pre-candidate",
    "lost leader",
    "elected leader",
    "leader changed",
    "new leader",
    "timed out",
    "timeout",
    "election",
];

/// Lower-case phrases of a node that stops for good: NATS's fatal level
/// (`[FTL]`) and the lines of a Go runtime failure. (A JSON log line at
/// level `fatal` or `panic`, as etcd writes them, is a signal whatever its
/// message: see the report's `signals`.) A node that will not start again
/// after a disk fault says so only in its log.
pub const CRASH_PHRASES: [&str; 3] = ["[ftl]", "panic:", "fatal error:"];

/// A boxed future: the descriptions hold plain `fn`s, so what they start
/// is boxed once per run, never per op.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where progress lines of a driver go (the run's console and log).
pub type Say<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// One system under test.
pub struct System {
    /// `--system NAME`; also the stem of its compose files
    /// (`compose/NAME-3.yml`) and the first word of a test's name.
    pub name: &'static str,
    /// One line for help texts.
    pub about: &'static str,
    /// The image its nodes run, and the variable that overrides it.
    pub image: Image,
    /// The node counts it has compose files for, with each file's default
    /// subnet (first three octets), as in `compose/README.md`.
    pub clusters: &'static [(usize, &'static str)],
    /// The port clients connect to on each node.
    pub client_port: u16,
    /// The scheme its clients want before `host:port` (`http`), if any.
    pub scheme: Option<&'static str>,
    /// The name of its server process, for faults that signal a process
    /// (a pause on Kubernetes is `pkill -STOP -x` of it).
    pub process: &'static str,
    /// How it serves reads (`--read`), the default first; empty when the
    /// choice does not apply to it.
    pub read_modes: &'static [&'static str],
    /// Lower-case phrases that mark a line of its node logs worth reading
    /// under faults (elections, leader changes, timeouts), in groups (a
    /// system on raft lists [`RAFT_PHRASES`] and its own).
    pub log_phrases: &'static [&'static [&'static str]],
    /// Asks one node for the server's version.
    pub version: fn(&NodeTarget) -> BoxFuture<'_, Result<String, String>>,
    /// The workloads it offers; the first is the default.
    pub workloads: &'static [Workload],
}

/// A system's image: built by `compose/images/build.sh`, or the override.
pub struct Image {
    /// The environment variable its compose files read (`ETCD_IMAGE`).
    pub env: &'static str,
    /// The image otherwise.
    pub default: &'static str,
}

/// One workload a system offers.
pub struct Workload {
    /// `--workload NAME`.
    pub name: &'static str,
    /// One line for help texts.
    pub about: &'static str,
    /// The ops its workers draw from, with their weights.
    pub mix: fn() -> Mix,
    /// Jepsen's independent keys: this many ops on a key, then a fresh
    /// key, with as many keys open as workers. Short per-key histories keep
    /// the check fast and the anomalies local. None: the ops carry no key.
    pub ops_per_key: Option<u64>,
    /// After the heal, on a healthy cluster: the op that decides what was
    /// lost (a log's `final-read`, a queue's `drain`), tried one node after
    /// another until one completes `ok`. None: every op checks already.
    pub final_op: Option<&'static str>,
    /// What judges its history.
    pub checker: Checker,
    /// Whatever must exist before the first op (a stream, a consumer), and
    /// the driver that runs the workers on it.
    pub prepare: for<'a> fn(&'a RunSetup, &'a [NodeTarget]) -> BoxFuture<'a, Prepared>,
}

/// What [`Workload::prepare`] gives: the driver, or why the cluster is not
/// ready for it.
pub type Prepared = Result<Box<dyn Driver>, SetupError>;

/// The checker that judges a workload's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checker {
    /// Linearizability against a model, one key at a time if `split_keys`.
    Linearizable { model: ModelKind, split_keys: bool },
    /// Appends and reads of one log: nothing lost, reordered or invented.
    Log,
    /// Enqueues and dequeues: nothing lost, duplicated or invented.
    Queue,
}

/// Why a workload cannot start.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// The flags ask for something the workload cannot do.
    #[error("{0}")]
    BadInput(String),
    /// The cluster did not get ready for the workload.
    #[error("cannot set up the workload: {0}; check the cluster (`chaos cluster status`, `chaos cluster logs`)")]
    NotReady(String),
}

/// What the workers of a run share, from the run's flags.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSetup {
    pub seed: u64,
    /// Ops per second across all workers.
    pub rate: f64,
    pub concurrency: usize,
    pub time_limit: Duration,
    /// Every key or stream of the run is named from it, so runs never meet.
    pub prefix: String,
    /// One of the system's [`System::read_modes`], or empty.
    pub read_mode: String,
    /// `--client`: the user's program, for the protocol's workloads.
    pub client: Option<crate::protocol::ClientProgram>,
    /// `--mix`: weights in place of the workload's own, by function.
    pub weights: Vec<(String, u32)>,
    /// `--ops-per-key`: in place of the workload's own.
    pub ops_per_key: Option<u64>,
}

impl Workload {
    /// The keys of a run with `concurrency` workers, if the workload has
    /// any; `ops_per_key` in place of its own.
    pub fn keys(&self, concurrency: usize, ops_per_key: Option<u64>) -> Option<KeySpec> {
        self.ops_per_key.map(|own| KeySpec {
            ops_per_key: ops_per_key.unwrap_or(own),
            active: concurrency.max(2),
        })
    }

    /// Its mix with the run's `--mix` weights, or why they do not fit.
    pub fn mix_for(&self, weights: &[(String, u32)]) -> Result<Mix, SetupError> {
        (self.mix)()
            .reweighted(weights)
            .map_err(SetupError::BadInput)
    }

    /// The run's generator: the workload's ops, seeded, paced and
    /// time-limited as the run says.
    pub fn generator(&self, run: &RunSetup) -> Result<Generator, SetupError> {
        Generator::new(
            self.mix_for(&run.weights)?,
            GeneratorConfig {
                seed: run.seed,
                keys: self.keys(run.concurrency, run.ops_per_key),
                rate: Some(run.rate),
                time_limit: Some(run.time_limit),
                op_limit: None,
            },
        )
        .map_err(|e| SetupError::BadInput(e.to_string()))
    }
}

/// A workload set up on a cluster: it runs the workers, the final ops and
/// the clean-up.
pub trait Driver: Send + Sync {
    /// Starts the workers over `generator`; they run until it is done or
    /// `stop`.
    fn start(&self, generator: Generator, workers: Workers) -> Result<WorkerTask, SetupError>;

    /// After the heal, on a healthy cluster: the workload's
    /// [`Workload::final_op`] `f`, once the cluster serves it again. Only
    /// workloads with a final op are asked.
    fn finish<'a>(
        &'a self,
        f: &'a str,
        targets: &'a [NodeTarget],
        record: &'a RecordHandle,
        say: Say<'a>,
    ) -> BoxFuture<'a, ()> {
        let _ = (targets, record);
        Box::pin(async move { say(&format!("{f}: this workload has no final op")) })
    }

    /// Deletes what the run wrote, on a cluster that outlives the run.
    fn remove_data<'a>(&'a self, targets: &'a [NodeTarget]) -> BoxFuture<'a, Result<(), String>>;
}

/// The workers' running task.
pub type WorkerTask = JoinHandle<Result<(), RunError>>;

/// What a driver's workers are given by the run.
pub struct Workers {
    pub config: WorkerConfig,
    pub record: RecordHandle,
    pub stop: ShutdownSignal,
    pub stats: Arc<Stats>,
}

impl Workers {
    /// Spawns the workers of `factory` over `generator`.
    pub fn spawn<F: ClientFactory>(self, factory: &Arc<F>, generator: Generator) -> WorkerTask {
        tokio::spawn(crate::run(
            factory.clone(),
            generator,
            self.record,
            self.config,
            self.stop,
            self.stats,
        ))
    }
}

impl System {
    /// The workload called `name`.
    pub fn workload(&self, name: &str) -> Option<&'static Workload> {
        self.workloads.iter().find(|w| w.name == name)
    }

    /// Every phrase of [`System::log_phrases`].
    pub fn phrases(&self) -> impl Iterator<Item = &'static str> {
        self.log_phrases
            .iter()
            .flat_map(|group| group.iter().copied())
    }

    /// The address its clients want, from `host:port`.
    pub fn address(&self, host_port: &str) -> String {
        match self.scheme {
            Some(scheme) => format!("{scheme}://{host_port}"),
            None => host_port.to_string(),
        }
    }

    /// The image its nodes run now: the override, else the default.
    pub fn image(&self) -> String {
        std::env::var(self.image.env)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| self.image.default.to_string())
    }

    /// The system's version, asked of the first node that answers.
    pub async fn version_of(&self, targets: &[NodeTarget]) -> Option<String> {
        for node in targets {
            if let Ok(version) = (self.version)(node).await {
                return Some(version);
            }
        }
        None
    }
}

/// A final read or drain gets this long: JetStream serves a read of the
/// whole stream one entry per request (about 1 ms each here).
const FINAL_OP_LIMIT: Duration = Duration::from_secs(120);

/// The final op `f` (`final-read`, `drain`), one node after another until
/// one completes `ok`, each a new process in the history.
pub async fn final_ops<F: ClientFactory>(
    factory: &F,
    f: &str,
    targets: &[NodeTarget],
    record: &RecordHandle,
    say: Say<'_>,
) {
    let op = final_invocation(f);
    for node in targets {
        let process = record.next_free_process();
        match final_op(factory, node, &op, record, process, FINAL_OP_LIMIT).await {
            Ok(done) if done.kind == OpType::Ok => {
                say(&format!("{f} on {}: ok", node.name));
                return;
            }
            Ok(done) => say(&format!(
                "{f} on {}: {} ({}); trying the next node",
                node.name,
                done.kind.as_str(),
                done.error.unwrap_or_default()
            )),
            Err(e) => {
                say(&format!("{f}: {e}"));
                return;
            }
        }
    }
    say(&format!(
        "no {f} completed: the verdict can only say what the run itself saw"
    ));
}

impl std::fmt::Debug for System {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "System({})", self.name)
    }
}

impl std::fmt::Debug for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Workload({}, {:?})", self.name, self.checker)
    }
}
