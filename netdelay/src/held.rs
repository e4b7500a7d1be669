//! The packets held back, released in time order: a binary heap keyed by
//! release time, ties broken by arrival so equal delays keep their order.
//! Generic over what is held, so it is tested without a queue.
//!
//! A heap, not a timer wheel: at most a queue's worth of packets (the
//! kernel's limit, [`crate::delayer::Options::limit`]) is ever held, and
//! a push or pop is O(log n) with no tick to choose.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::Instant;

pub struct Held<T> {
    heap: BinaryHeap<Reverse<Entry<T>>>,
    arrivals: u64,
}

struct Entry<T> {
    due: Instant,
    arrival: u64,
    item: T,
}

impl<T> Held<T> {
    pub fn new() -> Held<T> {
        Held {
            heap: BinaryHeap::new(),
            arrivals: 0,
        }
    }

    pub fn push(&mut self, due: Instant, item: T) {
        self.arrivals += 1;
        self.heap.push(Reverse(Entry {
            due,
            arrival: self.arrivals,
            item,
        }));
    }

    /// When the next packet is due, if any is held.
    pub fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(e)| e.due)
    }

    /// The earliest packet if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<T> {
        if self.next_due()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse(e)| e.item)
    }

    /// Every packet, earliest first, whenever due (at exit).
    pub fn pop_any(&mut self) -> Option<T> {
        self.heap.pop().map(|Reverse(e)| e.item)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

impl<T> Default for Held<T> {
    fn default() -> Self {
        Held::new()
    }
}

impl<T> Entry<T> {
    fn key(&self) -> (Instant, u64) {
        (self.due, self.arrival)
    }
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn released_in_time_order_and_only_when_due() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut held = Held::new();
        for (due, name) in [(30, "c"), (10, "a"), (20, "b"), (10, "a2")] {
            held.push(ms(due), name);
        }
        assert_eq!(held.len(), 4);
        assert_eq!(held.next_due(), Some(ms(10)));
        assert_eq!(held.pop_due(ms(5)), None);
        // Equal due times leave in arrival order.
        assert_eq!(held.pop_due(ms(10)), Some("a"));
        assert_eq!(held.pop_due(ms(10)), Some("a2"));
        assert_eq!(held.pop_due(ms(10)), None);
        assert_eq!(held.pop_due(ms(25)), Some("b"));
        assert_eq!(held.pop_any(), Some("c"));
        assert!(held.is_empty());
        assert_eq!(held.next_due(), None);
    }
}
