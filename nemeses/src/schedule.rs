//! The nemesis schedule: quiet for an interval, one fault (chosen with the
//! seed) for an interval, again, until the time limit. Each step is an
//! [`Event`] sent to the run's [`Sink`]: in the history a fault is
//! `start-<verb>` (before it is applied), `<verb>-in-force` with the
//! milliseconds applying took, or `<verb>-failed` with the error, and
//! `stop-<verb>` once undone. While a fault is held it is looked at every
//! second: one that something else undid is `<verb>-lost`, and the run's
//! verdict can then be no better than unknown. And [`heal_all`] at the
//! end, from the journal.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cluster::{Cluster, ClusterError};
use crate::event::{one_line, Event, Sink};
use crate::fault::{Fault, FaultSpec};
use crate::grudge::NodeName;
use crate::journal::Journal;
use crate::nemesis;
use crate::rng::Rng;

/// How often a fault in force is looked at.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// The schedule's own RNG stream, from the run's seed: the same `--seed`
/// draws the same faults, and the workload (which draws from the seed
/// itself) does not shift them.
pub fn rng_for(seed: u64) -> Rng {
    Rng::new(seed ^ 0x6e65_6d65_7369_7321)
}

/// A fault drawn that cannot be built over the nodes (see
/// [`FaultSpec::instantiate`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub spec: FaultSpec,
    pub why: String,
}

/// One turn's draw: which fault of `faults` (one `below(len)`), then its
/// nodes. `faults` must not be empty.
pub fn choose(faults: &[FaultSpec], nodes: &[NodeName], rng: &mut Rng) -> Result<Fault, Skipped> {
    let spec = faults[rng.below(faults.len())];
    spec.instantiate(nodes, rng)
        .map_err(|why| Skipped { spec, why })
}

pub struct Schedule<'a> {
    pub faults: &'a [FaultSpec],
    pub interval: Duration,
    pub time_limit: Duration,
    pub nodes: &'a [NodeName],
}

impl Schedule<'_> {
    /// Runs until the time limit or until `stop()` resolves, and ends with
    /// no fault of its own in force. `stop` is looked at only between
    /// steps: a fault being applied is applied to the end and then undone,
    /// never cut off halfway, because a Docker or Kubernetes request
    /// dropped in flight still completes on the server, and what it made (a
    /// partition helper, say) would escape the heal. Should this future be
    /// dropped all the same, [`heal_all`] undoes what the journal holds.
    pub async fn run<C, S, F>(
        &self,
        cluster: &C,
        journal: &mut Journal,
        rng: &mut Rng,
        sink: &impl Sink,
        stop: &S,
    ) where
        C: Cluster,
        S: Fn() -> F + Sync,
        F: Future<Output = ()> + Send,
    {
        let start = Instant::now();
        let remaining = || self.time_limit.saturating_sub(start.elapsed());
        if self.faults.is_empty() {
            sleep_unless_stopped(self.time_limit, stop).await;
            return;
        }
        loop {
            let stopped = sleep_unless_stopped(self.interval.min(remaining()), stop).await;
            if stopped || remaining().is_zero() {
                return;
            }
            let fault = match choose(self.faults, self.nodes, rng) {
                Ok(fault) => fault,
                Err(Skipped { spec, why }) => {
                    let fault = spec.name();
                    sink.event(Event::Skipped { fault, why }).await;
                    continue;
                }
            };
            let verb = fault.verb();
            let value = json!(fault.target());
            sink.event(Event::Started {
                verb,
                value: value.clone(),
            })
            .await;
            // How the start went is an event of its own: a Kubernetes kill
            // waits for the replacement pod to be Ready, and that time (or
            // the reason it never came) belongs in the history.
            let applying = Instant::now();
            let applied = nemesis::apply(cluster, journal, &fault).await;
            let ms = applying.elapsed().as_millis() as u64;
            let in_force = applied.is_ok();
            sink.event(match applied {
                Err(e) => Event::Failed {
                    verb,
                    ms,
                    error: e.to_string(),
                },
                Ok(()) => Event::InForce {
                    verb,
                    value: value.clone(),
                    ms,
                },
            })
            .await;
            let hold = self.interval.min(remaining());
            let stopped = if in_force {
                let held = Held {
                    fault: &fault,
                    value: &value,
                    since: start,
                };
                hold_and_watch(cluster, &held, hold, stop, sink).await
            } else {
                sleep_unless_stopped(hold, stop).await
            };
            let (said, error) = match nemesis::end(cluster, journal, &fault).await {
                Ok(said) => (said, None),
                Err(e) => (Vec::new(), Some(e.to_string())),
            };
            sink.event(Event::Stopped {
                verb,
                value,
                said,
                error,
            })
            .await;
            if stopped || remaining().is_zero() {
                return;
            }
        }
    }
}

/// A fault this run applied and holds.
struct Held<'a> {
    fault: &'a Fault,
    /// How the history names it (`start-<verb>`'s value).
    value: &'a Value,
    /// The schedule's start, for the message's `+T s`.
    since: Instant,
}

/// Holds `held` for `duration` (or until `stop`; true then), looking every
/// [`WATCH_EVERY`] whether it is still in force. The first look that finds
/// it gone sends [`Event::Lost`] and ends the watch: the report must not
/// say a fault was tested for time it was not in force. A look that fails
/// says nothing either way and is tried again; a backend that cannot look
/// says so once.
async fn hold_and_watch<C, S, F>(
    cluster: &C,
    held: &Held<'_>,
    duration: Duration,
    stop: &S,
    sink: &impl Sink,
) -> bool
where
    C: Cluster,
    S: Fn() -> F + Sync,
    F: Future<Output = ()> + Send,
{
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
                let value = held.value.clone();
                sink.event(Event::Lost { verb, value, why }).await;
            }
            Err(e @ ClusterError::Unsupported { .. }) => {
                watching = false;
                sink.event(Event::Unwatched { why: e.to_string() }).await;
            }
        }
    }
}

/// Sleeps for `duration`; true if `stop()` resolved first.
async fn sleep_unless_stopped<S, F>(duration: Duration, stop: &S) -> bool
where
    S: Fn() -> F,
    F: Future<Output = ()>,
{
    tokio::select! {
        _ = tokio::time::sleep(duration) => false,
        _ = stop() => true,
    }
}

/// Undoes every fault of run `run` the journal still holds in force, each
/// an [`Event::Healed`], then sweeps for partition rules whatever the
/// journal says. An undo, not an end: a fault whose end differs (a
/// rollback's write-back) is only taken away.
pub async fn heal_all<C: Cluster>(cluster: &C, journal: &mut Journal, run: &str, sink: &impl Sink) {
    let outstanding = match journal.outstanding() {
        Ok(entries) => entries,
        Err(e) => {
            let why = e.to_string();
            sink.event(Event::JournalUnreadable { why }).await;
            Vec::new()
        }
    };
    for entry in outstanding.into_iter().filter(|e| e.run == run) {
        let undone = nemesis::undo(cluster, journal, &entry.fault).await;
        sink.event(Event::Healed {
            verb: entry.fault.verb(),
            error: undone.err().map(|e| e.to_string()),
        })
        .await;
    }
    // Belt and braces: no partition rule of ours stays, whatever the
    // journal says. A backend that cannot partition has none to remove.
    match cluster.heal().await {
        Ok(_) | Err(ClusterError::Unsupported { .. }) => {}
        Err(e) => {
            let why = e.to_string();
            sink.event(Event::HealFailed { why }).await;
        }
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
