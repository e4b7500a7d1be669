//! The command line.

use std::path::PathBuf;

use chaos_workloads::registry;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "chaos",
    version,
    about = "A Jepsen-style chaos harness for replicated logs and databases"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check recorded histories: exit 0 valid, 1 invalid, 2 unknown, 254 bad input.
    Check(CheckArgs),
    /// Build the images our clusters run on and chaos/harness (compose/images/build.sh).
    Images(ImagesArgs),
    /// Start, inspect and remove Docker clusters: up, down, status, logs.
    Cluster(ClusterArgs),
    /// Apply or undo one fault by hand, journaled: any --nemesis fault
    /// (apply), or partition, heal, kill, pause, ...
    Nemesis(NemesisArgs),
    /// Undo every fault a crashed or interrupted run left in force.
    Heal(HealArgs),
    /// A whole test: cluster up, workload under faults, check, report, cluster down.
    /// Exit 0 valid, 1 invalid, 2 unknown, 130 interrupted.
    Run(Box<RunArgs>),
    /// Rebuild report.md, report.html and results.json from a results folder
    /// (after a crash, or with a newer harness). Exits like `chaos check`.
    /// With --index, rebuild the index of all the runs in a folder of runs.
    Report(ReportArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CheckerKind {
    Linearizable,
    Queue,
    Log,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The histories: our JSONL, Jepsen's history.edn, or Jepsen's log
    /// lines. Several files, or a folder (the files directly in it, sorted),
    /// give one line per file and a total; the exit code is the worst.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub files: Vec<std::path::PathBuf>,
    #[arg(long, value_enum, default_value = "linearizable")]
    pub checker: CheckerKind,
    /// Model for the linearizable checker: register, cas-register, kv,
    /// multi-register, set, fifo-queue.
    #[arg(long, default_value = "cas-register")]
    pub model: String,
    /// Format of FILE (jsonl, edn, jepsen-log); detected from content if absent.
    #[arg(long)]
    pub format: Option<String>,
    /// Initial value of every register or key, as JSON (default null).
    #[arg(long, default_value = "null")]
    pub initial: String,
    /// What an ok read of nil means (register, cas-register, kv,
    /// multi-register models): `value`, it read nil; `any`, it tells nothing
    /// and matches any state, as Jepsen's Knossos reads it.
    #[arg(long, default_value = "value", value_name = "value|any")]
    pub nil_read: String,
    /// Check the whole history as one search instead of key by key.
    #[arg(long)]
    pub no_split: bool,
    /// Time the search may spend on one key before saying unknown.
    #[arg(long, default_value = "60s")]
    pub time_budget: String,
    /// Memory the searches of all keys may hold together before a key says
    /// unknown (default: half the memory available; a larger value is
    /// capped at what is available, with a note).
    #[arg(long, value_name = "SIZE")]
    pub memory_budget: Option<String>,
    /// Threads checking keys in parallel (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Decide every key even once one is invalid (by default keys still
    /// searching then are stopped and reported as not decided).
    #[arg(long)]
    pub all_keys: bool,
    /// Queue checker: duplicates are allowed (at-least-once delivery).
    #[arg(long)]
    pub allow_duplicates: bool,
    /// Print the full report as JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ImagesArgs {
    #[command(subcommand)]
    pub command: ImagesCommand,
}

#[derive(Subcommand, Debug)]
pub enum ImagesCommand {
    /// Build the base image and every system's image from Debian packages,
    /// and chaos/harness with this binary (needs root).
    Build {
        /// Rebuild them all even if present.
        #[arg(long)]
        force: bool,
        /// The repository's compose/ folder (default: CHAOS_COMPOSE_DIR, or found from the executable).
        #[arg(long)]
        compose_dir: Option<PathBuf>,
    },
}

/// How a command names its cluster. None given: the one chaos cluster running.
#[derive(Args, Debug, Clone, Default)]
pub struct TargetArgs {
    #[arg(long, help = system_help())]
    pub system: Option<String>,
    /// How many nodes: 3 or 5.
    #[arg(long)]
    pub nodes: Option<usize>,
    /// A compose project: one `chaos cluster up` started, or your own to adopt.
    #[arg(long, conflicts_with_all = ["label", "run"])]
    pub project: Option<String>,
    /// Adopt the containers carrying this label (KEY=VALUE) as the cluster.
    #[arg(long, conflicts_with = "run")]
    pub label: Option<String>,
    /// The run id the cluster was started under.
    #[arg(long)]
    pub run: Option<String>,
}

#[derive(Args, Debug)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub command: ClusterCommand,
}

#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Start a cluster from compose/<system>-<nodes>.yml and wait until every node is healthy.
    Up(UpArgs),
    /// Remove a cluster we started (containers, network, volumes, sidecars); for an adopted one, only our sidecars.
    Down(TargetArgs),
    /// Show the nodes of one cluster, or of every chaos cluster.
    Status(TargetArgs),
    /// Print the last lines of each node's log.
    Logs(LogsArgs),
}

#[derive(Args, Debug)]
pub struct UpArgs {
    #[arg(long, help = system_help(), default_value = registry::default_system().name)]
    pub system: String,
    /// How many nodes: 3 or 5.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// The compose project name (default chaos-<system>-<nodes>-<run id>).
    #[arg(long)]
    pub project: Option<String>,
    /// The run id every container is labelled with (default: a fresh one).
    #[arg(long)]
    pub run_id: Option<String>,
    /// First three octets of the cluster's /24 (default: a free one).
    #[arg(long)]
    pub subnet: Option<String>,
    /// Each node's data on a disk the harness faults, so that `chaos
    /// nemesis` can inject disk faults by hand: the fault filesystem
    /// (compose/disk-N.yml; `--disk-faults` alone) or dm-flakey
    /// (compose/dm-N.yml; `--disk-faults dm`, where the Docker host's kernel
    /// has it).
    #[arg(long, value_name = "fuse|dm", num_args = 0..=1, default_missing_value = "fuse")]
    pub disk_faults: Option<String>,
    /// How long the nodes may take to become healthy.
    #[arg(long, default_value = "120s")]
    pub timeout: String,
    /// The repository's compose/ folder (default: CHAOS_COMPOSE_DIR, or found from the executable).
    #[arg(long)]
    pub compose_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Only this node.
    #[arg(long)]
    pub node: Option<String>,
    /// Lines per node.
    #[arg(long, default_value_t = 100)]
    pub tail: usize,
}

#[derive(Args, Debug)]
pub struct NemesisArgs {
    #[command(subcommand)]
    pub command: NemesisCommand,
}

/// The cluster and journal of a fault given by hand.
#[derive(Args, Debug, Clone)]
pub struct FaultArgs {
    /// docker: the cluster named by the flags below (or the one running);
    /// k8s: existing pods, with --namespace and --selector.
    #[arg(long, value_enum, default_value = "docker")]
    pub backend: Backend,
    #[command(flatten)]
    pub target: TargetArgs,
    /// k8s: the namespace of the cluster; the command acts nowhere else.
    #[arg(long)]
    pub namespace: Option<String>,
    /// k8s: the label selector of its pods, e.g. app=etcd.
    #[arg(long)]
    pub selector: Option<String>,
    /// k8s: the system's container in those pods (default: the only one
    /// besides the chaos-sidecar).
    #[arg(long)]
    pub container: Option<String>,
    /// The fault journal: every fault is written here before it is applied.
    #[arg(long, default_value = "results/journal.jsonl")]
    pub journal: PathBuf,
}

#[derive(Args, Debug)]
pub struct NodeFaultArgs {
    /// The node: n1, n2, ...
    pub node: String,
    #[command(flatten)]
    pub fault: FaultArgs,
}

#[derive(Subcommand, Debug)]
pub enum NemesisCommand {
    /// Apply any fault `chaos run --nemesis` knows, journaled: `chaos heal`
    /// undoes it.
    Apply(ApplyArgs),
    /// Partition the network (replacing any partition in force).
    Partition(PartitionArgs),
    /// Remove the partition: our iptables chain on every node, nothing else.
    Heal(FaultArgs),
    /// SIGKILL a node.
    Kill(NodeFaultArgs),
    /// Start a killed node again, with its data.
    Restart(NodeFaultArgs),
    /// Stop a node cleanly (SIGTERM).
    Stop(NodeFaultArgs),
    /// Start a stopped node.
    Start(NodeFaultArgs),
    /// Freeze a node (cgroup freezer).
    Pause(NodeFaultArgs),
    /// Thaw a paused node.
    Resume(NodeFaultArgs),
}

#[derive(Args, Debug)]
pub struct ApplyArgs {
    // The faults listed come from the fault vocabulary (chaos_nemeses).
    #[arg(
        value_name = "FAULT",
        help = format!("The fault, as --nemesis names one: {}.", chaos_nemeses::FaultSpec::listing())
    )]
    pub spec: String,
    /// On this node (n1, n2, ...), for a fault on one node; without it,
    /// the nodes are drawn with --seed.
    #[arg(long)]
    pub node: Option<String>,
    /// Seed of the draw: which nodes, which links, which bytes.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true, value_parser = whole_number::<u64>)]
    pub seed: u64,
    /// Keep the fault this long, then end it as a run does (Ctrl-C ends
    /// it at once): its undo, or for rollback its write-back. Without it
    /// the fault stays after the command exits.
    #[arg(long)]
    pub hold: Option<String>,
    #[command(flatten)]
    pub fault: FaultArgs,
}

#[derive(Args, Debug)]
pub struct PartitionArgs {
    /// halves, random-halves, one, majorities-ring, bridge.
    #[arg(long, default_value = "halves")]
    pub shape: String,
    /// Seed for the shapes that choose nodes at random.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Keep the partition this long, then heal it (Ctrl-C heals at once).
    /// Without it the partition stays after the command exits.
    #[arg(long)]
    pub hold: Option<String>,
    #[command(flatten)]
    pub fault: FaultArgs,
}

#[derive(Args, Debug)]
pub struct HealArgs {
    /// The fault journal to read outstanding faults from (default:
    /// results/journal.jsonl and the journal of every run this machine's
    /// run leases name, wherever its --results pointed).
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// Also heal a run whose lease was taken on another host, so that its
    /// liveness cannot be checked from here: only when you know it is dead.
    /// A run alive on this host is never healed under it.
    #[arg(long)]
    pub force: bool,
    /// Only this run's cluster (default: every chaos cluster).
    #[arg(long, conflicts_with = "project")]
    pub run: Option<String>,
    /// Only this compose project (default: every chaos cluster).
    #[arg(long)]
    pub project: Option<String>,
    /// docker, or k8s with --namespace and --selector (the run's cluster).
    #[arg(long, value_enum, default_value = "docker")]
    pub backend: Backend,
    /// k8s: the namespace of the cluster a run left faults on.
    #[arg(long)]
    pub namespace: Option<String>,
    /// k8s: the label selector of its pods, as the run was given it.
    #[arg(long)]
    pub selector: Option<String>,
}

/// Where the cluster under test runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// A local cluster the run starts from compose/ and removes afterwards.
    Docker,
    /// The pods of a StatefulSet already running (--namespace, --selector);
    /// the run leaves them running.
    K8s,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// docker (a local cluster, started and removed) or k8s (existing pods).
    #[arg(long, value_enum, default_value = "docker")]
    pub backend: Backend,
    /// k8s: the namespace of the cluster under test; the run acts nowhere else.
    #[arg(long)]
    pub namespace: Option<String>,
    /// k8s: the label selector of its pods, e.g. app=etcd.
    #[arg(long)]
    pub selector: Option<String>,
    /// k8s: the system's container in those pods (default: the only one
    /// besides the chaos-sidecar).
    #[arg(long)]
    pub container: Option<String>,
    /// The system under test (default: the first listed); with --client,
    /// any name for your own system.
    #[arg(long, help = run_system_help())]
    pub system: Option<String>,
    /// The workload (default: the system's first).
    #[arg(long, help = workload_help())]
    pub workload: Option<String>,
    /// The op mix, as weights by function in place of the workload's own:
    /// e.g. --mix read=3,write=1,cas=1 (a function left out keeps its
    /// weight; 0 leaves it out).
    #[arg(long, value_name = "F=WEIGHT,...")]
    pub mix: Option<String>,
    /// For workloads on independent keys: this many ops on a key, then a
    /// fresh key (default: the workload's own, 60 for a register). Fewer
    /// make the check cheaper and each anomaly more local.
    #[arg(long, value_parser = whole_number::<u64>)]
    pub ops_per_key: Option<u64>,
    /// Your own client program, in any language, spoken to through the
    /// client protocol (docs/protocol.md), one program per worker process:
    /// e.g. --client 'python3 client.py'. The workload is then one of the
    /// protocol's: register, log, queue or set.
    #[arg(long, value_name = "COMMAND")]
    pub client: Option<String>,
    /// Your own cluster, from your compose file: started under this run's
    /// project name, and removed after the run. Needs --client and --port.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["project", "label"])]
    pub compose: Option<PathBuf>,
    /// Your own cluster: a running compose project, adopted and left
    /// running. Needs --client and --port.
    #[arg(long, value_name = "NAME", conflicts_with = "label")]
    pub project: Option<String>,
    /// Your own cluster: the running containers carrying this label,
    /// adopted and left running. Needs --client and --port.
    #[arg(long, value_name = "KEY=VALUE")]
    pub label: Option<String>,
    /// On your own cluster: the port your client connects to on each node
    /// (each node's address in the protocol's init is IP:PORT).
    #[arg(long, value_parser = whole_number::<u16>)]
    pub port: Option<u16>,
    /// On a cluster from --compose: a shell command that exits 0 once the
    /// cluster serves clients, tried until --ready-timeout (default: every
    /// service with a health check is healthy, the others running).
    #[arg(long, value_name = "COMMAND")]
    pub ready: Option<String>,
    /// How long a cluster from --compose may take to get ready.
    #[arg(long, default_value = "120s")]
    pub ready_timeout: String,
    /// How many nodes: 3 or 5 (docker); k8s refuses a selector matching
    /// any other number of pods.
    #[arg(long, default_value_t = 3, allow_hyphen_values = true, value_parser = whole_number::<usize>)]
    pub nodes: usize,
    // The faults listed come from the fault vocabulary (chaos_nemeses).
    #[arg(
        long,
        default_value = "partition-halves,kill",
        help = format!("Faults to pick from, comma-separated: {}; or none.", chaos_nemeses::FaultSpec::listing())
    )]
    pub nemesis: String,
    /// Quiet for this long, then one fault held this long, and again.
    #[arg(long, default_value = "10s", allow_hyphen_values = true)]
    pub nemesis_interval: String,
    /// How long the workload runs.
    #[arg(long, default_value = "60s", allow_hyphen_values = true)]
    pub time_limit: String,
    /// Client workers.
    #[arg(long, default_value_t = 5, allow_hyphen_values = true, value_parser = whole_number::<usize>)]
    pub concurrency: usize,
    /// Ops per second, over all workers.
    #[arg(long, default_value_t = 100.0, allow_hyphen_values = true)]
    pub rate: f64,
    /// Seed of the workload and the nemesis (default: from the clock).
    #[arg(long, allow_hyphen_values = true, value_parser = whole_number::<u64>)]
    pub seed: Option<u64>,
    #[arg(long, help = read_help())]
    pub read: Option<String>,
    /// How the disk faults are carried out: dm (a dm-flakey device under
    /// each node's data; the Docker host's kernel must have the flakey
    /// target) or fuse (the fault filesystem). Given, it is set up even
    /// when --nemesis names no disk fault, to measure its cost. Default,
    /// when --nemesis names a disk fault: dm where the kernel has it and
    /// it can do every disk fault named, else fuse.
    #[arg(long, value_name = "fuse|dm")]
    pub disk_faults: Option<String>,
    /// Leave the cluster running after the run.
    #[arg(long)]
    pub keep_cluster: bool,
    /// Where results/<test>/<time>/ go.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// The fault journal (default: journal.jsonl in the --results folder).
    /// Wherever it is, the run's lease names it, so a plain `chaos heal`
    /// finds it after a crash.
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// The repository's compose/ folder (default: CHAOS_COMPOSE_DIR, or found from the executable).
    #[arg(long)]
    pub compose_dir: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// One run's folder: results/<test>/<time> (or results/latest); with
    /// --index, the folder of runs (what `chaos run --results` names).
    pub dir: PathBuf,
    /// Rebuild DIR/index.md and DIR/index.html, the list of every run in
    /// DIR (newest first, verdicts over time), instead of one run's report.
    #[arg(long)]
    pub index: bool,
}

/// A count or a seed, with a message that says what was expected (Rust's
/// own says "invalid digit found in string"). Flags using it also take
/// hyphen values, so `--seed -1` reaches it instead of being read as a flag.
fn whole_number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a whole number of 0 or more"))
}

/// `--system`'s help, from the registry.
fn system_help() -> String {
    format!("The system under test: {}.", registry::names().join(", "))
}

/// `chaos run --system`'s help: ours, or any name with --client.
fn run_system_help() -> String {
    format!(
        "The system under test (default {}): {}; with --client, any name for your own system.",
        registry::default_system().name,
        registry::names().join(", ")
    )
}

/// `--workload`'s help, from the registry.
fn workload_help() -> String {
    let protocol: Vec<&str> = chaos_workloads::protocol::WORKLOADS
        .iter()
        .map(|w| w.name)
        .collect();
    format!(
        "The workload (default: the system's first): {}; with --client, {}.",
        registry::workloads_by_system(),
        protocol.join(", ")
    )
}

/// `--read`'s help: the systems that offer a choice, default first.
fn read_help() -> String {
    let choices: Vec<String> = chaos_workloads::SYSTEMS
        .iter()
        .filter(|s| !s.read_modes.is_empty())
        .map(|s| format!("{}: {}", s.name, s.read_modes.join(" or ")))
        .collect();
    format!(
        "How the system serves reads (default: its first), for those that offer a choice; {}.",
        choices.join("; ")
    )
}
