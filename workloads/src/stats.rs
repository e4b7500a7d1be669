//! Live counters of a run, for the status line: written by workers with
//! relaxed atomics (each counter is independent; nothing is ordered by them),
//! read at any time from any thread.

use chaos_checkers::history::OpType;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Stats {
    start: Instant,
    invoked: AtomicU64,
    ok: AtomicU64,
    fail: AtomicU64,
    info: AtomicU64,
}

/// The counters at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Since the counters were created.
    pub elapsed: Duration,
    pub invoked: u64,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

impl Stats {
    pub fn new() -> Self {
        Stats {
            start: Instant::now(),
            invoked: AtomicU64::new(0),
            ok: AtomicU64::new(0),
            fail: AtomicU64::new(0),
            info: AtomicU64::new(0),
        }
    }

    pub fn invoked(&self) {
        self.invoked.fetch_add(1, Relaxed);
    }

    pub fn completed(&self, kind: OpType) {
        let counter = match kind {
            OpType::Ok => &self.ok,
            OpType::Fail => &self.fail,
            OpType::Info | OpType::Invoke => &self.info,
        };
        counter.fetch_add(1, Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            elapsed: self.start.elapsed(),
            invoked: self.invoked.load(Relaxed),
            ok: self.ok.load(Relaxed),
            fail: self.fail.load(Relaxed),
            info: self.info.load(Relaxed),
        }
    }
}

impl Snapshot {
    pub fn completed(&self) -> u64 {
        self.ok + self.fail + self.info
    }

    /// Completions per second between an earlier snapshot and this one: the
    /// status line's current throughput.
    pub fn rate_since(&self, earlier: &Snapshot) -> f64 {
        let secs = self.elapsed.saturating_sub(earlier.elapsed).as_secs_f64();
        if secs == 0.0 {
            return 0.0;
        }
        self.completed().saturating_sub(earlier.completed()) as f64 / secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_kind_and_computes_a_rate() {
        let stats = Stats::new();
        let before = stats.snapshot();
        stats.invoked();
        stats.invoked();
        stats.completed(OpType::Ok);
        stats.completed(OpType::Info);
        let mut after = stats.snapshot();
        assert_eq!(
            (after.invoked, after.ok, after.fail, after.info),
            (2, 1, 0, 1)
        );
        after.elapsed = before.elapsed + Duration::from_millis(500);
        assert_eq!(after.rate_since(&before), 4.0);
    }
}
