//! What happens to each packet: the draws. Pure, so the statistics are
//! tested without a queue; the delayer ([`crate::delayer`]) only carries
//! the [`Fate`] out.
//!
//! The meanings are netem's, so a fault reads the same on a kernel that
//! has netem: `loss` drops a packet (netem's `loss random`, each packet
//! drawn alone); `reorder` sends a packet at once, skipping the delay, so
//! it overtakes the packets held before it (netem's `reorder` without a
//! `gap`); `duplicate` sends the packet twice; `jitter` spreads the delay
//! around the mean, and a packet drawn a shorter delay than the one before
//! it overtakes it too (netem's tfifo does the same unless a rate is set).
//!
//! A lost packet is only dropped: not held, and not duplicated even when
//! its duplicate draw says so (netem would send one of the two copies
//! then; here a packet drawn lost is gone, so `loss P` loses P of the
//! packets whatever `duplicate` is).
//!
//! The draws, per packet, always all five and always in this order: loss,
//! reorder, duplicate, then the two uniforms of the delay. What one says
//! never skips another, so packet k's fate comes from the seed's draws
//! 5k..5k+5 whatever the earlier packets' fates were.

use std::time::Duration;

use chaos_rng::Rng;

use crate::params::{Distribution, Percent};

/// The delayer's settings.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Plan {
    pub delay: Duration,
    pub jitter: Duration,
    pub distribution: Distribution,
    pub loss: Percent,
    pub reorder: Percent,
    pub duplicate: Percent,
}

/// One packet's fate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fate {
    /// Dropped at once; then `hold` is None and `duplicate` false.
    pub lost: bool,
    /// None: answered at once: sent ahead of the held packets
    /// (reordered), or dropped if `lost`.
    pub hold: Option<Duration>,
    /// Also sent a second time (never when `lost`).
    pub duplicate: bool,
}

impl Plan {
    /// The draws for one packet, always the same number of them in the
    /// same order (loss, reorder, duplicate, then the delay's two), so a
    /// seed replays the same fates for the same packets whatever each
    /// draw said. A lost packet's other draws are made and set aside.
    pub fn draw(&self, rng: &mut Rng) -> Fate {
        let lost = chance(rng, self.loss);
        let reordered = chance(rng, self.reorder);
        let duplicate = chance(rng, self.duplicate);
        let delay = self.delay_draw(rng);
        if lost {
            return Fate {
                lost: true,
                hold: None,
                duplicate: false,
            };
        }
        Fate {
            lost: false,
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
                lost: false,
                hold: Some(Duration::ZERO),
                duplicate: false
            }));
        plan.reorder = "100%".parse().unwrap();
        plan.duplicate = "100%".parse().unwrap();
        assert!((0..1000).all(|_| plan.draw(&mut rng)
            == Fate {
                lost: false,
                hold: None,
                duplicate: true
            }));
        // Lost outright: neither held nor duplicated, whatever else says.
        plan.loss = "100%".parse().unwrap();
        plan.reorder = "0%".parse().unwrap();
        plan.delay = Duration::from_millis(10);
        assert!((0..1000).all(|_| plan.draw(&mut rng)
            == Fate {
                lost: true,
                hold: None,
                duplicate: false
            }));
    }

    #[test]
    fn loss_happens_at_its_rate_and_leaves_the_other_draws_alone() {
        let plan = Plan {
            delay: Duration::from_millis(10),
            loss: "20%".parse().unwrap(),
            reorder: "30%".parse().unwrap(),
            duplicate: "10%".parse().unwrap(),
            ..Plan::default()
        };
        let mut rng = Rng::new(12);
        let fates: Vec<Fate> = (0..20_000).map(|_| plan.draw(&mut rng)).collect();
        let lost: Vec<&Fate> = fates.iter().filter(|f| f.lost).collect();
        let kept: Vec<&Fate> = fates.iter().filter(|f| !f.lost).collect();
        // Binomial 99.9 % interval: 4000 ± 185.
        assert!((3_815..4_185).contains(&lost.len()), "{}", lost.len());
        assert!(lost.iter().all(|f| f.hold.is_none() && !f.duplicate));
        // Of the about 16 000 kept, 30 % reordered and 10 % duplicated,
        // as without loss (99.9 % intervals of a share of 16 000: ± 1.2
        // and ± 0.8 points).
        let reordered = kept.iter().filter(|f| f.hold.is_none()).count();
        let duplicated = kept.iter().filter(|f| f.duplicate).count();
        let share = |k: usize| k as f64 / kept.len() as f64;
        assert!((share(reordered) - 0.30).abs() < 0.012, "{reordered}");
        assert!((share(duplicated) - 0.10).abs() < 0.008, "{duplicated}");
    }

    #[test]
    fn a_seed_draws_five_times_per_packet_whatever_the_fates() {
        // The stream after k packets is the seed's after 5k draws, lost
        // or not, reordered or not.
        let plan = Plan {
            loss: "50%".parse().unwrap(),
            reorder: "50%".parse().unwrap(),
            duplicate: "50%".parse().unwrap(),
            ..plan(10, 5, Distribution::Normal)
        };
        let mut rng = Rng::new(21);
        for _ in 0..100 {
            plan.draw(&mut rng);
        }
        let mut skipped = Rng::new(21);
        for _ in 0..500 {
            skipped.next_u64();
        }
        assert_eq!(rng, skipped);
    }

    #[test]
    fn a_seed_replays_its_fates() {
        let plan = Plan {
            jitter: Duration::from_millis(5),
            loss: "20%".parse().unwrap(),
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
