//! What the search remembers: every configuration it has explored, with why
//! it failed, and the failed parts of configurations (nogoods). Both are
//! keys in a `Table`: a linearized set (`key::encode_set`) and state numbers
//! (`Parts`), so a configuration costs about a hundred bytes.

use super::index::grown_capacity;
use super::key::{encode_ids, encode_set};
use super::table::{hash, Table};

/// Every configuration seen, with the footprints its failure depends on
/// (all, until it has failed).
pub struct Cache {
    table: Table,
    pub conflicts: Vec<u64>,
    /// The key being looked up, kept to reuse its allocation.
    key: Vec<u64>,
    hash: u64,
}

impl Cache {
    pub fn new() -> Self {
        Cache {
            table: Table::new(),
            conflicts: Vec::new(),
            key: Vec::new(),
            hash: 0,
        }
    }

    /// Looks up the configuration of `linearized` and the state whose part
    /// numbers are `parts`, except slot `changed.0`, which holds `changed.1`.
    /// `hash` is the configuration's (`mix`): kept up to date as the search
    /// moves, so a look-up neither encodes nor hashes the key; it only
    /// compares it with the stored keys of the same hash.
    pub fn find(
        &mut self,
        linearized: &[u64],
        parts: &[u32],
        changed: (usize, u32),
        hash: u64,
    ) -> Option<u32> {
        self.hash = hash;
        let part = |slot: usize| {
            if slot == changed.0 {
                changed.1
            } else {
                parts[slot]
            }
        };
        self.table.find_by(hash, |key| {
            let (start, len) = ((key[0] >> 32) as usize, key[0] as u32 as usize);
            let (window, ids) = key[1..].split_at(len);
            linearized[..start].iter().all(|&w| w == u64::MAX)
                && linearized[start..start + len] == *window
                && linearized[start + len..].iter().all(|&w| w == 0)
                && ids.iter().enumerate().all(|(w, &id)| {
                    let high = if 2 * w + 1 < parts.len() {
                        part(2 * w + 1)
                    } else {
                        0
                    };
                    id == part(2 * w) as u64 | (high as u64) << 32
                })
        })
    }

    /// Adds the configuration `find` just looked up and did not find.
    pub fn push_found(&mut self, linearized: &[u64], parts: &[u32], changed: (usize, u32)) -> u32 {
        self.key.clear();
        encode_set(
            linearized.len(),
            |w| linearized[w],
            |_| u64::MAX,
            &mut self.key,
        );
        let from = self.key.len();
        encode_ids(parts, &mut self.key);
        // The changed slot, rewritten in place in its packed word.
        let word = &mut self.key[from + changed.0 / 2];
        let shift = 32 * (changed.0 % 2);
        *word = (*word & !(0xFFFF_FFFF << shift)) | (changed.1 as u64) << shift;
        self.conflicts.push(u64::MAX);
        self.table.push(self.hash, &self.key)
    }

    pub fn len(&self) -> u64 {
        self.table.len() as u64
    }

    /// What `bytes` could reach once a configuration of `words` words is
    /// pushed.
    pub fn bytes_after_push(&self, words: usize) -> usize {
        self.table.bytes_after(1, words)
            + 8 * (grown_capacity(&self.conflicts, 1) + self.key.capacity().max(words))
    }
}

/// Failed parts of configurations, for footprints of a single bit: the
/// bit, the ops of that bit linearized, and the number of the state's part.
pub struct Nogoods {
    table: Table,
    /// For each bit, the ops whose footprint is that bit alone.
    ops_of_bit: Vec<Vec<u64>>,
    /// What `ops_of_bit` holds, counted once: the budget is checked at
    /// every step.
    ops_bytes: usize,
    key: Vec<u64>,
}

impl Nogoods {
    pub fn new(footprints: &[u64], words: usize) -> Self {
        let mut ops_of_bit = vec![Vec::new(); 64];
        for (i, footprint) in footprints.iter().enumerate() {
            if footprint.count_ones() == 1 {
                let ops = &mut ops_of_bit[footprint.trailing_zeros() as usize];
                ops.resize(words, 0u64);
                ops[i / 64] |= 1 << (i % 64);
            }
        }
        let ops_bytes = ops_of_bit.iter().map(|o| 8 * o.capacity()).sum();
        Nogoods {
            table: Table::new(),
            ops_of_bit,
            ops_bytes,
            key: Vec::new(),
        }
    }

    /// The key of the projection on `bit`, left in `self.key`, and its hash.
    fn project(&mut self, bit: u64, linearized: &[u64], part: u32) -> u64 {
        let ops = &self.ops_of_bit[bit.trailing_zeros() as usize];
        self.key.clear();
        self.key.push(bit);
        // Relative to the bit's own ops: a key's ops are a sparse subset of
        // the history, so "all of them up to here" is the prefix.
        encode_set(
            ops.len(),
            |w| linearized[w] & ops[w],
            |w| ops[w],
            &mut self.key,
        );
        self.key.push(part as u64);
        hash(&self.key)
    }

    pub fn remember(&mut self, bit: u64, linearized: &[u64], part: u32) {
        let hash = self.project(bit, linearized, part);
        if self.table.find(hash, &self.key).is_none() {
            self.table.push(hash, &self.key);
        }
    }

    pub fn known(&mut self, bit: u64, linearized: &[u64], part: u32) -> bool {
        let hash = self.project(bit, linearized, part);
        self.table.find(hash, &self.key).is_some()
    }

    /// What `bytes` could reach once `keys` more nogoods of `words` words
    /// each are remembered.
    pub fn bytes_after(&self, keys: usize, words: usize) -> usize {
        self.table.bytes_after(keys, keys * words)
            + self.ops_bytes
            + 8 * self.key.capacity().max(words)
    }
}
