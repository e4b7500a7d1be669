//! Everything `chaos run` checks before it talks to a backend: the flags,
//! parsed into a plan, with one line per mistake.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chaos_nemeses::{check_supported, FaultSpec};

use crate::backends::docker::DockerCluster;
use crate::backends::k8s::K8sCluster;
use crate::cli::{Backend, RunArgs};
use crate::error::Failure;
use crate::units::parse_duration;
use chaos_workloads::{registry, System, Workload};

pub struct Plan {
    /// `<system>-<workload>`.
    pub test: String,
    pub system: &'static System,
    pub workload: &'static Workload,
    /// One of the system's read modes, or empty.
    pub read_mode: String,
    pub faults: Vec<FaultSpec>,
    pub interval: Duration,
    pub time_limit: Duration,
    pub seed: u64,
}

pub fn plan(args: &RunArgs) -> Result<Plan, Failure> {
    let bad = Failure::BadInput;
    let system = registry::system(&args.system).map_err(|e| bad(e.0))?;
    let workload = args.workload.as_deref().unwrap_or(system.workloads[0].name);
    let (system, workload) = registry::workload(system.name, workload).map_err(|e| bad(e.0))?;
    let read_mode = registry::read_mode(system, args.read.as_deref()).map_err(|e| bad(e.0))?;
    let faults = FaultSpec::parse_list(&args.nemesis).map_err(bad)?;
    // Before the cluster is up: a fault the backend lacks would otherwise
    // surface only as `<fault>-failed` ops, minutes into the run.
    match args.backend {
        Backend::Docker => check_supported::<DockerCluster>("docker", &faults),
        Backend::K8s => check_supported::<K8sCluster>("k8s", &faults),
    }
    .map_err(bad)?;
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
        test: format!("{}-{}", system.name, workload.name),
        system,
        workload,
        read_mode,
        faults,
        interval,
        time_limit,
        seed,
    })
}
