//! A FIFO queue: `enqueue` an element, `dequeue` the oldest.
//!
//! An ok dequeue that returned nil saw an empty queue. A dequeue that ended
//! indeterminate, if it took effect, removed whatever was at the head.

use super::{argument, observed, unknown_f};
use crate::history::Pair;
use crate::linear::intern::{Interner, NIL};
use crate::linear::model::Model;
use std::collections::{HashSet, VecDeque};

#[derive(Clone, Debug, Default)]
pub struct FifoQueue;

#[derive(Clone, Copy, Debug)]
pub enum QueueOp {
    Enqueue(u32),
    /// `Some(NIL)`: saw the queue empty; `None`: result unknown.
    Dequeue(Option<u32>),
}

impl Model for FifoQueue {
    type State = VecDeque<u32>;
    type Op = QueueOp;

    fn init(&self, _values: &mut Interner) -> VecDeque<u32> {
        VecDeque::new()
    }

    fn prepare(&self, pair: &Pair<'_>, values: &mut Interner) -> Result<Option<QueueOp>, String> {
        match pair.invoke.f.as_str() {
            "enqueue" => Ok(Some(QueueOp::Enqueue(values.intern(argument(pair))))),
            "dequeue" => Ok(Some(QueueOp::Dequeue(
                observed(pair).map(|v| values.intern(v)),
            ))),
            f => Err(unknown_f("fifo-queue", f, "enqueue or dequeue")),
        }
    }

    fn step(&self, state: &VecDeque<u32>, op: &QueueOp) -> Option<VecDeque<u32>> {
        match *op {
            QueueOp::Enqueue(v) => {
                let mut next = state.clone();
                next.push_back(v);
                Some(next)
            }
            QueueOp::Dequeue(Some(NIL)) => state.is_empty().then(|| state.clone()),
            QueueOp::Dequeue(seen) => {
                let mut next = state.clone();
                match (next.pop_front(), seen) {
                    (Some(head), Some(v)) if head != v => None,
                    (None, Some(_)) => None,
                    _ => Some(next),
                }
            }
        }
    }

    fn never_possible(
        &self,
        init: &VecDeque<u32>,
        ops: &[QueueOp],
        required: &[bool],
        values: &Interner,
    ) -> Option<(usize, String)> {
        let mut enqueued: HashSet<u32> = init.iter().copied().collect();
        enqueued.extend(ops.iter().filter_map(|op| match op {
            QueueOp::Enqueue(v) => Some(*v),
            QueueOp::Dequeue(_) => None,
        }));
        ops.iter()
            .zip(required)
            .position(|(op, &required)| {
                required
                    && matches!(op, QueueOp::Dequeue(Some(v)) if *v != NIL && !enqueued.contains(v))
            })
            .map(|i| {
                let QueueOp::Dequeue(Some(v)) = ops[i] else {
                    unreachable!("found as a dequeue of a value")
                };
                (
                    i,
                    format!(
                        "no op enqueued {}, so no order can dequeue it",
                        values.render(v)
                    ),
                )
            })
    }

    fn heap_bytes(&self, state: &Self::State) -> usize {
        state.capacity() * 4
    }

    fn describe(&self, state: &VecDeque<u32>, values: &Interner) -> String {
        let items: Vec<String> = state.iter().map(|v| values.render(*v)).collect();
        format!("[{}]", items.join(" "))
    }
}
