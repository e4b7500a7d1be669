//! From a history to independent search problems, and running them in parallel.

use super::intern::Interner;
use super::model::Model;
use super::search::{Event, Problem};
use super::CheckError;
use crate::history::{OpType, Pair};
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// One key's search problem, with what is needed to explain its verdict.
pub struct KeyProblem<'h, M: Model> {
    pub key: Value,
    /// The pair behind each op id of the problem.
    pub pairs: Vec<Pair<'h>>,
    pub problem: Problem<M::Op>,
    pub values: Interner,
    pub init: M::State,
}

/// Groups pairs by their `key` field, keys in order of first appearance.
/// Without `split` every pair lands in one group whose key is null.
pub fn by_key<'h>(pairs: &[Pair<'h>], split: bool) -> Vec<(Value, Vec<Pair<'h>>)> {
    if !split {
        return vec![(Value::Null, pairs.to_vec())];
    }
    let mut index: rustc_hash::FxHashMap<String, usize> = Default::default();
    let mut groups: Vec<(Value, Vec<Pair<'h>>)> = Vec::new();
    for pair in pairs {
        let key = pair.invoke.key.clone().unwrap_or(Value::Null);
        let slot = *index.entry(key.to_string()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[slot].1.push(*pair);
    }
    groups
}

pub fn prepare<'h, M: Model>(
    model: &M,
    (key, pairs): (Value, Vec<Pair<'h>>),
) -> Result<KeyProblem<'h, M>, CheckError> {
    let mut values = Interner::default();
    let init = model.init(&mut values);
    let mut kept = Vec::new();
    let mut ops = Vec::new();
    let mut required = Vec::new();
    let mut timed: Vec<(usize, Event)> = Vec::new();
    for pair in pairs {
        let outcome = pair.outcome();
        // A failed op certainly did not happen: it constrains nothing.
        if outcome == OpType::Fail {
            continue;
        }
        let op = model
            .prepare(&pair, &mut values)
            .map_err(|message| CheckError {
                index: pair.invoke.index,
                message,
            })?;
        let Some(op) = op else { continue };
        let id = ops.len() as u32;
        timed.push((pair.position, Event::Call(id)));
        if outcome == OpType::Ok {
            timed.push((
                pair.completion_position.unwrap_or(usize::MAX),
                Event::Return(id),
            ));
        }
        required.push(outcome == OpType::Ok);
        ops.push(op);
        kept.push(pair);
    }
    timed.sort_unstable_by_key(|(position, _)| *position);
    let events = timed.into_iter().map(|(_, e)| e).collect();
    Ok(KeyProblem {
        key,
        pairs: kept,
        problem: Problem {
            ops,
            required,
            events,
        },
        values,
        init,
    })
}

/// Maps `f` over `items` on `threads` threads, taking the items in the
/// order of the indexes `order` lists (a permutation), and returns the
/// results in the order of `items`.
pub fn par_map<T: Sync, R: Send>(
    items: &[T],
    order: &[usize],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    debug_assert_eq!(order.len(), items.len());
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        let mut results: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
        for &i in order {
            results[i] = Some(f(&items[i]));
        }
        return results
            .into_iter()
            .map(|r| r.expect("every item was mapped"))
            .collect();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let result = f(&items[i]);
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results
        .into_iter()
        .map(|r| r.expect("every item was mapped"))
        .collect()
}
