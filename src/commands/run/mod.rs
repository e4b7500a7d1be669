//! `chaos run`: one whole test. The results folder first (`test.json`), then
//! the images and the cluster, the workers and the nemesis for the time
//! limit, the heal, the final reads, the node logs; then the results folder
//! is checked and reported on (`results::analyse`, the same code as
//! `chaos report DIR`) and the cluster taken down.

mod events;
mod live;
mod plan;
mod target;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chaos_nemeses::lease::{self, Lease, LeaseInfo};
use chaos_nemeses::schedule::{self, Schedule};
use chaos_nemeses::Journal;
use chaos_workloads::system::{SetupError, Workers};
use chaos_workloads::{shutdown, NodeTarget, Recorder, RunSetup, Stats, WorkerConfig};

use crate::backends::docker::compose::{compose_dir, Spec};
use crate::backends::docker::lifecycle::{self, UpOptions};
use crate::backends::docker::{engine, images, Selector};
use crate::backends::k8s::{K8sCluster, Target};
use crate::cli::{Backend, RunArgs};
use crate::error::Failure;
use crate::results::{self, meta, TestMeta};
use crate::runid::new_run_id;

use events::RunEvents;
use live::{Active, Console};
use plan::Plan;
pub use target::RunTarget;

/// Exit code of a run stopped by SIGINT or SIGTERM.
pub const INTERRUPTED: i32 = 130;

/// After an interrupt, how long a fault being applied may take to finish
/// before the heal starts without it (a Kubernetes kill waits for the new
/// pod to be Ready; a Docker partition takes well under a second).
const FAULT_GRACE: Duration = Duration::from_secs(30);

pub fn run(args: &RunArgs) -> i32 {
    super::block_on(command(args))
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// (`20261124T032500Z`, `2026-11-24 03:25Z`) for now.
fn stamps() -> (String, String) {
    let now = jiff::Timestamp::now();
    (
        now.strftime("%Y%m%dT%H%M%SZ").to_string(),
        now.strftime("%Y-%m-%d %H:%MZ").to_string(),
    )
}

/// SIGINT and SIGTERM, watched from the start so that neither kills the
/// run with faults in force or the cluster left behind.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Signals, Failure> {
        use tokio::signal::unix::{signal, SignalKind};
        let watch = |kind, name| {
            signal(kind).map_err(|e| Failure::Harness(format!("cannot watch for {name}: {e}")))
        };
        Ok(Signals {
            int: watch(SignalKind::interrupt(), "SIGINT")?,
            term: watch(SignalKind::terminate(), "SIGTERM")?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

fn first_meta(args: &RunArgs, plan: &Plan, dir: &Path, started: String) -> TestMeta {
    TestMeta {
        run_id: new_run_id(),
        test: plan.test.clone(),
        system: plan.system.name.to_string(),
        workload: plan.workload.name.to_string(),
        backend: "docker".into(),
        nodes: args.nodes,
        nemesis: args.nemesis.clone(),
        nemesis_interval_s: plan.interval.as_secs_f64(),
        time_limit_s: plan.time_limit.as_secs_f64(),
        concurrency: args.concurrency,
        rate: args.rate,
        seed: plan.seed,
        read: plan.read_mode.clone(),
        keep_cluster: args.keep_cluster,
        results: dir.display().to_string(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        harness_version: env!("CARGO_PKG_VERSION").into(),
        started,
        cluster: None,
        system_version: None,
        endpoints: Vec::new(),
        run_start_unix_ns: None,
        ended: None,
    }
}

async fn command(args: &RunArgs) -> Result<i32, Failure> {
    let plan = plan::plan(args)?;
    match args.backend {
        Backend::Docker => on_docker(args, &plan).await,
        Backend::K8s => on_kubernetes(args, &plan).await,
    }
}

/// The results folder and its first `test.json`: before anything can fail
/// on the cluster's side, so every run leaves a record.
fn open_results(args: &RunArgs, plan: &Plan) -> Result<(std::path::PathBuf, TestMeta), Failure> {
    let (stamp, started) = stamps();
    let dir = results::create(&args.results, &plan.test, &stamp)?;
    let mut meta = first_meta(args, plan, &dir, started);
    if args.backend == Backend::K8s {
        meta.backend = "k8s".into();
    }
    meta.write(&dir)?;
    Ok((dir, meta))
}

/// A local cluster: build the images if missing, bring it up, run, take it
/// down (unless --keep-cluster).
async fn on_docker(args: &RunArgs, plan: &Plan) -> Result<i32, Failure> {
    let spec = Spec::new(&args.system, args.nodes)?;
    let compose = compose_dir(args.compose_dir.as_deref())?;
    let mut signals = Signals::new()?;
    let (dir, mut meta) = open_results(args, plan)?;
    let console = Console::new();
    console.log_to(&dir.join("chaos.log"));
    console.say(&format!("results in {}", dir.display()));
    // Images, then the cluster.
    let docker = engine::connect().await?;
    let wanted = [spec.system.image(), images::BASE_IMAGE.to_string()];
    if images::require(&docker, &wanted).await.is_err() {
        console.say("building the images (a minute or two, once)");
        let compose = compose.clone();
        let code = tokio::task::spawn_blocking(move || images::build(&compose, false))
            .await
            .map_err(|e| Failure::Harness(format!("image build: {e}")))??;
        if code != 0 {
            return Err(Failure::Harness(format!(
                "`chaos images build` failed (exit {code})"
            )));
        }
        images::require(&docker, &wanted).await?;
    }
    let run_id = meta.run_id.clone();
    let options = UpOptions {
        spec,
        project: None,
        run_id: Some(run_id.clone()),
        subnet: None,
        timeout: Duration::from_secs(120),
        compose_dir: compose,
    };
    let up_started = Instant::now();
    let up = tokio::select! {
        up = lifecycle::up(&docker, &options) => Some(up),
        _ = signals.recv() => None,
    };
    let cluster = match up {
        Some(Ok(cluster)) => cluster,
        other => {
            // Whatever part of it came up must not stay.
            let _ = lifecycle::down(&docker, &Selector::for_run(&run_id)).await;
            return match other {
                Some(Err(e)) => Err(e),
                _ => {
                    console.say("interrupted while the cluster came up: took it down");
                    Ok(INTERRUPTED)
                }
            };
        }
    };
    console.say(&format!(
        "cluster up ({} nodes, {:.1} s, run {run_id})",
        args.nodes,
        up_started.elapsed().as_secs_f64()
    ));
    let outcome = run_on(
        &cluster,
        plan,
        &dir,
        &mut meta,
        &journal_path(args),
        &mut signals,
        &console,
    )
    .await;
    if args.keep_cluster {
        console.say(&format!(
            "cluster kept: `chaos cluster down --run {run_id}` removes it"
        ));
    } else {
        match lifecycle::down(&docker, cluster.selector()).await {
            Ok(_) => console.say("cluster down"),
            Err(e) => console.say(&format!("taking the cluster down failed: {e}")),
        }
    }
    outcome
}

/// Existing pods in a namespace: find them (refusing a selector that
/// matches nothing, too much, or our own pod), run, leave them running.
async fn on_kubernetes(args: &RunArgs, plan: &Plan) -> Result<i32, Failure> {
    let (Some(namespace), Some(selector)) = (&args.namespace, &args.selector) else {
        return Err(Failure::BadInput(
            "--backend k8s needs --namespace NS and --selector LABELS (e.g. --namespace staging --selector app=my-log)".into(),
        ));
    };
    let mut target = Target::new(namespace.clone(), selector.clone());
    target.container = args.container.clone();
    target.process = Some(plan.system.process.to_string());
    target.expected_nodes = Some(args.nodes);
    let mut signals = Signals::new()?;
    let client = K8sCluster::connect().await?;
    let cluster = K8sCluster::discover(client, target).await?;
    let console = Console::new();
    console.say(&format!("cluster: {}", cluster.describe()));
    tokio::select! {
        ready = cluster.wait_ready(Duration::from_secs(120)) => {
            ready.map_err(|e| Failure::Harness(format!("the pods are not all Ready: {e}")))?;
        }
        _ = signals.recv() => {
            console.say("interrupted while waiting for the pods to be Ready: nothing ran");
            return Ok(INTERRUPTED);
        }
    }
    let (dir, mut meta) = open_results(args, plan)?;
    console.log_to(&dir.join("chaos.log"));
    console.say(&format!("results in {}", dir.display()));
    run_on(
        &cluster,
        plan,
        &dir,
        &mut meta,
        &journal_path(args),
        &mut signals,
        &console,
    )
    .await
}

/// `--journal`, or journal.jsonl in the `--results` folder.
fn journal_path(args: &RunArgs) -> std::path::PathBuf {
    args.journal
        .clone()
        .unwrap_or_else(|| args.results.join("journal.jsonl"))
}

/// The fault journal, and the lease that says this run owns the cluster
/// and where that journal is (so no `chaos heal` acts under this run, and
/// any heal after a crash finds the journal).
fn journal_and_lease<C: RunTarget>(
    cluster: &C,
    path: &Path,
    dir: &Path,
    backend: &str,
) -> Result<(Journal, Lease), Failure> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            Failure::Harness(format!(
                "cannot create {} for the fault journal: {e}",
                parent.display()
            ))
        })?;
    }
    let run = cluster.journal_id();
    let journal = Journal::open(path, &run).map_err(|e| Failure::Harness(e.to_string()))?;
    let info = LeaseInfo::here(&run, backend, &cluster.describe(), path, dir);
    let lease =
        Lease::take(&lease::default_dir(), &info).map_err(|e| Failure::Harness(e.to_string()))?;
    Ok((journal, lease))
}

/// The run proper, on a cluster that is up (the caller takes it down):
/// everything up to a results folder that `results::analyse` reads.
async fn run_on<C: RunTarget>(
    cluster: &C,
    plan: &Plan,
    dir: &Path,
    meta: &mut TestMeta,
    journal_path: &Path,
    signals: &mut Signals,
    console: &Console,
) -> Result<i32, Failure> {
    let system = plan.system;
    let endpoints = cluster.endpoints(system.client_port).await?;
    let targets: Vec<NodeTarget> = endpoints
        .iter()
        .map(|(name, address)| NodeTarget {
            name: name.clone(),
            address: system.address(address),
        })
        .collect();
    let names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
    let (mut journal, mut lease) = journal_and_lease(cluster, journal_path, dir, &meta.backend)?;

    meta.cluster = Some(cluster.describe());
    meta.system_version = system.version_of(&targets).await;
    meta.endpoints = targets
        .iter()
        .map(|t| format!("{} {}", t.name, t.address))
        .collect();
    let setup = RunSetup {
        seed: plan.seed,
        rate: meta.rate,
        concurrency: meta.concurrency,
        time_limit: plan.time_limit,
        prefix: format!("chaos/{}/", meta.run_id),
        read_mode: plan.read_mode.clone(),
    };
    let driver = tokio::select! {
        driver = (plan.workload.prepare)(&setup, &targets) => driver.map_err(setup_failure)?,
        _ = signals.recv() => {
            console.say("interrupted while setting up the workload: no ops ran");
            meta.ended = Some(meta::INTERRUPTED.into());
            meta.write(dir)?;
            return Ok(INTERRUPTED);
        }
    };

    meta.run_start_unix_ns = Some(now_nanos());
    let recorder = Recorder::start(&dir.join("history.jsonl"))
        .map_err(|e| Failure::Harness(format!("cannot start the history: {e}")))?;
    meta.write(dir)?;
    let stats = Arc::new(Stats::new());
    let (trigger, stop) = shutdown();
    let generator = plan.workload.generator(&setup).map_err(setup_failure)?;
    let workers = driver
        .start(
            generator,
            Workers {
                config: WorkerConfig::new(setup.concurrency, targets.clone()),
                record: recorder.handle(),
                stop,
                stats: stats.clone(),
            },
        )
        .map_err(setup_failure)?;
    console.say(&format!(
        "running {} s ({} workers, {} ops/s, seed {}, nemesis {})",
        plan.time_limit.as_secs_f64(),
        meta.concurrency,
        meta.rate,
        plan.seed,
        if plan.faults.is_empty() {
            "none"
        } else {
            &meta.nemesis
        }
    ));

    let handle = recorder.handle();
    let mut rng = schedule::rng_for(plan.seed);
    let active = Active::default();
    let events = RunEvents {
        handle: &handle,
        console,
        active: &active,
    };
    let schedule = Schedule {
        faults: &plan.faults,
        interval: plan.interval,
        time_limit: plan.time_limit,
        nodes: &names,
    };
    let mut interrupted = {
        let (stop_faults, faults_stop) = shutdown();
        let faults_stopped = || faults_stop.fired();
        let nemesis = schedule.run(cluster, &mut journal, &mut rng, &events, &faults_stopped);
        tokio::pin!(nemesis);
        let ticker = live::ticker(console, &stats, &active, plan.time_limit);
        let interrupted = tokio::select! {
            _ = &mut nemesis => false,
            _ = ticker => false,
            _ = signals.recv() => true,
        };
        console.done();
        if interrupted {
            console.say("interrupted: healing, writing a partial report");
            // Let a fault being applied finish, so the heal sees all of it.
            stop_faults.fire();
            tokio::select! {
                _ = &mut nemesis => {}
                _ = tokio::time::sleep(FAULT_GRACE) => console.say(&format!(
                    "a fault was still being applied after {} s: left it; the heal undoes what the journal holds",
                    FAULT_GRACE.as_secs()
                )),
                _ = signals.recv() => console.say("interrupted again: left the fault being applied; the heal undoes what the journal holds"),
            }
        }
        interrupted
    };
    trigger.fire();
    match workers.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => console.say(&format!("workers: {e}")),
        Err(e) => console.say(&format!("workers: {e}")),
    }
    schedule::heal_all(cluster, &mut journal, &cluster.journal_id(), &events).await;
    // The lease goes with the run (when `lease` is dropped) only if
    // nothing of it is left in force; otherwise it keeps naming the
    // journal for `chaos heal`.
    let run = cluster.journal_id();
    if !journal
        .outstanding()
        .is_ok_and(|left| !left.iter().any(|e| e.run == run))
    {
        lease.keep();
        console.say(&format!(
            "faults may still be in force: `chaos heal` undoes them (the lease {} names journal {})",
            lease.path().display(),
            journal.path().display()
        ));
    }
    let snapshot = stats.snapshot();
    console.say(&format!(
        "workload done: {} ops (ok {}, fail {}, info {})",
        snapshot.invoked, snapshot.ok, snapshot.fail, snapshot.info
    ));
    // A signal from here on (one that came while the workers stopped is
    // waiting already) skips what is left, and the run counts as interrupted.
    if !interrupted {
        let recovered = tokio::select! {
            healthy = cluster.wait_healthy(Duration::from_secs(120)) => Some(healthy),
            _ = signals.recv() => None,
        };
        match recovered {
            Some(Ok(())) => {
                let say = |line: &str| console.say(line);
                let finish = async {
                    if let Some(f) = plan.workload.final_op {
                        driver.finish(f, &targets, &handle, &say).await;
                    }
                };
                tokio::select! {
                    _ = finish => {}
                    _ = signals.recv() => {
                        console.say("interrupted during the final reads");
                        interrupted = true;
                    }
                }
            }
            Some(Err(e)) => console.say(&format!(
                "the cluster is not healthy after the run, so no final reads: {e}"
            )),
            None => {
                console.say("interrupted while the cluster recovered");
                interrupted = true;
            }
        }
    }
    if cluster.outlives_run() {
        // Bounded by the clients' own timeouts; a failure is said, never fatal.
        match driver.remove_data(&targets).await {
            Ok(()) => console.say("removed the run's data from the cluster"),
            Err(e) => console.say(&format!("clean-up: {e}")),
        }
    }
    drop(handle);
    recorder
        .finish()
        .await
        .map_err(|e| Failure::Harness(format!("cannot finish the history: {e}")))?;

    // Missing node logs cost the report a section, never the verdict.
    if let Err(e) = cluster.collect_logs(dir).await {
        console.say(&format!("node logs: {e}"));
    }
    meta.ended = Some(
        if interrupted {
            meta::INTERRUPTED
        } else {
            meta::COMPLETED
        }
        .into(),
    );
    meta.write(dir)?;

    console.say("checking the history");
    let outcome = results::analyse(dir, meta)?;
    println!("report: {}", dir.join("report.md").display());
    println!("{}", outcome.line(meta));
    console.to_log(&outcome.line(meta));
    if interrupted {
        return Ok(INTERRUPTED);
    }
    Ok(outcome.exit_code())
}

/// A workload that cannot start: the flags' fault (254) or the cluster's.
fn setup_failure(e: SetupError) -> Failure {
    match e {
        SetupError::BadInput(_) => Failure::BadInput(e.to_string()),
        SetupError::NotReady(_) => Failure::Harness(e.to_string()),
    }
}
