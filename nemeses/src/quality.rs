//! The parameters of the network-quality faults (`loss`, `rate`): how much
//! ([`Percent`], [`Rate`]) and on which links ([`Place`] as the command line
//! names it, [`Links`] once drawn against the nodes).
//!
//! A link is one direction between two nodes: `a → b`. A fault on a node
//! acts on every link into and out of it; a fault on the links of a
//! partition shape acts on exactly the links that shape would cut. Each
//! link is degraded once, where its packets arrive (loss: the receiver's
//! INPUT) or leave (rate: the sender's egress), so `loss-all:20%` loses 20 %
//! of what `a` sends `b`, not 1 − 0.8² of it. Only links between nodes are
//! ever touched: the harness's own path to the nodes (clients, published
//! ports, the API) is never degraded, the same rule as partitions.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::grudge::{check_nodes, sorted_naturally, Grudge, NodeName, PartitionShape};
use crate::rng::Rng;

/// A probability in steps of 0.01 %, more than 0 and at most 100 %.
/// Written `20%`, `0.5%`; journaled the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Percent {
    basis_points: u32,
}

impl Percent {
    const FULL: u32 = 10_000;

    /// `percent` in hundredths of a percent: `Percent::hundredths(2000)` is 20 %.
    pub fn hundredths(basis_points: u32) -> Result<Percent, String> {
        if basis_points == 0 || basis_points > Percent::FULL {
            return Err("a probability is more than 0% and at most 100%".into());
        }
        Ok(Percent { basis_points })
    }

    /// As a fraction: 0.2 for 20 %.
    pub fn fraction(self) -> f64 {
        f64::from(self.basis_points) / f64::from(Percent::FULL)
    }

    /// The fraction with four decimals, as iptables' `--probability` takes it.
    pub fn probability(self) -> String {
        format!(
            "{}.{:04}",
            self.basis_points / Percent::FULL,
            self.basis_points % Percent::FULL
        )
    }
}

impl FromStr for Percent {
    type Err = String;

    /// `20%`, `12.5%`, `0.01%`: the `%` is required, so `0.2` is not
    /// silently read as 0.2 % when 20 % was meant.
    fn from_str(text: &str) -> Result<Percent, String> {
        let Some(number) = text.strip_suffix('%') else {
            return Err(format!(
                "{text:?} is not a percentage: write it with %, e.g. 20%"
            ));
        };
        let basis_points = decimal(number, 2)
            .ok_or_else(|| format!("{text:?} is not a percentage such as 20% or 0.5%"))?;
        u32::try_from(basis_points)
            .map_err(|_| String::new())
            .and_then(Percent::hundredths)
            .map_err(|_| {
                format!("{text} is out of range: a probability is more than 0% and at most 100%")
            })
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, part) = (self.basis_points / 100, self.basis_points % 100);
        match part {
            0 => write!(f, "{whole}%"),
            p if p % 10 == 0 => write!(f, "{whole}.{}%", p / 10),
            p => write!(f, "{whole}.{p:02}%"),
        }
    }
}

/// A bandwidth in bits per second, from 8 kbit to 100 gbit. Written `1mbit`,
/// `512kbit`, `1.5gbit` (decimal units, as `tc` reads them); bytes per
/// second are refused, as `tc`'s `kbps` (kilobytes!) trips people up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rate {
    bits_per_second: u64,
}

impl Rate {
    const UNITS: [(&'static str, u64); 4] = [
        ("gbit", 1_000_000_000),
        ("mbit", 1_000_000),
        ("kbit", 1_000),
        ("bit", 1),
    ];
    const MIN: u64 = 8_000;
    const MAX: u64 = 100_000_000_000;

    pub fn bits_per_second(bits_per_second: u64) -> Result<Rate, String> {
        if !(Rate::MIN..=Rate::MAX).contains(&bits_per_second) {
            return Err("a rate is from 8kbit to 100gbit".into());
        }
        Ok(Rate { bits_per_second })
    }

    pub fn bits(self) -> u64 {
        self.bits_per_second
    }

    /// What `tc` takes: `1000000bit`.
    pub fn tc(self) -> String {
        format!("{}bit", self.bits_per_second)
    }

    /// The token bucket's size in bytes: what may pass at line speed after
    /// a quiet spell. 20 ms worth of the rate, and never less than 16 KiB
    /// (a bucket smaller than a few full-size packets stalls the link).
    pub fn burst_bytes(self) -> u64 {
        (self.bits_per_second / 8 / 50).max(16 * 1024)
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Rate, String> {
        let lower = text.to_ascii_lowercase();
        let not_a_rate = || {
            format!("{text:?} is not a bandwidth: write bits per second, e.g. 1mbit (units: kbit, mbit, gbit)")
        };
        let (number, unit) = Rate::UNITS
            .iter()
            .find_map(|(name, unit)| lower.strip_suffix(name).map(|n| (n, *unit)))
            .ok_or_else(not_a_rate)?;
        // Up to 3 decimals: 1.5mbit, 0.125gbit.
        let thousandths = decimal(number, 3).ok_or_else(not_a_rate)?;
        let bits = thousandths
            .checked_mul(u128::from(unit))
            .map(|b| b / 1000)
            .and_then(|b| u64::try_from(b).ok())
            .unwrap_or(u64::MAX);
        Rate::bits_per_second(bits).map_err(|e| format!("{text} is out of range: {e}"))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, unit) = Rate::UNITS
            .iter()
            .find(|(_, unit)| self.bits_per_second.is_multiple_of(*unit))
            .expect("every rate is a whole number of bits");
        write!(f, "{}{name}", self.bits_per_second / unit)
    }
}

/// `12.5` with `places` 2 → 1250. Digits and at most one dot with at most
/// `places` digits after it; no sign, so a negative number is refused here.
pub(crate) fn decimal(text: &str, places: usize) -> Option<u128> {
    let (whole, part) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 24 || text.ends_with('.') {
        return None;
    }
    if !digits(whole) || !digits(part) || part.len() > places {
        return None;
    }
    format!("{whole}{part:0<places$}").parse().ok()
}

// The `Percent` and `Rate` of a journal line are written as on the command line.
macro_rules! as_text {
    ($type:ty) => {
        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$type, D::Error> {
                String::deserialize(deserializer)?
                    .parse()
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}
as_text!(Percent);
as_text!(Rate);

/// Where a network-quality fault acts, as the command line names it:
/// `loss:20%` (one node), `loss-minority:20%`, `loss-all:20%`,
/// `loss-halves:20%` (the links a partition shape would cut).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Place {
    /// One node drawn with the seed: every link into and out of it.
    One,
    /// A minority of the nodes (⌊(n−1)/2⌋ of them, drawn with the seed):
    /// every link into and out of each.
    Minority,
    /// Every link between nodes.
    All,
    /// The links a partition of this shape would cut, in the directions it
    /// would cut them (never [`PartitionShape::One`]: that is [`Place::One`]).
    Shape(PartitionShape),
}

impl Place {
    /// `one`, `minority`, `all` or a shape's name.
    pub fn name(self) -> &'static str {
        match self {
            Place::One => "one",
            Place::Minority => "minority",
            Place::All => "all",
            Place::Shape(shape) => shape.name(),
        }
    }

    /// The links over `nodes`. The draws: one `below(n)` for `one`, one
    /// shuffle for `minority`, none for `all`, the shape's own for a shape.
    pub fn links(self, nodes: &[NodeName], rng: &mut Rng) -> Result<Links, String> {
        match self {
            Place::One => {
                check_nodes(self.name(), nodes, 2)?;
                Ok(Links::On(vec![nodes[rng.below(nodes.len())].clone()]))
            }
            Place::Minority => {
                check_nodes(self.name(), nodes, 3)?;
                let mut shuffled = nodes.to_vec();
                rng.shuffle(&mut shuffled);
                shuffled.truncate((nodes.len() - 1) / 2);
                Ok(Links::On(sorted_naturally(shuffled)))
            }
            Place::All => {
                check_nodes(self.name(), nodes, 2)?;
                Ok(Links::On(nodes.to_vec()))
            }
            Place::Shape(shape) => shape.grudge(nodes, rng).map(Links::Between),
        }
    }
}

impl FromStr for Place {
    type Err = String;

    fn from_str(text: &str) -> Result<Place, String> {
        match text {
            "one" => Ok(Place::One),
            "minority" => Ok(Place::Minority),
            "all" => Ok(Place::All),
            shape => shape.parse().map(Place::Shape).map_err(|_| {
                let shapes: Vec<&str> = PartitionShape::ALL
                    .iter()
                    .map(|s| s.name())
                    .filter(|s| *s != "one")
                    .collect();
                format!(
                    "unknown place '{text}' (known: one, minority, all, or a partition shape's links: {})",
                    shapes.join(", ")
                )
            }),
        }
    }
}

/// The links a network-quality fault acts on, drawn against the nodes:
/// what the journal records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Links {
    /// Every link into and out of these nodes.
    On(Vec<NodeName>),
    /// The links a grudge names: `b` drops `a` means the link `a → b`.
    Between(Grudge),
}

impl Links {
    /// The nodes named, for checking them against the cluster's.
    pub fn nodes(&self) -> BTreeSet<&str> {
        match self {
            Links::On(nodes) => nodes.iter().map(String::as_str).collect(),
            Links::Between(grudge) => grudge.nodes(),
        }
    }

    /// Receiver → the senders whose packets to it are on a link, over the
    /// cluster's `nodes`: where a loss is installed (the receiver's INPUT).
    pub fn into_each(&self, nodes: &[NodeName]) -> Grudge {
        match self {
            Links::Between(grudge) => grudge.clone(),
            Links::On(on) => {
                let mut links = Grudge::new();
                for to in nodes {
                    links.add_node(to);
                    for from in nodes {
                        if on.contains(to) || on.contains(from) {
                            links.add_drop(to, from);
                        }
                    }
                }
                links
            }
        }
    }

    /// Sender → the receivers of its packets on a link: where a rate limit
    /// is installed (the sender's egress).
    pub fn out_of_each(&self, nodes: &[NodeName]) -> BTreeMap<NodeName, BTreeSet<NodeName>> {
        let mut out: BTreeMap<NodeName, BTreeSet<NodeName>> = BTreeMap::new();
        for (to, froms) in self.into_each(nodes).iter() {
            for from in froms {
                out.entry(from.clone()).or_default().insert(to.clone());
            }
        }
        out
    }
}

impl fmt::Display for Links {
    /// `on n3`, `on n1,n4`, `between n1,n2 | n3,n4,n5`, or for links in
    /// one direction `to n3 from n1,n2; to n4 from n1,n2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Links::On(nodes) => write!(f, "on {}", nodes.join(",")),
            Links::Between(grudge) if grudge.components().is_some() => {
                write!(f, "between {grudge}")
            }
            Links::Between(grudge) => {
                let receivers = grudge.iter().filter(|(_, froms)| !froms.is_empty());
                let receivers = sorted_naturally(receivers.map(|(to, _)| to.clone()).collect());
                if receivers.is_empty() {
                    return f.write_str("on no link");
                }
                let each: Vec<String> = receivers
                    .iter()
                    .map(|to| {
                        let froms =
                            sorted_naturally(grudge.dropped_by(to).map(String::from).collect());
                        format!("to {to} from {}", froms.join(","))
                    })
                    .collect();
                f.write_str(&each.join("; "))
            }
        }
    }
}

#[cfg(test)]
#[path = "quality_tests.rs"]
mod tests;
