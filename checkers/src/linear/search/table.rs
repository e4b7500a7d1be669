//! A hash set of keys, each a short string of words, stored back to back in
//! one slab: no allocation per key and a few bytes of bookkeeping each. The
//! memo holds millions of keys, so their size is what bounds a search.

use super::index::{grown_capacity, Index};

/// Keys numbered in the order they were added.
pub struct Table {
    index: Index,
    /// Where each key's words end in `words`.
    ends: Vec<usize>,
    words: Vec<u64>,
}

/// A hash of a key's words (the low half picks the bucket).
pub fn hash(key: &[u64]) -> u64 {
    let h = key.iter().fold(key.len() as u64, |h, &w| {
        (h.rotate_left(26) ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    });
    // splitmix64's finaliser: every bit of the words reaches the low half.
    let h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
}

impl Table {
    pub fn new() -> Self {
        Table {
            index: Index::new(),
            ends: Vec::new(),
            words: Vec::new(),
        }
    }

    fn key(&self, at: u32) -> &[u64] {
        let i = at as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.words[start..self.ends[i]]
    }

    /// The number of `key`, if it was added.
    pub fn find(&self, hash: u64, key: &[u64]) -> Option<u32> {
        self.index.find(hash, |at| self.key(at) == key)
    }

    /// The number of the key of `hash` for which `same` holds, if any.
    #[inline]
    pub fn find_by(&self, hash: u64, mut same: impl FnMut(&[u64]) -> bool) -> Option<u32> {
        self.index.find(hash, |at| same(self.key(at)))
    }

    /// Adds `key`, which `find` did not find, and returns its number.
    pub fn push(&mut self, hash: u64, key: &[u64]) -> u32 {
        self.words.extend_from_slice(key);
        self.ends.push(self.words.len());
        self.index.push(hash)
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// What the table has allocated, spare capacity included.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.index.bytes() + 8 * (self.ends.capacity() + self.words.capacity())
    }

    /// What `bytes` could reach while `keys` keys of `words` words in all
    /// are pushed.
    pub fn bytes_after(&self, keys: usize, words: usize) -> usize {
        self.index.bytes_after(keys)
            + 8 * (grown_capacity(&self.ends, keys) + grown_capacity(&self.words, words))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_was_added_and_nothing_else() {
        let mut table = Table::new();
        let keys: Vec<Vec<u64>> = (0..5000u64)
            .map(|i| (0..i % 7).map(|w| w * i).collect())
            .collect();
        let mut numbers = Vec::new();
        for key in &keys {
            let h = hash(key);
            numbers.push(table.find(h, key).unwrap_or_else(|| table.push(h, key)));
        }
        for (key, &n) in keys.iter().zip(&numbers) {
            assert_eq!(table.find(hash(key), key), Some(n));
        }
        assert_eq!(table.find(hash(&[1, 2, 3]), &[1, 2, 3]), None);
        assert!(
            table.len() < keys.len(),
            "keys repeat: [] and [0] many times"
        );
    }

    /// The search asks the memory budget for `bytes_after` before it
    /// pushes: what the table then holds must never be more.
    #[test]
    fn bytes_after_covers_every_growth_of_a_push() {
        let mut table = Table::new();
        let mut grew = 0;
        for i in 0..100_000u64 {
            let key: Vec<u64> = (0..1 + i % 5).map(|w| w ^ i).collect();
            let predicted = table.bytes_after(1, key.len());
            let before = table.bytes();
            table.push(hash(&key), &key);
            assert!(table.bytes() <= predicted, "push {i}");
            grew += usize::from(table.bytes() > before);
        }
        assert!(grew > 10, "the table grew, so the prediction was tested");
    }
}
