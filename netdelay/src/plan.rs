//! What happens to each packet: the draws. Pure, so the statistics are
//! tested without a queue; the delayer ([`crate::delayer`]) only carries
//! the [`Fate`] out.
//!
//! The meanings are netem's, so a fault reads the same on a kernel that
//! has netem: `reorder` sends a packet at once, skipping the delay, so it
//! overtakes the packets held before it (netem's `reorder` without a
//! `gap`); `duplicate` sends the packet twice; `jitter` spreads the delay
//! around the mean, and a packet drawn a shorter delay than the one before
//! it overtakes it too (netem's tfifo does the same unless a rate is set).

use std::time::Duration;

use chaos_rng::Rng;

use crate::params::{Distribution, Percent};

/// The delayer's settings.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Plan {
    pub delay: Duration,
    pub jitter: Duration,
    pub distribution: Distribution,
    pub reorder: Percent,
    pub duplicate: Percent,
}

/// One packet's fate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fate {
    /// None: sent at once, ahead of the held packets (reordered).
    pub hold: Option<Duration>,
    /// Also sent a second time.
    pub duplicate: bool,
}

impl Plan {
    /// The draws for one packet, always the same number of them in the
    /// same order (reorder, duplicate, then the delay's), so a seed replays
    /// the same fates for the same packets whatever each draw said.
    pub fn draw(&self, rng: &mut Rng) -> Fate {
        let reordered = chance(rng, self.reorder);
        let duplicate = chance(rng, self.duplicate);
        let delay = self.delay_draw(rng);
        Fate {
            hold: (!reordered).then_some(delay),
            duplicate,
        }
    }

    /// The delay: the mean, spread by the jitter, never below 0.
    fn delay_draw(&self, rng: &mut Rng) -> Duration {
        let (a, b) = (unit(rng), unit(rng));
        let mean = self.delay.as_secs_f64();
        let jitter = self.jitter.as_secs_f64();
        let offset = match self.distribution {
            Distribution::Uniform => (2.0 * a - 1.0) * jitter,
            // Box-Muller: two uniforms make one standard normal. `1 - a`
            // is in (0, 1], so the logarithm is finite.
            Distribution::Normal => {
                (-2.0 * (1.0 - a).ln()).sqrt() * (std::f64::consts::TAU * b).cos() * jitter
            }
        };
        Duration::from_secs_f64((mean + offset).max(0.0))
    }
}

/// True with probability `p`.
fn chance(rng: &mut Rng, p: Percent) -> bool {
    unit(rng) < p.fraction()
}

/// A uniform number in [0, 1): the top 53 bits of a draw.
fn unit(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(delay_ms: u64, jitter_ms: u64, distribution: Distribution) -> Plan {
        Plan {
            delay: Duration::from_millis(delay_ms),
            jitter: Duration::from_millis(jitter_ms),
            distribution,
            ..Plan::default()
        }
    }

    fn delays(plan: &Plan, n: usize) -> Vec<f64> {
        let mut rng = Rng::new(1);
        (0..n)
            .map(|_| plan.draw(&mut rng).hold.unwrap().as_secs_f64() * 1000.0)
            .collect()
    }

    fn mean_sd(xs: &[f64]) -> (f64, f64) {
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        (mean, var.sqrt())
    }

    #[test]
    fn no_jitter_is_exactly_the_delay() {
        assert!(delays(&plan(100, 0, Distribution::Normal), 100)
            .iter()
            .all(|&d| d == 100.0));
    }

    #[test]
    fn uniform_jitter_spreads_evenly_within_the_bounds() {
        let d = delays(&plan(100, 20, Distribution::Uniform), 20_000);
        assert!(d.iter().all(|&x| (80.0..=120.0).contains(&x)));
        let (mean, sd) = mean_sd(&d);
        assert!((mean - 100.0).abs() < 0.5, "{mean}");
        // The sd of a uniform over ±20 is 20/sqrt(3) = 11.55.
        assert!((sd - 11.55).abs() < 0.3, "{sd}");
    }

    #[test]
    fn normal_jitter_has_the_jitter_as_its_sd_and_is_clipped_at_zero() {
        let (mean, sd) = mean_sd(&delays(&plan(100, 20, Distribution::Normal), 20_000));
        assert!((mean - 100.0).abs() < 0.5, "{mean}");
        assert!((sd - 20.0).abs() < 0.5, "{sd}");
        let d = delays(&plan(5, 20, Distribution::Normal), 20_000);
        assert!(d.iter().all(|&x| x >= 0.0));
        // About 40 % of N(5, 20) is below 0: those are all sent at once.
        let zeros = d.iter().filter(|&&x| x == 0.0).count();
        assert!((7_500..8_300).contains(&zeros), "{zeros}");
    }

    #[test]
    fn reorder_and_duplicate_happen_at_their_rates_and_independently() {
        let plan = Plan {
            delay: Duration::from_millis(10),
            reorder: "20%".parse().unwrap(),
            duplicate: "10%".parse().unwrap(),
            ..Plan::default()
        };
        let mut rng = Rng::new(7);
        let fates: Vec<Fate> = (0..20_000).map(|_| plan.draw(&mut rng)).collect();
        let reordered = fates.iter().filter(|f| f.hold.is_none()).count();
        let duplicated = fates.iter().filter(|f| f.duplicate).count();
        let both = fates
            .iter()
            .filter(|f| f.hold.is_none() && f.duplicate)
            .count();
        // Binomial 99.9 % intervals: 4000 ± 185, 2000 ± 139, 400 ± 65.
        assert!((3_815..4_185).contains(&reordered), "{reordered}");
        assert!((1_861..2_139).contains(&duplicated), "{duplicated}");
        assert!((335..465).contains(&both), "{both}");
    }

    #[test]
    fn zero_and_full_probabilities_are_exact() {
        let mut plan = Plan::default();
        let mut rng = Rng::new(3);
        assert!((0..1000).all(|_| plan.draw(&mut rng)
            == Fate {
                hold: Some(Duration::ZERO),
                duplicate: false
            }));
        plan.reorder = "100%".parse().unwrap();
        plan.duplicate = "100%".parse().unwrap();
        assert!((0..1000).all(|_| plan.draw(&mut rng)
            == Fate {
                hold: None,
                duplicate: true
            }));
    }

    #[test]
    fn a_seed_replays_its_fates() {
        let plan = Plan {
            jitter: Duration::from_millis(5),
            reorder: "50%".parse().unwrap(),
            ..plan(10, 5, Distribution::Normal)
        };
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..50).map(|_| plan.draw(&mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }
}
