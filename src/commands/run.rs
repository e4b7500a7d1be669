//! `chaos run`: one whole test. Results folder first (`test.json`), then the
//! images and the cluster, the workers and the nemesis for the time limit,
//! then heal, check, write the reports, take the cluster down.
//!
//! Only etcd with the register workload so far.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chaos_checkers::history::edn::write_edn;
use chaos_checkers::history::{Op, OpType, Process};
use chaos_checkers::linear::{self, LinearOptions, ModelKind};
use chaos_checkers::perf::perf;
use chaos_checkers::Validity;
use chaos_nemeses::{Cluster, Fault, Journal, PartitionShape, Rng};
use chaos_workloads::etcd::{EtcdRegister, ReadMode};
use chaos_workloads::{
    shutdown, Generator, GeneratorConfig, KeySpec, Mix, NodeTarget, RecordHandle, Recorder, Stats,
    WorkerConfig,
};
use serde_json::{json, Value};

use crate::backends::docker::compose::{compose_dir, Spec};
use crate::backends::docker::lifecycle::{self, UpOptions};
use crate::backends::docker::{engine, images, inventory, DockerCluster, DockerError};
use crate::cli::RunArgs;
use crate::exit::{fail, BAD_INPUT};
use crate::nemesis;
use crate::report::{self, Evidence, RunReport};
use crate::runid::{civil_from_days, new_run_id};
use crate::units::parse_duration;

/// Exit code of a run stopped by SIGINT or SIGTERM.
pub const INTERRUPTED: i32 = 130;

pub fn run(args: &RunArgs) -> i32 {
    if args.system != "etcd" || args.workload != "register" {
        return fail(
            BAD_INPUT,
            "only --system etcd --workload register is supported so far",
        );
    }
    super::block_on(command(args))
}

/// One fault the nemesis may pick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FaultKind {
    Partition(PartitionShape),
    Kill,
    Pause,
}

fn parse_faults(text: &str) -> Result<Vec<FaultKind>, String> {
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let kind = match item {
            "none" => continue,
            "kill" => FaultKind::Kill,
            "pause" => FaultKind::Pause,
            other => match other.strip_prefix("partition-") {
                Some(shape) => FaultKind::Partition(shape.parse()?),
                None => {
                    return Err(format!(
                        "--nemesis: unknown fault {other:?} (use partition-<shape>, kill, pause or none)"
                    ))
                }
            },
        };
        out.push(kind);
    }
    Ok(out)
}

/// Everything checked before we talk to Docker.
struct Plan {
    spec: Spec,
    faults: Vec<FaultKind>,
    interval: Duration,
    time_limit: Duration,
    read: ReadMode,
    seed: u64,
}

fn plan(args: &RunArgs) -> Result<Plan, DockerError> {
    let bad = DockerError::BadInput;
    let spec = Spec::new(&args.system, args.nodes)?;
    let faults = parse_faults(&args.nemesis).map_err(bad)?;
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
    let read = match args.read.as_str() {
        "linearizable" => ReadMode::Linearizable,
        "serializable" => ReadMode::Serializable,
        other => {
            return Err(bad(format!(
                "--read {other:?}: use linearizable or serializable"
            )))
        }
    };
    let seed = args.seed.unwrap_or_else(|| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        now.as_secs() ^ u64::from(now.subsec_nanos()) << 20
    });
    Ok(Plan {
        spec,
        faults,
        interval,
        time_limit,
        read,
        seed,
    })
}

fn harness(doing: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> DockerError {
    move |e| DockerError::Harness(format!("{doing}: {e}"))
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// (`20261124T032500Z`, `2026-11-24 03:25Z`) for now.
fn stamps() -> (String, String) {
    let secs = now_nanos() / 1_000_000_000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    (
        format!("{y:04}{m:02}{d:02}T{h:02}{mi:02}{s:02}Z"),
        format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}Z"),
    )
}

/// `results/<test>/<stamp>/`, and `results/latest` pointing at it.
fn results_dir(root: &Path, test: &str, stamp: &str) -> Result<PathBuf, DockerError> {
    let mut dir = root.join(test).join(stamp);
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = root.join(test).join(format!("{stamp}-{n}"));
    }
    std::fs::create_dir_all(&dir).map_err(harness(format!(
        "cannot create {}: pass --results with a writable folder",
        dir.display()
    )))?;
    let latest = root.join("latest");
    let _ = std::fs::remove_file(&latest);
    if let Ok(relative) = dir.strip_prefix(root) {
        let _ = std::os::unix::fs::symlink(relative, &latest);
    }
    Ok(dir)
}

fn write(path: &Path, text: &str) -> Result<(), DockerError> {
    std::fs::write(path, text).map_err(harness(format!("cannot write {}", path.display())))
}

/// SIGINT and SIGTERM, watched from the start so that neither kills the
/// run with faults in force or the cluster left behind.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Signals, DockerError> {
        use tokio::signal::unix::{signal, SignalKind};
        let watch = |kind, name| {
            signal(kind).map_err(|e| DockerError::Harness(format!("cannot watch for {name}: {e}")))
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

async fn command(args: &RunArgs) -> Result<i32, DockerError> {
    let plan = plan(args)?;
    let mut signals = Signals::new()?;
    let compose = compose_dir(args.compose_dir.as_deref())?;
    let test = format!("{}-{}", args.system, args.workload);
    let (stamp, started) = stamps();
    let dir = results_dir(&args.results, &test, &stamp)?;
    let command_line = std::env::args().collect::<Vec<_>>().join(" ");
    let run_id = new_run_id();
    let parameters = json!({
        "run_id": run_id,
        "test": test,
        "system": args.system,
        "workload": args.workload,
        "nodes": args.nodes,
        "nemesis": args.nemesis,
        "nemesis_interval_s": plan.interval.as_secs_f64(),
        "time_limit_s": plan.time_limit.as_secs_f64(),
        "concurrency": args.concurrency,
        "rate": args.rate,
        "seed": plan.seed,
        "read": args.read,
        "keep_cluster": args.keep_cluster,
        "results": dir.display().to_string(),
        "command": command_line,
        "harness_version": env!("CARGO_PKG_VERSION"),
        "started": started,
    });
    write(
        &dir.join("test.json"),
        &(serde_json::to_string_pretty(&parameters).unwrap_or_default() + "\n"),
    )?;
    eprintln!("chaos: results in {}", dir.display());

    // Images, then the cluster.
    let docker = engine::connect().await?;
    let wanted = [plan.spec.system.image(), images::BASE_IMAGE.to_string()];
    if images::require(&docker, &wanted).await.is_err() {
        eprintln!("chaos: building the images");
        let compose = compose.clone();
        let code = tokio::task::spawn_blocking(move || images::build(&compose, false))
            .await
            .map_err(|e| DockerError::Harness(format!("image build: {e}")))??;
        if code != 0 {
            return Err(DockerError::Harness(format!(
                "`chaos images build` failed (exit {code})"
            )));
        }
        images::require(&docker, &wanted).await?;
    }
    let options = UpOptions {
        spec: plan.spec,
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
        None => {
            eprintln!("chaos: interrupted while the cluster came up: taking it down");
            let _ = lifecycle::down(
                &docker,
                &crate::backends::docker::Selector::for_run(&run_id),
            )
            .await;
            return Ok(INTERRUPTED);
        }
        Some(Err(e)) => {
            // Whatever part of it came up must not stay.
            let _ = lifecycle::down(
                &docker,
                &crate::backends::docker::Selector::for_run(&run_id),
            )
            .await;
            return Err(e);
        }
    };
    eprintln!(
        "chaos: cluster up ({} nodes, {:.1} s, run {run_id})",
        args.nodes,
        up_started.elapsed().as_secs_f64()
    );
    let outcome = run_on(
        args,
        &plan,
        &dir,
        &cluster,
        &started,
        &command_line,
        &mut signals,
    )
    .await;
    if args.keep_cluster {
        eprintln!("chaos: cluster kept: `chaos cluster down --run {run_id}` removes it");
    } else {
        match lifecycle::down(&docker, cluster.selector()).await {
            Ok(_) => eprintln!("chaos: cluster down"),
            Err(e) => eprintln!("chaos: taking the cluster down failed: {e}"),
        }
    }
    outcome
}

/// The run proper, on a cluster that is up: the caller takes it down.
async fn run_on(
    args: &RunArgs,
    plan: &Plan,
    dir: &Path,
    cluster: &DockerCluster,
    started: &str,
    command_line: &str,
    signals: &mut Signals,
) -> Result<i32, DockerError> {
    let nodes = cluster.refresh().await?;
    let targets: Vec<NodeTarget> = nodes
        .iter()
        .filter_map(|n| {
            Some(NodeTarget {
                name: n.name.clone(),
                address: format!("http://{}", n.published(2379)?),
            })
        })
        .collect();
    if targets.len() != nodes.len() {
        return Err(DockerError::Harness(
            "a node has no published client port (2379)".into(),
        ));
    }
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    let mut journal = Journal::open(args.results.join("journal.jsonl"), cluster.run_id())
        .map_err(|e| DockerError::Harness(e.to_string()))?;

    let run_start = now_nanos();
    let recorder =
        Recorder::start(&dir.join("history.jsonl")).map_err(harness("cannot start the history"))?;
    let stats = Arc::new(Stats::new());
    let generator = Generator::new(
        Mix::cas_register(5),
        GeneratorConfig {
            seed: plan.seed,
            keys: Some(KeySpec {
                ops_per_key: 60,
                active: args.concurrency.max(2),
            }),
            rate: Some(args.rate),
            time_limit: Some(plan.time_limit),
            op_limit: None,
        },
    )
    .map_err(DockerError::BadInput)?;
    let factory = Arc::new(EtcdRegister {
        read_mode: plan.read,
        prefix: format!("chaos/{}/", cluster.run_id()),
    });
    let (trigger, stop) = shutdown();
    let workers = tokio::spawn(chaos_workloads::run(
        factory,
        generator,
        recorder.handle(),
        WorkerConfig::new(args.concurrency, targets.clone()),
        stop,
        stats.clone(),
    ));
    eprintln!(
        "chaos: running {} s ({} workers, {} ops/s, seed {}, nemesis {})",
        plan.time_limit.as_secs_f64(),
        args.concurrency,
        args.rate,
        plan.seed,
        if plan.faults.is_empty() {
            "none"
        } else {
            &args.nemesis
        }
    );

    let handle = recorder.handle();
    let mut rng = Rng::new(plan.seed ^ 0x6e65_6d65_7369_7321);
    let interrupted = {
        let nemesis = nemesis_loop(cluster, &mut journal, &handle, &names, plan, &mut rng);
        tokio::select! {
            _ = nemesis => false,
            _ = signals.recv() => true,
        }
    };
    if interrupted {
        eprintln!("chaos: interrupted: healing, writing a partial report");
    }
    trigger.fire();
    match workers.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("chaos: workers: {e}"),
        Err(e) => eprintln!("chaos: workers: {e}"),
    }
    heal_all(cluster, &mut journal, &handle).await;
    drop(handle);
    let history = recorder
        .finish()
        .await
        .map_err(harness("cannot finish the history"))?;
    let snapshot = stats.snapshot();
    eprintln!(
        "chaos: workload done: {} ops (ok {}, fail {}, info {})",
        snapshot.invoked, snapshot.ok, snapshot.fail, snapshot.info
    );
    if !interrupted {
        if let Err(e) = lifecycle::wait_healthy(
            cluster.docker(),
            cluster.selector(),
            names.len(),
            Duration::from_secs(120),
        )
        .await
        {
            eprintln!("chaos: the cluster is not healthy after the run: {e}");
        }
    }

    // history.edn
    let mut edn = Vec::new();
    write_edn(&history, &mut edn).map_err(harness("cannot write history.edn"))?;
    std::fs::write(dir.join("history.edn"), edn).map_err(harness("cannot write history.edn"))?;

    eprintln!("chaos: checking {} ops", history.ops.len());
    let linear = linear::check(
        &history,
        &LinearOptions {
            model: ModelKind::CasRegister,
            split_keys: true,
            ..Default::default()
        },
    )
    .map_err(|e| DockerError::Harness(format!("the history cannot be checked: {e}")))?;
    let perf = perf(&history, 100);

    // Node logs, and the lines worth reading next to the faults.
    let mut signals = Vec::new();
    for name in &names {
        let log = match inventory::logs(cluster.docker(), cluster.selector(), Some(name), 100_000)
            .await
        {
            Ok(text) => {
                let prefix = format!("{name} | ");
                text.lines()
                    .map(|l| l.strip_prefix(&prefix).unwrap_or(l))
                    .collect::<Vec<_>>()
                    .join("\n")
                    + "\n"
            }
            Err(e) => format!("(cannot read the log: {e})\n"),
        };
        let node_dir = dir.join("nodes").join(name);
        std::fs::create_dir_all(&node_dir).map_err(harness("cannot create nodes/"))?;
        write(&node_dir.join("log"), &log)?;
        signals.extend(report::signals(name, &log, run_start));
    }
    let mut signals = report::near_faults(signals, &perf.faults, 2_000_000_000);
    signals.sort_by_key(|s| s.time);

    let results = json!({
        "valid": linear.validity.as_str(),
        "partial": interrupted,
        "linear": linear,
        "perf": perf,
    });
    write(
        &dir.join("results.json"),
        &(serde_json::to_string_pretty(&results).unwrap_or_default() + "\n"),
    )?;

    let mut title = format!("{} {} (chaos run)", args.system, args.workload);
    if interrupted {
        title += " [PARTIAL: interrupted]";
    }
    let run_report = RunReport {
        title,
        started: started.to_string(),
        command: command_line.to_string(),
        cluster: format!(
            "{} ({} nodes, run {})",
            cluster.name(),
            names.len(),
            cluster.run_id()
        ),
        endpoints: targets
            .iter()
            .map(|t| format!("{} {}", t.name, t.address))
            .collect(),
        parameters: vec![
            ("nemesis".into(), args.nemesis.clone()),
            ("nemesis-interval".into(), args.nemesis_interval.clone()),
            ("time-limit".into(), args.time_limit.clone()),
            ("concurrency".into(), args.concurrency.to_string()),
            ("rate".into(), args.rate.to_string()),
            ("seed".into(), plan.seed.to_string()),
            ("read".into(), args.read.clone()),
        ],
        artifacts: [
            "test.json",
            "history.jsonl",
            "history.edn",
            "results.json",
            "report.md",
            "report.html",
            "nodes/<node>/log",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        history: &history,
        perf: &perf,
        evidence: vec![Evidence::Linearizable(&linear)],
        signals,
    };
    let mut md = report::markdown(&run_report);
    if interrupted {
        md = format!("> PARTIAL: the run was interrupted before its time limit.\n\n{md}");
    }
    write(&dir.join("report.md"), &md)?;
    let failures: Vec<_> = linear
        .keys
        .iter()
        .filter_map(|k| k.failure.as_ref())
        .collect();
    write(
        &dir.join("report.html"),
        &report::html(&run_report, &failures),
    )?;

    println!("report: {}", dir.join("report.md").display());
    println!(
        "{}: {} ({} ops checked, keys: {} valid, {} invalid, {} unknown){}",
        test_name(args),
        linear.validity.as_str(),
        linear.ops,
        linear.keys_valid,
        linear.keys_invalid,
        linear.keys_unknown,
        if interrupted { " [partial]" } else { "" }
    );
    if interrupted {
        return Ok(INTERRUPTED);
    }
    Ok(match linear.validity {
        Validity::Valid => 0,
        Validity::Invalid => 1,
        _ => 2,
    })
}

fn test_name(args: &RunArgs) -> String {
    format!("{}-{}", args.system, args.workload)
}

fn nemesis_op(f: &str, value: Value) -> Op {
    Op {
        index: 0,
        time: 0,
        process: Process::Nemesis,
        kind: OpType::Info,
        f: f.to_string(),
        key: None,
        value,
        node: None,
        error: None,
    }
}

/// Quiet for an interval, one fault for an interval, again, until the time
/// limit. Ends with no fault of its own in force (unless dropped).
async fn nemesis_loop(
    cluster: &DockerCluster,
    journal: &mut Journal,
    handle: &RecordHandle,
    names: &[String],
    plan: &Plan,
    rng: &mut Rng,
) {
    let start = Instant::now();
    let remaining = || plan.time_limit.saturating_sub(start.elapsed());
    if plan.faults.is_empty() {
        tokio::time::sleep(plan.time_limit).await;
        return;
    }
    loop {
        tokio::time::sleep(plan.interval.min(remaining())).await;
        if remaining().is_zero() {
            return;
        }
        let kind = plan.faults[rng.below(plan.faults.len())];
        let (name, fault, value) = match kind {
            FaultKind::Partition(shape) => match shape.grudge(names, rng) {
                Ok(grudge) => {
                    let value = json!(grudge.to_string().replace('\n', "; "));
                    ("partition", Fault::Partition { grudge }, value)
                }
                Err(e) => {
                    eprintln!("chaos: nemesis: partition-{}: {e}", shape.name());
                    continue;
                }
            },
            FaultKind::Kill => {
                let node = names[rng.below(names.len())].clone();
                ("kill", Fault::Kill { node: node.clone() }, json!(node))
            }
            FaultKind::Pause => {
                let node = names[rng.below(names.len())].clone();
                ("pause", Fault::Pause { node: node.clone() }, json!(node))
            }
        };
        let _ = handle
            .append(nemesis_op(&format!("start-{name}"), value.clone()))
            .await;
        let applied = nemesis::apply(cluster, journal, &fault).await;
        if let Err(e) = &applied {
            eprintln!("chaos: nemesis: start-{name}: {e}");
        } else {
            eprintln!("chaos: nemesis: start-{name} {}", one_line(&value));
        }
        tokio::time::sleep(plan.interval.min(remaining())).await;
        let mut stop = nemesis_op(&format!("stop-{name}"), value.clone());
        if let Err(e) = nemesis::undo(cluster, journal, &fault).await {
            eprintln!("chaos: nemesis: stop-{name}: {e}");
            stop.error = Some(e.to_string());
        } else {
            eprintln!("chaos: nemesis: stop-{name}");
        }
        let _ = handle.append(stop).await;
        if remaining().is_zero() {
            return;
        }
    }
}

fn one_line(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Undo every fault of this run still in force (the journal knows), and
/// record the stop in the history.
async fn heal_all(cluster: &DockerCluster, journal: &mut Journal, handle: &RecordHandle) {
    let outstanding = match journal.outstanding() {
        Ok(entries) => entries,
        Err(e) => {
            eprintln!("chaos: cannot read the fault journal: {e}");
            Vec::new()
        }
    };
    for entry in outstanding
        .into_iter()
        .filter(|e| e.run == cluster.run_id())
    {
        let f = match &entry.fault {
            Fault::Partition { .. } => "stop-partition",
            Fault::Kill { .. } => "stop-kill",
            Fault::Pause { .. } => "stop-pause",
            Fault::Stop { .. } => "stop-stop",
        };
        let mut op = nemesis_op(f, Value::Null);
        if let Err(e) = nemesis::undo(cluster, journal, &entry.fault).await {
            eprintln!("chaos: heal: {e}");
            op.error = Some(e.to_string());
        }
        let _ = handle.append(op).await;
    }
    // Belt and braces: no partition rule of ours stays, whatever the journal says.
    if let Err(e) = cluster.heal().await {
        eprintln!("chaos: heal: {e}");
    }
}
