//! The delayer's parameters as people type them, with the conventions of
//! the harness's `--nemesis` parameters (nemeses/src/quality.rs): a
//! probability is written with its `%` (`20%`, `0.5%`), so `0.2` is never
//! silently read as 0.2 % when 20 % was meant; a duration has its unit
//! (`100ms`, `1.5s`, `250us`); a sign is refused with a line that says
//! so, as a negative delay means nothing.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The longest delay or jitter taken: beyond it a "delay" is an outage,
/// which a partition says better, and held packets would pile up.
pub const MAX_DELAY: Duration = Duration::from_secs(60);

/// A probability in steps of 0.01 %, from 0 to 100 % (0 % turns the
/// behaviour off, so it is allowed here, unlike a loss fault's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Percent {
    basis_points: u32,
}

impl Percent {
    const FULL: u32 = 10_000;

    /// As a fraction: 0.2 for 20 %.
    pub fn fraction(self) -> f64 {
        f64::from(self.basis_points) / f64::from(Percent::FULL)
    }

    pub fn is_zero(self) -> bool {
        self.basis_points == 0
    }
}

impl FromStr for Percent {
    type Err = String;

    fn from_str(text: &str) -> Result<Percent, String> {
        if text.starts_with('-') {
            return Err(format!(
                "{text} is negative: a probability is from 0% to 100%"
            ));
        }
        let Some(number) = text.strip_suffix('%') else {
            return Err(format!(
                "{text:?} is not a percentage: write it with %, e.g. 20%"
            ));
        };
        let basis_points = decimal(number, 2)
            .ok_or_else(|| format!("{text:?} is not a percentage such as 20% or 0.5%"))?;
        if basis_points > u128::from(Percent::FULL) {
            return Err(format!(
                "{text} is out of range: a probability is from 0% to 100%"
            ));
        }
        Ok(Percent {
            basis_points: basis_points as u32,
        })
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, part) = (self.basis_points / 100, self.basis_points % 100);
        match part {
            0 => write!(f, "{whole}%"),
            p => write!(f, "{whole}.{p:02}%"),
        }
    }
}

/// A delay or jitter: `100ms`, `1.5s`, `250us`, `0` (zero needs no unit);
/// at most [`MAX_DELAY`], in whole microseconds.
pub fn duration(text: &str) -> Result<Duration, String> {
    if text.starts_with('-') {
        return Err(format!("{text} is negative: a delay is 0 or more"));
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let not_a_duration =
        || format!("{text:?} is not a duration: write it with its unit, e.g. 100ms, 1.5s, 250us");
    let (number, micros_per_unit) = [("us", 1), ("ms", 1_000), ("s", 1_000_000)]
        .iter()
        .find_map(|(unit, scale)| text.strip_suffix(unit).map(|n| (n, *scale)))
        .ok_or_else(not_a_duration)?;
    // Up to 6 decimals, then scaled down: 1.5s is 1_500_000 us.
    let millionths = decimal(number, 6).ok_or_else(not_a_duration)?;
    let micros = millionths * micros_per_unit / 1_000_000;
    if millionths * micros_per_unit % 1_000_000 != 0 {
        return Err(format!("{text} is finer than a microsecond"));
    }
    let micros = u64::try_from(micros).unwrap_or(u64::MAX);
    let delay = Duration::from_micros(micros);
    if delay > MAX_DELAY {
        return Err(format!("{text} is too long: at most 60s"));
    }
    Ok(delay)
}

/// How the jitter spreads a packet's delay around the mean.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Distribution {
    /// Anywhere in mean ± jitter, evenly.
    #[default]
    Uniform,
    /// A normal with the jitter as its standard deviation (as netem reads
    /// `jitter`), clipped at 0.
    Normal,
}

impl FromStr for Distribution {
    type Err = String;

    fn from_str(text: &str) -> Result<Distribution, String> {
        match text {
            "uniform" => Ok(Distribution::Uniform),
            "normal" => Ok(Distribution::Normal),
            _ => Err(format!(
                "unknown distribution {text:?} (known: uniform, normal)"
            )),
        }
    }
}

/// `12.5` with `places` 2 → 1250. Digits and at most one dot with at most
/// `places` digits after it; no sign.
fn decimal(text: &str, places: usize) -> Option<u128> {
    let (whole, part) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 20 || text.ends_with('.') {
        return None;
    }
    if !digits(whole) || !digits(part) || part.len() > places {
        return None;
    }
    format!("{whole}{part:0<places$}").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_need_their_sign_and_stay_in_range() {
        let p: Percent = "20%".parse().unwrap();
        assert_eq!(p.fraction(), 0.2);
        assert_eq!(p.to_string(), "20%");
        assert_eq!("0.5%".parse::<Percent>().unwrap().to_string(), "0.50%");
        assert!("0%".parse::<Percent>().unwrap().is_zero());
        assert_eq!("100%".parse::<Percent>().unwrap().fraction(), 1.0);
        let err = |t: &str| t.parse::<Percent>().unwrap_err();
        assert!(err("20").contains("write it with %"));
        assert!(err("-5%").contains("negative"));
        assert!(err("120%").contains("out of range"));
        assert!(err("0.001%").contains("not a percentage"));
        assert!(err("%").contains("not a percentage"));
        assert!(err("5.%").contains("not a percentage"));
    }

    #[test]
    fn durations_have_units_and_are_not_negative() {
        assert_eq!(duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(duration("0.25ms"), Ok(Duration::from_micros(250)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        assert_eq!(duration("60s"), Ok(MAX_DELAY));
        assert!(duration("-5ms").unwrap_err().contains("negative"));
        assert!(duration("100").unwrap_err().contains("unit"));
        assert!(duration("1.5us").unwrap_err().contains("microsecond"));
        assert!(duration("61s").unwrap_err().contains("at most 60s"));
        assert!(duration("1e3ms").is_err());
        assert!(duration("ms").is_err());
    }

    #[test]
    fn distributions_are_named() {
        assert_eq!("normal".parse(), Ok(Distribution::Normal));
        assert_eq!("uniform".parse(), Ok(Distribution::Uniform));
        assert!("pareto"
            .parse::<Distribution>()
            .unwrap_err()
            .contains("uniform, normal"));
    }
}
