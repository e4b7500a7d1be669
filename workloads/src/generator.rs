//! The generator: decides the next op for a free worker.
//!
//! It is pure: no clock, no I/O. The caller passes the time since the run
//! began; the generator answers with the invocation to perform now, a time
//! to ask again (rate limit), or the end of the run. Op choices come only from the seeded [`Rng`], in the order
//! ops are handed out, so one seed hands out one sequence of invocations
//! whatever the timing; timing decides only *when* the sequence is cut off
//! (time limit) and which worker gets which op.

use crate::client::Invocation;
use crate::mix::Mix;
use crate::rng::Rng;
use serde_json::Value;
use std::time::Duration;

/// Jepsen's independent-keys shape: each key gets a few ops, then is
/// retired for a fresh one, so each key's sub-history stays small enough for
/// the linearizability checker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpec {
    /// Invocations on one key before it is retired.
    pub ops_per_key: u64,
    /// Keys open at the same time; each op goes to one of them at random.
    pub active: usize,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct GeneratorConfig {
    pub seed: u64,
    /// None: ops carry no key (a single register, a queue).
    pub keys: Option<KeySpec>,
    /// Ops per second across all workers, evenly spaced. None: as fast as
    /// the workers go.
    pub rate: Option<f64>,
    /// No op starts at or after this time since the run began.
    pub time_limit: Option<Duration>,
    /// At most this many ops are handed out.
    pub op_limit: Option<u64>,
}

/// Why a generator cannot be made.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GeneratorError {
    #[error("the op mix has no function with a weight above 0")]
    EmptyMix,
    #[error("the rate must be a number of ops/s above 0, not {0}")]
    BadRate(f64),
    #[error("ops per key and active keys must be at least 1 (got {} and {})", .0.ops_per_key, .0.active)]
    NoKeys(KeySpec),
}

/// One op handed out, to be invoked now.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    /// 0 for the first op handed out, then 1, 2, ...
    pub seq: u64,
    pub invocation: Invocation,
}

/// The generator's answer to a free worker.
#[derive(Clone, Debug, PartialEq)]
pub enum Next {
    /// Invoke this now.
    Op(Planned),
    /// Rate limited: ask again at this time since the run began. Nothing is
    /// reserved for the asker: whichever worker asks first then gets the op.
    Wait(Duration),
    /// Every op of the run is handed out (op or time limit).
    Done,
}

/// How late a rate-limited op may start without pushing back the next one.
const MAX_LATENESS: Duration = Duration::from_millis(5);

#[derive(Debug)]
struct Slot {
    key: u64,
    left: u64,
}

#[derive(Debug)]
pub struct Generator {
    mix: Mix,
    rng: Rng,
    config: GeneratorConfig,
    /// Time between two op starts under a rate limit.
    interval: Option<Duration>,
    /// The earliest start of the next op under a rate limit.
    next_start: Duration,
    slots: Vec<Slot>,
    next_key: u64,
    handed_out: u64,
    done: bool,
}

impl Generator {
    pub fn new(mix: Mix, config: GeneratorConfig) -> Result<Self, GeneratorError> {
        if mix.is_empty() {
            return Err(GeneratorError::EmptyMix);
        }
        let interval = match config.rate {
            None => None,
            Some(r) if r.is_finite() && r > 0.0 => Some(Duration::from_secs_f64(1.0 / r)),
            Some(r) => return Err(GeneratorError::BadRate(r)),
        };
        let mut slots = Vec::new();
        if let Some(keys) = config.keys {
            if keys.ops_per_key == 0 || keys.active == 0 {
                return Err(GeneratorError::NoKeys(keys));
            }
            slots = (0..keys.active as u64)
                .map(|key| Slot {
                    key,
                    left: keys.ops_per_key,
                })
                .collect();
        }
        Ok(Generator {
            mix,
            rng: Rng::new(config.seed),
            next_key: slots.len() as u64,
            slots,
            interval,
            next_start: Duration::ZERO,
            handed_out: 0,
            done: false,
            config,
        })
    }

    /// What a free worker asking at `now` (time since the run began) does.
    ///
    /// Under a rate limit an op is handed out only once its start has come,
    /// starts being `1 / rate` apart. A worker waking a little late (timers
    /// are coarse) does not slow the pace: lateness up to one interval (at
    /// most 5 ms) is absorbed. After a longer stall (every worker busy on
    /// slow ops, a starved runtime) the pace resumes from now: at most one
    /// extra op goes out at once, never a burst to catch up. And since no
    /// op is reserved before its start, a run stopped meanwhile hands out
    /// exactly the ops it invokes.
    pub fn next(&mut self, now: Duration) -> Next {
        if self.done
            || self.config.op_limit.is_some_and(|n| self.handed_out >= n)
            || self.config.time_limit.is_some_and(|limit| now >= limit)
        {
            self.done = true;
            return Next::Done;
        }
        if let Some(interval) = self.interval {
            if self.next_start > now {
                if self
                    .config
                    .time_limit
                    .is_some_and(|limit| self.next_start >= limit)
                {
                    self.done = true;
                    return Next::Done;
                }
                return Next::Wait(self.next_start);
            }
            let tolerance = interval.min(MAX_LATENESS);
            self.next_start = self.next_start.max(now.saturating_sub(tolerance)) + interval;
        }
        let key = self.take_key();
        let (f, value) = self.mix.pick(&mut self.rng);
        let seq = self.handed_out;
        self.handed_out += 1;
        Next::Op(Planned {
            seq,
            invocation: Invocation { f, key, value },
        })
    }

    /// Ops handed out so far.
    pub fn handed_out(&self) -> u64 {
        self.handed_out
    }

    fn take_key(&mut self) -> Option<Value> {
        let ops_per_key = self.config.keys?.ops_per_key;
        let i = self.rng.below(self.slots.len() as u64) as usize;
        let slot = &mut self.slots[i];
        let key = slot.key;
        slot.left -= 1;
        if slot.left == 0 {
            *slot = Slot {
                key: self.next_key,
                left: ops_per_key,
            };
            self.next_key += 1;
        }
        Some(Value::from(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    const MS: Duration = Duration::from_millis(1);

    fn generator(config: GeneratorConfig) -> Generator {
        Generator::new(Mix::cas_register(5), config).unwrap()
    }

    fn op(next: Next) -> Planned {
        match next {
            Next::Op(planned) => planned,
            other => panic!("expected an op, got {other:?}"),
        }
    }

    fn sequence(config: GeneratorConfig, n: usize) -> Vec<Invocation> {
        let mut g = generator(config);
        (0..n)
            .map(|_| op(g.next(Duration::ZERO)).invocation)
            .collect()
    }

    /// Eager workers under a rate limit: each asks again when told to.
    /// Returns the start times of `n` ops.
    fn eager_starts(g: &mut Generator, mut now: Duration, n: usize) -> Vec<Duration> {
        let mut starts = Vec::new();
        while starts.len() < n {
            match g.next(now) {
                Next::Op(_) => starts.push(now),
                Next::Wait(at) => now = at,
                Next::Done => break,
            }
        }
        starts
    }

    fn keyed(seed: u64) -> GeneratorConfig {
        GeneratorConfig {
            seed,
            keys: Some(KeySpec {
                ops_per_key: 7,
                active: 3,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn one_seed_hands_out_one_sequence_whatever_the_timing() {
        let a = sequence(keyed(42), 500);
        // Asked at other times, told to wait by a rate limit: same choices.
        let mut g = generator(GeneratorConfig {
            rate: Some(1000.0),
            ..keyed(42)
        });
        let mut b = Vec::new();
        let mut now = Duration::ZERO;
        while b.len() < 500 {
            match g.next(now) {
                Next::Op(p) => b.push(p.invocation),
                Next::Wait(at) => now = at + MS * (b.len() as u32 % 3),
                Next::Done => unreachable!(),
            }
        }
        assert_eq!(a, b);
        assert_ne!(a, sequence(keyed(43), 500));
    }

    #[test]
    fn each_key_gets_its_ops_and_few_keys_are_open_at_once() {
        let ops = sequence(keyed(1), 700);
        let mut per_key: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for (i, op) in ops.iter().enumerate() {
            per_key
                .entry(op.key.as_ref().unwrap().as_u64().unwrap())
                .or_default()
                .push(i);
        }
        // Keys are opened in order, and every key but the last few got all 7.
        let keys: Vec<u64> = per_key.keys().copied().collect();
        assert_eq!(keys, (0..keys.len() as u64).collect::<Vec<_>>());
        let full = per_key.values().filter(|v| v.len() == 7).count();
        assert!(full >= keys.len() - 3 && per_key.values().all(|v| v.len() <= 7));
        // At any position, at most 3 keys have begun and not finished.
        for pos in 0..ops.len() {
            let open: BTreeSet<_> = per_key
                .iter()
                .filter(|(_, at)| at[0] <= pos && (at.len() < 7 || *at.last().unwrap() >= pos))
                .map(|(k, _)| k)
                .collect();
            assert!(open.len() <= 3, "{} keys open at {pos}", open.len());
        }
    }

    #[test]
    fn without_keys_ops_carry_none() {
        let ops = sequence(GeneratorConfig::default(), 20);
        assert!(ops.iter().all(|op| op.key.is_none()));
    }

    #[test]
    fn op_limit_and_time_limit_end_the_sequence_for_good() {
        let mut g = generator(GeneratorConfig {
            op_limit: Some(3),
            ..Default::default()
        });
        let seqs: Vec<u64> = (0..3).map(|_| op(g.next(Duration::ZERO)).seq).collect();
        assert_eq!(seqs, vec![0, 1, 2]);
        assert_eq!(g.next(Duration::ZERO), Next::Done);

        let mut g = generator(GeneratorConfig {
            time_limit: Some(MS * 10),
            ..Default::default()
        });
        op(g.next(MS * 9));
        assert_eq!(g.next(MS * 10), Next::Done);
        assert_eq!(g.next(Duration::ZERO), Next::Done, "done stays done");
    }

    #[test]
    fn rate_spaces_starts_evenly_and_absorbs_late_wake_ups() {
        let mut g = generator(GeneratorConfig {
            rate: Some(100.0),
            ..Default::default()
        });
        op(g.next(Duration::ZERO));
        assert_eq!(g.next(MS), Next::Wait(MS * 10));
        // A worker waking 2 ms late does not push the next start back.
        op(g.next(MS * 12));
        assert_eq!(g.next(MS * 12), Next::Wait(MS * 20));
        assert_eq!(
            eager_starts(&mut g, MS * 20, 4),
            vec![MS * 20, MS * 30, MS * 40, MS * 50]
        );
    }

    #[test]
    fn after_a_stall_the_pace_resumes_without_a_burst() {
        let mut g = generator(GeneratorConfig {
            rate: Some(100.0),
            ..Default::default()
        });
        eager_starts(&mut g, Duration::ZERO, 3);
        // Nobody asked for a second; then every worker asks at once.
        let after = eager_starts(&mut g, MS * 1_050, 4);
        assert_eq!(after, vec![MS * 1_050, MS * 1_055, MS * 1_065, MS * 1_075]);
        // Fast rates: at most one extra op at once.
        let mut g = generator(GeneratorConfig {
            rate: Some(1_000.0),
            ..Default::default()
        });
        eager_starts(&mut g, Duration::ZERO, 3);
        let after = eager_starts(&mut g, MS * 1_050, 4);
        assert_eq!(after, vec![MS * 1_050, MS * 1_050, MS * 1_051, MS * 1_052]);
    }

    #[test]
    fn a_rate_limited_start_past_the_time_limit_is_not_handed_out() {
        let mut g = generator(GeneratorConfig {
            rate: Some(100.0),
            time_limit: Some(MS * 25),
            ..Default::default()
        });
        assert_eq!(
            eager_starts(&mut g, Duration::ZERO, 10),
            vec![Duration::ZERO, MS * 10, MS * 20]
        );
        assert_eq!(g.next(MS * 21), Next::Done);
    }

    #[test]
    fn bad_configurations_are_refused() {
        let bad_rate = GeneratorConfig {
            rate: Some(0.0),
            ..Default::default()
        };
        assert!(Generator::new(Mix::cas_register(5), bad_rate).is_err());
        let no_keys = GeneratorConfig {
            keys: Some(KeySpec {
                ops_per_key: 0,
                active: 1,
            }),
            ..Default::default()
        };
        assert!(Generator::new(Mix::cas_register(5), no_keys).is_err());
        assert!(Generator::new(Mix::new(), GeneratorConfig::default()).is_err());
    }
}
