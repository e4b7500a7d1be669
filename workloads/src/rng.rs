//! The seeded random numbers behind every op choice.
//!
//! splitmix64 rather than `chaos_checkers::synth::Rng`: that xorshift maps
//! seeds 0 and 1 (and every pair 2k, 2k+1) to the same state, so `--seed 0`
//! and `--seed 1` would replay the same run. splitmix64 gives every seed its
//! own stream, is as small, and passes BigCrush.

/// A deterministic generator: one seed, one sequence, on every platform.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`; `n` must not be 0.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        // Lemire's multiply-shift: no division, and a bias below 2^-64 * n
        // that no workload can see.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with the given chance, in percent.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A generator for a sub-stream (one per client, say) that does not
    /// overlap this one's choices.
    pub fn fork(&self, stream: u64) -> Rng {
        let mut mixer = Rng(self.0 ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        Rng(mixer.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_one_sequence_and_neighbouring_seeds_differ() {
        let take = |seed| {
            let mut r = Rng::new(seed);
            (0..8).map(|_| r.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(take(7), take(7));
        assert_ne!(take(0), take(1));
        assert_ne!(take(2), take(3));
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = Rng::new(1);
        let mut seen = [0u32; 5];
        for _ in 0..10_000 {
            seen[r.below(5) as usize] += 1;
        }
        assert!(
            seen.iter().all(|&n| (1_700..2_300).contains(&n)),
            "{seen:?}"
        );
    }

    #[test]
    fn forks_differ_from_each_other() {
        let root = Rng::new(3);
        assert_ne!(root.fork(0).next_u64(), root.fork(1).next_u64());
    }
}
