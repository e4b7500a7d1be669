//! The unsynced bytes of one file: non-overlapping runs of bytes keyed by
//! their offset. A write replaces what it covers and merges with the runs it
//! touches, so a file appended to in small writes (a log) stays one run
//! that grows in place instead of thousands of small ones.

use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extents {
    runs: BTreeMap<u64, Vec<u8>>,
    bytes: u64,
}

impl Extents {
    /// How many bytes the runs hold (the memory the cache accounts).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// The runs in offset order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.runs.iter().map(|(&at, data)| (at, data.as_slice()))
    }

    /// Put `data` at `offset`, over whatever was there.
    pub fn write(&mut self, offset: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let end = offset + data.len() as u64;
        // Runs that overlap or touch [offset, end): walking down from the
        // last run starting at or before `end`, run ends only decrease.
        let touching: Vec<u64> = self
            .runs
            .range(..=end)
            .rev()
            .take_while(|(&at, run)| at + run.len() as u64 >= offset)
            .map(|(&at, _)| at)
            .collect();
        let Some(&first) = touching.last() else {
            self.runs.insert(offset, data.to_vec());
            self.bytes += data.len() as u64;
            return;
        };
        // Grow the lowest run in place when it starts at or before the
        // write (appends and overwrites); a write that starts earlier needs
        // a fresh buffer.
        let start = first.min(offset);
        let mut merged = if first == start {
            self.runs.remove(&first).unwrap_or_default()
        } else {
            Vec::new()
        };
        self.bytes -= merged.len() as u64;
        let mut merged_end = start + merged.len() as u64;
        // The lowest run, if already taken above, is gone from the map.
        for at in touching.iter().rev() {
            let Some(run) = self.runs.remove(at) else {
                continue;
            };
            self.bytes -= run.len() as u64;
            let run_end = at + run.len() as u64;
            if run_end > merged_end {
                merged.resize((run_end - start) as usize, 0);
                merged_end = run_end;
            }
            let from = (at - start) as usize;
            merged[from..from + run.len()].copy_from_slice(&run);
        }
        if end > merged_end {
            merged.resize((end - start) as usize, 0);
        }
        let from = (offset - start) as usize;
        merged[from..from + data.len()].copy_from_slice(data);
        self.bytes += merged.len() as u64;
        self.runs.insert(start, merged);
    }

    /// Forget every byte at or past `size`.
    pub fn truncate(&mut self, size: u64) {
        let past: Vec<u64> = self.runs.range(size..).map(|(&at, _)| at).collect();
        for at in past {
            if let Some(run) = self.runs.remove(&at) {
                self.bytes -= run.len() as u64;
            }
        }
        if let Some((&at, run)) = self.runs.range_mut(..size).next_back() {
            let keep = (size - at) as usize;
            if run.len() > keep {
                self.bytes -= (run.len() - keep) as u64;
                run.truncate(keep);
            }
        }
    }

    /// Copy the runs' bytes that fall in `[offset, offset + buf.len())`
    /// over `buf`.
    pub fn overlay(&self, offset: u64, buf: &mut [u8]) {
        let end = offset + buf.len() as u64;
        let first = self
            .runs
            .range(..=offset)
            .next_back()
            .map_or(offset, |(&at, _)| at);
        for (&at, run) in self.runs.range(first..end) {
            let run_end = at + run.len() as u64;
            let lo = at.max(offset);
            let hi = run_end.min(end);
            if lo >= hi {
                continue;
            }
            buf[(lo - offset) as usize..(hi - offset) as usize]
                .copy_from_slice(&run[(lo - at) as usize..(hi - at) as usize]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The runs laid over a zeroed buffer of `len` bytes.
    fn flat(extents: &Extents, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        extents.overlay(0, &mut buf);
        buf
    }

    #[test]
    fn appends_grow_one_run() {
        let mut e = Extents::default();
        for i in 0..100u64 {
            e.write(i * 3, b"abc");
        }
        assert_eq!(e.iter().count(), 1);
        assert_eq!(e.bytes(), 300);
    }

    #[test]
    fn a_write_replaces_and_bridges_runs() {
        let mut e = Extents::default();
        e.write(0, b"aaaa");
        e.write(10, b"bbbb");
        e.write(2, b"XXXXXXXXXX"); // 2..12: covers the gap and both runs' edges
        assert_eq!(e.iter().count(), 1);
        assert_eq!(flat(&e, 14), b"aaXXXXXXXXXXbb");
        assert_eq!(e.bytes(), 14);
    }

    #[test]
    fn a_write_before_the_first_run_merges_it() {
        let mut e = Extents::default();
        e.write(5, b"bbbb");
        e.write(2, b"aaa");
        assert_eq!(e.iter().collect::<Vec<_>>(), vec![(2, &b"aaabbbb"[..])]);
        assert_eq!(e.bytes(), 7);
    }

    #[test]
    fn runs_apart_stay_apart() {
        let mut e = Extents::default();
        e.write(0, b"aa");
        e.write(5, b"bb");
        assert_eq!(e.iter().count(), 2);
        assert_eq!(flat(&e, 7), b"aa\0\0\0bb");
    }

    #[test]
    fn truncate_cuts_and_drops_runs() {
        let mut e = Extents::default();
        e.write(0, b"aaaa");
        e.write(10, b"bbbb");
        e.truncate(2);
        assert_eq!(e.iter().collect::<Vec<_>>(), vec![(0, &b"aa"[..])]);
        assert_eq!(e.bytes(), 2);
        e.truncate(0);
        assert!(e.is_empty());
        assert_eq!(e.bytes(), 0);
    }

    #[test]
    fn overlay_of_a_window_inside_a_run() {
        let mut e = Extents::default();
        e.write(0, b"0123456789");
        let mut buf = [b'.'; 4];
        e.overlay(3, &mut buf);
        assert_eq!(&buf, b"3456");
        let mut past = [b'.'; 4];
        e.overlay(8, &mut past);
        assert_eq!(&past, b"89..");
    }
}
