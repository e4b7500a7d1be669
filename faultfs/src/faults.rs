//! The faults in force and what they decide for each operation: the
//! flakey cycle, random corruption, added latency. Pure decisions on data
//! and a clock, so they are tested without FUSE.

use std::time::{Duration, Instant};

use chaos_rng::Rng;
use serde::Serialize;
use serde_json::{json, Value};

use crate::flakey::{Direction, Flakey, Mode};

/// What to do with a write (or a truncate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteVerdict {
    /// Store it (possibly corrupted in place).
    Store,
    /// Report success, keep nothing (drop_writes).
    Discard,
    /// Fail with EIO.
    Fail,
}

/// What to do with an fsync, fdatasync or directory fsync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncVerdict {
    Sync,
    /// Report success and make nothing durable: under drop_writes the
    /// flush never reaches the disk.
    Skip,
    Fail,
}

/// Added delays, each before the operation runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Latency {
    pub reads: Duration,
    pub writes: Duration,
    pub fsync: Duration,
}

/// One random byte of a request changed, with a probability per request.
#[derive(Clone, Debug)]
pub struct RandomCorruption {
    pub probability: f64,
    pub seed: u64,
    rng: Rng,
}

impl RandomCorruption {
    pub fn new(probability: f64, seed: u64) -> RandomCorruption {
        RandomCorruption {
            probability,
            seed,
            rng: Rng::new(seed),
        }
    }

    /// With the probability, XOR one byte at a random place with a random
    /// non-zero value: the byte always changes.
    /// Whether it changed a byte.
    fn apply(&mut self, data: &mut [u8]) -> bool {
        if data.is_empty() {
            return false;
        }
        // 53 random bits as a uniform number in [0, 1).
        let draw = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        if draw >= self.probability {
            return false;
        }
        let at = self.rng.below(data.len());
        let flip = 1 + self.rng.below(255u64) as u8;
        data[at] ^= flip;
        true
    }
}

/// How many requests the faults changed since they were set (or last
/// cleared): what shows a fault did something. A 1 % corruption, or a
/// flakey disk the system did not write to while it was down, may change
/// nothing at all, and a report must not let that pass for a tested fault.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Affected {
    /// Reads, writes, truncates, fsyncs and metadata changes failed with EIO.
    pub failed: u64,
    /// Writes, truncates and fsyncs acknowledged and thrown away.
    pub dropped: u64,
    /// Reads whose data was changed on its way to the reader.
    pub corrupted_reads: u64,
    /// Writes stored with a changed byte.
    pub corrupted_writes: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Faults {
    flakey: Option<Flakey>,
    corrupt_reads: Option<RandomCorruption>,
    corrupt_writes: Option<RandomCorruption>,
    latency: Latency,
    affected: Affected,
}

impl Faults {
    pub fn set_flakey(&mut self, flakey: Flakey) {
        self.flakey = Some(flakey);
    }

    pub fn set_corruption(&mut self, direction: Direction, corruption: RandomCorruption) {
        match direction {
            Direction::Read => self.corrupt_reads = Some(corruption),
            Direction::Write => self.corrupt_writes = Some(corruption),
        }
    }

    pub fn set_latency(&mut self, latency: Latency) {
        self.latency = latency;
    }

    pub fn latency(&self) -> Latency {
        self.latency
    }

    /// End every fault; what they changed.
    pub fn clear(&mut self) -> Affected {
        std::mem::take(self).affected
    }

    /// Counts a verdict that changed what the request did.
    fn count(&mut self, failed: bool, dropped: bool) {
        self.affected.failed += u64::from(failed);
        self.affected.dropped += u64::from(dropped);
    }

    /// The flakey mode, if one is set and down at `now`.
    fn down(&self, now: Instant) -> Option<Mode> {
        self.flakey
            .as_ref()
            .filter(|f| f.is_down(now))
            .map(|f| f.mode)
    }

    /// Whether a read fails with EIO.
    pub fn read_fails(&mut self, now: Instant) -> bool {
        let fails = matches!(self.down(now), Some(Mode::ErrorAll | Mode::ErrorReads));
        self.count(fails, false);
        fails
    }

    /// Corrupt data a read returns, as the faults in force say.
    pub fn corrupt_read(&mut self, now: Instant, data: &mut [u8]) {
        let mut changed = false;
        if let Some(mode) = self.down(now) {
            changed |= mode.corrupt(Direction::Read, data);
        }
        if let Some(c) = &mut self.corrupt_reads {
            changed |= c.apply(data);
        }
        self.affected.corrupted_reads += u64::from(changed);
    }

    /// Decide a write; when it is to be stored, `data` is corrupted in
    /// place as the faults say.
    pub fn write(&mut self, now: Instant, data: &mut [u8]) -> WriteVerdict {
        let mut changed = false;
        match self.down(now) {
            Some(Mode::ErrorAll | Mode::ErrorWrites) => {
                self.count(true, false);
                return WriteVerdict::Fail;
            }
            Some(Mode::DropWrites) => {
                self.count(false, true);
                return WriteVerdict::Discard;
            }
            Some(mode) => changed |= mode.corrupt(Direction::Write, data),
            None => {}
        }
        if let Some(c) = &mut self.corrupt_writes {
            changed |= c.apply(data);
        }
        self.affected.corrupted_writes += u64::from(changed);
        WriteVerdict::Store
    }

    /// Decide a truncate or an allocation: data with no bytes to corrupt.
    pub fn resize(&mut self, now: Instant) -> WriteVerdict {
        let verdict = match self.down(now) {
            Some(Mode::ErrorAll | Mode::ErrorWrites) => WriteVerdict::Fail,
            Some(Mode::DropWrites) => WriteVerdict::Discard,
            _ => WriteVerdict::Store,
        };
        self.count(
            verdict == WriteVerdict::Fail,
            verdict == WriteVerdict::Discard,
        );
        verdict
    }

    pub fn sync(&mut self, now: Instant) -> SyncVerdict {
        let verdict = match self.down(now) {
            Some(Mode::ErrorAll | Mode::ErrorWrites) => SyncVerdict::Fail,
            Some(Mode::DropWrites) => SyncVerdict::Skip,
            _ => SyncVerdict::Sync,
        };
        self.count(verdict == SyncVerdict::Fail, verdict == SyncVerdict::Skip);
        verdict
    }

    /// Whether a change of metadata (create, mkdir, rename, unlink, link,
    /// symlink, chmod, chown, utimes) fails with EIO: a disk that refuses
    /// writes refuses these too. drop_writes lets them through (see the
    /// docs: metadata is durable at once here).
    pub fn metadata_fails(&mut self, now: Instant) -> bool {
        let fails = matches!(self.down(now), Some(Mode::ErrorAll | Mode::ErrorWrites));
        self.count(fails, false);
        fails
    }

    /// What is in force, for `status`.
    pub fn status(&self, now: Instant) -> Value {
        let flakey = self.flakey.as_ref().map(|f| {
            let mut v = json!({
                "up_ms": f.up.as_millis() as u64,
                "down_ms": f.down.as_millis() as u64,
                "mode": f.mode.name(),
                "down": f.is_down(now),
            });
            if let Mode::CorruptBioByte {
                nth,
                value,
                direction,
            } = f.mode
            {
                v["byte"] = json!(nth);
                v["value"] = json!(value);
                v["direction"] = json!(direction);
            }
            v
        });
        let corrupt: Vec<Value> = [
            (Direction::Read, &self.corrupt_reads),
            (Direction::Write, &self.corrupt_writes),
        ]
        .into_iter()
        .filter_map(|(direction, c)| {
            c.as_ref().map(
                |c| json!({"direction": direction, "probability": c.probability, "seed": c.seed}),
            )
        })
        .collect();
        json!({
            "flakey": flakey,
            "corrupt": corrupt,
            "affected": self.affected,
            "latency": {
                "reads_ms": self.latency.reads.as_millis() as u64,
                "writes_ms": self.latency.writes.as_millis() as u64,
                "fsync_ms": self.latency.fsync.as_millis() as u64,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down(mode: Mode) -> (Faults, Instant) {
        let now = Instant::now();
        let mut f = Faults::default();
        f.set_flakey(Flakey::new(
            Duration::ZERO,
            Duration::from_secs(60),
            mode,
            now,
        ));
        (f, now)
    }

    #[test]
    fn nothing_in_force_passes_everything() {
        let mut f = Faults::default();
        let now = Instant::now();
        let mut data = *b"abc";
        assert_eq!(f.write(now, &mut data), WriteVerdict::Store);
        assert_eq!(&data, b"abc");
        assert!(!f.read_fails(now));
        assert_eq!(f.sync(now), SyncVerdict::Sync);
        assert!(!f.metadata_fails(now));
    }

    #[test]
    fn each_mode_while_down() {
        let mut data = *b"abc";
        let (mut f, now) = down(Mode::ErrorAll);
        assert!(f.read_fails(now));
        assert_eq!(f.write(now, &mut data), WriteVerdict::Fail);
        assert_eq!(f.sync(now), SyncVerdict::Fail);
        assert!(f.metadata_fails(now));

        let (mut f, now) = down(Mode::ErrorReads);
        assert!(f.read_fails(now));
        assert_eq!(f.write(now, &mut data), WriteVerdict::Store);
        assert_eq!(f.sync(now), SyncVerdict::Sync);
        assert!(!f.metadata_fails(now));

        let (mut f, now) = down(Mode::ErrorWrites);
        assert!(!f.read_fails(now));
        assert_eq!(f.write(now, &mut data), WriteVerdict::Fail);
        assert_eq!(f.resize(now), WriteVerdict::Fail);
        assert_eq!(f.sync(now), SyncVerdict::Fail);
        assert!(f.metadata_fails(now));

        let (mut f, now) = down(Mode::DropWrites);
        assert!(!f.read_fails(now));
        assert_eq!(f.write(now, &mut data), WriteVerdict::Discard);
        assert_eq!(f.resize(now), WriteVerdict::Discard);
        assert_eq!(f.sync(now), SyncVerdict::Skip);
        assert!(!f.metadata_fails(now));
        assert_eq!(&data, b"abc");
    }

    #[test]
    fn corrupt_bio_byte_only_while_down() {
        let now = Instant::now();
        let mut f = Faults::default();
        let mode = Mode::CorruptBioByte {
            nth: 2,
            value: b'!',
            direction: Direction::Read,
        };
        f.set_flakey(Flakey::new(
            Duration::from_secs(10),
            Duration::from_secs(10),
            mode,
            now,
        ));
        let mut data = *b"abc";
        f.corrupt_read(now, &mut data);
        assert_eq!(&data, b"abc", "up: intact");
        f.corrupt_read(now + Duration::from_secs(11), &mut data);
        assert_eq!(&data, b"a!c", "down: the 2nd byte");
        let mut written = *b"abc";
        assert_eq!(
            f.write(now + Duration::from_secs(11), &mut written),
            WriteVerdict::Store
        );
        assert_eq!(&written, b"abc", "a read corruption leaves writes alone");
    }

    #[test]
    fn random_corruption_changes_exactly_one_byte_at_probability_one() {
        let mut f = Faults::default();
        f.set_corruption(Direction::Write, RandomCorruption::new(1.0, 7));
        let now = Instant::now();
        for _ in 0..100 {
            let mut data = [0u8; 64];
            assert_eq!(f.write(now, &mut data), WriteVerdict::Store);
            assert_eq!(data.iter().filter(|&&b| b != 0).count(), 1);
        }
        let mut read = [0u8; 64];
        f.corrupt_read(now, &mut read);
        assert_eq!(read, [0u8; 64], "only writes were asked for");
    }

    #[test]
    fn random_corruption_rate_follows_the_probability_and_the_seed() {
        let count = |seed| {
            let mut c = RandomCorruption::new(0.1, seed);
            (0..10_000)
                .filter(|_| {
                    let mut d = [0u8; 8];
                    c.apply(&mut d);
                    d != [0u8; 8]
                })
                .count()
        };
        let hits = count(3);
        assert!((800..1200).contains(&hits), "{hits} of 10000 at p=0.1");
        assert_eq!(count(3), hits, "same seed, same corruptions");
        let mut never = RandomCorruption::new(0.0, 1);
        let mut d = [0u8; 8];
        never.apply(&mut d);
        assert_eq!(d, [0u8; 8]);
    }

    #[test]
    fn clear_ends_every_fault() {
        let (mut f, now) = down(Mode::ErrorAll);
        f.set_corruption(Direction::Read, RandomCorruption::new(1.0, 1));
        f.set_latency(Latency {
            reads: Duration::from_millis(5),
            ..Latency::default()
        });
        f.clear();
        assert!(!f.read_fails(now));
        assert_eq!(f.latency(), Latency::default());
        let status = f.status(now);
        assert_eq!(status["flakey"], Value::Null);
        assert_eq!(status["corrupt"], json!([]));
    }

    #[test]
    fn each_changed_request_is_counted_and_clear_hands_the_count_over() {
        let mut data = *b"abc";
        let (mut f, now) = down(Mode::ErrorWrites);
        assert!(!f.read_fails(now));
        f.write(now, &mut data);
        f.resize(now);
        f.sync(now);
        f.metadata_fails(now);
        assert_eq!(f.status(now)["affected"]["failed"], 4);
        let counted = f.clear();
        assert_eq!(
            counted,
            Affected {
                failed: 4,
                ..Affected::default()
            }
        );
        assert_eq!(f.clear(), Affected::default(), "a clear starts a new count");

        let (mut f, now) = down(Mode::DropWrites);
        f.write(now, &mut data);
        f.sync(now);
        assert_eq!(f.clear().dropped, 2);

        // A byte already equal to the value is no change, and not counted.
        let (mut f, now) = down(Mode::CorruptBioByte {
            nth: 1,
            value: b'Z',
            direction: Direction::Write,
        });
        let mut hit = *b"abc";
        let mut same = *b"Zbc";
        f.write(now, &mut hit);
        f.write(now, &mut same);
        f.corrupt_read(now, &mut hit);
        assert_eq!(
            f.clear(),
            Affected {
                corrupted_writes: 1,
                ..Affected::default()
            }
        );

        let mut f = Faults::default();
        f.set_corruption(Direction::Read, RandomCorruption::new(1.0, 5));
        for _ in 0..3 {
            f.corrupt_read(now, &mut [0u8; 16]);
        }
        f.corrupt_read(now, &mut []);
        assert_eq!(
            f.clear().corrupted_reads,
            3,
            "an empty read has nothing to corrupt"
        );
    }

    #[test]
    fn status_names_what_is_in_force() {
        let (mut f, now) = down(Mode::CorruptBioByte {
            nth: 3,
            value: 9,
            direction: Direction::Write,
        });
        f.set_corruption(Direction::Read, RandomCorruption::new(0.5, 42));
        let s = f.status(now);
        assert_eq!(s["flakey"]["mode"], "corrupt_bio_byte");
        assert_eq!(s["flakey"]["down"], true);
        assert_eq!(s["flakey"]["byte"], 3);
        assert_eq!(s["flakey"]["direction"], "w");
        assert_eq!(s["corrupt"][0]["direction"], "r");
        assert_eq!(s["corrupt"][0]["seed"], 42);
    }
}
