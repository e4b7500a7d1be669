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

use crate::history::{History, OpType, Pair, Process};
use crate::report::{canonical, ValueIds};
pub use crate::report::{CheckError, Found, MAX_EXAMPLES};
use crate::verdict::Validity;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    check_queue_pairs(&history.pairs()?, options)
}

/// `check_queue` of a history already paired (`History::pairs`).
pub fn check_queue_pairs(
    pairs: &[Pair<'_>],
    options: &QueueOptions,
) -> Result<QueueReport, CheckError> {
    let ledger = Ledger::build(pairs)?;
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
    /// By element number (`ids`), first seen first.
    elements: Vec<Element<'h>>,
    ids: ValueIds<'h>,
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
        let id = self.ids.id(value) as usize;
        if id == self.elements.len() {
            // Nearly every element is enqueued once and dequeued once: room
            // for one each (a vector's first growth makes room for four).
            self.elements.push(Element {
                value,
                enqueues: Vec::with_capacity(1),
                dequeues: Vec::with_capacity(1),
            });
        }
        &mut self.elements[id]
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
        for element in &self.elements {
            findings.add(element, drain_began);
        }
        // In the order of the elements' JSON text (examples of one op keep
        // it once sorted by op), whatever order they were first seen in.
        findings.sort_by_element();
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
    fn sort_by_element(&mut self) {
        for list in [
            &mut self.lost,
            &mut self.pending,
            &mut self.duplicated,
            &mut self.unexpected,
            &mut self.recovered,
            &mut self.failed_but_dequeued,
        ] {
            list.sort_by_cached_key(|e| canonical(&e.element));
        }
    }

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

impl QueueReport {
    /// Lost elements that no indeterminate dequeue or drain could have
    /// taken unseen: each `info` dequeue may account for one, an `info`
    /// drain for any number.
    pub fn loss_is_certain(&self) -> bool {
        !self.lost.is_empty()
            && self.indeterminate_drains == 0
            && self.lost.count > self.indeterminate_dequeues
    }
}

fn verdict(report: &QueueReport, options: &QueueOptions) -> Validity {
    let invalid = report.loss_is_certain()
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
mod tests;
