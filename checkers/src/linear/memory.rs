//! One memory budget for the whole check: the searches of every key, on
//! every thread, draw on one pool, so two hard keys cannot each take a
//! budget of their own and together outgrow the machine. A search that
//! cannot get more from the pool ends `unknown` and gives back what it
//! held, which lets the other keys go on.

use crate::available_memory::{self, Available};
use std::sync::atomic::{AtomicUsize, Ordering};

/// When nothing tells how much memory the machine has (not Linux).
pub const FALLBACK_BUDGET: usize = 2 << 30;

/// The budget a check uses: `requested` (an explicit budget) or half the
/// memory available (`None`), and never more than the memory available.
/// Half, not all: the history, the threads' stacks and the rest of the
/// machine need some, and a table doubling its capacity briefly holds more
/// than the search reckoned.
pub fn budget(requested: Option<usize>, available: Option<Available>) -> usize {
    let available = available.map(|a| usize::try_from(a.bytes).unwrap_or(usize::MAX));
    match (requested, available) {
        (Some(r), Some(a)) => r.min(a),
        (Some(r), None) => r,
        (None, Some(a)) => a / 2,
        (None, None) => FALLBACK_BUDGET,
    }
}

/// The budget of a check that starts now.
pub fn budget_now(requested: Option<usize>) -> usize {
    budget(requested, available_memory::available())
}

/// Bytes the searches hold together, against one limit.
pub struct MemoryPool {
    limit: usize,
    used: AtomicUsize,
    peak: AtomicUsize,
}

/// Searches take from the pool in steps of this much, so that threads
/// seldom touch the shared counter; a step that does not fit is retried
/// with exactly what is needed.
const STEP: usize = 1 << 20;

impl MemoryPool {
    pub fn new(limit: usize) -> Self {
        MemoryPool {
            limit,
            used: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The most the searches held at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Takes `bytes` more if they fit under the limit; nothing otherwise.
    fn take(&self, bytes: usize) -> bool {
        let taken = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&u| u <= self.limit)
            });
        match taken {
            Ok(before) => {
                self.peak.fetch_max(before + bytes, Ordering::Relaxed);
                true
            }
            Err(_) => false,
        }
    }

    fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// A search's share, empty at first.
    pub fn lease(&self) -> Lease<'_> {
        Lease {
            pool: self,
            held: 0,
        }
    }
}

/// What one search holds of the pool; given back when dropped.
pub struct Lease<'a> {
    pool: &'a MemoryPool,
    held: usize,
}

impl Lease<'_> {
    /// Makes the share at least `bytes`; false when the pool cannot give
    /// that much (what was held is kept).
    pub fn hold(&mut self, bytes: usize) -> bool {
        if bytes <= self.held {
            return true;
        }
        let needed = bytes - self.held;
        let step = needed.next_multiple_of(STEP);
        let got = if self.pool.take(step) {
            step
        } else if self.pool.take(needed) {
            needed
        } else {
            return false;
        };
        self.held += got;
        true
    }

    pub fn held(&self) -> usize {
        self.held
    }

    pub fn pool(&self) -> &MemoryPool {
        self.pool
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.pool.give_back(self.held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn available(bytes: u64) -> Option<Available> {
        Some(Available {
            bytes,
            limited_by: "MemAvailable",
        })
    }

    #[test]
    fn the_default_is_half_the_available_memory_and_a_request_is_capped_by_it() {
        assert_eq!(budget(None, available(8 << 30)), 4 << 30);
        assert_eq!(budget(Some(1 << 30), available(8 << 30)), 1 << 30);
        assert_eq!(budget(Some(64 << 30), available(8 << 30)), 8 << 30);
        assert_eq!(budget(None, None), FALLBACK_BUDGET);
        assert_eq!(budget(Some(5), None), 5);
    }

    #[test]
    fn leases_share_one_limit_and_give_back_when_dropped() {
        let pool = MemoryPool::new(10 * STEP);
        let mut a = pool.lease();
        let mut b = pool.lease();
        assert!(a.hold(6 * STEP));
        assert!(!b.hold(5 * STEP), "6 + 5 steps do not fit in 10");
        assert_eq!(b.held(), 0, "a refused request takes nothing");
        assert!(b.hold(4 * STEP));
        assert!(a.hold(6 * STEP), "what is held need not be taken again");
        drop(a);
        assert!(b.hold(10 * STEP), "a dropped lease gave its share back");
        assert_eq!(pool.peak(), 10 * STEP);
    }

    #[test]
    fn near_the_limit_a_lease_takes_exactly_what_it_needs() {
        let pool = MemoryPool::new(STEP + 100);
        let mut a = pool.lease();
        assert!(
            a.hold(STEP + 50),
            "two steps do not fit, the exact need does"
        );
        assert_eq!(a.held(), STEP + 50);
        assert!(!a.hold(STEP + 101));
    }

    #[test]
    fn threads_never_hold_more_than_the_limit_together() {
        let pool = MemoryPool::new(64 * STEP + 123);
        let full = std::sync::Barrier::new(4);
        let held: usize = std::thread::scope(|s| {
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let (pool, full) = (&pool, &full);
                    s.spawn(move || {
                        let mut lease = pool.lease();
                        // Each wants 40 steps: together they want 160.
                        for want in 1..=40 {
                            if !lease.hold(want * STEP) {
                                break;
                            }
                        }
                        let held = lease.held();
                        full.wait();
                        held
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).sum()
        });
        assert!(held <= pool.limit(), "{held} > {}", pool.limit());
        assert!(held > pool.limit() - STEP, "the pool was filled: {held}");
        assert_eq!(pool.peak(), held);
        assert_eq!(pool.used.load(Ordering::Relaxed), 0, "all given back");
    }
}
