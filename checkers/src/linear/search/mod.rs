//! The exact search: Wing & Gong's algorithm with Lowe's memoisation.
//!
//! Calls and returns sit in one doubly linked list in real-time order. The
//! search walks it, linearizing a call when the model allows, and backtracks
//! when it meets a return whose call it could not place. A configuration
//! (set of linearized ops, model state) is explored once. The memo is what
//! bounds a search, so a configuration is kept small: the set as a prefix and
//! a window of ops (`key`), the state as numbers of stored parts (`parts`),
//! all in one slab (`table`), with no allocation per configuration.
//!
//! On top of that, conflict-directed backjumping: a configuration that fails
//! records the footprints (see `Model::footprint`) its failure depends on. A
//! failed part of the state fails the whole whatever independent ops did, so
//! when a child fails for reasons disjoint from the op that made it, its
//! parent fails too and its other children need not be tried. Without
//! footprints every op conflicts with every other and this is plain WGL.
//! A failure that depends on one footprint bit alone is also remembered by
//! its projection (that part's linearized ops and state), so no later
//! configuration sharing it is explored again: each independent part's dead
//! ends are searched once, as if the history had been split.
//!
//! When every op touches one part, a configuration only branches on ops of
//! the part of its first pending return (partial-order reduction): ops of
//! other parts commute with those and return later, so any linearization can
//! place them after that return.
//!
//! Candidates are tried in real-time order, indeterminate (info) ops among
//! the others. Trying the ops that completed before any info op (as this
//! search once did) looks cheaper but is not: when an info op explains
//! what a later op observed, every order of the others is tried before it,
//! at every configuration. A synthetic etcd-like history (`synth`, 100
//! keys of 300 ops, 20% timeouts) took 53 s and 860 MB that way, 0.2 s
//! and 34 MB this way; the differential test found 20-op queue histories
//! it left undecided that the textbook search decides in milliseconds.

mod entries;
mod index;
mod key;
mod memo;
mod parts;
mod table;

use super::memory::MemoryPool;
use super::model::Model;
use entries::{Entries, HEAD};
use key::mix;
use memo::{Cache, Nogoods};
use parts::Parts;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// One event of the problem, in real-time order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Call(u32),
    Return(u32),
}

/// What the search is given: model ops by id, which of them must be
/// linearized (ok ops; info ops may never happen), and the events. An info
/// op has a call event and no return.
pub struct Problem<O> {
    pub ops: Vec<O>,
    pub required: Vec<bool>,
    pub events: Vec<Event>,
}

pub struct Budget<'a> {
    pub deadline: Option<Instant>,
    /// The memory every search of the check shares (`linear::memory`).
    pub memory: &'a MemoryPool,
    /// Set by the caller once the answer is known elsewhere (another key
    /// is invalid): the search then stops as soon as it has explored
    /// `grace` configurations, so a cheap search still ends with a verdict.
    pub stop: Option<&'a AtomicBool>,
    pub grace: u64,
}

#[derive(Debug)]
pub enum Outcome<S> {
    Linearizable {
        explored: u64,
    },
    NotLinearizable {
        explored: u64,
        deepest: Deepest<S>,
    },
    Exhausted {
        explored: u64,
        reason: String,
    },
    /// `Budget::stop` was set and the search had used its grace.
    Stopped {
        explored: u64,
    },
}

/// The furthest the search got: the ops it had linearized, in order, the
/// state they led to, and the op whose return it could not pass.
#[derive(Clone, Debug)]
pub struct Deepest<S> {
    pub order: Vec<u32>,
    pub state: S,
    pub blocked: u32,
}

/// How often (in steps) the clock is read: often enough to stop on time.
const CLOCK_EVERY: u32 = 1 << 12;
/// How often (in steps) `Budget::stop` is read.
const STOP_EVERY: u32 = 1 << 8;

/// A linearized op on the search stack, with what undoing it restores.
struct Frame<S> {
    id: u32,
    previous: S,
    /// The parent configuration's cache slot, and where its failed children
    /// start in `Failures`.
    slot: u32,
    children: usize,
    focus: u64,
    /// The slot of `Parts::current` the op changed, and what it held.
    part: (usize, u32),
}

/// Children that failed, (footprint of the op that made them, conflicts),
/// for every configuration on the stack, each configuration's in one run.
type Failures = Vec<(u64, u64)>;

/// Why a configuration fails: the blocked op's footprint, closed over the
/// failed children whose op touched it. Children of unrelated ops are left
/// out, which keeps conflicts small enough to jump over them.
fn conflicts_of(blocked: u64, children: &[(u64, u64)]) -> u64 {
    let mut conflicts = blocked;
    loop {
        let grown = children
            .iter()
            .filter(|(footprint, _)| footprint & conflicts != 0)
            .fold(conflicts, |c, (_, child)| c | child);
        if grown == conflicts {
            return conflicts;
        }
        conflicts = grown;
    }
}

/// The root configuration has no cache slot.
const ROOT: u32 = u32::MAX;

fn record_deepest<S: Clone>(
    deepest: &mut Option<Deepest<S>>,
    stack: &[Frame<S>],
    state: &S,
    blocked: u32,
) {
    if deepest.as_ref().is_none_or(|d| stack.len() > d.order.len()) {
        *deepest = Some(Deepest {
            order: stack.iter().map(|f| f.id).collect(),
            state: state.clone(),
            blocked,
        });
    }
}

pub fn search<M: Model>(
    model: &M,
    init: M::State,
    problem: &Problem<M::Op>,
    budget: &Budget<'_>,
) -> Outcome<M::State> {
    let n = problem.ops.len();
    let mut remaining = problem.required.iter().filter(|&&r| r).count();
    if remaining == 0 {
        return Outcome::Linearizable { explored: 0 };
    }
    let footprints: Vec<u64> = problem.ops.iter().map(|op| model.footprint(op)).collect();
    let mut entries = Entries::new(&problem.events, n);
    let words = n.div_ceil(64).max(1);
    let mut cache = Cache::new();
    let mut parts = Parts::new(model, &footprints, &init);
    // A configuration's key: the set's position and window, and the parts'
    // numbers two to a word.
    let cache_key_words = 1 + words + parts.current().len().div_ceil(2);
    let mut lease = budget.memory.lease();
    let mut linearized = vec![0u64; words];
    // The exclusive or of `mix` over the ids of the linearized ops: with the
    // parts' (`Parts::hash_with`), a configuration's hash, one step each.
    let mut linearized_hash = 0u64;
    let mut state = init;
    let mut stack: Vec<Frame<M::State>> = Vec::new();
    // The current configuration's cache slot and where its failed children start.
    let mut slot = ROOT;
    let mut children = 0usize;
    let mut failures: Failures = Vec::new();
    let mut nogoods = Nogoods::new(&footprints, words);
    // With one footprint there is one part: nothing to learn across parts.
    let learn = footprints.iter().any(|&f| f != footprints[0]);
    let focused = learn && footprints.iter().all(|f| f.count_ones() == 1);
    let mut deepest: Option<Deepest<M::State>> = None;
    let mut clock = 0u32;
    let mut entry = entries.next[HEAD as usize];
    let focus_of = |blocked: u32| {
        if focused {
            footprints[blocked as usize]
        } else {
            u64::MAX
        }
    };
    let mut focus = focus_of(entries.first_return().0);

    loop {
        clock += 1;
        // The stop flag is one load: read it often, so a stopped search ends
        // close to its grace (the answer is waiting on it).
        if clock.is_multiple_of(STOP_EVERY)
            && cache.len() >= budget.grace
            && budget.stop.is_some_and(|s| s.load(Ordering::Relaxed))
        {
            return Outcome::Stopped {
                explored: cache.len(),
            };
        }
        if clock == CLOCK_EVERY {
            clock = 0;
            if budget.deadline.is_some_and(|d| Instant::now() >= d) {
                let reason = format!("time budget exceeded after {} configurations", cache.len());
                return Outcome::Exhausted {
                    explored: cache.len(),
                    reason,
                };
            }
        }
        // Set when the current configuration has failed, with why.
        let failed: u64 = match entries.event[entry as usize] {
            Event::Call(id) => {
                let i = id as usize;
                if footprints[i] & focus == 0 {
                    entry = entries.next[entry as usize];
                    continue;
                }
                let Some(next_state) = model.step(&state, &problem.ops[i]) else {
                    entry = entries.next[entry as usize];
                    continue;
                };
                linearized[i / 64] |= 1 << (i % 64);
                let changed = parts.after(model, &state, &next_state, footprints[i]);
                let child_hash = linearized_hash ^ mix(id as u64);
                let hash = child_hash ^ parts.hash_with(changed);
                let found = cache.find(&linearized, parts.current(), changed, hash);
                if let Some(child) = found {
                    linearized[i / 64] &= !(1 << (i % 64));
                    let child_conflicts = cache.conflicts[child as usize];
                    if child_conflicts & footprints[i] == 0 {
                        // That child failed whatever this op did: so does this configuration.
                        child_conflicts
                    } else {
                        failures.push((footprints[i], child_conflicts));
                        entry = entries.next[entry as usize];
                        continue;
                    }
                } else if learn
                    && footprints[i].count_ones() == 1
                    && parts
                        .of_bit(model, &next_state, footprints[i], Some(changed))
                        .is_some_and(|part| nogoods.known(footprints[i], &linearized, part))
                {
                    // A part already known to fail: this child fails for that
                    // part. Not stored: the nogood answers again next time.
                    linearized[i / 64] &= !(1 << (i % 64));
                    failures.push((footprints[i], footprints[i]));
                    entry = entries.next[entry as usize];
                    continue;
                } else {
                    // Memory is asked for before it is used: what the memo
                    // could reach by the next configuration, so a table
                    // doubling never takes the process past the budget.
                    let nogood_pushes = if learn { stack.len() + 1 } else { 0 };
                    let needed = cache.bytes_after_push(cache_key_words)
                        + nogoods.bytes_after(nogood_pushes, words + 3)
                        + parts.bytes_after_push()
                        + index::grown_capacity(&stack, 1) * std::mem::size_of::<Frame<M::State>>();
                    if !lease.hold(needed) {
                        let reason = format!(
                            "memory budget of {} MiB for the whole check exceeded after {} \
                             configurations (this key's search held {} MiB of it)",
                            lease.pool().limit() >> 20,
                            cache.len(),
                            lease.held() >> 20
                        );
                        return Outcome::Exhausted {
                            explored: cache.len(),
                            reason,
                        };
                    }
                    let child = cache.push_found(&linearized, parts.current(), changed);
                    let previous = std::mem::replace(&mut state, next_state);
                    let part = (changed.0, parts.set(changed.0, changed.1));
                    linearized_hash = child_hash;
                    stack.push(Frame {
                        id,
                        previous,
                        slot,
                        children,
                        focus,
                        part,
                    });
                    (slot, children) = (child, failures.len());
                    entries.lift(id);
                    if problem.required[i] {
                        remaining -= 1;
                        if remaining == 0 {
                            return Outcome::Linearizable {
                                explored: cache.len(),
                            };
                        }
                    }
                    entry = entries.next[HEAD as usize];
                    let (blocked, mut calls) = entries.first_return();
                    focus = focus_of(blocked);
                    let ops = &problem.ops;
                    if !model.hopeless(
                        &state,
                        &ops[blocked as usize],
                        &mut calls.by_ref().map(|c| &ops[c as usize]),
                    ) {
                        continue;
                    }
                    // The next return can no longer be passed from here.
                    record_deepest(&mut deepest, &stack, &state, blocked);
                    footprints[blocked as usize]
                }
            }
            Event::Return(blocked) => {
                // The call of this return could not be placed before it.
                record_deepest(&mut deepest, &stack, &state, blocked);
                conflicts_of(footprints[blocked as usize], &failures[children..])
            }
        };
        // Unwind: record the failure, undo the op that led here, and go on
        // with the parent unless the failure did not depend on that op.
        loop {
            if slot != ROOT {
                cache.conflicts[slot as usize] = failed;
                if learn && failed.count_ones() == 1 {
                    let part = parts.store_bit(model, &state, failed);
                    nogoods.remember(failed, &linearized, part);
                }
            }
            failures.truncate(children);
            let Some(frame) = stack.pop() else {
                let deepest = deepest.expect("a failure always passes a return first");
                return Outcome::NotLinearizable {
                    explored: cache.len(),
                    deepest,
                };
            };
            let i = frame.id as usize;
            state = frame.previous;
            (slot, children, focus) = (frame.slot, frame.children, frame.focus);
            linearized[i / 64] &= !(1 << (i % 64));
            parts.set(frame.part.0, frame.part.1);
            linearized_hash ^= mix(frame.id as u64);
            entries.unlift(frame.id);
            if problem.required[i] {
                remaining += 1;
            }
            if failed & footprints[i] != 0 {
                failures.push((footprints[i], failed));
                entry = entries.next[entries.call_entry[i] as usize];
                break;
            }
        }
    }
}
