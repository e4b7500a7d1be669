//! Everything `chaos run` checks before it talks to a backend: the flags,
//! parsed into a plan, with one line per mistake.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chaos_nemeses::disk::choice::{self, Decision, Mechanism};
use chaos_nemeses::{check_supported, FaultSpec};

use crate::backends::docker::{DockerCluster, Selector};
use crate::backends::k8s::K8sCluster;
use crate::cli::{Backend, RunArgs};
use crate::error::Failure;
use crate::units::parse_duration;
use chaos_workloads::{protocol, registry, System, Workload};

pub struct Plan {
    /// `<system>-<workload>`.
    pub test: String,
    /// What the harness knows of the system: one of ours, or
    /// [`protocol::OWN`] for the user's own.
    pub system: &'static System,
    /// What the run calls it: `--system`.
    pub system_name: String,
    pub workload: &'static Workload,
    /// One of the system's read modes, or empty; for the user's own
    /// system, whatever `--read` said.
    pub read_mode: String,
    /// `--client`: the user's program, spoken to through the protocol.
    pub client: Option<String>,
    /// `--mix`, checked against the workload's functions.
    pub weights: Vec<(String, u32)>,
    /// `--ops-per-key`, for a workload on keys.
    pub ops_per_key: Option<u64>,
    /// Where the cluster comes from.
    pub cluster: ClusterSource,
    /// Each node's data on a disk the harness faults (asked by a disk
    /// fault in --nemesis, or by --disk-faults), and what the command line
    /// settles of which way; None: no such disk.
    pub disk: Option<Decision>,
    /// `--disk-faults`.
    pub disk_forced: Option<Mechanism>,
    /// The port clients connect to on each node.
    pub port: u16,
    pub faults: Vec<FaultSpec>,
    pub interval: Duration,
    pub time_limit: Duration,
    pub seed: u64,
}

/// Where a run's cluster comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum ClusterSource {
    /// One of our compose files (docker), or the pods `--selector` names
    /// (k8s).
    Ours,
    /// The user's compose file, started under the run's project and
    /// removed after it.
    Compose {
        file: PathBuf,
        ready: Option<String>,
        timeout: Duration,
    },
    /// A running cluster of the user's, adopted and left running.
    Adopted(Selector),
}

pub fn plan(args: &RunArgs) -> Result<Plan, Failure> {
    let bad = Failure::BadInput;
    let cluster = cluster_source(args)?;
    let (system, workload, port) = system_and_workload(args, &cluster)?;
    let system_name = args
        .system
        .clone()
        .unwrap_or_else(|| system.name.to_string());
    let read_mode = if std::ptr::eq(system, &protocol::OWN) {
        args.read.clone().unwrap_or_default()
    } else {
        registry::read_mode(system, args.read.as_deref()).map_err(|e| bad(e.0))?
    };
    let weights = parse_mix(args.mix.as_deref())?;
    workload.mix_for(&weights).map_err(|e| bad(e.to_string()))?;
    match (args.ops_per_key, workload.ops_per_key) {
        (Some(0), _) => return Err(bad("--ops-per-key must be at least 1".into())),
        (Some(_), None) => {
            return Err(bad(format!(
                "--ops-per-key: the {} workload has no keys: leave it out",
                workload.name
            )))
        }
        _ => {}
    }
    let faults = FaultSpec::parse_list(&args.nemesis).map_err(bad)?;
    // Before the cluster is up: a fault the backend lacks would otherwise
    // surface only as `<fault>-failed` ops, minutes into the run.
    match args.backend {
        Backend::Docker => check_supported::<DockerCluster>("docker", &faults),
        Backend::K8s => check_supported::<K8sCluster>("k8s", &faults),
    }
    .map_err(bad)?;
    let disk_forced = args
        .disk_faults
        .as_deref()
        .map(Mechanism::parse)
        .transpose()
        .map_err(bad)?;
    let disk = disk_forced.is_some() || faults.iter().any(|f| f.needs_disk());
    if let Some(disk) = faults.iter().find(|f| f.needs_disk()) {
        if cluster != ClusterSource::Ours {
            return Err(bad(format!(
                "{disk} needs each node's data on the fault filesystem, which only our compose files set up (docs/disk-faults.md): leave it out of --nemesis on a cluster of your own"
            )));
        }
    }
    // What the command line alone settles; the kernel, asked once the
    // engine is reached, the rest.
    let disk = match (disk, args.backend) {
        (false, _) => None,
        (true, Backend::Docker) => Some(choice::decide(disk_forced, &faults).map_err(bad)?),
        (true, Backend::K8s) => Some(K8sCluster::disk_choice(disk_forced).map_err(bad)?),
    };
    let interval = parse_duration(&args.nemesis_interval)
        .map_err(|e| bad(format!("--nemesis-interval: {e}")))?;
    if interval.is_zero() && !faults.is_empty() {
        return Err(bad("--nemesis-interval must be more than 0".into()));
    }
    let time_limit =
        parse_duration(&args.time_limit).map_err(|e| bad(format!("--time-limit: {e}")))?;
    if time_limit.is_zero() {
        return Err(bad("--time-limit must be more than 0".into()));
    }
    if args.concurrency == 0 {
        return Err(bad("--concurrency must be at least 1".into()));
    }
    if !(args.rate > 0.0 && args.rate.is_finite()) {
        return Err(bad(
            "--rate must be a positive number of ops per second".into()
        ));
    }
    // The schedule is quiet for one interval before its first fault: a run
    // shorter than that would fire nothing and still say `valid`.
    if !faults.is_empty() && interval >= time_limit {
        return Err(bad(format!(
            "the first fault would come at +{} s, at or after the time limit of {} s, so this run would inject nothing: \
             lower --nemesis-interval, raise --time-limit, or say --nemesis none",
            interval.as_secs_f64(),
            time_limit.as_secs_f64()
        )));
    }
    let seed = args.seed.unwrap_or_else(|| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        now.as_secs() ^ u64::from(now.subsec_nanos()) << 20
    });
    Ok(Plan {
        test: format!("{system_name}-{}", workload.name),
        system,
        system_name,
        workload,
        read_mode,
        client: args.client.clone(),
        disk,
        disk_forced,
        weights,
        ops_per_key: args.ops_per_key,
        cluster,
        port,
        faults,
        interval,
        time_limit,
        seed,
    })
}

/// `--compose`, `--project` or `--label`: the user's cluster; else ours.
fn cluster_source(args: &RunArgs) -> Result<ClusterSource, Failure> {
    let bad = Failure::BadInput;
    let own = if let Some(file) = &args.compose {
        let timeout = parse_duration(&args.ready_timeout)
            .map_err(|e| bad(format!("--ready-timeout: {e}")))?;
        ClusterSource::Compose {
            file: file.clone(),
            ready: args.ready.clone(),
            timeout,
        }
    } else if let Some(project) = &args.project {
        ClusterSource::Adopted(Selector::Project(project.clone()))
    } else if let Some(label) = &args.label {
        ClusterSource::Adopted(Selector::parse_label(label)?)
    } else {
        if args.ready.is_some() {
            return Err(bad(
                "--ready applies to a cluster from --compose FILE".into()
            ));
        }
        return Ok(ClusterSource::Ours);
    };
    if args.backend != Backend::Docker {
        return Err(bad(
            "--compose, --project and --label are Docker clusters: leave out --backend k8s, or use --selector".into(),
        ));
    }
    if args.client.is_none() {
        return Err(bad(
            "a cluster of your own needs your client too: add --client COMMAND (docs/protocol.md)"
                .into(),
        ));
    }
    if args.port.is_none() {
        return Err(bad(
            "a cluster of your own needs --port PORT: the port your client connects to on each node".into(),
        ));
    }
    Ok(own)
}

/// The system, the workload and the clients' port. With `--client` the
/// workload is the protocol's, and the system may be any name: one of ours
/// only gives its cluster.
fn system_and_workload(
    args: &RunArgs,
    cluster: &ClusterSource,
) -> Result<(&'static System, &'static Workload, u16), Failure> {
    let bad = Failure::BadInput;
    let name = args
        .system
        .as_deref()
        .unwrap_or(registry::default_system().name);
    let Some(client) = &args.client else {
        if *cluster != ClusterSource::Ours {
            unreachable!("cluster_source refuses a cluster of your own without --client");
        }
        let system = registry::system(name).map_err(|e| bad(e.0))?;
        let workload = args.workload.as_deref().unwrap_or(system.workloads[0].name);
        let (system, workload) = registry::workload(name, workload).map_err(|e| bad(e.0))?;
        return Ok((system, workload, port_of(args, system)?));
    };
    if client.trim().is_empty() {
        return Err(bad("--client is empty: give the command that starts your client program, e.g. --client 'python3 client.py'".into()));
    }
    check_name(name)?;
    let workload = args
        .workload
        .as_deref()
        .unwrap_or(protocol::WORKLOADS[0].name);
    let workload = protocol::workload(workload).map_err(|e| bad(e.0))?;
    let ours = registry::system(name).ok();
    let system = match (ours, cluster) {
        (Some(system), ClusterSource::Ours) => system,
        (None, ClusterSource::Ours) if args.backend == Backend::Docker => {
            return Err(bad(format!(
                "--system {name} is not one of ours ({}), so there is no cluster of it to start:                  bring yours with --compose FILE, --project NAME or --label KEY=VALUE",
                registry::names().join(", ")
            )))
        }
        _ => &protocol::OWN,
    };
    Ok((system, workload, port_of(args, system)?))
}

/// `--port`, or the system's own.
fn port_of(args: &RunArgs, system: &System) -> Result<u16, Failure> {
    match (args.port, system.client_port) {
        (Some(0), _) => Err(Failure::BadInput("--port must be 1 to 65535".into())),
        (Some(port), _) => Ok(port),
        (None, 0) => Err(Failure::BadInput(
            "your own system needs --port PORT: the port your client connects to on each node"
                .into(),
        )),
        (None, port) => Ok(port),
    }
}

/// A system's name names the results folder: keep it a plain word.
fn check_name(name: &str) -> Result<(), Failure> {
    let plain = !name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if plain {
        Ok(())
    } else {
        Err(Failure::BadInput(format!(
            "--system {name:?}: name your system with lowercase letters, digits, '-' and '_' (at most 40)"
        )))
    }
}

/// `--mix read=3,write=1`: (function, weight) pairs, in order.
fn parse_mix(text: Option<&str>) -> Result<Vec<(String, u32)>, Failure> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(|item| {
            let parsed = item
                .split_once('=')
                .and_then(|(f, w)| Some((f.trim(), w.trim().parse::<u32>().ok()?)))
                .filter(|(f, _)| !f.is_empty());
            parsed.map(|(f, w)| (f.to_string(), w)).ok_or_else(|| {
                Failure::BadInput(format!(
                    "--mix {item:?} is not FUNCTION=WEIGHT: e.g. --mix read=3,write=1,cas=1"
                ))
            })
        })
        .collect()
}
