//! A second opinion, for the tests only: the textbook linearizability
//! search, Wing & Gong's algorithm with Lowe's memo of configurations, and
//! nothing else. No backjumping, no nogoods, no partial-order reduction, no
//! passes, no splitting by key, and its own plain models (`spec`): short
//! enough to be checked by reading. The fast search (`search`, with
//! `models`) is trusted as far as it agrees with this one (`differential`).

mod spec;

use super::{ModelKind, NilRead};
use crate::history::{History, OpType};
use spec::{Op, State};
use std::collections::HashSet;

/// One entry of the history, in real-time order: an op's call or return.
#[derive(Clone, Copy)]
enum Entry {
    Call(usize),
    Return(usize),
}

/// Whether `history` is linearizable under `model` (every register or key
/// starting at nil, a kv key at the empty string), or `None` when the
/// search met more than `max_configurations` configurations.
///
/// A `fail` never happened. An op that completed `ok` has a return and
/// must take effect before it; an `info` op (or one never completed) has
/// no return: it may take effect at any point after its call, or never.
pub fn linearizable(
    model: ModelKind,
    nil_read: NilRead,
    history: &History,
    max_configurations: usize,
) -> Result<Option<bool>, String> {
    let mut ops = Vec::new();
    let mut must_return = Vec::new();
    let mut timed: Vec<(usize, Entry)> = Vec::new();
    for pair in history.pairs().map_err(|e| e.to_string())? {
        if pair.outcome() == OpType::Fail {
            continue;
        }
        let Some(op) = spec::op(model, nil_read, &pair)? else {
            continue;
        };
        let id = ops.len();
        ops.push(op);
        timed.push((pair.position, Entry::Call(id)));
        match pair.completion_position {
            Some(at) if pair.outcome() == OpType::Ok => {
                timed.push((at, Entry::Return(id)));
                must_return.push(true);
            }
            _ => must_return.push(false),
        }
    }
    timed.sort_by_key(|&(position, _)| position);
    let search = Search {
        ops: &ops,
        must_return: &must_return,
        entries: timed.into_iter().map(|(_, entry)| entry).collect(),
        max_configurations,
    };
    let mut linearized = vec![false; ops.len()];
    Ok(search.from(&spec::init(model), &mut linearized, &mut HashSet::new()))
}

struct Search<'a> {
    ops: &'a [Op],
    must_return: &'a [bool],
    entries: Vec<Entry>,
    max_configurations: usize,
}

impl Search<'_> {
    /// Whether the ops not yet `linearized` that must return can all be
    /// linearized from `state` (`None`: too many configurations to say).
    fn from(
        &self,
        state: &State,
        linearized: &mut Vec<bool>,
        seen: &mut HashSet<(Vec<bool>, State)>,
    ) -> Option<bool> {
        let all_returned = (0..self.ops.len()).all(|i| linearized[i] || !self.must_return[i]);
        if all_returned {
            return Some(true);
        }
        // Lowe: a configuration met before failed (or the search would
        // have ended), so it fails again.
        if !seen.insert((linearized.clone(), state.clone())) {
            return Some(false);
        }
        if seen.len() > self.max_configurations {
            return None;
        }
        // The candidates: the calls not yet linearized before the first
        // return of an op not yet linearized, the last moment that op can
        // take effect.
        for &entry in &self.entries {
            match entry {
                Entry::Return(id) if !linearized[id] => return Some(false),
                Entry::Return(_) => {}
                Entry::Call(id) if linearized[id] => {}
                Entry::Call(id) => {
                    let Some(next) = spec::step(state, &self.ops[id]) else {
                        continue;
                    };
                    linearized[id] = true;
                    let found = self.from(&next, linearized, seen);
                    linearized[id] = false;
                    if found != Some(false) {
                        return found;
                    }
                }
            }
        }
        unreachable!("an op that must return and is not linearized has a return entry")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, Process};
    use serde_json::{json, Value};
    use OpType::*;

    fn op(process: u64, kind: OpType, f: &str, value: Value) -> Op {
        Op {
            index: 0,
            time: 0,
            process: Process::Client(process),
            kind,
            f: f.into(),
            key: None,
            value,
            node: None,
            error: None,
        }
    }

    fn verdict(model: ModelKind, ops: Vec<Op>) -> Option<bool> {
        linearizable(model, NilRead::Value, &History::new(ops), 1000).unwrap()
    }

    #[test]
    fn a_read_concurrent_with_a_write_may_see_either_value() {
        for seen in [json!(null), json!(1)] {
            let history = vec![
                op(0, Invoke, "write", json!(1)),
                op(1, Invoke, "read", json!(null)),
                op(1, Ok, "read", seen),
                op(0, Ok, "write", json!(1)),
            ];
            assert_eq!(verdict(ModelKind::Register, history), Some(true));
        }
    }

    #[test]
    fn a_read_after_a_write_returned_must_see_it_unless_nil_reads_match_anything() {
        let history = History::new(vec![
            op(0, Invoke, "write", json!(1)),
            op(0, Ok, "write", json!(1)),
            op(1, Invoke, "read", json!(null)),
            op(1, Ok, "read", json!(null)),
        ]);
        let check = |nil_read| linearizable(ModelKind::Register, nil_read, &history, 100);
        assert_eq!(check(NilRead::Value), Result::Ok(Some(false)));
        assert_eq!(check(NilRead::Any), Result::Ok(Some(true)));
    }

    #[test]
    fn an_info_write_may_take_effect_late_or_never_and_a_fail_never() {
        let late = |kind| {
            vec![
                op(0, Invoke, "write", json!(1)),
                op(0, kind, "write", json!(1)),
                op(1, Invoke, "read", json!(null)),
                op(1, Ok, "read", json!(null)),
                op(2, Invoke, "read", json!(null)),
                op(2, Ok, "read", json!(1)),
            ]
        };
        assert_eq!(verdict(ModelKind::CasRegister, late(Info)), Some(true));
        assert_eq!(verdict(ModelKind::CasRegister, late(Fail)), Some(false));
    }

    #[test]
    fn a_queue_hands_out_its_head_and_nil_only_when_empty() {
        let history = |first: Value, second: Value| {
            vec![
                op(0, Invoke, "enqueue", json!(1)),
                op(0, Ok, "enqueue", json!(1)),
                op(0, Invoke, "enqueue", json!(2)),
                op(0, Ok, "enqueue", json!(2)),
                op(1, Invoke, "dequeue", json!(null)),
                op(1, Ok, "dequeue", first),
                op(1, Invoke, "dequeue", json!(null)),
                op(1, Ok, "dequeue", second),
            ]
        };
        let queue = |a, b| verdict(ModelKind::FifoQueue, history(a, b));
        assert_eq!(queue(json!(1), json!(2)), Some(true));
        assert_eq!(queue(json!(2), json!(1)), Some(false));
        assert_eq!(queue(json!(null), json!(1)), Some(false));
    }

    #[test]
    fn too_many_configurations_is_no_answer() {
        let mut ops: Vec<Op> = (0..8).map(|p| op(p, Invoke, "write", json!(p))).collect();
        ops.push(op(9, Invoke, "read", json!(null)));
        ops.push(op(9, Ok, "read", json!(42)));
        let history = History::new(ops);
        let check = |max| linearizable(ModelKind::Register, NilRead::Value, &history, max);
        assert_eq!(check(10), Result::Ok(None));
        assert_eq!(check(1 << 20), Result::Ok(Some(false)));
    }
}
