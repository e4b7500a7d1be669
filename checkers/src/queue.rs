//! The total-queue checker: every acknowledged element comes out exactly once,
//! and nothing comes out that was never put in (Jepsen's `total-queue`).
//!
//! # Op conventions
//!
//! Only client ops count; nemesis ops and ops with other `f`s are ignored.
//!
//! - `enqueue`: the invocation's `value` is the element (any JSON value but
//!   `null`, usually a unique integer). `ok`: it is in the queue; `fail`: it
//!   certainly is not; `info` (or no completion at all): unknown.
//! - `dequeue`: invoked with `value` null. `ok` with a value: that element was
//!   dequeued. `ok` with `null`, or `fail`: nothing was dequeued (empty queue).
//!   `info`: it may have removed one element nobody saw.
//! - `drain`: `ok` value is the array of every element the drain dequeued
//!   (`null` is taken as an empty array). An `ok` drain leaves the queue empty,
//!   so the final drain after the cluster healed decides what was lost.
//!
//! Elements are compared by their JSON text (object keys sorted), so `1` and
//! `1.0` are different elements. An element enqueued several times may come
//! out as many times as it was enqueued without being a duplicate.
//!
//! # Verdict
//!
//! Invalid when an element was lost, duplicated (unless
//! [`QueueOptions::allow_duplicates`]), unexpected, or dequeued although its
//! enqueue failed. A loss is only certain if no indeterminate dequeue could
//! have taken the element silently: when every lost element can be blamed on
//! a dequeue or drain that ended `info`, the verdict is Unknown instead.
//! Acknowledged elements that were never dequeued but were not followed by an
//! `ok` drain are `pending`: Unknown, since nobody looked for them.

use crate::history::{History, Op, OpType, Pair, PairError, Process};
use crate::verdict::Validity;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// How many examples of each finding a report keeps.
pub const MAX_EXAMPLES: usize = 8;

/// Why a queue or log history could not be checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckError {
    /// Invocations and completions do not pair up.
    Pair(PairError),
    /// An op's value does not follow the conventions of the checker.
    Malformed { index: u64, message: String },
}

impl CheckError {
    pub(crate) fn malformed(op: &Op, message: impl Into<String>) -> Self {
        CheckError::Malformed {
            index: op.index,
            message: message.into(),
        }
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Pair(e) => e.fmt(f),
            CheckError::Malformed { index, message } => write!(f, "op {index}: {message}"),
        }
    }
}

impl std::error::Error for CheckError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CheckError::Pair(e) => Some(e),
            CheckError::Malformed { .. } => None,
        }
    }
}

impl From<PairError> for CheckError {
    fn from(e: PairError) -> Self {
        CheckError::Pair(e)
    }
}

/// How many times something was found, and the first examples by op index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Found<E> {
    pub count: usize,
    pub examples: Vec<E>,
}

impl<E> Default for Found<E> {
    fn default() -> Self {
        Found {
            count: 0,
            examples: Vec::new(),
        }
    }
}

impl<E> Found<E> {
    /// Keeps the count of `all` and its first [`MAX_EXAMPLES`] by `index`.
    pub(crate) fn from_all(mut all: Vec<E>, index: impl Fn(&E) -> u64) -> Self {
        // Stable, so examples anchored at the same op keep their discovery order.
        all.sort_by_key(|e| index(e));
        let count = all.len();
        all.truncate(MAX_EXAMPLES);
        Found {
            count,
            examples: all,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// Identity of a JSON value: its compact text with object keys sorted, so it
/// does not depend on how serde_json orders maps.
pub(crate) fn canonical(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let body: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical(v)))
                .collect();
            format!("{{{}}}", body.join(","))
        }
        Value::Array(items) => {
            let body: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", body.join(","))
        }
        other => other.to_string(),
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueOptions {
    /// At-least-once queues may deliver an element more than once: do not
    /// count duplicates against the verdict (they are still reported).
    pub allow_duplicates: bool,
}

/// One enqueue of an element, as an example shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnqueueRef {
    /// Index of the invocation.
    pub index: u64,
    pub process: Process,
    /// How it ended; `info` when it never completed.
    pub outcome: OpType,
    /// Index of the completion, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion: Option<u64>,
}

/// One element and what happened to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueExample {
    /// The op that shows the finding (examples are sorted by it): for `lost`
    /// and `pending` the first `ok` enqueue completion; for `duplicated` the
    /// dequeue that returned the element once too often; otherwise the first
    /// dequeue that returned it.
    pub index: u64,
    pub element: Value,
    /// Every enqueue of the element (the first [`MAX_EXAMPLES`]).
    pub enqueues: Vec<EnqueueRef>,
    /// Completion indices of the `ok` dequeues and drains that returned it
    /// (the first [`MAX_EXAMPLES`]).
    pub dequeued_by: Vec<u64>,
    pub times_dequeued: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueReport {
    pub validity: Validity,
    /// Enqueue invocations.
    pub attempted: usize,
    /// Enqueues that ended `ok`.
    pub acknowledged: usize,
    /// Elements returned by `ok` dequeues and drains, repeats included.
    pub dequeued: usize,
    /// Whether a drain completed `ok`: without one, loss cannot be decided.
    pub drained: bool,
    /// Dequeues ended `info` that could have removed an element unseen before
    /// the last `ok` drain completed (each at most one element).
    pub indeterminate_dequeues: usize,
    /// Drains ended `info` in the same window (each any number of elements).
    pub indeterminate_drains: usize,
    /// Acknowledged, enqueued before the last `ok` drain began, never dequeued.
    pub lost: Found<QueueExample>,
    /// Acknowledged and never dequeued, with no `ok` drain after the ack.
    pub pending: Found<QueueExample>,
    /// Dequeued more times than it was enqueued (with `times_dequeued`).
    pub duplicated: Found<QueueExample>,
    /// Dequeued, but never enqueued at all.
    pub unexpected: Found<QueueExample>,
    /// Enqueue ended `info` or never completed, and the element came out: fine.
    pub recovered: Found<QueueExample>,
    /// Enqueue failed, yet the element came out: a fail must have no effect.
    #[serde(rename = "failed-but-dequeued")]
    pub failed_but_dequeued: Found<QueueExample>,
}

/// Checks a total queue; see the module documentation for the conventions.
pub fn check_queue(history: &History, options: &QueueOptions) -> Result<QueueReport, CheckError> {
    let pairs = history.pairs()?;
    let ledger = Ledger::build(&pairs)?;
    Ok(ledger.report(options))
}

/// What happened to one element.
struct Element<'h> {
    value: &'h Value,
    enqueues: Vec<EnqueueRef>,
    /// Completion indices of the ok dequeues and drains that returned it.
    dequeues: Vec<u64>,
}

impl Element<'_> {
    fn count(&self, outcome: OpType) -> usize {
        self.enqueues
            .iter()
            .filter(|e| e.outcome == outcome)
            .count()
    }

    /// Acks that completed before `before`: those copies must be gone by then.
    fn acked_before(&self, before: u64) -> usize {
        self.enqueues
            .iter()
            .filter(|e| e.outcome == OpType::Ok && e.completion.is_some_and(|c| c < before))
            .count()
    }

    fn first_ack(&self) -> u64 {
        self.enqueues
            .iter()
            .filter(|e| e.outcome == OpType::Ok)
            .find_map(|e| e.completion)
            .unwrap_or(0)
    }

    fn example(&self, index: u64) -> QueueExample {
        QueueExample {
            index,
            element: self.value.clone(),
            enqueues: self.enqueues.iter().take(MAX_EXAMPLES).cloned().collect(),
            dequeued_by: self.dequeues.iter().take(MAX_EXAMPLES).copied().collect(),
            times_dequeued: self.dequeues.len(),
        }
    }
}

/// A dequeue or drain that ended info: it may have removed elements unseen.
struct Indeterminate {
    invoke: u64,
    drain: bool,
}

/// Everything the verdict needs, gathered in one pass over the pairs.
#[derive(Default)]
struct Ledger<'h> {
    elements: BTreeMap<String, Element<'h>>,
    attempted: usize,
    acknowledged: usize,
    dequeued: usize,
    /// (invocation, completion) of the last ok drain.
    last_drain: Option<(u64, u64)>,
    indeterminate: Vec<Indeterminate>,
}

impl<'h> Ledger<'h> {
    fn build(pairs: &[Pair<'h>]) -> Result<Self, CheckError> {
        let mut ledger = Ledger::default();
        for pair in pairs {
            match pair.invoke.f.as_str() {
                "enqueue" => ledger.enqueue(pair)?,
                "dequeue" => ledger.dequeue(pair),
                "drain" => ledger.drain(pair)?,
                _ => {}
            }
        }
        Ok(ledger)
    }

    fn element(&mut self, value: &'h Value) -> &mut Element<'h> {
        self.elements
            .entry(canonical(value))
            .or_insert_with(|| Element {
                value,
                enqueues: Vec::new(),
                dequeues: Vec::new(),
            })
    }

    fn enqueue(&mut self, pair: &Pair<'h>) -> Result<(), CheckError> {
        let value = &pair.invoke.value;
        if value.is_null() {
            return Err(CheckError::malformed(
                pair.invoke,
                "enqueue of null: null is what an empty dequeue returns",
            ));
        }
        self.attempted += 1;
        if pair.outcome() == OpType::Ok {
            self.acknowledged += 1;
        }
        let enqueue = EnqueueRef {
            index: pair.invoke.index,
            process: pair.invoke.process,
            outcome: pair.outcome(),
            completion: pair.completion.map(|c| c.index),
        };
        self.element(value).enqueues.push(enqueue);
        Ok(())
    }

    fn dequeue(&mut self, pair: &Pair<'h>) {
        match (pair.outcome(), pair.completion) {
            (OpType::Ok, Some(done)) if !done.value.is_null() => self.took(&done.value, done.index),
            (OpType::Info, _) => self.indeterminate.push(Indeterminate {
                invoke: pair.invoke.index,
                drain: false,
            }),
            _ => {}
        }
    }

    fn drain(&mut self, pair: &Pair<'h>) -> Result<(), CheckError> {
        match (pair.outcome(), pair.completion) {
            (OpType::Ok, Some(done)) => {
                let taken: &'h [Value] = match &done.value {
                    Value::Null => &[],
                    Value::Array(items) => items,
                    other => {
                        return Err(CheckError::malformed(
                            done,
                            format!("drain ok value must be an array of elements, not {other}"),
                        ))
                    }
                };
                for value in taken {
                    self.took(value, done.index);
                }
                let window = (pair.invoke.index, done.index);
                self.last_drain = Some(self.last_drain.map_or(window, |w| w.max(window)));
            }
            (OpType::Info, _) => self.indeterminate.push(Indeterminate {
                invoke: pair.invoke.index,
                drain: true,
            }),
            _ => {}
        }
        Ok(())
    }

    fn took(&mut self, value: &'h Value, completion: u64) {
        self.dequeued += 1;
        self.element(value).dequeues.push(completion);
    }

    fn report(&self, options: &QueueOptions) -> QueueReport {
        let findings = self.classify();
        // An indeterminate op invoked after the drain completed cannot have
        // taken what the drain should have returned.
        let horizon = self.last_drain.map_or(u64::MAX, |(_, done)| done);
        let in_window = self.indeterminate.iter().filter(|i| i.invoke < horizon);
        let (drains, dequeues): (Vec<_>, Vec<_>) = in_window.partition(|i| i.drain);
        let mut report = QueueReport {
            validity: Validity::Valid,
            attempted: self.attempted,
            acknowledged: self.acknowledged,
            dequeued: self.dequeued,
            drained: self.last_drain.is_some(),
            indeterminate_dequeues: dequeues.len(),
            indeterminate_drains: drains.len(),
            lost: Found::from_all(findings.lost, |e| e.index),
            pending: Found::from_all(findings.pending, |e| e.index),
            duplicated: Found::from_all(findings.duplicated, |e| e.index),
            unexpected: Found::from_all(findings.unexpected, |e| e.index),
            recovered: Found::from_all(findings.recovered, |e| e.index),
            failed_but_dequeued: Found::from_all(findings.failed_but_dequeued, |e| e.index),
        };
        report.validity = verdict(&report, options);
        report
    }

    fn classify(&self) -> Findings {
        let drain_began = self.last_drain.map(|(invoke, _)| invoke);
        let mut findings = Findings::default();
        for element in self.elements.values() {
            findings.add(element, drain_began);
        }
        findings
    }
}

#[derive(Default)]
struct Findings {
    lost: Vec<QueueExample>,
    pending: Vec<QueueExample>,
    duplicated: Vec<QueueExample>,
    unexpected: Vec<QueueExample>,
    recovered: Vec<QueueExample>,
    failed_but_dequeued: Vec<QueueExample>,
}

impl Findings {
    /// Sorts one element into the sets. Counts rather than flags, so an
    /// element enqueued n times may legitimately come out n times.
    fn add(&mut self, e: &Element<'_>, drain_began: Option<u64>) {
        let (ok, info, fail) = (
            e.count(OpType::Ok),
            e.count(OpType::Info),
            e.count(OpType::Fail),
        );
        let attempts = e.enqueues.len();
        let out = e.dequeues.len();
        let first_out = e.dequeues.first().copied().unwrap_or(0);

        if out < ok {
            let must_be_gone = drain_began.map_or(0, |began| e.acked_before(began));
            let target = if out < must_be_gone {
                &mut self.lost
            } else {
                &mut self.pending
            };
            target.push(e.example(e.first_ack()));
        }
        if out > attempts.max(1) {
            // Anchored at the dequeue that went one past what was enqueued.
            self.duplicated.push(e.example(e.dequeues[attempts.max(1)]));
        }
        if out > 0 && attempts == 0 {
            self.unexpected.push(e.example(first_out));
        }
        if fail > 0 && out > ok + info {
            self.failed_but_dequeued.push(e.example(first_out));
        } else if info > 0 && out > ok {
            self.recovered.push(e.example(first_out));
        }
    }
}

fn verdict(report: &QueueReport, options: &QueueOptions) -> Validity {
    let certain_loss = !report.lost.is_empty()
        && report.indeterminate_drains == 0
        && report.lost.count > report.indeterminate_dequeues;
    let invalid = certain_loss
        || !report.unexpected.is_empty()
        || !report.failed_but_dequeued.is_empty()
        || (!report.duplicated.is_empty() && !options.allow_duplicates);
    if invalid {
        Validity::Invalid
    } else if !report.lost.is_empty() || !report.pending.is_empty() {
        Validity::Unknown
    } else {
        Validity::Valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        use proptest::prelude::*;
        use std::collections::VecDeque;

        /// A small deterministic generator, so one proptest seed is one run.
        struct Rng(u64);

        impl Rng {
            fn below(&mut self, n: u64) -> u64 {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                self.0 % n
            }

            fn chance(&mut self, percent: u64) -> bool {
                self.below(100) < percent
            }
        }

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
                    rng: Rng(seed | 1),
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
                prop_assert!(r.lost.examples.iter().any(|e| e.element == dropped), "{:?}", r);
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
}
