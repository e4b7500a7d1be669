//! dm-flakey's behaviour, per file operation instead of per block I/O:
//! from the moment it is set, the filesystem is "up" (everything passes)
//! for `up`, then "down" (the mode applies) for `down`, and the cycle
//! repeats. The modes keep dm-flakey's names and meaning; where a FUSE
//! request is not a bio, the difference is in docs/disk-faults.md.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Which I/O a corruption hits, with dm-flakey's letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Direction {
    #[serde(rename = "r")]
    Read,
    #[serde(rename = "w")]
    Write,
}

/// What happens while down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// dm-flakey with no feature: every read and write fails with EIO.
    ErrorAll,
    /// Reads fail with EIO; writes pass.
    ErrorReads,
    /// Writes report success and are thrown away; reads pass.
    DropWrites,
    /// Writes fail with EIO; reads pass.
    ErrorWrites,
    /// The `nth` byte (counting from 1) of every read or write is replaced
    /// by `value`; requests shorter than `nth` bytes pass intact.
    CorruptBioByte {
        nth: u32,
        value: u8,
        direction: Direction,
    },
}

impl Mode {
    pub fn name(&self) -> &'static str {
        match self {
            Mode::ErrorAll => "error_all",
            Mode::ErrorReads => "error_reads",
            Mode::DropWrites => "drop_writes",
            Mode::ErrorWrites => "error_writes",
            Mode::CorruptBioByte { .. } => "corrupt_bio_byte",
        }
    }

    /// Replace the configured byte of `data`, if this mode corrupts I/O in
    /// `direction`.
    /// Whether it changed a byte (one already equal to the value is not
    /// a change).
    pub fn corrupt(&self, direction: Direction, data: &mut [u8]) -> bool {
        if let Mode::CorruptBioByte {
            nth,
            value,
            direction: hit,
        } = *self
        {
            if hit == direction {
                if let Some(byte) = data.get_mut(nth as usize - 1) {
                    let changed = *byte != value;
                    *byte = value;
                    return changed;
                }
            }
        }
        false
    }
}

/// The up/down cycle and the mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flakey {
    pub up: Duration,
    pub down: Duration,
    pub mode: Mode,
    pub since: Instant,
}

impl Flakey {
    /// `up + down` must not be zero (dm-flakey refuses that table too).
    pub fn new(up: Duration, down: Duration, mode: Mode, since: Instant) -> Flakey {
        assert!(!(up + down).is_zero(), "a flakey cycle of zero length");
        Flakey {
            up,
            down,
            mode,
            since,
        }
    }

    /// Whether the mode applies at `now`.
    pub fn is_down(&self, now: Instant) -> bool {
        let cycle = (self.up + self.down).as_nanos();
        let into = now.saturating_duration_since(self.since).as_nanos() % cycle;
        into >= self.up.as_nanos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn up_first_then_down_then_up_again() {
        let t0 = Instant::now();
        let f = Flakey::new(ms(100), ms(50), Mode::ErrorAll, t0);
        assert!(!f.is_down(t0));
        assert!(!f.is_down(t0 + ms(99)));
        assert!(f.is_down(t0 + ms(100)));
        assert!(f.is_down(t0 + ms(149)));
        assert!(!f.is_down(t0 + ms(150)), "the cycle repeats");
        assert!(f.is_down(t0 + ms(1000 * 150 + 120)));
    }

    #[test]
    fn zero_up_is_always_down_and_zero_down_never() {
        let t0 = Instant::now();
        let always = Flakey::new(ms(0), ms(10), Mode::ErrorAll, t0);
        let never = Flakey::new(ms(10), ms(0), Mode::ErrorAll, t0);
        for t in [0, 5, 10, 12345] {
            assert!(always.is_down(t0 + ms(t)));
            assert!(!never.is_down(t0 + ms(t)));
        }
    }

    #[test]
    fn corrupt_bio_byte_counts_from_one_and_hits_one_direction() {
        let mode = Mode::CorruptBioByte {
            nth: 1,
            value: b'Z',
            direction: Direction::Write,
        };
        let mut data = *b"abc";
        mode.corrupt(Direction::Read, &mut data);
        assert_eq!(&data, b"abc");
        mode.corrupt(Direction::Write, &mut data);
        assert_eq!(&data, b"Zbc");
    }

    #[test]
    fn corrupt_bio_byte_past_the_request_changes_nothing() {
        let mode = Mode::CorruptBioByte {
            nth: 4,
            value: 0,
            direction: Direction::Read,
        };
        let mut data = *b"abc";
        mode.corrupt(Direction::Read, &mut data);
        assert_eq!(&data, b"abc");
    }
}
