//! The one seeded random number generator of the harness: the ops a
//! workload generates, the faults a schedule picks, the nodes each fault
//! hits. A run must replay from its seed alone, across versions of the
//! harness, so the algorithm is ours and fixed: SplitMix64 (Steele, Lea,
//! Flood 2014), ten lines, well studied, every seed its own stream (an
//! xorshift seeded directly maps neighbouring seeds to one state). Not
//! cryptographic.
//!
//! Changing anything here changes what every `--seed` replays: the golden
//! test `tests/same_seed_same_run.rs` fails first.

/// A deterministic generator: one seed, one sequence, on every platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

/// The integer types [`Rng::below`] draws: `u64` (weights, values) and
/// `usize` (indices).
pub trait Bound: Copy {
    fn to_u64(self) -> u64;
    fn from_u64(n: u64) -> Self;
}

impl Bound for u64 {
    fn to_u64(self) -> u64 {
        self
    }
    fn from_u64(n: u64) -> Self {
        n
    }
}

impl Bound for usize {
    fn to_u64(self) -> u64 {
        self as u64
    }
    fn from_u64(n: u64) -> Self {
        n as usize
    }
}

impl Rng {
    /// The same seed always yields the same sequence.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform number in `0..n` (0 when `n` is 0).
    ///
    /// Lemire's multiply-shift instead of `%`: no division, no loop, and a
    /// bias below n / 2^64 that no run can notice.
    pub fn below<N: Bound>(&mut self, n: N) -> N {
        let wide = u128::from(self.next_u64()) * u128::from(n.to_u64());
        N::from_u64((wide >> 64) as u64)
    }

    /// True with the given chance, in percent.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100u64) < percent
    }

    /// Fisher–Yates shuffle in place.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    /// A generator for a sub-stream (one per client, say) that does not
    /// overlap this one's choices.
    pub fn fork(&self, stream: u64) -> Rng {
        let mut mixer = Rng::new(self.state ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        Rng::new(mixer.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(seed: u64) -> Vec<u64> {
        let mut r = Rng::new(seed);
        (0..8).map(|_| r.next_u64()).collect()
    }

    #[test]
    fn one_seed_one_sequence_and_neighbouring_seeds_differ() {
        assert_eq!(take(7), take(7));
        assert_ne!(take(0), take(1));
        assert_ne!(take(2), take(3));
    }

    /// SplitMix64's published outputs for seed 0: a change of algorithm
    /// (which would change every replay) fails here.
    #[test]
    fn the_sequence_is_splitmix64s() {
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn below_stays_in_range_covers_it_evenly_and_takes_zero() {
        let mut r = Rng::new(1);
        let mut seen = [0u32; 5];
        for _ in 0..10_000 {
            seen[r.below(5usize)] += 1;
        }
        assert!(
            seen.iter().all(|&n| (1_700..2_300).contains(&n)),
            "{seen:?}"
        );
        assert_eq!(r.below(0usize), 0);
        assert_eq!(r.below(0u64), 0);
    }

    #[test]
    fn usize_and_u64_draw_the_same_numbers() {
        let (mut a, mut b) = (Rng::new(5), Rng::new(5));
        for n in 1..50u64 {
            assert_eq!(a.below(n) as usize, b.below(n as usize));
        }
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut r = Rng::new(3);
        let mut v: Vec<u32> = (0..20).collect();
        r.shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort();
        assert_eq!(sorted, (0..20).collect::<Vec<_>>());
        assert_ne!(v, sorted, "seed 3 does not shuffle 20 elements to identity");
    }

    #[test]
    fn forks_differ_from_each_other_and_from_the_root() {
        let root = Rng::new(3);
        assert_ne!(root.fork(0).next_u64(), root.fork(1).next_u64());
        assert_ne!(root.fork(0).next_u64(), root.clone().next_u64());
    }
}
