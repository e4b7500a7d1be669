//! The faults that shape traffic rather than cut it, as the command line
//! names them: `delay`, `duplicate` and `reorder` on the links of a place
//! (one node, a minority, all, or a partition shape's links, as `loss` and
//! `rate` take), and two presets on one node, `slow-node` and
//! `flaky-node`. Each is a [`Shaping`] verb and a [`Netem`]: what `tc
//! netem` does to the packets on the links where they leave. Where a
//! node's kernel has no netem, a backend may carry the same [`Netem`] out
//! another way (the Docker and Kubernetes backends: the NFQUEUE delayer,
//! `chaos netdelay`); [`Netem::delayer_lacks`] says what that way cannot
//! do.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::netem::{Distribution, Netem};

/// A traffic-shaping fault's verb: its name on the command line and in
/// the history (`start-delay`, `slow-node-in-force`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shaping {
    /// `delay[-<place>]:<netem>`: a delay (`100ms`, `100ms~20ms/normal`),
    /// with anything else netem takes (`/loss=1%`, `/reorder=10%`).
    Delay,
    /// `duplicate[-<place>]:<percent>[/<netem>]`: that share sent twice.
    Duplicate,
    /// `reorder[-<place>]:<percent>[/<delay>]`: that share sent at once,
    /// ahead of the others, which wait [`REORDER_DELAY`] unless a delay is
    /// given.
    Reorder,
    /// `slow-node`: one node's every packet in and out late ([`SLOW_NODE`]).
    SlowNode,
    /// `flaky-node`: one node's links lossy, jittery, duplicating and
    /// reordering a little ([`FLAKY_NODE`]).
    FlakyNode,
}

/// How long the packets a `reorder` does not send at once wait when the
/// fault names no delay: netem's own example's 10 ms. Reordering is
/// overtaking, and nothing overtakes a packet that does not wait.
pub const REORDER_DELAY: Duration = Duration::from_millis(10);

/// `slow-node`: a node behind a congested link or on an overloaded host:
/// its packets out and its peers' packets to it 100 ms ± 20 ms late
/// (normal), so a round trip with it takes about 200 ms more. Well past
/// etcd's default heartbeat interval (100 ms) and short of its election
/// timeout (1 s): the node lags, it is not cut off.
pub const SLOW_NODE: &str = "100ms~20ms/normal";

/// `flaky-node`: a node with a bad NIC or cable: 3 % of its packets lost,
/// 1 % sent twice, 10 % sent ahead of the rest, which wait 10 ms ± 5 ms.
pub const FLAKY_NODE: &str = "10ms~5ms/loss=3%/duplicate=1%/reorder=10%";

impl Shaping {
    pub const ALL: [Shaping; 5] = [
        Shaping::Delay,
        Shaping::Duplicate,
        Shaping::Reorder,
        Shaping::SlowNode,
        Shaping::FlakyNode,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Shaping::Delay => "delay",
            Shaping::Duplicate => "duplicate",
            Shaping::Reorder => "reorder",
            Shaping::SlowNode => "slow-node",
            Shaping::FlakyNode => "flaky-node",
        }
    }

    /// A preset's fixed netem; None for the verbs that take a parameter.
    pub fn preset(self) -> Option<Netem> {
        let text = match self {
            Shaping::SlowNode => SLOW_NODE,
            Shaping::FlakyNode => FLAKY_NODE,
            _ => return None,
        };
        Some(text.parse().expect("the presets are valid netem specs"))
    }

    /// The parameter [`Shaping::parse_parameter`] reads back as `netem`:
    /// `100ms~20ms` for a delay, the share first for the others (`5%`,
    /// `25%/10ms`).
    pub fn parameter(self, netem: &Netem) -> String {
        let mut rest = *netem;
        let share = match self {
            Shaping::Duplicate => rest.duplicate.take(),
            Shaping::Reorder => rest.reorder.take(),
            _ => None,
        };
        match share {
            None => netem.to_string(),
            Some(share) => {
                let rest = rest.to_string();
                if rest.is_empty() {
                    share.to_string()
                } else {
                    format!("{share}/{rest}")
                }
            }
        }
    }

    /// The netem a verb's parameter means: `delay:100ms~20ms` as written;
    /// `duplicate:5%` as `duplicate=5%`, `reorder:25%` as
    /// `10ms/reorder=25%` (the first item, a bare percentage, is the
    /// verb's share; more items may follow: `reorder:25%/50ms`).
    pub fn parse_parameter(self, parameter: &str) -> Result<Netem, String> {
        let (first, rest) = match parameter.split_once('/') {
            Some((first, rest)) => (first, Some(rest)),
            None => (parameter, None),
        };
        let text = match self {
            Shaping::Delay => parameter.to_string(),
            Shaping::Duplicate | Shaping::Reorder => {
                if !first.ends_with('%') {
                    return Err(format!(
                        "{verb} takes the share of packets first, e.g. {verb}:5% (then more netem items after /)",
                        verb = self.name()
                    ));
                }
                let mut text = format!("{}={first}", self.name());
                if let Some(rest) = rest {
                    text = format!("{text}/{rest}");
                }
                // A delay is an item that starts as a number does.
                let delayed = rest.is_some_and(|rest| {
                    rest.split('/')
                        .any(|item| item.starts_with(|c: char| c.is_ascii_digit() || c == '-'))
                });
                if self == Shaping::Reorder && !delayed {
                    text = format!("{text}/{}us", REORDER_DELAY.as_micros());
                }
                text
            }
            Shaping::SlowNode | Shaping::FlakyNode => {
                return Err(format!("{} takes no parameter", self.name()))
            }
        };
        let netem: Netem = text.parse()?;
        if self == Shaping::Delay && netem.delay.is_none() {
            return Err(format!(
                "delay needs a delay first, e.g. delay:100ms or delay:100ms~20ms (not {parameter})"
            ));
        }
        Ok(netem)
    }
}

impl fmt::Display for Shaping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a backend carries a [`Netem`] out on a cluster, for the run's
/// report and test.json: the report says which ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mechanism {
    /// `tc netem` under our root qdisc ([`crate::netem`]).
    Netem,
    /// The nodes' kernel has no netem: the userspace delayer on NFQUEUE
    /// (`chaos netdelay`) behind iptables rules in the mangle table.
    Delayer,
}

impl Mechanism {
    /// How the report names it.
    pub fn describe(self) -> &'static str {
        match self {
            Mechanism::Netem => "tc netem",
            Mechanism::Delayer => {
                "the NFQUEUE delayer (chaos netdelay; the nodes' kernel has no netem)"
            }
        }
    }
}

impl Netem {
    /// What the NFQUEUE delayer cannot do of this netem, in one line
    /// (None: it can do all of it). It draws delays uniform or normal,
    /// and each packet's fate alone: no Pareto tables, no loss bursts.
    pub fn delayer_lacks(&self) -> Option<String> {
        if matches!(
            self.distribution,
            Distribution::Pareto | Distribution::ParetoNormal
        ) {
            return Some(format!(
                "a {} jitter (the delayer draws uniform or normal)",
                self.distribution.name()
            ));
        }
        if self.correlation.is_some() {
            return Some("correlated loss (the delayer draws each packet alone)".into());
        }
        None
    }
}

// A netem in a journal line is written as on the command line.
impl Serialize for Netem {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Netem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Netem, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verb_parameter_becomes_its_netem() {
        let delay = Shaping::Delay.parse_parameter("100ms~20ms/normal").unwrap();
        assert_eq!(delay.to_string(), "100ms~20ms/normal");
        let dup = Shaping::Duplicate.parse_parameter("5%").unwrap();
        assert_eq!(dup.to_string(), "duplicate=5%");
        let reorder = Shaping::Reorder.parse_parameter("25%").unwrap();
        assert_eq!(reorder.to_string(), "10ms/reorder=25%", "the default wait");
        let reorder = Shaping::Reorder.parse_parameter("25%/50ms").unwrap();
        assert_eq!(reorder.to_string(), "50ms/reorder=25%");
    }

    #[test]
    fn bad_parameters_say_what_to_write() {
        let err = Shaping::Delay.parse_parameter("-5ms").unwrap_err();
        assert!(err.contains("cannot be negative"), "{err}");
        let err = Shaping::Delay.parse_parameter("loss=5%").unwrap_err();
        assert!(err.contains("delay needs a delay first"), "{err}");
        let err = Shaping::Duplicate.parse_parameter("120%").unwrap_err();
        assert!(err.contains("out of range"), "{err}");
        let err = Shaping::Duplicate.parse_parameter("100ms").unwrap_err();
        assert!(err.contains("share of packets first"), "{err}");
        assert!(Shaping::SlowNode.parse_parameter("1ms").is_err());
    }

    #[test]
    fn the_presets_parse_and_the_delayer_can_do_them() {
        for preset in [Shaping::SlowNode, Shaping::FlakyNode] {
            let netem = preset.preset().unwrap();
            assert_eq!(netem.delayer_lacks(), None, "{preset}");
        }
        assert_eq!(Shaping::Delay.preset(), None);
    }

    #[test]
    fn what_the_delayer_lacks_is_named() {
        let pareto: Netem = "100ms~20ms/pareto".parse().unwrap();
        assert!(pareto.delayer_lacks().unwrap().contains("pareto"));
        let bursts: Netem = "loss=20%/correlation=75%".parse().unwrap();
        assert!(bursts.delayer_lacks().unwrap().contains("correlated"));
    }

    #[test]
    fn a_netem_is_journaled_as_written() {
        let netem: Netem = "100ms~20ms/normal/loss=1%".parse().unwrap();
        let json = serde_json::to_string(&netem).unwrap();
        assert_eq!(json, "\"100ms~20ms/normal/loss=1%\"");
        assert_eq!(serde_json::from_str::<Netem>(&json).unwrap(), netem);
    }
}
