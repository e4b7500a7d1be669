//! From a results folder to its verdict and reports: read `test.json` and
//! `history.jsonl`, run the workload's checker and the statistics, read the
//! node logs, write `history.edn`, `results.json`, `report.md` and
//! `report.html`. `chaos run` ends here, and `chaos report DIR` is this alone,
//! so a report rebuilt later says exactly what the run's own report said.

use std::path::Path;

use chaos_checkers::history::edn::write_edn;
use chaos_checkers::history::format::{read_history, Format, ReadError};
use chaos_checkers::history::{History, Process};
use chaos_checkers::linear::{self, LinearOptions, LinearReport};
use chaos_checkers::log::{check_log, LogReport};
use chaos_checkers::perf::{perf, Perf};
use chaos_checkers::queue::{check_queue, CheckError, QueueOptions, QueueReport};
use chaos_checkers::Validity;
use chaos_nemeses::event::Step;
use chaos_workloads::system::RAFT_PHRASES;
use chaos_workloads::{protocol, registry, Checker};
use serde_json::json;

use super::meta::TestMeta;
use crate::error::Failure;
use crate::report::{self, Evidence, NodeSignal, RunReport, SignalSearch};

/// Every file a finished run folder holds, as the report lists them (the
/// node logs as `nodes/<node>/log`, one per node). The plots,
/// `latency.svg` and `rate.svg` (and an invalid run's `anomaly.svg`), are
/// not listed: the report shows them where they belong, under Throughput
/// and Latency (and Anomalies).
pub const ARTIFACTS: [&str; 8] = [
    "test.json",
    "history.jsonl",
    "history.edn",
    "results.json",
    "report.md",
    "report.html",
    "nodes/<node>/log",
    "chaos.log",
];

/// The files of [`ARTIFACTS`] that `dir` holds (or that [`analyse`] is
/// writing there), each node log by its own name: a run that died early
/// never wrote its node logs or its `chaos.log`.
fn artifacts(dir: &Path) -> Vec<String> {
    const WRITTEN_HERE: [&str; 4] = ["history.edn", "results.json", "report.md", "report.html"];
    let mut found = Vec::new();
    for artifact in ARTIFACTS {
        if artifact == "nodes/<node>/log" {
            found.extend(
                node_names(dir)
                    .into_iter()
                    .map(|node| format!("nodes/{node}/log"))
                    .filter(|log| dir.join(log).is_file()),
            );
        } else if WRITTEN_HERE.contains(&artifact) || dir.join(artifact).is_file() {
            found.push(artifact.to_string());
        }
    }
    found
}

/// The folders under `dir/nodes`, in natural order (`n2` before `n10`).
fn node_names(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join("nodes")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort_by_key(|name| {
        let stem = name.trim_end_matches(|c: char| c.is_ascii_digit());
        (
            stem.to_string(),
            name[stem.len()..].parse::<u64>().ok(),
            name.clone(),
        )
    });
    names
}

/// Node log lines further than this from every fault window are left out.
const SIGNAL_WINDOW_NS: u64 = 2_000_000_000;

/// The checker's verdict on a workload's history.
pub enum Verdict {
    Linearizable(LinearReport),
    Log(LogReport),
    Queue(QueueReport),
}

impl Verdict {
    pub fn validity(&self) -> Validity {
        match self {
            Verdict::Linearizable(r) => r.validity,
            Verdict::Log(r) => r.validity,
            Verdict::Queue(r) => r.validity,
        }
    }

    fn evidence(&self) -> Evidence<'_> {
        match self {
            Verdict::Linearizable(r) => Evidence::Linearizable(r),
            Verdict::Log(r) => Evidence::Log(r),
            Verdict::Queue(r) => Evidence::Queue(r),
        }
    }

    /// The checker's section of `results.json`.
    fn json(&self) -> (&'static str, serde_json::Value) {
        let (section, value) = match self {
            Verdict::Linearizable(r) => ("linear", serde_json::to_value(r)),
            Verdict::Log(r) => ("log", serde_json::to_value(r)),
            Verdict::Queue(r) => ("queue", serde_json::to_value(r)),
        };
        (section, value.unwrap_or_default())
    }

    /// The numbers after the verdict on the last line a run prints.
    pub fn summary(&self) -> String {
        match self {
            Verdict::Linearizable(r) => format!(
                "{} ops checked, keys: {} valid, {} invalid, {} unknown",
                r.ops, r.keys_valid, r.keys_invalid, r.keys_unknown
            ),
            Verdict::Log(r) => {
                let c = r.counts;
                format!(
                    "produced {}, read {}, lost {}, unseen {}, duplicates {}, out of order {}",
                    c.produced, c.delivered, c.lost, c.unseen, c.duplicates, c.out_of_order
                )
            }
            Verdict::Queue(r) => format!(
                "acknowledged {}, dequeued {}, lost {}, duplicated {}, unexpected {}, pending {}{}",
                r.acknowledged,
                r.dequeued,
                r.lost.count,
                r.duplicated.count,
                r.unexpected.count,
                r.pending.count,
                if r.drained { "" } else { ", no final drain" }
            ),
        }
    }
}

/// What a run or `chaos report` prints and exits with.
pub struct Outcome {
    pub verdict: Verdict,
    pub perf: Perf,
    pub partial: bool,
    /// Why each fault the run lost while it held it was lost (its
    /// `<fault>-lost` ops): the run did not test what its schedule says.
    pub lost_faults: Vec<String>,
}

/// The `error` of every `<fault>-lost` nemesis op.
fn lost_faults(history: &History) -> Vec<String> {
    history
        .ops
        .iter()
        .filter(|op| {
            op.process == Process::Nemesis && matches!(Step::parse(&op.f), Some((Step::Lost, _)))
        })
        .map(|op| op.error.clone().unwrap_or_else(|| op.f.clone()))
        .collect()
}

/// The checker's word, unless a fault was lost: then a history the
/// checker found valid was not tested as claimed, and is `unknown`. An
/// invalid one stays invalid (what it shows happened all the same).
fn capped(validity: Validity, lost_faults: &[String]) -> Validity {
    match validity {
        Validity::Valid if !lost_faults.is_empty() => Validity::Unknown,
        other => other,
    }
}

impl Outcome {
    /// The run's verdict: the checker's, capped by [`capped`].
    pub fn validity(&self) -> Validity {
        capped(self.verdict.validity(), &self.lost_faults)
    }

    /// 0 valid, 1 invalid, 2 unknown, as `chaos check`.
    pub fn exit_code(&self) -> i32 {
        match self.validity() {
            Validity::Valid => 0,
            Validity::Invalid => 1,
            _ => 2,
        }
    }

    /// `etcd-register: valid (3631 ops checked, ...)`.
    pub fn line(&self, meta: &TestMeta) -> String {
        format!(
            "{}: {} ({}){}",
            meta.test,
            self.validity().as_str(),
            self.verdict.summary(),
            if self.partial {
                " [partial]"
            } else if !self.lost_faults.is_empty() {
                " [a fault was lost while held]"
            } else {
                ""
            }
        )
    }
}

fn harness(doing: String) -> impl FnOnce(std::io::Error) -> Failure {
    move |e| Failure::Harness(format!("{doing}: {e}"))
}

/// A history the checker refuses, at the line of the op at fault.
fn cannot(source: &str, history: &History, index: u64, message: &str) -> Failure {
    Failure::BadInput(ReadError::at_op(source, history, index, message).to_string())
}

/// An op the checker cannot read: not what `chaos run` writes.
fn unreadable(source: &str, history: &History, index: u64, message: &str) -> Failure {
    let message = format!(
        "{message}; this is not what `chaos run` writes for this workload: \
         was the history edited, or test.json's workload changed?"
    );
    cannot(source, history, index, &message)
}

/// A queue or log checker's refusal, at the line of the op at fault.
fn refused(source: &str, history: &History, e: CheckError) -> Failure {
    match e {
        CheckError::Pair(e) => cannot(source, history, e.index, &e.message),
        CheckError::Malformed { index, message } => unreadable(source, history, index, &message),
    }
}

/// The checker the system's description names for the workload of
/// `meta`; `source` names the history in errors.
pub fn check(meta: &TestMeta, history: &History, source: &str) -> Result<Verdict, Failure> {
    // A run through the client protocol ran the protocol's workload,
    // whatever its system.
    let workload = match &meta.client {
        Some(_) => protocol::workload(&meta.workload),
        None => registry::workload(&meta.system, &meta.workload).map(|(_, w)| w),
    };
    let workload = workload.map_err(|e| {
        Failure::BadInput(format!(
            "test.json names system {:?} and workload {:?}, which this harness does not run ({e}): was it written by another version?",
            meta.system, meta.workload
        ))
    })?;
    Ok(match workload.checker {
        Checker::Linearizable { model, split_keys } => Verdict::Linearizable(
            linear::check(
                history,
                &LinearOptions {
                    model,
                    split_keys,
                    ..Default::default()
                },
            )
            .map_err(|e| unreadable(source, history, e.index, &e.message))?,
        ),
        Checker::Log => Verdict::Log(check_log(history).map_err(|e| refused(source, history, e))?),
        Checker::Queue => Verdict::Queue(
            check_queue(history, &QueueOptions::default())
                .map_err(|e| refused(source, history, e))?,
        ),
    })
}

/// Checks the run in `dir` and writes its reports.
pub fn analyse(dir: &Path, meta: &TestMeta) -> Result<Outcome, Failure> {
    let history_path = dir.join("history.jsonl");
    if !history_path.is_file() {
        return Err(Failure::BadInput(format!(
            "{} has no history.jsonl: the run ended before it recorded an op, so there is \
             nothing to report; start a new run",
            dir.display()
        )));
    }
    let history = read_history(&history_path, Some(Format::Jsonl))
        .map_err(|e| Failure::BadInput(e.to_string()))?;

    let mut edn = Vec::new();
    write_edn(&history, &mut edn).map_err(harness("cannot write history.edn".into()))?;
    std::fs::write(dir.join("history.edn"), edn)
        .map_err(harness("cannot write history.edn".into()))?;

    let verdict = check(meta, &history, &history_path.display().to_string())?;
    let perf = perf(&history, 100);
    let (signals, search) = node_signals(dir, meta, &perf);
    let partial = meta.partial();
    let lost = lost_faults(&history);
    let validity = capped(verdict.validity(), &lost);

    let found = Found {
        artifacts: artifacts(dir),
        signals,
        search,
    };
    let run_report = run_report(meta, &history, &perf, &verdict, found);
    let mut model = report::Report::build(&run_report);
    if partial {
        model
            .notices
            .push(format!("PARTIAL: {}.", partial_reason(meta)));
    }
    for why in &lost {
        model
            .notices
            .push(format!("UNKNOWN, whatever the checker says below: {why}."));
    }

    let (section, value) = verdict.json();
    let mut results = json!({
        "valid": validity.as_str(),
        "partial": partial,
        "faults_lost": lost,
        "perf": perf,
        "availability": model.availability,
        "report": model,
    });
    results[section] = value;
    write(
        &dir.join("results.json"),
        &(serde_json::to_string_pretty(&results).unwrap_or_default() + "\n"),
    )?;
    write(&dir.join("report.md"), &report::render_markdown(&model))?;
    let mut plots = report::plots(&history, &perf);
    plots.extend(report::anomaly_plots(&model.anomalies));
    for plot in &plots {
        write(&dir.join(&plot.file), &plot.svg)?;
    }
    write(
        &dir.join("report.html"),
        &report::render_html(&model, &plots),
    )?;
    Ok(Outcome {
        verdict,
        perf,
        partial,
        lost_faults: lost,
    })
}

fn partial_reason(meta: &TestMeta) -> &'static str {
    match meta.ended.as_deref() {
        Some(super::meta::INTERRUPTED) => "the run was interrupted before its time limit",
        _ => "the harness did not finish this run (it died, or is still running); the history holds what completed",
    }
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(harness(format!("cannot write {}", path.display())))
}

/// The signal lines of every `nodes/<node>/log`, near the faults, and what
/// was searched.
fn node_signals(dir: &Path, meta: &TestMeta, perf: &Perf) -> (Vec<NodeSignal>, SignalSearch) {
    let mut search = SignalSearch {
        window: SIGNAL_WINDOW_NS,
        ..Default::default()
    };
    let Some(run_start) = meta.run_start_unix_ns else {
        search.skipped = Some(
            "test.json has no `run_start_unix_ns`, so their lines cannot be put on the run's clock"
                .into(),
        );
        return (Vec::new(), search);
    };
    // A system this harness no longer knows still gets raft's phrases.
    let phrases: Vec<&str> = match registry::system(&meta.system) {
        Ok(system) => system.phrases().collect(),
        Err(_) => RAFT_PHRASES.to_vec(),
    };
    search.phrases = phrases.iter().map(|p| p.to_string()).collect();
    let mut signals = Vec::new();
    for name in node_names(dir) {
        let path = format!("nodes/{name}/log");
        let Ok(log) = std::fs::read_to_string(dir.join(&path)) else {
            continue;
        };
        search.logs.push((path, log.lines().count()));
        signals.extend(report::signals(&name, &log, run_start, &phrases));
    }
    search.matched = signals.len();
    let mut signals = report::near_faults(signals, &perf.faults, SIGNAL_WINDOW_NS);
    signals.sort_by_key(|s| s.time);
    (signals, search)
}

/// The one partition shape `--nemesis` named (`halves` of
/// `partition-halves,kill`), if it named exactly one.
fn partition_shape(nemesis: &str) -> Option<String> {
    let mut shapes = nemesis
        .split(',')
        .filter_map(|n| n.trim().strip_prefix("partition-"));
    match (shapes.next(), shapes.next()) {
        (Some(shape), None) => Some(shape.to_string()),
        _ => None,
    }
}

/// What the folder held besides the history.
struct Found {
    artifacts: Vec<String>,
    signals: Vec<NodeSignal>,
    search: SignalSearch,
}

fn run_report<'a>(
    meta: &TestMeta,
    history: &'a History,
    perf: &'a Perf,
    verdict: &'a Verdict,
    found: Found,
) -> RunReport<'a> {
    let mut title = format!("{} {} (chaos run)", meta.system, meta.workload);
    if meta.partial() {
        title += " [PARTIAL]";
    }
    let seconds = |s: f64| format!("{s}s");
    let mut parameters = vec![
        ("nemesis".to_string(), meta.nemesis.clone()),
        ("nemesis-interval".into(), seconds(meta.nemesis_interval_s)),
        ("time-limit".into(), seconds(meta.time_limit_s)),
        ("concurrency".into(), meta.concurrency.to_string()),
        ("rate".into(), meta.rate.to_string()),
        ("seed".into(), meta.seed.to_string()),
    ];
    if registry::system(&meta.system).is_ok_and(|s| !s.read_modes.is_empty())
        || (meta.client.is_some() && !meta.read.is_empty())
    {
        parameters.push(("read".into(), meta.read.clone()));
    }
    if let Some(client) = &meta.client {
        parameters.push(("client".into(), client.clone()));
    }
    if let Some(mix) = &meta.mix {
        parameters.push(("mix".into(), mix.clone()));
    }
    if let Some(n) = meta.ops_per_key {
        parameters.push(("ops-per-key".into(), n.to_string()));
    }
    if let Some(how) = &meta.disk_faults {
        parameters.push(("disk-faults".into(), how.clone()));
    }
    if let Some(how) = &meta.traffic_shaping {
        parameters.push(("traffic shaping".into(), how.clone()));
    }
    RunReport {
        title,
        started: meta.started.clone(),
        command: meta.command.clone(),
        cluster: match (&meta.cluster, &meta.system_version) {
            (Some(cluster), Some(version)) => format!("{cluster}, {} {version}", meta.system),
            (Some(cluster), None) => cluster.clone(),
            (None, _) => "(never came up)".into(),
        },
        endpoints: meta.endpoints.clone(),
        parameters,
        artifacts: found.artifacts,
        history,
        perf,
        evidence: vec![verdict.evidence()],
        signals: found.signals,
        search: found.search,
        partition_shape: partition_shape(&meta.nemesis),
    }
}

#[cfg(test)]
mod lost_fault_tests {
    use super::*;

    #[test]
    fn a_lost_fault_makes_valid_unknown_and_leaves_invalid_alone() {
        let lost = vec!["partition n1 was no longer in force".to_string()];
        assert_eq!(capped(Validity::Valid, &lost), Validity::Unknown);
        assert_eq!(capped(Validity::Invalid, &lost), Validity::Invalid);
        assert_eq!(capped(Validity::Valid, &[]), Validity::Valid);
    }
}
