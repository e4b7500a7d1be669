//! What the nemesis does, as events. The schedule ([`crate::schedule`])
//! sends each to a [`Sink`]; a run's sink writes it to the history, its
//! console and its live status line. The names a fault's ops carry in the
//! history (`start-kill`, `kill-in-force`, ...) are made here ([`Step`])
//! and nowhere else; a report reads them back with [`Step::parse`].

use std::future::Future;

use serde_json::{json, Value};

/// A step in a fault's life, as the history names it after the fault's
/// verb (`partition`, `kill`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// `start-<verb>`: about to be applied; its value is what it acts on.
    Start,
    /// `<verb>-in-force`: applied, with the milliseconds applying took.
    InForce,
    /// `<verb>-failed`: applying failed; it may be partly in force.
    Failed,
    /// `<verb>-lost`: something other than the run undid it while held.
    Lost,
    /// `stop-<verb>`: undone (or undoing it failed: the op's error).
    Stop,
}

impl Step {
    /// The `f` of this step's op for a fault of `verb`.
    pub fn f(self, verb: &str) -> String {
        match self {
            Step::Start => format!("start-{verb}"),
            Step::InForce => format!("{verb}-in-force"),
            Step::Failed => format!("{verb}-failed"),
            Step::Lost => format!("{verb}-lost"),
            Step::Stop => format!("stop-{verb}"),
        }
    }

    /// The step and verb a nemesis op's `f` names, if it names one.
    /// Suffixes first: the `stop` fault's ops are `stop-in-force`, ...
    pub fn parse(f: &str) -> Option<(Step, &str)> {
        let suffixed = [
            ("-in-force", Step::InForce),
            ("-failed", Step::Failed),
            ("-lost", Step::Lost),
        ];
        for (suffix, step) in suffixed {
            if let Some(verb) = f.strip_suffix(suffix).filter(|v| !v.is_empty()) {
                return Some((step, verb));
            }
        }
        let prefixed = [("start-", Step::Start), ("stop-", Step::Stop)];
        prefixed.into_iter().find_map(|(prefix, step)| {
            f.strip_prefix(prefix)
                .filter(|v| !v.is_empty())
                .map(|verb| (step, verb))
        })
    }
}

/// One op of the nemesis for the history (process `nemesis`, type `info`).
#[derive(Clone, Debug, PartialEq)]
pub struct NemesisOp {
    pub f: String,
    pub value: Value,
    pub error: Option<String>,
}

/// What happened, in the order it happened.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The fault drawn cannot be built over these nodes (a shape that needs
    /// more of them): nothing was applied; the schedule waits for its next
    /// turn. `fault` is its command-line name.
    Skipped { fault: String, why: String },
    /// About to apply a fault; `value` is what it acts on.
    Started { verb: &'static str, value: Value },
    /// Applied, in `ms` milliseconds.
    InForce {
        verb: &'static str,
        value: Value,
        ms: u64,
    },
    /// Applying failed after `ms` milliseconds.
    Failed {
        verb: &'static str,
        ms: u64,
        error: String,
    },
    /// Found no longer in force while held: the run did not test it.
    Lost {
        verb: &'static str,
        value: Value,
        why: String,
    },
    /// The backend cannot look at a fault in force: it is not watched.
    Unwatched { why: String },
    /// Ended by the schedule (see `Fault::end_on`), or ending it failed.
    /// `said`: what the end reported, one line each (rules removed, what a
    /// disk fault changed while in force, chunks written back); empty when
    /// it reports nothing.
    Stopped {
        verb: &'static str,
        value: Value,
        said: Vec<String>,
        error: Option<String>,
    },
    /// A fault the journal still held at the end of the run, undone (or
    /// not: the error).
    Healed {
        verb: &'static str,
        error: Option<String>,
    },
    /// The journal could not be read at the end of the run.
    JournalUnreadable { why: String },
    /// The last sweep for partition rules failed.
    HealFailed { why: String },
}

impl Event {
    /// The op this event is in the history, if it is one.
    pub fn op(&self) -> Option<NemesisOp> {
        let op = |step: Step, verb: &str, value: Value, error: Option<&String>| NemesisOp {
            f: step.f(verb),
            value,
            error: error.cloned(),
        };
        Some(match self {
            Event::Started { verb, value } => op(Step::Start, verb, value.clone(), None),
            Event::InForce { verb, ms, .. } => op(Step::InForce, verb, json!({"ms": ms}), None),
            Event::Failed { verb, ms, error } => {
                op(Step::Failed, verb, json!({"ms": ms}), Some(error))
            }
            Event::Lost { verb, value, why } => op(Step::Lost, verb, value.clone(), Some(why)),
            Event::Stopped {
                verb,
                value,
                said,
                error,
            } => {
                // The fault's own value, as `start-<verb>` had it, and what
                // undoing it reported, when it reported anything.
                let value = if said.is_empty() {
                    value.clone()
                } else {
                    json!({"fault": value, "said": said})
                };
                op(Step::Stop, verb, value, error.as_ref())
            }
            Event::Healed { verb, error } => op(Step::Stop, verb, Value::Null, error.as_ref()),
            Event::Skipped { .. }
            | Event::Unwatched { .. }
            | Event::JournalUnreadable { .. }
            | Event::HealFailed { .. } => return None,
        })
    }

    /// The line a run's console shows for this event, if any.
    pub fn line(&self) -> Option<String> {
        Some(match self {
            Event::Skipped { fault, why } => format!("nemesis: {fault}: {why}"),
            Event::Started { .. } => return None,
            Event::InForce { verb, value, .. } => {
                format!("nemesis: {} {}", Step::Start.f(verb), one_line(value))
            }
            Event::Failed { verb, error, .. } => {
                format!("nemesis: {}: {error}", Step::Start.f(verb))
            }
            Event::Lost { why, .. } => format!("nemesis: {why}"),
            Event::Unwatched { why } => format!("nemesis: not watched while in force: {why}"),
            Event::Stopped {
                verb, error, said, ..
            } => match error {
                Some(e) => format!("nemesis: {}: {e}", Step::Stop.f(verb)),
                None if said.is_empty() => format!("nemesis: {}", Step::Stop.f(verb)),
                None => format!("nemesis: {}: {}", Step::Stop.f(verb), said.join("; ")),
            },
            Event::Healed { error, .. } => format!("heal: {}", error.as_ref()?),
            Event::JournalUnreadable { why } => format!("cannot read the fault journal: {why}"),
            Event::HealFailed { why } => format!("heal: {why}"),
        })
    }
}

/// A value on one line: a string as it is, anything else as JSON.
pub fn one_line(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Where the schedule's events go. Awaited in place, so an op reaches the
/// history before the schedule takes its next step (a `start-<verb>` is
/// recorded before the fault is applied).
pub trait Sink: Sync {
    fn event(&self, event: Event) -> impl Future<Output = ()> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_parses_back_even_for_the_stop_fault() {
        let steps = [
            Step::Start,
            Step::InForce,
            Step::Failed,
            Step::Lost,
            Step::Stop,
        ];
        for verb in ["partition", "kill", "pause", "stop", "loss", "rate"] {
            for step in steps {
                assert_eq!(Step::parse(&step.f(verb)), Some((step, verb)));
            }
        }
        assert_eq!(Step::parse("read"), None);
        assert_eq!(Step::parse("start"), None);
        assert_eq!(Step::parse("start-"), None);
    }

    #[test]
    fn events_become_the_ops_and_lines_a_run_has_always_written() {
        let value = json!("n1,n2 | n3");
        let started = Event::Started {
            verb: "partition",
            value: value.clone(),
        };
        assert_eq!(
            started.op(),
            Some(NemesisOp {
                f: "start-partition".into(),
                value: value.clone(),
                error: None
            })
        );
        assert_eq!(started.line(), None);
        let in_force = Event::InForce {
            verb: "partition",
            value: value.clone(),
            ms: 12,
        };
        assert_eq!(in_force.op().unwrap().value, json!({"ms": 12}));
        assert_eq!(
            in_force.line().unwrap(),
            "nemesis: start-partition n1,n2 | n3"
        );
        let failed = Event::Failed {
            verb: "kill",
            ms: 3,
            error: "boom".into(),
        };
        assert_eq!(failed.op().unwrap().f, "kill-failed");
        assert_eq!(failed.line().unwrap(), "nemesis: start-kill: boom");
        let healed = Event::Healed {
            verb: "pause",
            error: None,
        };
        assert_eq!(
            (healed.op().unwrap().f, healed.op().unwrap().value),
            ("stop-pause".to_string(), Value::Null)
        );
        assert_eq!(healed.line(), None, "a heal that worked is not news");
        assert_eq!(
            Event::Skipped {
                fault: "partition-bridge".into(),
                why: "too few".into()
            }
            .op(),
            None
        );
    }
}
