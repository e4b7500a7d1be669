//! `chaos run`: one whole test. On Docker the engine, the images and the
//! way disks are faulted first (a run that cannot start leaves nothing);
//! then the results folder (`test.json`), the cluster, the workers and the
//! nemesis for the time limit, the heal, the final reads, the node logs;
//! then the results folder is checked and reported on (`results::analyse`,
//! the same code as `chaos report DIR`) and the cluster taken down.

mod events;
mod interrupts;
mod live;
mod phases;
mod plan;
mod target;

use std::path::Path;
use std::time::{Duration, Instant};

use chaos_nemeses::disk::choice::Decision;
use chaos_nemeses::lease::{self, Lease, LeaseInfo};
use chaos_nemeses::netem::Netem;
use chaos_nemeses::shaping::Mechanism;
use chaos_nemeses::{ClusterError, FaultSpec, Journal};

use crate::backends::docker::compose::{compose_dir, Spec};
use crate::backends::docker::lifecycle::{self, UpOptions};
use crate::backends::docker::own::OwnProject;
use crate::backends::docker::{dm, engine, images, DockerCluster, Selector};
use crate::backends::k8s::{K8sCluster, Target};
use crate::cli::{Backend, RunArgs};
use crate::error::Failure;
use crate::results::{self, TestMeta};
use crate::runid::new_run_id;

use interrupts::Interrupts;
use live::Console;
use phases::{Context, Run};
use plan::{ClusterSource, Plan};
pub use target::RunTarget;

/// Exit code of a run stopped by SIGINT or SIGTERM.
pub const INTERRUPTED: i32 = 130;

pub fn run(args: &RunArgs) -> i32 {
    super::block_on(command(args))
}

/// (`20261124T032500Z`, `2026-11-24 03:25Z`) for now.
fn stamps() -> (String, String) {
    let t = crate::runid::utc(jiff::Timestamp::now());
    let (y, mo, d, h, mi) = (t.year(), t.month(), t.day(), t.hour(), t.minute());
    (
        format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{:02}Z", t.second()),
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}Z"),
    )
}

fn first_meta(args: &RunArgs, plan: &Plan, dir: &Path, started: String) -> TestMeta {
    TestMeta {
        run_id: new_run_id(),
        test: plan.test.clone(),
        system: plan.system_name.clone(),
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
        client: plan.client.clone(),
        mix: args.mix.clone(),
        ops_per_key: args.ops_per_key,
        // Set once the way is chosen (on Docker, by asking the kernel).
        disk_faults: None,
        traffic_shaping: None,
        cluster: None,
        system_version: None,
        endpoints: Vec::new(),
        run_start_unix_ns: None,
        ended: None,
    }
}

async fn command(args: &RunArgs) -> Result<i32, Failure> {
    let plan = plan::plan(args)?;
    let code = match args.backend {
        Backend::Docker => on_docker(args, &plan).await,
        Backend::K8s => on_kubernetes(args, &plan).await,
    };
    // The folder's index of runs, whatever became of this one.
    results::index::refresh(&args.results);
    code
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

/// The system's image and the base, built if missing.
async fn ensure_images(
    docker: &bollard::Docker,
    compose: &Path,
    spec: Spec,
    console: &Console,
) -> Result<(), Failure> {
    let wanted = [spec.system.image(), images::BASE_IMAGE.to_string()];
    if images::require(docker, &wanted).await.is_ok() {
        return Ok(());
    }
    console.say("building the images (a minute or two, once)");
    let compose = compose.to_path_buf();
    let code = tokio::task::spawn_blocking(move || images::build(&compose, false))
        .await
        .map_err(|e| Failure::Harness(format!("image build: {e}")))??;
    if code != 0 {
        return Err(Failure::Harness(format!(
            "`chaos images build` failed (exit {code})"
        )));
    }
    images::require(docker, &wanted).await
}

/// A local cluster: build the images if missing, bring it up, run, take it
/// down (unless --keep-cluster).
async fn on_docker(args: &RunArgs, plan: &Plan) -> Result<i32, Failure> {
    if plan.cluster != ClusterSource::Ours {
        return on_own_docker(args, plan).await;
    }
    let spec = Spec::new(plan.system.name, args.nodes)?;
    let compose = compose_dir(args.compose_dir.as_deref())?;
    let mut interrupts = Interrupts::new()?;
    let console = Console::new();
    let docker = engine::connect().await?;
    // The images, then which way the disks are faulted (a helper from the
    // base image asks the kernel): both before the results folder, so a
    // run refused for want of dm-flakey leaves none.
    ensure_images(&docker, &compose, spec, &console).await?;
    let disk = match &plan.disk {
        Some(decision) => {
            Some(dm::choose(&docker, decision, plan.disk_forced, &plan.faults).await?)
        }
        None => None,
    };
    let (dir, mut meta) = open_results(args, plan)?;
    console.log_to(&dir.join("chaos.log"));
    console.say(&format!("results in {}", dir.display()));
    if let Some(choice) = &disk {
        console.say(&format!(
            "disk faults through {}: {}",
            choice.mechanism, choice.why
        ));
        meta.disk_faults = Some(choice.mechanism.name().to_string());
        meta.write(&dir)?;
    }
    let run_id = meta.run_id.clone();
    let options = UpOptions {
        spec,
        project: None,
        run_id: Some(run_id.clone()),
        subnet: None,
        timeout: Duration::from_secs(120),
        compose_dir: compose,
        disk: disk.as_ref().map(|c| c.mechanism),
    };
    let up_started = Instant::now();
    let up = lifecycle::up(&docker, &options);
    let phase = "while the cluster came up: taking it down";
    let cluster = match interrupts.guard(phase, &console, up).await {
        Some(Ok(cluster)) => cluster,
        other => {
            // Whatever part of it came up must not stay.
            let _ = lifecycle::down(&docker, &Selector::for_run(&run_id)).await;
            return match other {
                Some(Err(e)) => Err(e),
                _ => Ok(INTERRUPTED),
            };
        }
    };
    console.say(&format!(
        "cluster up ({} nodes, {:.1} s, run {run_id})",
        args.nodes,
        up_started.elapsed().as_secs_f64()
    ));
    // Never a run that claims disk faults it could not inject.
    if let Some(mechanism) = options.disk {
        if let Err(e) = cluster.check_disks().await {
            let _ = lifecycle::down(&docker, cluster.selector()).await;
            return Err(Failure::Harness(e.to_string()));
        }
        console.say(&format!("every node keeps its data on {mechanism}"));
    }
    if let Err(e) = check_shaping(&cluster, plan, &mut meta, &dir, &console).await {
        let _ = lifecycle::down(&docker, cluster.selector()).await;
        return Err(e);
    }
    let outcome = run_on(
        context(args, plan, &cluster, &dir, &console),
        &mut meta,
        &mut interrupts,
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

/// Never a run that claims a shaping (delay, ...) it cannot carry out:
/// refused before the first op. And test.json and the report say which
/// way the shaping is carried out.
async fn check_shaping<C: ChecksShaping>(
    cluster: &C,
    plan: &Plan,
    meta: &mut TestMeta,
    dir: &Path,
    console: &Console,
) -> Result<(), Failure> {
    let shapings: Vec<(String, Netem)> = plan
        .faults
        .iter()
        .filter_map(|f| match f {
            FaultSpec::Shape { netem, .. } => Some((f.name(), *netem)),
            _ => None,
        })
        .collect();
    if shapings.is_empty() {
        return Ok(());
    }
    let mechanism = cluster
        .check_shaping(&shapings)
        .await
        .map_err(|e| Failure::Harness(e.to_string()))?;
    console.say(&format!("traffic shaped with {}", mechanism.describe()));
    meta.traffic_shaping = Some(mechanism.describe().to_string());
    meta.write(dir)?;
    Ok(())
}

/// A cluster that can say, before a run, how it would shape traffic.
trait ChecksShaping {
    async fn check_shaping(&self, faults: &[(String, Netem)]) -> Result<Mechanism, ClusterError>;
}

impl ChecksShaping for DockerCluster {
    async fn check_shaping(&self, faults: &[(String, Netem)]) -> Result<Mechanism, ClusterError> {
        DockerCluster::check_shaping(self, faults).await
    }
}

impl ChecksShaping for K8sCluster {
    async fn check_shaping(&self, faults: &[(String, Netem)]) -> Result<Mechanism, ClusterError> {
        K8sCluster::check_shaping(self, faults).await
    }
}

/// A cluster of the user's own: their compose file, started under the
/// run's project and removed after the run (unless --keep-cluster); or a
/// running project or labelled containers, adopted and left running.
async fn on_own_docker(args: &RunArgs, plan: &Plan) -> Result<i32, Failure> {
    let mut interrupts = Interrupts::new()?;
    let docker = engine::connect().await?;
    let console = Console::new();
    let (cluster, started) = match &plan.cluster {
        ClusterSource::Adopted(selector) => {
            let cluster = DockerCluster::open(docker.clone(), selector.clone()).await?;
            (cluster, None)
        }
        ClusterSource::Compose {
            file,
            ready,
            timeout,
        } => {
            let run_id = crate::runid::new_run_id();
            let own = OwnProject::new(file, &run_id).await?;
            let up = async {
                own.start().await?;
                own.wait_ready(&docker, ready.as_deref(), *timeout).await
            };
            let phase = "while your cluster came up: taking it down";
            match interrupts.guard(phase, &console, up).await {
                Some(Ok(())) => match own.cluster(&docker).await {
                    Ok(cluster) => (cluster, Some((own, run_id))),
                    Err(e) => {
                        remove_own(&own, &docker, &console).await;
                        return Err(e);
                    }
                },
                other => {
                    remove_own(&own, &docker, &console).await;
                    return match other {
                        Some(Err(e)) => Err(e),
                        _ => Ok(INTERRUPTED),
                    };
                }
            }
        }
        ClusterSource::Ours => unreachable!("on_docker runs our clusters"),
    };
    let (dir, mut meta) = open_results(args, plan)?;
    if let Some((_, run_id)) = &started {
        meta.run_id = run_id.clone();
    }
    console.log_to(&dir.join("chaos.log"));
    console.say(&format!("results in {}", dir.display()));
    console.say(&format!("cluster: {}", cluster.describe()));
    let checked = check_shaping(&cluster, plan, &mut meta, &dir, &console).await;
    let outcome = match checked {
        Err(e) => Err(e),
        Ok(()) => {
            run_on(
                context(args, plan, &cluster, &dir, &console),
                &mut meta,
                &mut interrupts,
            )
            .await
        }
    };
    match started {
        Some((own, _)) if args.keep_cluster => console.say(&format!(
            "cluster kept: `docker-compose -p {} -f {} down -v` removes it",
            own.project,
            args.compose
                .as_deref()
                .unwrap_or(Path::new("FILE"))
                .display()
        )),
        Some((own, _)) => remove_own(&own, &docker, &console).await,
        None => console.say("your cluster is left running, as it was found"),
    }
    outcome
}

async fn remove_own(own: &OwnProject, docker: &bollard::Docker, console: &Console) {
    match own.remove(docker).await {
        Ok(()) => console.say(&format!("cluster {} removed", own.project)),
        Err(e) => console.say(&format!("removing cluster {} failed: {e}", own.project)),
    }
}

/// Existing pods in a namespace: find them (refusing a selector that
/// matches nothing, too much, or our own pod), run, leave them running.
async fn on_kubernetes(args: &RunArgs, plan: &Plan) -> Result<i32, Failure> {
    let (Some(namespace), Some(selector)) = (&args.namespace, &args.selector) else {
        return Err(Failure::BadInput(
            "--backend k8s needs --namespace NS and --selector LABELS (e.g. --namespace staging --selector app=my-log)".into(),
        ));
    };
    let client = K8sCluster::connect().await?;
    on_pods(args, plan, client, namespace, selector).await
}

/// `chaos run --backend k8s` through `client` (a test's fake API server):
/// what [`run`] does once it has a client.
pub async fn on_kubernetes_with(args: &RunArgs, client: kube::Client) -> Result<i32, Failure> {
    let plan = plan::plan(args)?;
    let (Some(namespace), Some(selector)) = (&args.namespace, &args.selector) else {
        return Err(Failure::BadInput(
            "--backend k8s needs --namespace NS and --selector LABELS".into(),
        ));
    };
    on_pods(args, &plan, client, namespace, selector).await
}

async fn on_pods(
    args: &RunArgs,
    plan: &Plan,
    client: kube::Client,
    namespace: &str,
    selector: &str,
) -> Result<i32, Failure> {
    let mut target = Target::new(namespace, selector);
    target.container = args.container.clone();
    target.process = Some(plan.system.process.to_string()).filter(|p| !p.is_empty());
    target.expected_nodes = Some(args.nodes);
    let mut interrupts = Interrupts::new()?;
    let cluster = K8sCluster::discover(client, target).await?;
    let console = Console::new();
    console.say(&format!("cluster: {}", cluster.describe()));
    let ready = cluster.wait_ready(Duration::from_secs(120));
    let phase = "while waiting for the pods to be Ready: nothing ran";
    match interrupts.guard(phase, &console, ready).await {
        Some(ready) => {
            ready.map_err(|e| Failure::Harness(format!("the pods are not all Ready: {e}")))?;
        }
        None => return Ok(INTERRUPTED),
    }
    // Never a run that claims disk faults it could not inject: refused
    // before its results folder, its journal and its first op.
    if plan.disk.is_some() {
        cluster.check_disks().await?;
        console.say("every pod keeps its data on the fault filesystem");
    }
    let (dir, mut meta) = open_results(args, plan)?;
    console.log_to(&dir.join("chaos.log"));
    console.say(&format!("results in {}", dir.display()));
    if let Some(Decision::Made(choice)) = &plan.disk {
        meta.disk_faults = Some(choice.mechanism.name().to_string());
        meta.write(&dir)?;
    }
    check_shaping(&cluster, plan, &mut meta, &dir, &console).await?;
    run_on(
        context(args, plan, &cluster, &dir, &console),
        &mut meta,
        &mut interrupts,
    )
    .await
}

/// What the run's phases need, on `cluster`.
fn context<'a, C>(
    args: &RunArgs,
    plan: &'a Plan,
    cluster: &'a C,
    dir: &'a Path,
    console: &'a Console,
) -> Context<'a, C> {
    Context {
        cluster,
        plan,
        dir,
        journal: journal_path(args),
        console,
    }
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

/// The run proper, on a cluster that is up (the caller takes it down), in
/// its phases (`phases.rs`): everything up to a results folder that
/// `results::analyse` reads, and its verdict.
async fn run_on<C: RunTarget>(
    cx: Context<'_, C>,
    meta: &mut TestMeta,
    interrupts: &mut Interrupts,
) -> Result<i32, Failure> {
    let (dir, console) = (cx.dir, cx.console);
    let nemesis = meta.nemesis.clone();
    let Some(mut run) = Run::set_up(cx, meta, interrupts).await? else {
        return Ok(INTERRUPTED);
    };
    let ran = run.under_faults(&nemesis, interrupts).await;
    run.heal().await;
    ran?;
    if !interrupts.happened() {
        run.final_ops(interrupts).await;
    }
    run.clean_up().await?;
    phases::check_and_report(dir, meta, interrupts.happened(), console)
}
