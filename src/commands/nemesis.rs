//! `chaos nemesis ...`: one fault by hand, journaled like a run's. Mostly
//! for operators and for the tests (a partition held by a process that is
//! then killed -9 is exactly what `chaos heal` exists for).

use std::path::Path;
use std::time::Duration;

use chaos_nemeses::journal::Entry;
use chaos_nemeses::lease::{self, Lease, LeaseError, LeaseInfo};
use chaos_nemeses::{ClusterError, Fault, Grudge, Journal, PartitionShape, Rng};

use crate::backends::docker::inventory::Target;
use crate::backends::docker::{engine, DockerCluster, DockerError};
use crate::cli::{FaultArgs, NemesisArgs, NemesisCommand, NodeFaultArgs};
use crate::nemesis::{self, NemesisError};
use crate::units::parse_duration;

pub fn run(args: &NemesisArgs) -> i32 {
    super::block_on(command(args))
}

fn nemesis_error(e: NemesisError) -> DockerError {
    match e {
        NemesisError::Journal(e) => DockerError::Harness(e.to_string()),
        NemesisError::Cluster(e) => e.into(),
    }
}

async fn open(args: &FaultArgs) -> Result<(DockerCluster, Journal, Lease), DockerError> {
    let docker = engine::connect().await?;
    let selector = Target::from(&args.target).resolve(&docker).await?;
    let cluster = DockerCluster::open(docker, selector).await?;
    if let Some(dir) = args.journal.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            DockerError::Harness(format!(
                "cannot create {} for the fault journal: {e}: pass --journal with a writable path",
                dir.display()
            ))
        })?;
    }
    // A fault by hand on a live run's cluster would be one its run neither
    // scheduled nor reports; and while this command holds a fault (--hold),
    // its lease keeps a plain `chaos heal` off it.
    let info = LeaseInfo::here(
        cluster.run_id(),
        "docker",
        cluster.name(),
        &args.journal,
        Path::new("."),
    );
    let lease = match Lease::take(&lease::default_dir(), &info) {
        Ok(lease) => lease,
        Err(LeaseError::Taken { holder }) => {
            return Err(DockerError::LiveRun(format!(
                "left alone: {holder} is live and owns {}: stop it first",
                cluster.name()
            )))
        }
        Err(e) => return Err(DockerError::Harness(e.to_string())),
    };
    let journal = Journal::open(&args.journal, cluster.run_id())
        .map_err(|e| DockerError::Harness(e.to_string()))?;
    Ok((cluster, journal, lease))
}

async fn command(args: &NemesisArgs) -> Result<i32, DockerError> {
    match &args.command {
        NemesisCommand::Partition(p) => {
            let shape: PartitionShape = p.shape.parse().map_err(DockerError::BadInput)?;
            let hold = p
                .hold
                .as_deref()
                .map(parse_duration)
                .transpose()
                .map_err(|e| DockerError::BadInput(format!("--hold: {e}")))?;
            let (cluster, mut journal, _lease) = open(&p.fault).await?;
            let names: Vec<String> = cluster.cached_nodes().into_iter().map(|n| n.name).collect();
            let grudge = shape
                .grudge(&names, &mut Rng::new(p.seed))
                .map_err(DockerError::BadInput)?;
            let fault = Fault::Partition {
                grudge: grudge.clone(),
            };
            nemesis::apply(&cluster, &mut journal, &fault)
                .await
                .map_err(nemesis_error)?;
            println!("partitioned {}: {}", cluster.name(), one_line(&grudge));
            if let Some(hold) = hold {
                hold_then_heal(&cluster, &mut journal, &fault, hold).await?;
            }
            Ok(0)
        }
        NemesisCommand::Heal(args) => {
            let (cluster, mut journal, _lease) = open(args).await?;
            let outstanding = journal
                .outstanding()
                .map_err(|e| DockerError::Harness(e.to_string()))?;
            let fault = last_partition(&outstanding).unwrap_or(Fault::Partition {
                grudge: Grudge::new(),
            });
            let lines = cluster.heal_nodes(false).await?;
            journal
                .record_heal(&fault)
                .map_err(|e| DockerError::Harness(e.to_string()))?;
            if lines.is_empty() {
                println!("{}: no partition to heal", cluster.name());
            }
            for line in lines {
                println!("{line}");
            }
            Ok(0)
        }
        NemesisCommand::Kill(n) => node_fault(n, |node| Fault::Kill { node }, true, "killed").await,
        NemesisCommand::Restart(n) => {
            node_fault(n, |node| Fault::Kill { node }, false, "restarted").await
        }
        NemesisCommand::Stop(n) => {
            node_fault(n, |node| Fault::Stop { node }, true, "stopped").await
        }
        NemesisCommand::Start(n) => {
            node_fault(n, |node| Fault::Stop { node }, false, "started").await
        }
        NemesisCommand::Pause(n) => {
            node_fault(n, |node| Fault::Pause { node }, true, "paused").await
        }
        NemesisCommand::Resume(n) => {
            node_fault(n, |node| Fault::Pause { node }, false, "resumed").await
        }
    }
}

/// Apply (or, with `apply` false, undo) a fault on one node.
async fn node_fault(
    args: &NodeFaultArgs,
    fault: impl Fn(String) -> Fault,
    apply: bool,
    done: &str,
) -> Result<i32, DockerError> {
    let (cluster, mut journal, _lease) = open(&args.fault).await?;
    // A node name that does not exist must not reach the journal: `chaos
    // heal` would then trip over it forever.
    let nodes = chaos_nemeses::Cluster::nodes(&cluster).await?;
    ClusterError::find(&nodes, &args.node)?;
    let fault = fault(args.node.clone());
    let result = if apply {
        nemesis::apply(&cluster, &mut journal, &fault).await
    } else {
        nemesis::undo(&cluster, &mut journal, &fault).await
    };
    result.map_err(nemesis_error)?;
    println!("{done} {} of {}", args.node, cluster.name());
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

fn one_line(grudge: &Grudge) -> String {
    grudge.to_string().replace('\n', "; ")
}

/// Keep the partition for `hold`, or until Ctrl-C / SIGTERM, then heal it.
/// A SIGKILL skips the heal: that is what the journal and `chaos heal` are for.
async fn hold_then_heal(
    cluster: &DockerCluster,
    journal: &mut Journal,
    fault: &Fault,
    hold: Duration,
) -> Result<(), DockerError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())
        .map_err(|e| DockerError::Harness(format!("cannot watch for SIGTERM: {e}")))?;
    println!("holding for {} s (Ctrl-C heals now)", hold.as_secs_f64());
    tokio::select! {
        _ = tokio::time::sleep(hold) => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    nemesis::undo(cluster, journal, fault)
        .await
        .map_err(nemesis_error)?;
    println!("healed {}", cluster.name());
    Ok(())
}
