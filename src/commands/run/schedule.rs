//! The nemesis schedule: quiet for an interval, one fault (chosen with the
//! seed) for an interval, again, until the time limit. In the history each
//! fault is `start-<fault>` (before it is applied), `<fault>-in-force` with
//! the milliseconds applying took, or `<fault>-failed` with the error, and
//! `stop-<fault>` once undone. While a fault is held it is looked at every
//! second: one that something else undid is `<fault>-lost`, and the run's
//! verdict can then be no better than unknown. And the heal at the end, from
//! the journal.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chaos_checkers::history::{Op, OpType, Process};
use chaos_nemeses::{Cluster, ClusterError, Fault, Journal, Rng};
use chaos_workloads::{RecordHandle, ShutdownSignal};
use serde_json::{json, Value};

use super::live::Console;
use super::plan::FaultKind;
use super::target::RunTarget;
use crate::nemesis;

/// The fault in force, for the live line.
#[derive(Default)]
pub struct Active(Mutex<Option<String>>);

impl Active {
    pub fn get(&self) -> Option<String> {
        self.0.lock().map(|a| a.clone()).unwrap_or(None)
    }

    fn set(&self, fault: Option<String>) {
        if let Ok(mut a) = self.0.lock() {
            *a = fault;
        }
    }
}

/// How often a fault in force is looked at.
const WATCH_EVERY: Duration = Duration::from_secs(1);

pub struct Schedule<'a> {
    pub faults: &'a [FaultKind],
    pub interval: Duration,
    pub time_limit: Duration,
    pub names: &'a [String],
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

fn one_line(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Runs the schedule until the time limit or until `stop` fires, and ends
/// with no fault of its own in force. `stop` is looked at only between
/// steps: a fault being applied is applied to the end and then undone,
/// never cut off halfway, because a Docker or Kubernetes request dropped in
/// flight still completes on the server, and what it made (a partition
/// helper, say) would escape the heal. Should this future be dropped all
/// the same, [`heal_all`] undoes what the journal holds.
#[allow(clippy::too_many_arguments)]
pub async fn nemesis_loop<C: RunTarget>(
    cluster: &C,
    journal: &mut Journal,
    handle: &RecordHandle,
    schedule: &Schedule<'_>,
    rng: &mut Rng,
    active: &Active,
    console: &Console,
    stop: &ShutdownSignal,
) {
    let start = Instant::now();
    let remaining = || schedule.time_limit.saturating_sub(start.elapsed());
    if schedule.faults.is_empty() {
        sleep_unless_stopped(schedule.time_limit, stop).await;
        return;
    }
    let names = schedule.names;
    loop {
        let stopped = sleep_unless_stopped(schedule.interval.min(remaining()), stop).await;
        if stopped || remaining().is_zero() {
            return;
        }
        let kind = schedule.faults[rng.below(schedule.faults.len())];
        let (name, fault, value) = match kind {
            FaultKind::Partition(shape) => match shape.grudge(names, rng) {
                Ok(grudge) => {
                    let value = json!(grudge.to_string().replace('\n', "; "));
                    ("partition", Fault::Partition { grudge }, value)
                }
                Err(e) => {
                    console.say(&format!("nemesis: partition-{}: {e}", shape.name()));
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
        // How the start went is an op of its own: a Kubernetes kill waits
        // for the replacement pod to be Ready, and that time (or the reason
        // it never came) belongs in the history.
        let applying = Instant::now();
        let applied = nemesis::apply(cluster, journal, &fault).await;
        let took = json!({"ms": applying.elapsed().as_millis() as u64});
        let mut done = nemesis_op(&format!("{name}-in-force"), took);
        let in_force = applied.is_ok();
        match applied {
            Err(e) => {
                console.say(&format!("nemesis: start-{name}: {e}"));
                done.f = format!("{name}-failed");
                done.error = Some(e.to_string());
            }
            Ok(()) => {
                console.say(&format!("nemesis: start-{name} {}", one_line(&value)));
                active.set(Some(format!("{name} {}", one_line(&value))));
            }
        }
        let _ = handle.append(done).await;
        let hold = schedule.interval.min(remaining());
        let stopped = if in_force {
            let held = HeldFault {
                fault: &fault,
                value: &value,
                since: start,
            };
            hold_and_watch(cluster, &held, hold, stop, handle, console).await
        } else {
            sleep_unless_stopped(hold, stop).await
        };
        let mut stop_op = nemesis_op(&format!("stop-{name}"), value.clone());
        match nemesis::undo(cluster, journal, &fault).await {
            Err(e) => {
                console.say(&format!("nemesis: stop-{name}: {e}"));
                stop_op.error = Some(e.to_string());
            }
            Ok(()) => console.say(&format!("nemesis: stop-{name}")),
        }
        active.set(None);
        let _ = handle.append(stop_op).await;
        if stopped || remaining().is_zero() {
            return;
        }
    }
}

/// A fault this run applied and holds.
struct HeldFault<'a> {
    fault: &'a Fault,
    /// How the history names it (`start-<verb>`'s value).
    value: &'a Value,
    /// The schedule's start, for the message's `+T s`.
    since: Instant,
}

/// Holds `held` for `duration` (or until `stop`; true then), looking every
/// [`WATCH_EVERY`] whether it is still in force. The first look that finds
/// it gone records `<verb>-lost` and ends the watch: the report must not
/// say a fault was tested for time it was not in force. A look that fails
/// says nothing either way and is tried again; a backend that cannot look
/// says so once in the log.
async fn hold_and_watch<C: Cluster>(
    cluster: &C,
    held: &HeldFault<'_>,
    duration: Duration,
    stop: &ShutdownSignal,
    handle: &RecordHandle,
    console: &Console,
) -> bool {
    let until = Instant::now() + duration;
    let verb = held.fault.verb();
    let mut watching = true;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        if sleep_unless_stopped(left.min(WATCH_EVERY), stop).await {
            return true;
        }
        if !watching || Instant::now() >= until {
            continue;
        }
        match cluster.in_force(held.fault).await {
            Ok(true) | Err(ClusterError::Backend(_)) | Err(ClusterError::UnknownNode { .. }) => {}
            Ok(false) => {
                watching = false;
                let why = format!(
                    "{verb} {} was no longer in force at +{:.1} s: something other than this run undid it (a `chaos heal`, a hand-run command, a restart); the run did not test what its schedule says",
                    one_line(held.value),
                    held.since.elapsed().as_secs_f64()
                );
                console.say(&format!("nemesis: {why}"));
                let mut lost = nemesis_op(&format!("{verb}-lost"), held.value.clone());
                lost.error = Some(why);
                let _ = handle.append(lost).await;
            }
            Err(e @ ClusterError::Unsupported { .. }) => {
                watching = false;
                console.say(&format!("nemesis: not watched while in force: {e}"));
            }
        }
    }
}

/// Sleeps for `duration`; true if `stop` fired first.
async fn sleep_unless_stopped(duration: Duration, stop: &ShutdownSignal) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(duration) => false,
        _ = stop.fired() => true,
    }
}

/// Undoes every fault of this run still in force (the journal knows) and
/// records each stop in the history.
pub async fn heal_all<C: RunTarget>(
    cluster: &C,
    journal: &mut Journal,
    handle: &RecordHandle,
    console: &Console,
) {
    let outstanding = match journal.outstanding() {
        Ok(entries) => entries,
        Err(e) => {
            console.say(&format!("cannot read the fault journal: {e}"));
            Vec::new()
        }
    };
    let run = cluster.journal_id();
    for entry in outstanding.into_iter().filter(|e| e.run == run) {
        let f = match &entry.fault {
            Fault::Partition { .. } => "stop-partition",
            Fault::Kill { .. } => "stop-kill",
            Fault::Pause { .. } => "stop-pause",
            Fault::Stop { .. } => "stop-stop",
        };
        let mut op = nemesis_op(f, Value::Null);
        if let Err(e) = nemesis::undo(cluster, journal, &entry.fault).await {
            console.say(&format!("heal: {e}"));
            op.error = Some(e.to_string());
        }
        let _ = handle.append(op).await;
    }
    // Belt and braces: no partition rule of ours stays, whatever the journal says.
    if let Err(e) = cluster.heal().await {
        console.say(&format!("heal: {e}"));
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
