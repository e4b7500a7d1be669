use super::*;
use crate::history::{Op, PairError};
use serde_json::json;

/// Builds histories by hand: indices and times follow insertion order.
#[derive(Default)]
struct Builder {
    ops: Vec<Op>,
}

impl Builder {
    fn push(&mut self, process: Process, kind: OpType, f: &str, value: Value) -> u64 {
        let index = self.ops.len() as u64;
        self.ops.push(Op {
            index,
            time: index * 1000,
            process,
            kind,
            f: f.to_string(),
            key: None,
            value,
            node: None,
            error: None,
        });
        index
    }

    fn invoke(&mut self, p: u64, f: &str, value: Value) -> u64 {
        self.push(Process::Client(p), OpType::Invoke, f, value)
    }

    fn complete(&mut self, p: u64, kind: OpType, f: &str, value: Value) -> u64 {
        self.push(Process::Client(p), kind, f, value)
    }

    /// A whole op: invocation immediately followed by its completion.
    fn op(&mut self, p: u64, kind: OpType, f: &str, invoke: Value, done: Value) -> u64 {
        self.invoke(p, f, invoke);
        self.complete(p, kind, f, done)
    }

    fn enqueue(&mut self, p: u64, kind: OpType, element: i64) -> u64 {
        self.op(p, kind, "enqueue", json!(element), json!(element))
    }

    fn dequeue(&mut self, p: u64, element: Value) -> u64 {
        self.op(p, OpType::Ok, "dequeue", Value::Null, element)
    }

    fn drain(&mut self, p: u64, elements: Value) -> u64 {
        self.op(p, OpType::Ok, "drain", Value::Null, elements)
    }

    fn history(&self) -> History {
        History::new(self.ops.clone())
    }

    fn check(&self) -> QueueReport {
        check_queue(&self.history(), &QueueOptions::default()).expect("checkable")
    }
}

#[test]
fn a_clean_history_is_valid() {
    let mut h = Builder::default();
    h.enqueue(0, OpType::Ok, 1);
    h.enqueue(1, OpType::Ok, 2);
    h.enqueue(0, OpType::Fail, 3);
    h.dequeue(1, json!(1));
    h.op(0, OpType::Ok, "dequeue", Value::Null, Value::Null);
    h.op(0, OpType::Fail, "dequeue", Value::Null, Value::Null);
    h.drain(2, json!([2]));
    let r = h.check();
    assert_eq!(r.validity, Validity::Valid, "{r:?}");
    assert_eq!((r.attempted, r.acknowledged, r.dequeued), (3, 2, 2));
    assert!(r.drained);
    for set in [
        &r.lost,
        &r.pending,
        &r.duplicated,
        &r.unexpected,
        &r.recovered,
    ] {
        assert!(set.is_empty(), "{r:?}");
    }
    assert!(r.failed_but_dequeued.is_empty());
}

#[test]
fn an_empty_history_is_valid() {
    let r = Builder::default().check();
    assert_eq!(r.validity, Validity::Valid);
    assert!(!r.drained);
}

#[test]
fn acknowledged_element_missing_from_the_drain_is_lost() {
    let mut h = Builder::default();
    h.enqueue(0, OpType::Ok, 1);
    let ack = h.enqueue(0, OpType::Ok, 2);
    h.enqueue(0, OpType::Ok, 3);
    h.dequeue(1, json!(1));
    h.drain(1, json!([3]));
    let r = h.check();
    assert_eq!(r.validity, Validity::Invalid);
    assert_eq!(r.lost.count, 1);
    let ex = &r.lost.examples[0];
    assert_eq!(ex.element, json!(2));
    assert_eq!(ex.index, ack);
    assert_eq!(ex.enqueues[0].process, Process::Client(0));
    assert_eq!(ex.enqueues[0].outcome, OpType::Ok);
    assert_eq!(ex.times_dequeued, 0);
    assert!(r.pending.is_empty());
}

#[test]
fn without_a_drain_unconsumed_acks_are_pending_and_unknown() {
    let mut h = Builder::default();
    h.enqueue(0, OpType::Ok, 1);
    h.enqueue(0, OpType::Ok, 2);
    h.dequeue(1, json!(1));
    let r = h.check();
    assert_eq!(r.validity, Validity::Unknown);
    assert!(!r.drained);
    assert!(r.lost.is_empty());
    assert_eq!(r.pending.count, 1);
    assert_eq!(r.pending.examples[0].element, json!(2));
}

#[test]
fn an_ack_that_completes_after_the_drain_began_is_pending_not_lost() {
    let mut h = Builder::default();
    h.invoke(0, "enqueue", json!(7));
    h.invoke(1, "drain", Value::Null);
    h.complete(0, OpType::Ok, "enqueue", json!(7));
    h.complete(1, OpType::Ok, "drain", json!([]));
    let r = h.check();
    assert!(r.lost.is_empty(), "{r:?}");
    assert_eq!(r.pending.count, 1);
    assert_eq!(r.validity, Validity::Unknown);
}

#[test]
fn an_element_dequeued_twice_is_duplicated() {
    let mut h = Builder::default();
    h.enqueue(0, OpType::Ok, 1);
    h.enqueue(0, OpType::Ok, 2);
    let first = h.dequeue(1, json!(1));
    let second = h.dequeue(1, json!(1));
    h.drain(2, json!([2, 1]));
    let r = h.check();
    assert_eq!(r.validity, Validity::Invalid);
    assert_eq!(r.duplicated.count, 1);
    let ex = &r.duplicated.examples[0];
    assert_eq!(ex.element, json!(1));
    assert_eq!(ex.times_dequeued, 3);
    assert_eq!(ex.index, second);
    assert_eq!(ex.dequeued_by[..2], [first, second]);
    assert_eq!(r.dequeued, 4);
}

#[test]
fn at_least_once_queues_may_duplicate() {
    let mut h = Builder::default();
    h.enqueue(0, OpType::Ok, 1);
    h.dequeue(1, json!(1));
    h.drain(1, json!([1]));
    let r = check_queue(
        &h.history(),
        &QueueOptions {
            allow_duplicates: true,
        },
    )
    .unwrap();
    assert_eq!(r.validity, Validity::Valid);
    assert_eq!(r.duplicated.count, 1, "still reported");
}

#[test]
fn an_element_enqueued_twice_may_come_out_twice() {
    let mut h = Builder::default();
    h.enqueue(0, OpType::Ok, 1);
    h.enqueue(0, OpType::Ok, 1);
    h.drain(1, json!([1, 1]));
    assert_eq!(h.check().validity, Validity::Valid);
}

#[test]
fn an_element_never_enqueued_is_unexpected() {
    let mut h = Builder::default();
    h.enqueue(0, OpType::Ok, 1);
    h.dequeue(1, json!(1));
    let odd = h.dequeue(1, json!({"b": 2, "a": 1}));
    h.drain(1, json!([]));
    let r = h.check();
    assert_eq!(r.validity, Validity::Invalid);
    assert_eq!(r.unexpected.count, 1);
    assert_eq!(r.unexpected.examples[0].index, odd);
    assert_eq!(r.unexpected.examples[0].element, json!({"a": 1, "b": 2}));
    assert!(r.unexpected.examples[0].enqueues.is_empty());
}

#[test]
fn an_indeterminate_enqueue_that_comes_out_is_recovered() {
    let mut h = Builder::default();
    h.enqueue(0, OpType::Info, 1);
    h.invoke(1, "enqueue", json!(2)); // never completes
    let out = h.drain(2, json!([2, 1]));
    let r = h.check();
    assert_eq!(r.validity, Validity::Valid, "{r:?}");
    assert_eq!(r.recovered.count, 2);
    assert_eq!(r.recovered.examples[0].index, out);
    let never = r
        .recovered
        .examples
        .iter()
        .find(|e| e.element == json!(2))
        .unwrap();
    assert_eq!(never.enqueues[0].outcome, OpType::Info);
    assert_eq!(never.enqueues[0].completion, None);
}

#[test]
fn a_failed_enqueue_that_comes_out_is_invalid() {
    let mut h = Builder::default();
    let enq = h.enqueue(0, OpType::Fail, 5);
    let out = h.dequeue(1, json!(5));
    h.drain(1, json!([]));
    let r = h.check();
    assert_eq!(r.validity, Validity::Invalid);
    assert_eq!(r.failed_but_dequeued.count, 1);
    let ex = &r.failed_but_dequeued.examples[0];
    assert_eq!((ex.index, ex.element.clone()), (out, json!(5)));
    assert_eq!(ex.enqueues[0].completion, Some(enq));
    assert!(r.recovered.is_empty() && r.unexpected.is_empty());
}

#[test]
fn a_loss_an_indeterminate_dequeue_explains_is_unknown() {
    let mut h = Builder::default();
    h.enqueue(0, OpType::Ok, 1);
    h.enqueue(0, OpType::Ok, 2);
    h.op(1, OpType::Info, "dequeue", Value::Null, Value::Null);
    h.drain(2, json!([2]));
    let r = h.check();
    assert_eq!(r.lost.count, 1);
    assert_eq!(r.indeterminate_dequeues, 1);
    assert_eq!(r.validity, Validity::Unknown);

    // Two losses are more than one indeterminate dequeue can explain.
    let mut h = Builder::default();
    h.enqueue(0, OpType::Ok, 1);
    h.enqueue(0, OpType::Ok, 2);
    h.op(1, OpType::Info, "dequeue", Value::Null, Value::Null);
    h.drain(2, json!([]));
    assert_eq!(h.check().validity, Validity::Invalid);
}

#[test]
fn an_indeterminate_op_after_the_drain_explains_nothing() {
    let mut h = Builder::default();
    h.enqueue(0, OpType::Ok, 1);
    h.drain(1, json!([]));
    h.op(2, OpType::Info, "drain", Value::Null, Value::Null);
    let r = h.check();
    assert_eq!((r.indeterminate_dequeues, r.indeterminate_drains), (0, 0));
    assert_eq!(r.validity, Validity::Invalid);
}

#[test]
fn nemesis_and_other_ops_are_ignored() {
    let mut h = Builder::default();
    h.push(
        Process::Nemesis,
        OpType::Info,
        "start-partition",
        json!("majority"),
    );
    h.enqueue(0, OpType::Ok, 1);
    h.op(0, OpType::Ok, "size", Value::Null, json!(1));
    h.push(
        Process::Nemesis,
        OpType::Info,
        "stop-partition",
        Value::Null,
    );
    h.drain(1, json!([1]));
    let r = h.check();
    assert_eq!(r.validity, Validity::Valid);
    assert_eq!(r.attempted, 1);
}

#[test]
fn examples_are_the_first_eight_by_op_index() {
    let mut h = Builder::default();
    let acks: Vec<u64> = (0..12).rev().map(|e| h.enqueue(0, OpType::Ok, e)).collect();
    h.drain(1, json!([]));
    let r = h.check();
    assert_eq!(r.lost.count, 12);
    let shown: Vec<u64> = r.lost.examples.iter().map(|e| e.index).collect();
    assert_eq!(shown, acks[..MAX_EXAMPLES]);
}

#[test]
fn malformed_values_are_errors_not_panics() {
    let mut h = Builder::default();
    h.enqueue(0, OpType::Ok, 1);
    let bad = h.drain(1, json!(1));
    let err = check_queue(&h.history(), &QueueOptions::default()).unwrap_err();
    assert!(matches!(err, CheckError::Malformed { index, .. } if index == bad));
    assert!(
        err.to_string()
            .starts_with(&format!("op {bad}: drain ok value")),
        "{err}"
    );

    let mut h = Builder::default();
    h.op(0, OpType::Ok, "enqueue", Value::Null, Value::Null);
    let err = check_queue(&h.history(), &QueueOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "op 0: enqueue of null: null is what an empty dequeue returns"
    );
}

#[test]
fn unpaired_ops_are_pair_errors() {
    let mut h = Builder::default();
    h.complete(3, OpType::Ok, "dequeue", json!(1));
    let err = check_queue(&h.history(), &QueueOptions::default()).unwrap_err();
    assert!(
        matches!(err, CheckError::Pair(PairError { index: 0, .. })),
        "{err}"
    );
}

#[test]
fn the_report_round_trips_through_json() {
    let mut h = Builder::default();
    h.enqueue(0, OpType::Fail, 1);
    h.dequeue(1, json!(1));
    let r = h.check();
    let text = serde_json::to_string(&r).unwrap();
    assert!(
        text.contains("\"failed-but-dequeued\":{\"count\":1"),
        "{text}"
    );
    assert_eq!(serde_json::from_str::<QueueReport>(&text).unwrap(), r);
}

mod simulation {
    use super::*;
    use crate::synth::Rng;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    struct Busy {
        f: &'static str,
        element: i64,
        outcome: OpType,
        /// Whether the op takes effect (always for ok, never for fail).
        effective: bool,
        done: bool,
        result: Value,
    }

    struct Worker {
        process: u64,
        busy: Option<Busy>,
    }

    /// A correct queue driven by concurrent workers whose ops take effect
    /// at a random moment between invocation and completion.
    struct Sim {
        rng: Rng,
        h: Builder,
        queue: VecDeque<i64>,
        workers: Vec<Worker>,
        next_process: u64,
        next_element: i64,
        /// An info dequeue took an element nobody saw.
        silent_take: bool,
    }

    impl Sim {
        fn new(seed: u64, workers: u64) -> Self {
            Sim {
                rng: Rng::new(seed),
                h: Builder::default(),
                queue: VecDeque::new(),
                workers: (0..workers)
                    .map(|p| Worker {
                        process: p,
                        busy: None,
                    })
                    .collect(),
                next_process: workers,
                next_element: 0,
                silent_take: false,
            }
        }

        fn step(&mut self) {
            let w = self.rng.below(self.workers.len() as u64) as usize;
            match &self.workers[w].busy {
                None => self.invoke(w),
                Some(b) if b.effective && !b.done => self.take_effect(w),
                Some(_) => self.complete(w),
            }
        }

        fn invoke(&mut self, w: usize) {
            let outcome = match self.rng.below(10) {
                0 | 1 => OpType::Fail,
                2 | 3 => OpType::Info,
                _ => OpType::Ok,
            };
            let effective = match outcome {
                OpType::Ok => true,
                OpType::Fail => false,
                _ => self.rng.chance(50),
            };
            let (f, value) = if self.rng.chance(55) {
                self.next_element += 1;
                ("enqueue", json!(self.next_element))
            } else {
                ("dequeue", Value::Null)
            };
            let element = self.next_element;
            self.h.invoke(self.workers[w].process, f, value);
            let done = !effective;
            self.workers[w].busy = Some(Busy {
                f,
                element,
                outcome,
                effective,
                done,
                result: Value::Null,
            });
        }

        fn take_effect(&mut self, w: usize) {
            let busy = self.workers[w].busy.as_mut().unwrap();
            busy.done = true;
            if busy.f == "enqueue" {
                self.queue.push_back(busy.element);
            } else if let Some(e) = self.queue.pop_front() {
                busy.result = json!(e);
                self.silent_take |= busy.outcome == OpType::Info;
            }
        }

        fn complete(&mut self, w: usize) {
            let busy = self.workers[w].busy.take().unwrap();
            let process = self.workers[w].process;
            let value = match (busy.f, busy.outcome) {
                ("enqueue", _) => json!(busy.element),
                (_, OpType::Ok) => busy.result,
                _ => Value::Null,
            };
            self.h.complete(process, busy.outcome, busy.f, value);
            if busy.outcome == OpType::Info {
                self.workers[w].process = self.next_process;
                self.next_process += 1;
            }
        }

        /// Open ops may take effect, then complete or stay open forever
        /// (an ok op only completes once it took effect); then one drain.
        fn finish(&mut self) -> u64 {
            for w in 0..self.workers.len() {
                let Some(busy) = &self.workers[w].busy else {
                    continue;
                };
                if busy.effective && !busy.done && self.rng.chance(50) {
                    self.take_effect(w);
                }
                let busy = self.workers[w].busy.as_ref().unwrap();
                let may_complete = busy.done || busy.outcome != OpType::Ok;
                if may_complete && self.rng.chance(50) {
                    self.complete(w);
                } else if busy.f == "dequeue" && !busy.result.is_null() {
                    self.silent_take = true;
                }
            }
            let drained: Vec<i64> = self.queue.drain(..).collect();
            self.h.drain(self.next_process, json!(drained))
        }
    }

    fn run(seed: u64, workers: u64, steps: usize) -> (Sim, u64) {
        let mut sim = Sim::new(seed, workers);
        for _ in 0..steps {
            sim.step();
        }
        let drain = sim.finish();
        (sim, drain)
    }

    fn drain_items(h: &mut Builder, drain: u64) -> &mut Vec<Value> {
        match &mut h.ops[drain as usize].value {
            Value::Array(items) => items,
            other => panic!("drain value {other}"),
        }
    }

    /// A seed the property test once drew: more losses than the report
    /// shows examples of, the dropped element among those not shown.
    #[test]
    fn a_dropped_ack_past_the_example_cap_is_still_counted() {
        let (mut sim, drain) = run(4769681286561976515, 2, 147);
        let acked: Vec<Value> = sim
            .h
            .ops
            .iter()
            .filter(|op| op.f == "enqueue" && op.kind == OpType::Ok)
            .map(|op| op.value.clone())
            .collect();
        let items = drain_items(&mut sim.h, drain);
        let pos = items.iter().position(|v| acked.contains(v)).unwrap();
        items.remove(pos);
        let r = sim.h.check();
        assert!(r.lost.count > r.lost.examples.len(), "{r:?}");
        assert_ne!(r.validity, Validity::Valid);
    }

    proptest! {
        #[test]
        fn a_correct_queue_passes(seed in any::<u64>(), workers in 1u64..5, steps in 0usize..150) {
            let (sim, _) = run(seed, workers, steps);
            let r = sim.h.check();
            prop_assert!(r.duplicated.is_empty() && r.unexpected.is_empty(), "{:?}", r);
            prop_assert!(r.failed_but_dequeued.is_empty() && r.pending.is_empty(), "{:?}", r);
            if sim.silent_take {
                prop_assert_ne!(r.validity, Validity::Invalid, "{:?}", r);
            } else {
                prop_assert_eq!(r.validity, Validity::Valid, "{:?}", r);
            }
        }

        #[test]
        fn a_dropped_ack_is_caught(seed in any::<u64>(), workers in 1u64..5, steps in 0usize..150) {
            let (mut sim, drain) = run(seed, workers, steps);
            let acked = sim.h.ops.iter().filter(|op| op.f == "enqueue" && op.kind == OpType::Ok)
                .map(|op| op.value.clone()).collect::<Vec<_>>();
            let items = drain_items(&mut sim.h, drain);
            let Some(pos) = items.iter().position(|v| acked.contains(v)) else { return Ok(()) };
            let dropped = items.remove(pos);
            let r = sim.h.check();
            // Examples are capped: past the cap the dropped one may be among
            // the losses counted but not shown.
            let shown = r.lost.examples.iter().any(|e| e.element == dropped);
            prop_assert!(shown || r.lost.examples.len() < r.lost.count, "{:?}", r);
            if !sim.silent_take {
                prop_assert_eq!(r.lost.count, 1);
            }
            if r.indeterminate_dequeues == 0 && r.indeterminate_drains == 0 {
                prop_assert_eq!(r.validity, Validity::Invalid);
            } else {
                prop_assert_ne!(r.validity, Validity::Valid);
            }
        }

        #[test]
        fn a_duplicate_is_caught(seed in any::<u64>(), workers in 1u64..5, steps in 0usize..150) {
            let (mut sim, drain) = run(seed, workers, steps);
            let out = sim.h.ops.iter().filter(|op| op.kind == OpType::Ok && op.f != "enqueue")
                .flat_map(|op| match &op.value { Value::Array(a) => a.clone(), v => vec![v.clone()] })
                .find(|v| !v.is_null());
            let Some(again) = out else { return Ok(()) };
            drain_items(&mut sim.h, drain).push(again.clone());
            let r = sim.h.check();
            prop_assert_eq!(r.validity, Validity::Invalid);
            prop_assert_eq!(r.duplicated.count, 1);
            prop_assert_eq!(&r.duplicated.examples[0].element, &again);
            let lenient = check_queue(&sim.h.history(), &QueueOptions { allow_duplicates: true }).unwrap();
            prop_assert_ne!(lenient.validity, Validity::Invalid);
        }
    }
}
