//! The contract between the search and a sequential specification.

use super::intern::Interner;
use crate::history::Pair;
use std::fmt::Debug;
use std::hash::Hash;

/// A sequential specification: states and the ops that move between them.
///
/// Models see each operation once, in `prepare`, where values are interned to
/// small integers; the search then only calls `step`, which must be cheap.
pub trait Model: Sync {
    type State: Clone + Eq + Hash + Debug + Send + Sync;
    type Op: Clone + Debug + Send + Sync;

    fn init(&self, values: &mut Interner) -> Self::State;

    /// Turns a completed (ok) or indeterminate (info) operation into a model op.
    /// `Ok(None)` means the op cannot change the state and observed nothing
    /// (an indeterminate read), so the search may ignore it.
    fn prepare(&self, pair: &Pair<'_>, values: &mut Interner) -> Result<Option<Self::Op>, String>;

    /// The state after `op`, or `None` when `op` cannot happen in `state`
    /// (its observed result disagrees with the specification).
    fn step(&self, state: &Self::State, op: &Self::Op) -> Option<Self::State>;

    /// The parts of the state `op` reads or writes, as bits of a mask. Ops
    /// with disjoint footprints must commute and never change what the other
    /// observes; the search then skips reorderings that cannot matter. Two
    /// parts may share a bit (that only prunes less); the default, every bit,
    /// declares every op dependent on every other.
    fn footprint(&self, _op: &Self::Op) -> u64 {
        u64::MAX
    }

    /// Whether `op` can no longer take effect from `state`, whichever of
    /// `pending` (the other ops that may still come first) happen before it.
    /// Lets the search give up on a configuration at once. It must only say
    /// true when that is certain; the default never does.
    fn hopeless(
        &self,
        _state: &Self::State,
        _op: &Self::Op,
        _pending: &mut dyn Iterator<Item = &Self::Op>,
    ) -> bool {
        false
    }

    /// An `ok` op (`required`) that no order of `ops` from `init` can make
    /// possible, with why: a dequeue of an element no op enqueued. Asked
    /// only when the search ran out of budget, for a history whose other
    /// ops have too many orders to try before the search reaches that op.
    /// Must only name an op when that is certain; the default never does.
    fn never_possible(
        &self,
        _init: &Self::State,
        _ops: &[Self::Op],
        _required: &[bool],
        _values: &Interner,
    ) -> Option<(usize, String)> {
        None
    }

    /// The part of `state` that ops of `footprint` read or write. The search
    /// remembers failed parts so an unrelated op cannot make it explore them
    /// again. The default keeps the whole state: always sound, prunes less.
    fn project(&self, state: &Self::State, _footprint: u64) -> Self::State {
        state.clone()
    }

    /// Whether `project` cuts states into independent parts, one per
    /// footprint bit: an op whose footprint is one bit changes only the
    /// projection on that bit, and two states are equal exactly when their
    /// projections on every bit are. The search then stores a state as one
    /// number per part, which is what lets it keep millions of
    /// configurations of a history with many keys. The default says no.
    fn projects_parts(&self) -> bool {
        false
    }

    /// Bytes a state owns on the heap, for the memory budget. Generous is
    /// better than short: the budget is what keeps a search from swapping.
    fn heap_bytes(&self, _state: &Self::State) -> usize {
        0
    }

    /// A human rendering of a state, for evidence.
    fn describe(&self, state: &Self::State, values: &Interner) -> String;
}
