//! Buckets of numbered items by hash, for tables that keep the items
//! themselves in flat arrays: four bytes of bucket and eight of chain and
//! hash per item, no allocation per item, and growing never rehashes the
//! items (their hashes are kept).

pub struct Index {
    /// Bucket heads, a power of two of them; `NONE` when empty.
    heads: Vec<u32>,
    /// Per item: the next item of its bucket, and the low half of its hash
    /// (to rehash and to skip most comparisons), side by side so a step
    /// along a chain reads one cache line.
    links: Vec<(u32, u32)>,
}

const NONE: u32 = u32::MAX;

impl Index {
    pub fn new() -> Self {
        Index {
            heads: vec![NONE; 1 << 8],
            links: Vec::new(),
        }
    }

    /// The first item for which `same` holds among those with `hash`.
    pub fn find(&self, hash: u64, mut same: impl FnMut(u32) -> bool) -> Option<u32> {
        let low = hash as u32;
        let mut at = self.heads[low as usize & (self.heads.len() - 1)];
        while at != NONE {
            let (next, hash) = self.links[at as usize];
            if hash == low && same(at) {
                return Some(at);
            }
            at = next;
        }
        None
    }

    /// Numbers a new item of `hash`.
    pub fn push(&mut self, hash: u64) -> u32 {
        let at = self.links.len() as u32;
        if self.links.len() >= self.heads.len() {
            self.grow();
        }
        let bucket = hash as u32 as usize & (self.heads.len() - 1);
        self.links.push((self.heads[bucket], hash as u32));
        self.heads[bucket] = at;
        at
    }

    /// Twice the buckets, so chains stay about one item long.
    fn grow(&mut self) {
        self.heads = vec![NONE; self.heads.len() * 2];
        let mask = self.heads.len() - 1;
        for (at, (next, low)) in self.links.iter_mut().enumerate() {
            let bucket = *low as usize & mask;
            *next = self.heads[bucket];
            self.heads[bucket] = at as u32;
        }
    }

    pub fn len(&self) -> usize {
        self.links.len()
    }

    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        4 * self.heads.capacity() + 8 * self.links.capacity()
    }

    /// What `bytes` could reach while `more` items are pushed: growing
    /// allocates the doubled buckets before the old ones are freed.
    pub fn bytes_after(&self, more: usize) -> usize {
        let items = self.links.len() + more;
        let links = 8 * grown_capacity(&self.links, more);
        if items <= self.heads.len() {
            return 4 * self.heads.capacity() + links;
        }
        let heads = items.next_power_of_two().max(2 * self.heads.len());
        4 * (heads + heads / 2) + links
    }
}

/// The capacity of `v` once `more` elements are pushed: a `Vec` that is
/// full doubles (or grows to fit), so a search must ask for the doubled
/// size before it pushes, not notice it afterwards.
pub fn grown_capacity<T>(v: &Vec<T>, more: usize) -> usize {
    let needed = v.len() + more;
    if needed <= v.capacity() {
        return v.capacity();
    }
    // A first allocation is at least this many elements (as `Vec` does).
    let least = match std::mem::size_of::<T>() {
        1 => 8,
        size if size <= 1024 => 4,
        _ => 1,
    };
    needed.max(2 * v.capacity()).max(least)
}
