//! States in the memo, by number. Each distinct state (or part of a state)
//! is stored once and configurations keep its number. When the model's
//! states are the sum of independent parts (`Model::projects_parts`, with
//! one footprint bit per op), a state is kept as one number per part: a
//! step changes one part, so the state behind millions of configurations
//! costs a few bytes each, instead of a copy of every key's value.

use super::super::model::Model;
use super::index::{grown_capacity, Index};
use super::key::mix_part;
use rustc_hash::FxHasher;
use std::hash::{Hash, Hasher};

pub struct Parts<S> {
    /// Every part stored, by number.
    stored: Vec<S>,
    index: Index,
    /// What the stored states own on the heap, as the model reckons it.
    heap: usize,
    /// Per footprint bit, its slot in `current` (by parts only).
    slot_of_bit: [u8; 64],
    by_parts: bool,
    /// The numbers of the current state's parts (one slot when whole).
    current: Vec<u32>,
    /// The exclusive or of `mix_part` over `current`.
    hash: u64,
}

impl<S: Clone + Eq + std::hash::Hash> Parts<S> {
    pub fn new<M: Model<State = S>>(model: &M, footprints: &[u64], init: &S) -> Self {
        // With a single part (one key), the part is the state: no projection.
        let used = footprints.iter().fold(0u64, |u, f| u | f);
        let by_parts = model.projects_parts()
            && used.count_ones() > 1
            && footprints.iter().all(|f| f.count_ones() == 1);
        let mut parts = Parts {
            stored: Vec::new(),
            index: Index::new(),
            heap: 0,
            slot_of_bit: [0; 64],
            by_parts,
            current: Vec::new(),
            hash: 0,
        };
        if by_parts {
            for bit in (0..64).filter(|b| used & (1 << b) != 0) {
                parts.slot_of_bit[bit] = parts.current.len() as u8;
                let part = model.project(init, 1 << bit);
                let number = parts.number(model, &part);
                parts.current.push(number);
            }
        } else {
            let number = parts.number(model, init);
            parts.current.push(number);
        }
        parts.hash =
            (parts.current.iter().enumerate()).fold(0, |h, (slot, &n)| h ^ mix_part(slot, n));
        parts
    }

    pub fn current(&self) -> &[u32] {
        &self.current
    }

    /// Puts number `number` in slot `slot`; returns what it held.
    pub fn set(&mut self, slot: usize, number: u32) -> u32 {
        let old = std::mem::replace(&mut self.current[slot], number);
        self.hash ^= mix_part(slot, old) ^ mix_part(slot, number);
        old
    }

    /// The hash of the current parts with `changed.0` holding `changed.1`:
    /// with the linearized set's, the configuration's hash in the memo.
    pub fn hash_with(&self, (slot, number): (usize, u32)) -> u64 {
        self.hash ^ mix_part(slot, self.current[slot]) ^ mix_part(slot, number)
    }

    /// The number of `part`, given one if it is new.
    pub fn number<M: Model<State = S>>(&mut self, model: &M, part: &S) -> u32 {
        let hash = hash_of(part);
        if let Some(n) = self.find(hash, part) {
            return n;
        }
        self.heap += model.heap_bytes(part);
        self.stored.push(part.clone());
        self.index.push(hash)
    }

    fn find(&self, hash: u64, part: &S) -> Option<u32> {
        self.index.find(hash, |n| self.stored[n as usize] == *part)
    }

    /// The slot and number that change when an op of `footprint` leads from
    /// `before` to `state` (by parts, that slot's number is also the number
    /// of the part `footprint` reads: nogoods need no projection of their
    /// own).
    pub fn after<M: Model<State = S>>(
        &mut self,
        model: &M,
        before: &S,
        state: &S,
        footprint: u64,
    ) -> (usize, u32) {
        let slot = if self.by_parts {
            self.slot_of_bit[footprint.trailing_zeros() as usize] as usize
        } else {
            0
        };
        // Reads leave the state as it was: equal texts share their nodes,
        // so this is cheaper than hashing and looking up the part.
        if state == before {
            return (slot, self.current[slot]);
        }
        if self.by_parts {
            let part = model.project(state, footprint);
            (slot, self.number(model, &part))
        } else {
            (0, self.number(model, state))
        }
    }

    /// The number of the projection of `state` on `bit` (a single footprint
    /// bit): read from `changed` (what `after` returned) or the current
    /// parts when stored by parts, else projected and looked up. `None`:
    /// that projection was never stored, so no nogood can hold it.
    pub fn of_bit<M: Model<State = S>>(
        &self,
        model: &M,
        state: &S,
        bit: u64,
        changed: Option<(usize, u32)>,
    ) -> Option<u32> {
        if self.by_parts {
            let slot = self.slot_of_bit[bit.trailing_zeros() as usize] as usize;
            return Some(match changed {
                Some((s, n)) if s == slot => n,
                _ => self.current[slot],
            });
        }
        let part = model.project(state, bit);
        self.find(hash_of(&part), &part)
    }

    /// Like `of_bit`, storing the projection if it is new.
    pub fn store_bit<M: Model<State = S>>(&mut self, model: &M, state: &S, bit: u64) -> u32 {
        match self.of_bit(model, state, bit, None) {
            Some(n) => n,
            None => self.number(model, &model.project(state, bit)),
        }
    }

    /// What `bytes` could reach once one more part is stored (the heap its
    /// value owns aside: a step adds little of it).
    pub fn bytes_after_push(&self) -> usize {
        self.index.bytes_after(1)
            + grown_capacity(&self.stored, 1) * std::mem::size_of::<S>()
            + self.heap
    }
}

fn hash_of<S: Hash>(part: &S) -> u64 {
    let mut h = FxHasher::default();
    part.hash(&mut h);
    // Fx leaves the low bits, which pick the bucket, poorly mixed.
    let h = h.finish();
    let h = (h ^ (h >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^ (h >> 32)
}
