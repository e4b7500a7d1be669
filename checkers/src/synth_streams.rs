//! Synthetic log and queue histories, valid by construction, for the scale
//! targets of the log and queue checkers: concurrent clients whose ops take
//! effect at a random moment of their span, some ending `info` (timed out)
//! or `fail`, and a final read (log) or drain (queue) once every client is
//! done, as `chaos run` records them.

use crate::history::{History, Op, OpType, Process};
use crate::synth::Rng;
use serde_json::{json, Value};
use std::collections::VecDeque;

#[derive(Clone, Copy, Debug)]
pub struct LogSpec {
    /// Client operations (invocations), final reads aside.
    pub ops: u64,
    /// Logs (keys, as streams or partitions).
    pub logs: u64,
    pub producers: u64,
    pub consumers: u64,
    /// Percent of ops that end `info`: appends may or may not have taken
    /// effect; a poll's entries are not seen (its consumer goes on as a
    /// fresh process).
    pub info_percent: u64,
    /// Percent of appends that end `fail` (never appended).
    pub fail_percent: u64,
    /// A poll returns up to this many entries.
    pub poll_max: u64,
    pub seed: u64,
}

impl LogSpec {
    /// The scale target's shape: 1,000,000 ops on 8 logs, 10 producers and
    /// 10 consumers, 2 % timeouts, 1 % failed appends, polls of up to 8.
    pub fn million() -> Self {
        LogSpec {
            ops: 1_000_000,
            logs: 8,
            producers: 10,
            consumers: 10,
            info_percent: 2,
            fail_percent: 1,
            poll_max: 8,
            seed: 1,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct QueueSpec {
    /// Client operations (invocations), the final drain aside.
    pub ops: u64,
    pub producers: u64,
    pub consumers: u64,
    /// Percent of ops that end `info`: an enqueue may or may not have taken
    /// effect; a dequeue did not (so the verdict stays `valid`).
    pub info_percent: u64,
    pub seed: u64,
}

impl QueueSpec {
    /// The scale target's shape: 1,000,000 ops, 10 producers and 10
    /// consumers, 2 % timeouts.
    pub fn million() -> Self {
        QueueSpec {
            ops: 1_000_000,
            producers: 10,
            consumers: 10,
            info_percent: 2,
            seed: 1,
        }
    }
}

/// One client: its process, and the op in flight with its effect once
/// it took place (the completion's value).
struct Client {
    process: u64,
    producer: bool,
    pending: Option<Pending>,
}

struct Pending {
    f: &'static str,
    key: Option<Value>,
    value: Value,
    effect: Option<Value>,
}

/// The history being written: ops with increasing index and time.
#[derive(Default)]
struct Recorder {
    ops: Vec<Op>,
    next_process: u64,
}

impl Recorder {
    fn record(&mut self, process: u64, kind: OpType, f: &str, key: &Option<Value>, value: Value) {
        let index = self.ops.len() as u64;
        self.ops.push(Op {
            index,
            time: index * 1_000,
            process: Process::Client(process),
            kind,
            f: f.to_string(),
            key: key.clone(),
            value,
            node: None,
            error: None,
        });
    }

    fn clients(&mut self, producers: u64, consumers: u64) -> Vec<Client> {
        (0..producers + consumers)
            .map(|i| Client {
                process: self.fresh_process(),
                producer: i < producers,
                pending: None,
            })
            .collect()
    }

    fn fresh_process(&mut self) -> u64 {
        self.next_process += 1;
        self.next_process - 1
    }
}

/// What a step does to a client, drawn at random: invoke when idle, else
/// let the op take effect, or complete it.
enum Step {
    Invoke,
    TakeEffect,
    Complete,
    Wait,
}

fn step(rng: &mut Rng, client: &Client, may_invoke: bool) -> Step {
    match &client.pending {
        None if may_invoke => Step::Invoke,
        None => Step::Wait,
        Some(p) if p.effect.is_none() && rng.below(2) == 0 => Step::TakeEffect,
        Some(_) if rng.below(2) == 0 => Step::Complete,
        Some(_) => Step::Wait,
    }
}

/// A log history over `spec.logs` logs; every acknowledged append is
/// read back by the final reads, so the log checker finds it `valid`.
pub fn log_history(spec: &LogSpec) -> History {
    let mut rng = Rng::new(spec.seed);
    let mut out = Recorder::default();
    let mut clients = out.clients(spec.producers, spec.consumers);
    let mut logs: Vec<Vec<u64>> = vec![Vec::new(); spec.logs as usize];
    // Each consumer's read position in each log (kept across a timed-out
    // poll: the entries it took are lost to it, the log goes on).
    let mut positions: rustc_hash::FxHashMap<(usize, u64), usize> = Default::default();
    let (mut invoked, mut next_value) = (0, 0u64);
    while invoked < spec.ops || clients.iter().any(|c| c.pending.is_some()) {
        let slot = rng.below(clients.len() as u64) as usize;
        let client = &mut clients[slot];
        match step(&mut rng, client, invoked < spec.ops) {
            Step::Invoke => {
                invoked += 1;
                let log = rng.below(spec.logs);
                let (f, value) = if client.producer {
                    next_value += 1;
                    ("append", json!(next_value))
                } else {
                    ("poll", Value::Null)
                };
                let key = Some(json!(log));
                out.record(client.process, OpType::Invoke, f, &key, value.clone());
                client.pending = Some(Pending {
                    f,
                    key,
                    value,
                    effect: None,
                });
            }
            Step::TakeEffect => {
                let p = client.pending.as_mut().expect("an op is in flight");
                let log = p.key.as_ref().and_then(Value::as_u64).unwrap_or(0);
                let entries = &mut logs[log as usize];
                p.effect = Some(if p.f == "append" {
                    let value = p.value.as_u64().unwrap_or(0);
                    entries.push(value);
                    json!([entries.len() - 1, value])
                } else {
                    let at = positions.entry((slot, log)).or_insert(0);
                    let end = entries
                        .len()
                        .min(*at + 1 + rng.below(spec.poll_max) as usize);
                    let read: Vec<Value> = (*at..end).map(|o| json!([o, entries[o]])).collect();
                    *at = end;
                    Value::Array(read)
                });
            }
            Step::Complete => {
                let p = client.pending.take().expect("an op is in flight");
                let failed = p.f == "append" && p.effect.is_none() && rng.chance(spec.fail_percent);
                if failed {
                    out.record(client.process, OpType::Fail, p.f, &p.key, p.value);
                } else if rng.chance(spec.info_percent) {
                    // Timed out, before or after taking effect: a fresh process goes on.
                    out.record(client.process, OpType::Info, p.f, &p.key, p.value);
                    client.process = out.fresh_process();
                } else if let Some(effect) = p.effect {
                    out.record(client.process, OpType::Ok, p.f, &p.key, effect);
                } else {
                    // Not yet taken effect: it does now, and is acknowledged next.
                    client.pending = Some(p);
                }
            }
            Step::Wait => {}
        }
    }
    // The final reads, each by a fresh process: every log, whole.
    for (log, entries) in logs.iter().enumerate() {
        let process = out.fresh_process();
        let key = Some(json!(log));
        out.record(process, OpType::Invoke, "final-read", &key, Value::Null);
        let read: Vec<Value> = entries
            .iter()
            .enumerate()
            .map(|(o, v)| json!([o, v]))
            .collect();
        out.record(process, OpType::Ok, "final-read", &key, Value::Array(read));
    }
    History::new(out.ops)
}

/// A queue history; every acknowledged element comes out once, by a
/// dequeue or the final drain, so the queue checker finds it `valid`.
pub fn queue_history(spec: &QueueSpec) -> History {
    let mut rng = Rng::new(spec.seed);
    let mut out = Recorder::default();
    let mut clients = out.clients(spec.producers, spec.consumers);
    let mut queue: VecDeque<u64> = VecDeque::new();
    let (mut invoked, mut next_value) = (0, 0u64);
    while invoked < spec.ops || clients.iter().any(|c| c.pending.is_some()) {
        let slot = rng.below(clients.len() as u64) as usize;
        let client = &mut clients[slot];
        match step(&mut rng, client, invoked < spec.ops) {
            Step::Invoke => {
                invoked += 1;
                let (f, value) = if client.producer {
                    next_value += 1;
                    ("enqueue", json!(next_value))
                } else {
                    ("dequeue", Value::Null)
                };
                out.record(client.process, OpType::Invoke, f, &None, value.clone());
                client.pending = Some(Pending {
                    f,
                    key: None,
                    value,
                    effect: None,
                });
            }
            Step::TakeEffect => {
                let p = client.pending.as_mut().expect("an op is in flight");
                if p.f == "enqueue" {
                    queue.push_back(p.value.as_u64().unwrap_or(0));
                    p.effect = Some(p.value.clone());
                } else {
                    p.effect = Some(queue.pop_front().map_or(Value::Null, |v| json!(v)));
                }
            }
            Step::Complete => {
                let p = client.pending.take().expect("an op is in flight");
                // A dequeue that took an element is acknowledged: one that
                // timed out then would lose the element for good.
                let may_time_out = p.f == "enqueue" || p.effect.is_none();
                if may_time_out && rng.chance(spec.info_percent) {
                    out.record(client.process, OpType::Info, p.f, &None, p.value);
                    client.process = out.fresh_process();
                } else if let Some(effect) = p.effect {
                    out.record(client.process, OpType::Ok, p.f, &None, effect);
                } else {
                    client.pending = Some(p);
                }
            }
            Step::Wait => {}
        }
    }
    let process = out.fresh_process();
    out.record(process, OpType::Invoke, "drain", &None, Value::Null);
    let rest: Vec<Value> = queue.iter().map(|&v| json!(v)).collect();
    out.record(process, OpType::Ok, "drain", &None, Value::Array(rest));
    History::new(out.ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::check_log;
    use crate::queue::{check_queue, QueueOptions};
    use crate::Validity;

    fn invocations(h: &History) -> usize {
        h.ops.iter().filter(|o| o.kind == OpType::Invoke).count()
    }

    fn count(h: &History, f: &str, kind: OpType) -> usize {
        h.ops.iter().filter(|o| o.f == f && o.kind == kind).count()
    }

    #[test]
    fn a_generated_log_history_is_valid_concurrent_and_has_timeouts() {
        let spec = LogSpec {
            ops: 20_000,
            ..LogSpec::million()
        };
        let h = log_history(&spec);
        assert_eq!(invocations(&h), 20_000 + spec.logs as usize);
        for (f, kind) in [
            ("append", OpType::Ok),
            ("append", OpType::Info),
            ("append", OpType::Fail),
            ("poll", OpType::Ok),
            ("poll", OpType::Info),
        ] {
            assert!(count(&h, f, kind) > 0, "{f} {kind:?}");
        }
        let report = check_log(&h).unwrap();
        assert_eq!(report.validity, Validity::Valid, "{:?}", report.counts);
        assert_eq!(report.counts.produced, report.counts.delivered);
        assert!(report.counts.produced > 8_000);
        // Concurrent: ops overlap, not one after another.
        let pairs = h.pairs().unwrap();
        let overlapping = pairs
            .windows(2)
            .filter(|w| w[1].position < w[0].completion_position.unwrap_or(usize::MAX))
            .count();
        assert!(overlapping > pairs.len() / 2, "{overlapping}");
        assert_eq!(log_history(&spec), h, "one seed, one history");
    }

    #[test]
    fn a_generated_queue_history_is_valid_and_has_timeouts() {
        let spec = QueueSpec {
            ops: 20_000,
            ..QueueSpec::million()
        };
        let h = queue_history(&spec);
        assert_eq!(invocations(&h), 20_001);
        for (f, kind) in [
            ("enqueue", OpType::Ok),
            ("enqueue", OpType::Info),
            ("dequeue", OpType::Ok),
            ("dequeue", OpType::Info),
        ] {
            assert!(count(&h, f, kind) > 0, "{f} {kind:?}");
        }
        let report = check_queue(&h, &QueueOptions::default()).unwrap();
        assert_eq!(report.validity, Validity::Valid);
        assert!(report.recovered.count > 0, "timed-out enqueues came out");
        assert!(report.dequeued >= report.acknowledged);
        assert_eq!(queue_history(&spec), h, "one seed, one history");
    }
}
