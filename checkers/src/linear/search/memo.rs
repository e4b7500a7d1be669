//! What the search remembers: every configuration it has explored, with why
//! it failed, and the failed parts of configurations (nogoods).

use rustc_hash::{FxHashMap, FxHasher};
use std::hash::{Hash, Hasher};

/// Every configuration seen: bit sets in one slab, chained by hash, each with
/// the footprints its failure depends on (all, until it has failed).
pub struct Cache<S> {
    words: usize,
    heads: FxHashMap<u64, u32>,
    chain: Vec<u32>,
    bits: Vec<u64>,
    states: Vec<S>,
    pub conflicts: Vec<u64>,
    /// What the states own on the heap, as the model reckons it.
    state_heap: usize,
}

pub enum Seen {
    New(u32),
    Before(u32),
}

impl<S: Eq + Clone> Cache<S> {
    pub fn new(words: usize) -> Self {
        Cache {
            words,
            heads: FxHashMap::default(),
            chain: Vec::new(),
            bits: Vec::new(),
            states: Vec::new(),
            conflicts: Vec::new(),
            state_heap: 0,
        }
    }

    pub fn insert(&mut self, hash: u64, bits: &[u64], state: &S, heap: usize) -> Seen {
        let head = self.heads.get(&hash).copied().unwrap_or(u32::MAX);
        let mut at = head;
        while at != u32::MAX {
            let i = at as usize;
            if &self.states[i] == state && self.bits[i * self.words..(i + 1) * self.words] == *bits
            {
                return Seen::Before(at);
            }
            at = self.chain[i];
        }
        let at = self.states.len() as u32;
        self.heads.insert(hash, at);
        self.chain.push(head);
        self.bits.extend_from_slice(bits);
        self.states.push(state.clone());
        self.conflicts.push(u64::MAX);
        self.state_heap += heap;
        Seen::New(at)
    }

    fn contains(&self, hash: u64, bits: &[u64], state: &S) -> bool {
        let mut at = self.heads.get(&hash).copied().unwrap_or(u32::MAX);
        while at != u32::MAX {
            let i = at as usize;
            if &self.states[i] == state && self.bits[i * self.words..(i + 1) * self.words] == *bits
            {
                return true;
            }
            at = self.chain[i];
        }
        false
    }

    pub fn len(&self) -> u64 {
        self.states.len() as u64
    }

    pub fn bytes(&self) -> usize {
        // Slab, chain, conflicts and a map slot (with its load slack) per entry.
        self.states.len() * (self.words * 8 + std::mem::size_of::<S>() + 12 + 32) + self.state_heap
    }
}

pub fn zobrist(id: u32) -> u64 {
    // splitmix64: distinct, well mixed keys for each op id.
    let mut z = (id as u64)
        .wrapping_add(1)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub fn state_hash<S: Hash>(state: &S) -> u64 {
    let mut h = FxHasher::default();
    state.hash(&mut h);
    h.finish().wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// Failed parts of configurations, for footprints of a single bit.
pub struct Nogoods<S> {
    pub found: Cache<S>,
    /// For each bit, the ops whose footprint is that bit alone.
    ops_of_bit: Vec<Vec<u64>>,
    projected: Vec<u64>,
}

impl<S: Eq + Clone + Hash> Nogoods<S> {
    pub fn new(footprints: &[u64], words: usize) -> Self {
        let mut ops_of_bit = vec![vec![0u64; words]; 64];
        for (i, footprint) in footprints.iter().enumerate() {
            if footprint.count_ones() == 1 {
                ops_of_bit[footprint.trailing_zeros() as usize][i / 64] |= 1 << (i % 64);
            }
        }
        Nogoods {
            found: Cache::new(words),
            ops_of_bit,
            projected: vec![0; words],
        }
    }

    /// The projection of a configuration on `bit`, left in `self.projected`,
    /// and its hash.
    fn project(&mut self, bit: u64, linearized: &[u64], part: &S) -> u64 {
        let mut hash = state_hash(part) ^ bit.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let ops = &self.ops_of_bit[bit.trailing_zeros() as usize];
        for (w, (p, (l, o))) in self
            .projected
            .iter_mut()
            .zip(linearized.iter().zip(ops))
            .enumerate()
        {
            *p = l & o;
            hash ^= p.wrapping_mul(zobrist(w as u32));
        }
        hash
    }

    pub fn remember(&mut self, bit: u64, linearized: &[u64], part: &S, heap: usize) {
        let hash = self.project(bit, linearized, part);
        let projected = std::mem::take(&mut self.projected);
        self.found.insert(hash, &projected, part, heap);
        self.projected = projected;
    }

    pub fn known(&mut self, bit: u64, linearized: &[u64], part: &S) -> bool {
        let hash = self.project(bit, linearized, part);
        self.found.contains(hash, &self.projected, part)
    }
}
