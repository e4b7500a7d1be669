//! `chaos nemesis ...`: one fault by hand, journaled like a run's, on
//! either backend: the command opens the cluster (Docker containers, or
//! Kubernetes pods by namespace and selector) and takes the run lease, then
//! [`by_hand`] does the rest through the same `Cluster` interface and the
//! same journaled apply and undo as `chaos run`. Mostly for operators and
//! for the tests (a partition held by a process that is then killed -9 is
//! exactly what `chaos heal` exists for).

use std::path::Path;
use std::time::Duration;

use chaos_nemeses::journal::Entry;
use chaos_nemeses::lease::{self, Lease, LeaseError, LeaseInfo};
use chaos_nemeses::nemesis::{self, NemesisError};
use chaos_nemeses::{
    Cluster, ClusterError, Fault, FaultSpec, Grudge, Journal, NodeName, PartitionShape, Rng,
};

use crate::backends::docker::inventory::Target as DockerTarget;
use crate::backends::docker::{engine, DockerCluster};
use crate::backends::k8s::{K8sCluster, Target as K8sTarget};
use crate::cli::{Backend, FaultArgs, NemesisArgs, NemesisCommand, NodeFaultArgs};
use crate::error::Failure;
use crate::units::parse_duration;

pub fn run(args: &NemesisArgs) -> i32 {
    super::block_on(command(args))
}

/// What one `chaos nemesis` command does once its cluster is open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ByHand {
    /// Apply `spec`: on `node` when one is named, else drawn over the
    /// cluster's nodes with `seed`; with `hold`, end it after that long
    /// (or at Ctrl-C / SIGTERM). `says` is how the lines read.
    Apply {
        spec: FaultSpec,
        node: Option<NodeName>,
        seed: u64,
        hold: Option<Duration>,
        says: Says,
    },
    /// Remove the partition in force: our chain on every node, nothing else.
    Heal,
    /// Apply (`apply`) or undo a fault on one node, then say `done`
    /// (`killed`, `restarted`, ...).
    Node {
        fault: Fault,
        apply: bool,
        done: &'static str,
    },
}

/// How [`ByHand::Apply`] says what it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Says {
    /// `applied loss 20% on n2 to NAME: <undo> undoes it`, then, held,
    /// `removed ... from NAME` (`chaos nemesis apply`); `undo` is the heal command.
    Applied { undo: String },
    /// `partitioned NAME: n1 | n2,n3`, then, held, `healed NAME`
    /// (`chaos nemesis partition`).
    Partitioned,
}

/// The flags, checked before any backend is asked: one line and 254 for a
/// mistake.
fn parse(command: &NemesisCommand) -> Result<(&FaultArgs, ByHand), Failure> {
    let node = |n: &NodeFaultArgs, spec: FaultSpec, apply: bool, done| {
        let fault = spec.on(n.node.clone()).expect("a fault on one node");
        ByHand::Node { fault, apply, done }
    };
    let hold = |hold: &Option<String>| {
        hold.as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(|e| Failure::BadInput(format!("--hold: {e}")))
    };
    Ok(match command {
        NemesisCommand::Apply(a) => {
            let spec = parse_fault(&a.spec)?;
            if let Some(node) = &a.node {
                if spec.on_drawn(node.clone(), &mut Rng::new(a.seed)).is_none() {
                    return Err(Failure::BadInput(format!(
                        "--node {node}: {spec} acts on several nodes: leave --node out (--seed N draws which)"
                    )));
                }
            }
            let says = Says::Applied {
                undo: heal_command(&a.fault),
            };
            let (node, seed, hold) = (a.node.clone(), a.seed, hold(&a.hold)?);
            (
                &a.fault,
                ByHand::Apply {
                    spec,
                    node,
                    seed,
                    hold,
                    says,
                },
            )
        }
        NemesisCommand::Partition(p) => {
            let shape: PartitionShape = p.shape.parse().map_err(Failure::BadInput)?;
            let (spec, seed, hold) = (FaultSpec::Partition(shape), p.seed, hold(&p.hold)?);
            let says = Says::Partitioned;
            let node = None;
            (
                &p.fault,
                ByHand::Apply {
                    spec,
                    node,
                    seed,
                    hold,
                    says,
                },
            )
        }
        NemesisCommand::Heal(args) => (args, ByHand::Heal),
        NemesisCommand::Kill(n) => (&n.fault, node(n, FaultSpec::Kill, true, "killed")),
        NemesisCommand::Restart(n) => (&n.fault, node(n, FaultSpec::Kill, false, "restarted")),
        NemesisCommand::Stop(n) => (&n.fault, node(n, FaultSpec::Stop, true, "stopped")),
        NemesisCommand::Start(n) => (&n.fault, node(n, FaultSpec::Stop, false, "started")),
        NemesisCommand::Pause(n) => (&n.fault, node(n, FaultSpec::Pause, true, "paused")),
        NemesisCommand::Resume(n) => (&n.fault, node(n, FaultSpec::Pause, false, "resumed")),
    })
}

/// `chaos nemesis apply FAULT`'s fault, with the vocabulary's messages
/// speaking of this command instead of `--nemesis`.
fn parse_fault(item: &str) -> Result<FaultSpec, Failure> {
    if item == "none" {
        return Err(Failure::BadInput(
            "chaos nemesis apply none: nothing to apply; name a fault, e.g. loss-all:20% (`chaos nemesis apply --help` lists them)".into(),
        ));
    }
    FaultSpec::parse(item).map_err(|e| {
        let e = match e.strip_prefix("--nemesis") {
            Some(rest) => format!("chaos nemesis apply{}", rest.replace(" or none)", ")")),
            None => e,
        };
        Failure::BadInput(e)
    })
}

/// The `chaos heal` that undoes a fault applied with `args`: the same
/// journal, and the same cluster where heal can name it.
fn heal_command(args: &FaultArgs) -> String {
    let mut command = String::from("chaos heal");
    match args.backend {
        Backend::Docker => {
            if let Some(run) = &args.target.run {
                command += &format!(" --run {run}");
            } else if let Some(project) = &args.target.project {
                command += &format!(" --project {project}");
            }
        }
        Backend::K8s => {
            let flag = |v: &Option<String>| v.clone().unwrap_or_default();
            command += &format!(
                " --backend k8s --namespace {} --selector {}",
                flag(&args.namespace),
                flag(&args.selector)
            );
        }
    }
    if args.journal != Path::new(DEFAULT_JOURNAL) {
        command += &format!(" --journal {}", args.journal.display());
    }
    command
}

/// `chaos nemesis --journal`'s default, which a plain `chaos heal` reads.
const DEFAULT_JOURNAL: &str = "results/journal.jsonl";

async fn command(args: &NemesisArgs) -> Result<i32, Failure> {
    let (target, action) = parse(&args.command)?;
    match target.backend {
        Backend::Docker => {
            let docker = engine::connect().await?;
            let selector = DockerTarget::from(&target.target).resolve(&docker).await?;
            let cluster = DockerCluster::open(docker, selector).await?;
            let name = cluster.name().to_string();
            let (mut journal, _lease) =
                journal_and_lease(cluster.run_id(), "docker", &name, target)?;
            by_hand(&cluster, &name, &mut journal, &action).await
        }
        Backend::K8s => {
            let (Some(namespace), Some(selector)) = (&target.namespace, &target.selector) else {
                return Err(Failure::BadInput(
                    "--backend k8s needs --namespace NS and --selector LABELS (e.g. --namespace staging --selector app=etcd)".into(),
                ));
            };
            let mut k8s = K8sTarget::new(namespace.clone(), selector.clone());
            k8s.container = target.container.clone();
            let client = K8sCluster::connect().await?;
            let cluster = K8sCluster::discover(client, k8s).await?;
            let name = cluster.name();
            let (mut journal, _lease) = journal_and_lease(&cluster.run_id(), "k8s", &name, target)?;
            by_hand(&cluster, &name, &mut journal, &action).await
        }
    }
}

/// The journal, and the lease on the cluster for as long as this command
/// runs. A fault by hand on a live run's cluster would be one its run
/// neither scheduled nor reports (refused, exit 3); and while this command
/// holds a fault (--hold), its lease keeps a plain `chaos heal` off it.
fn journal_and_lease(
    run: &str,
    backend: &str,
    name: &str,
    args: &FaultArgs,
) -> Result<(Journal, Lease), Failure> {
    if let Some(dir) = args.journal.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure::Harness(format!(
                "cannot create {} for the fault journal: {e}: pass --journal with a writable path",
                dir.display()
            ))
        })?;
    }
    let info = LeaseInfo::here(run, backend, name, &args.journal, Path::new("."));
    let lease = match Lease::take(&lease::default_dir(), &info) {
        Ok(lease) => lease,
        Err(LeaseError::Taken { holder }) => {
            return Err(Failure::LiveRun(format!(
                "left alone: {holder} is live and owns {name}: stop it first"
            )))
        }
        Err(e) => return Err(Failure::Harness(e.to_string())),
    };
    let journal = Journal::open(&args.journal, run).map_err(|e| Failure::Harness(e.to_string()))?;
    Ok((journal, lease))
}

fn failure(e: NemesisError) -> Failure {
    match e {
        NemesisError::Journal(e) => Failure::Harness(e.to_string()),
        NemesisError::Cluster(e) => e.into(),
    }
}

/// Does `action` to `cluster` (called `name` in what it prints), journaled
/// in `journal`: the part of `chaos nemesis` that is the same on every
/// backend. Prints one line saying what it did.
pub async fn by_hand<C: Cluster>(
    cluster: &C,
    name: &str,
    journal: &mut Journal,
    action: &ByHand,
) -> Result<i32, Failure> {
    match action {
        ByHand::Apply {
            spec,
            node,
            seed,
            hold,
            says,
        } => {
            C::supports(spec).map_err(|why| Failure::BadInput(format!("{spec}: {why}")))?;
            let nodes = cluster.nodes().await?;
            let mut rng = Rng::new(*seed);
            let fault = match node {
                Some(node) => {
                    // Before the journal, as for a node fault (below).
                    ClusterError::find(&nodes, node)?;
                    spec.on_drawn(node.clone(), &mut rng).ok_or_else(|| {
                        Failure::BadInput(format!("--node {node}: {spec} acts on several nodes"))
                    })?
                }
                None => {
                    let names: Vec<String> = nodes.into_iter().map(|n| n.name).collect();
                    spec.instantiate(&names, &mut rng)
                        .map_err(Failure::BadInput)?
                }
            };
            nemesis::apply(cluster, journal, &fault)
                .await
                .map_err(failure)?;
            let what = format!("{} {}", fault.verb(), fault.target());
            match says {
                // Its end does more than its undo, and only a held fault
                // gets there: say what a heal would do instead.
                Says::Applied { undo } if fault.ends_apart() && hold.is_none() => println!(
                    "applied {what} to {name}: not held, so it never ends; `{undo}` undoes it without its end (apply it with --hold D to have it end)"
                ),
                Says::Applied { undo } => {
                    println!("applied {what} to {name}: `{undo}` undoes it")
                }
                Says::Partitioned => println!("partitioned {name}: {}", fault.target()),
            }
            if let Some(hold) = hold {
                let said = hold_then_end(
                    cluster,
                    journal,
                    &fault,
                    *hold,
                    matches!(says, Says::Partitioned),
                )
                .await?;
                // What ended first (the line scripts wait for), then what
                // the end said it did.
                match says {
                    Says::Applied { .. } => println!("removed {what} from {name}"),
                    Says::Partitioned => println!("healed {name}"),
                }
                for line in said {
                    println!("{line}");
                }
            }
        }
        ByHand::Heal => {
            let outstanding = journal
                .outstanding()
                .map_err(|e| Failure::Harness(e.to_string()))?;
            let fault = last_partition(&outstanding).unwrap_or(Fault::Partition {
                grudge: Grudge::new(),
            });
            let lines = nemesis::undo(cluster, journal, &fault)
                .await
                .map_err(failure)?;
            if lines.is_empty() {
                println!("{name}: no partition to heal");
            }
            for line in lines {
                println!("{line}");
            }
        }
        ByHand::Node { fault, apply, done } => {
            // A node name that does not exist must not reach the journal:
            // `chaos heal` would then trip over it forever.
            let nodes = cluster.nodes().await?;
            ClusterError::find(&nodes, &fault.target())?;
            if *apply {
                nemesis::apply(cluster, journal, fault).await
            } else {
                nemesis::undo(cluster, journal, fault).await.map(|_| ())
            }
            .map_err(failure)?;
            println!("{done} {} of {name}", fault.target());
        }
    }
    Ok(0)
}

fn last_partition(outstanding: &[Entry]) -> Option<Fault> {
    outstanding
        .iter()
        .rev()
        .map(|e| &e.fault)
        .find(|f| matches!(f, Fault::Partition { .. }))
        .cloned()
}

/// Keep the fault for `hold`, or until Ctrl-C / SIGTERM, then end it as a
/// run does (see `Fault::end_on`); what the end said. A SIGKILL skips the
/// end: that is what the journal and `chaos heal` are for.
async fn hold_then_end<C: Cluster>(
    cluster: &C,
    journal: &mut Journal,
    fault: &Fault,
    hold: Duration,
    partition: bool,
) -> Result<Vec<String>, Failure> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())
        .map_err(|e| Failure::Harness(format!("cannot watch for SIGTERM: {e}")))?;
    let now = if partition {
        "heals now"
    } else if fault.ends_apart() {
        "ends it now"
    } else {
        "undoes it now"
    };
    println!("holding for {} s (Ctrl-C {now})", hold.as_secs_f64());
    tokio::select! {
        _ = tokio::time::sleep(hold) => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    nemesis::end(cluster, journal, fault).await.map_err(failure)
}
