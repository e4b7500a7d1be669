//! Histories made by running a real sequential object under random
//! concurrency: each op takes effect atomically at a random moment between
//! its invocation and its completion, so the history is linearizable by
//! construction; a crash (info) may come before or after that moment, and a
//! refused op (fail) never took effect.
//!
//! Asked for anomalies, some ops instead take effect on an earlier state of
//! the object, which is then thrown away (a stale read, a lost write, a
//! dequeue of an element already gone), or take effect and are reported
//! failed. Those histories may or may not still be linearizable: what the
//! differential test needs, both verdicts from one generator.

use super::Rng;
use crate::history::{History, Op, OpType, Process};
use serde_json::Value;
use std::collections::VecDeque;

/// A sequential object: what clients invoke, and its effect.
pub trait Object: Clone + PartialEq {
    /// The next invocation: `f`, `key` and `value`. `serial` is unique to
    /// the invocation, for values that must be told apart.
    fn invoke(&mut self, rng: &mut Rng, serial: u64) -> (String, Option<Value>, Value);
    /// Applies an invocation atomically: the completion's type and value.
    fn apply(&mut self, f: &str, key: &Option<Value>, value: &Value) -> (OpType, Value);
}

/// How the clients run.
#[derive(Clone, Copy, Debug)]
pub struct Simulation {
    pub seed: u64,
    /// Clients running at once (at least 1).
    pub workers: u64,
    /// Scheduling decisions: each invokes, applies or completes one op.
    pub steps: usize,
    /// Keys (or registers) the object's ops spread over, where it has keys.
    pub keys: u64,
    /// Percent of completions that are crashes (info).
    pub crash_percent: u64,
    /// Percent of completions of ops not yet applied that are refusals (fail).
    pub fail_percent: u64,
    /// Percent of effects that are anomalies; 0 keeps the history
    /// linearizable.
    pub anomaly_percent: u64,
}

impl Simulation {
    /// Linearizable histories as the property tests have always made them:
    /// 8% crashes, no refusals, no anomalies, three keys.
    pub fn linearizable(seed: u64, workers: u64, steps: usize) -> Self {
        Simulation {
            seed,
            workers,
            steps,
            keys: 3,
            crash_percent: 8,
            fail_percent: 0,
            anomaly_percent: 0,
        }
    }
}

struct Pending {
    invoke: Op,
    applied: Option<(OpType, Value)>,
}

/// Earlier states kept for stale effects, each unlike the next.
const PAST_STATES: usize = 8;

/// Runs `object` under `sim`. Without refusals and anomalies, a seed gives
/// the history it always gave (the property tests' regressions rely on it).
pub fn simulate<O: Object>(mut object: O, sim: &Simulation) -> History {
    let workers = sim.workers.max(1);
    let mut rng = Rng::new(sim.seed);
    let mut ops: Vec<Op> = Vec::new();
    let mut process: Vec<u64> = (0..workers).collect();
    let mut pending: Vec<Option<Pending>> = (0..workers).map(|_| None).collect();
    let mut next_process = workers;
    let mut past: VecDeque<O> = VecDeque::new();
    for serial in 0..sim.steps as u64 {
        let w = rng.below(workers) as usize;
        let p = process[w];
        let Some(mut op) = pending[w].take() else {
            let (f, key, value) = object.invoke(&mut rng, serial);
            let invoke = record(&mut ops, p, OpType::Invoke, &f, &key, value);
            pending[w] = Some(Pending {
                invoke,
                applied: None,
            });
            continue;
        };
        let crash = rng.chance(sim.crash_percent);
        let unapplied = op.applied.is_none() && !crash;
        if unapplied && sim.fail_percent > 0 && rng.chance(sim.fail_percent) {
            // Refused before it took effect: certainly did not happen.
            let Op { f, key, value, .. } = &op.invoke;
            record(&mut ops, p, OpType::Fail, f, key, value.clone());
        } else if unapplied && rng.chance(60) {
            op.applied = Some(take_effect(
                &mut object,
                &mut past,
                &op.invoke,
                sim,
                &mut rng,
            ));
            pending[w] = Some(op);
        } else if crash {
            // Unknown outcome: the worker carries on as a new process.
            let Op { f, key, value, .. } = &op.invoke;
            record(&mut ops, p, OpType::Info, f, key, value.clone());
            process[w] = next_process;
            next_process += 1;
        } else if let Some((kind, value)) = op.applied.clone() {
            record(&mut ops, p, kind, &op.invoke.f, &op.invoke.key, value);
        } else {
            pending[w] = Some(op);
        }
    }
    History::new(ops)
}

/// The op's effect on the object, or, as an anomaly, on an earlier state
/// (thrown away after) or reported failed although it took effect.
fn take_effect<O: Object>(
    object: &mut O,
    past: &mut VecDeque<O>,
    invoke: &Op,
    sim: &Simulation,
    rng: &mut Rng,
) -> (OpType, Value) {
    let Op { f, key, value, .. } = invoke;
    if sim.anomaly_percent == 0 {
        return object.apply(f, key, value);
    }
    let anomaly = rng.chance(sim.anomaly_percent);
    if anomaly && !past.is_empty() && rng.chance(67) {
        let mut earlier = past[rng.below(past.len() as u64) as usize].clone();
        return earlier.apply(f, key, value);
    }
    let before = object.clone();
    let effect = object.apply(f, key, value);
    // Only states that differ from the current one make effects stale.
    if *object != before {
        past.push_back(before);
        if past.len() > PAST_STATES {
            past.pop_front();
        }
    }
    match effect {
        (OpType::Ok, _) if anomaly => (OpType::Fail, value.clone()),
        effect => effect,
    }
}

fn record(
    ops: &mut Vec<Op>,
    process: u64,
    kind: OpType,
    f: &str,
    key: &Option<Value>,
    value: Value,
) -> Op {
    let index = ops.len() as u64;
    let op = Op {
        index,
        time: index * 1000,
        process: Process::Client(process),
        kind,
        f: f.to_string(),
        key: key.clone(),
        value,
        node: None,
        error: None,
    };
    ops.push(op.clone());
    op
}
