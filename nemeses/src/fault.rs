//! The fault vocabulary: every fault the harness can inject, in its two
//! forms, and nowhere else.
//!
//! * [`FaultSpec`]: a kind of fault as the command line names it
//!   (`partition-halves`, `kill`, `pause`, `loss-all:20%`): no nodes yet.
//!   `chaos run --nemesis` is a list of them.
//! * [`Fault`]: one instance, drawn against a cluster's nodes with the
//!   seeded RNG ([`FaultSpec::instantiate`]): what the journal records, the
//!   backend applies ([`Fault::apply_to`]), a heal undoes ([`Fault::undo_on`])
//!   and the history names ([`Fault::verb`], [`Fault::target`]).
//!
//! Adding a fault starts in this file: docs/extending.md has the recipe.
//! Both enums are `#[non_exhaustive]` so that a backend (another crate)
//! matches them with a catch-all arm: a new fault compiles without touching
//! the backends that cannot carry it out.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cluster::{Cluster, ClusterError};
use crate::grudge::{Grudge, NodeName, PartitionShape};
use crate::netem::Netem;
use crate::quality::{Links, Percent, Place, Rate};
use crate::rng::Rng;
use crate::shaping::Shaping;
use crate::storage::{parse_delay, Crowd, Damage, Flakey};

/// A fault a schedule may pick, as the command line names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultSpec {
    /// `partition-<shape>`: the network cut into the shape's grudge.
    Partition(PartitionShape),
    /// `kill`: one node SIGKILLed, started again when undone.
    Kill,
    /// `pause`: one node frozen, thawed when undone.
    Pause,
    /// `stop`: one node shut down cleanly (SIGTERM), started when undone.
    Stop,
    /// `loss[-<place>]:<percent>`: that share of the packets on the
    /// place's links dropped at random, each packet drawn alone.
    Loss { place: Place, loss: Percent },
    /// `rate[-<place>]:<bandwidth>`: the place's links slowed to that
    /// bandwidth (each sender's packets on them share one bucket).
    Rate { place: Place, rate: Rate },
    /// `delay[-<place>]:<netem>`, `duplicate[-<place>]:<percent>`,
    /// `reorder[-<place>]:<percent>`, `slow-node`, `flaky-node`: the
    /// place's packets passed through `netem` where they leave (see
    /// [`crate::shaping`]).
    Shape {
        shaping: Shaping,
        place: Place,
        netem: Netem,
    },
    /// `kill-lose-unsynced[-minority|-all]`: the nodes SIGKILLed together
    /// and everything they wrote but did not fsync lost, as in a power
    /// failure; started again when undone.
    KillLoseUnsynced(Crowd),
    /// `flakey:<mode>`: one node's disk up and down by turns, in `mode`
    /// while down (dm-flakey's).
    Flakey(Flakey),
    /// `slow-disk:<delay>`: every read, write and fsync of one node's disk
    /// delayed.
    SlowDisk { delay_ms: u32 },
    /// `bitflip[-minority|-all]`, `truncate[-minority|-all]`: the nodes
    /// crashed (SIGKILL) and their data files damaged while they are down;
    /// started again when undone.
    DamageFiles { damage: Damage, crowd: Crowd },
    /// `rollback[-minority|-all]`: chunks of the nodes' data files copied
    /// aside while they are down (crashed, then started again), and written
    /// back over the files at the fault's end: from then on those places
    /// hold stale bytes. A heal only removes the copy.
    Rollback(Crowd),
}

impl FaultSpec {
    /// The faults that act on one node, in the order help texts list them.
    pub const ON_ONE_NODE: [FaultSpec; 3] = [FaultSpec::Kill, FaultSpec::Pause, FaultSpec::Stop];

    /// The name on the command line: `partition-halves`, `kill`,
    /// `loss:20%` (on one node), `rate-all:1mbit`.
    pub fn name(&self) -> String {
        let at = |place: &Place| match place {
            Place::One => String::new(),
            other => format!("-{}", other.name()),
        };
        match self {
            FaultSpec::Partition(shape) => format!("partition-{}", shape.name()),
            FaultSpec::Loss { place, loss } => format!("loss{}:{loss}", at(place)),
            FaultSpec::Rate { place, rate } => format!("rate{}:{rate}", at(place)),
            FaultSpec::Shape { shaping, .. } if shaping.preset().is_some() => shaping.to_string(),
            FaultSpec::Shape {
                shaping,
                place,
                netem,
            } => format!("{shaping}{}:{}", at(place), shaping.parameter(netem)),
            FaultSpec::KillLoseUnsynced(crowd) => format!("kill-lose-unsynced{}", crowd.suffix()),
            FaultSpec::Flakey(flakey) => format!("flakey:{}", flakey.mode.name()),
            FaultSpec::SlowDisk { delay_ms } => format!("slow-disk:{delay_ms}ms"),
            FaultSpec::DamageFiles { damage, crowd } => {
                format!("{}{}", damage.name(), crowd.suffix())
            }
            FaultSpec::Rollback(crowd) => format!("rollback{}", crowd.suffix()),
            other => other.verb().to_string(),
        }
    }

    /// The verb its instances carry in the history and the journal.
    pub fn verb(&self) -> &'static str {
        match self {
            FaultSpec::Partition(_) => "partition",
            FaultSpec::Kill => "kill",
            FaultSpec::Pause => "pause",
            FaultSpec::Stop => "stop",
            FaultSpec::Loss { .. } => "loss",
            FaultSpec::Rate { .. } => "rate",
            FaultSpec::Shape { shaping, .. } => shaping.name(),
            FaultSpec::KillLoseUnsynced(_) => "kill-lose-unsynced",
            FaultSpec::Flakey(_) => "flakey",
            FaultSpec::SlowDisk { .. } => "slow-disk",
            FaultSpec::DamageFiles { damage, .. } => damage.name(),
            FaultSpec::Rollback(_) => "rollback",
        }
    }

    /// Does it act on a node's disk? A Docker cluster then keeps each
    /// node's data on the fault filesystem (compose/disk-N.yml).
    pub fn needs_disk(&self) -> bool {
        matches!(
            self,
            FaultSpec::KillLoseUnsynced(_)
                | FaultSpec::Flakey(_)
                | FaultSpec::SlowDisk { .. }
                | FaultSpec::DamageFiles { .. }
                | FaultSpec::Rollback(_)
        )
    }

    /// Every name the command line takes, for help texts:
    /// `partition-<shape> (halves, ...), kill, pause, loss[-<place>]:<percent>, ...`.
    pub fn listing() -> String {
        let shapes: Vec<&str> = PartitionShape::ALL.iter().map(|s| s.name()).collect();
        format!(
            "partition-<shape> ({}), {}, loss[-<place>]:<percent> (e.g. loss:20%), rate[-<place>]:<bandwidth> (e.g. rate-all:1mbit), delay[-<place>]:<delay>[~<jitter>] (e.g. delay-all:100ms~20ms/normal), duplicate[-<place>]:<percent>, reorder[-<place>]:<percent>, slow-node, flaky-node; a place is one node (the default), minority, all, or a shape's links; disk faults: kill-lose-unsynced[-minority|-all], flakey:<mode> ({}), slow-disk:<delay>, bitflip[-minority|-all], truncate[-minority|-all], rollback[-minority|-all]",
            shapes.join(", "),
            node_names(),
            flakey_modes()
        )
    }

    /// One item of `--nemesis`.
    pub fn parse(item: &str) -> Result<FaultSpec, String> {
        let (head, parameter) = match item.split_once(':') {
            Some((head, parameter)) => (head, Some(parameter)),
            None => (item, None),
        };
        if let Some(spec) = FaultSpec::ON_ONE_NODE
            .into_iter()
            .find(|s| s.verb() == head)
        {
            return match parameter {
                None => Ok(spec),
                Some(_) => Err(format!("--nemesis {item:?}: {head} takes no parameter")),
            };
        }
        if let Some(disk) = FaultSpec::parse_disk(item, head, parameter) {
            return disk;
        }
        if let Some(shape) = FaultSpec::parse_shaping(item, head, parameter) {
            return shape;
        }
        let verb = head.split('-').next().unwrap_or_default();
        if verb == "loss" || verb == "rate" {
            return FaultSpec::parse_quality(item, verb, &head[verb.len()..], parameter);
        }
        if parameter.is_some() && head.starts_with("partition-") {
            return Err(format!(
                "--nemesis {item:?}: a partition takes no parameter"
            ));
        }
        match item.strip_prefix("partition-") {
            Some(shape) => Ok(FaultSpec::Partition(shape.parse()?)),
            None => Err(format!(
                "--nemesis: unknown fault {item:?} (use partition-<shape>, {}, loss:<percent>, rate:<bandwidth>, delay:<delay>, duplicate:<percent>, reorder:<percent>, slow-node, flaky-node or none)",
                node_names()
            )),
        }
    }

    /// `loss[-<place>]:<percent>` or `rate[-<place>]:<bandwidth>`; `place`
    /// is what follows the verb (`-all`, or empty for one node).
    fn parse_quality(
        item: &str,
        verb: &str,
        place: &str,
        parameter: Option<&str>,
    ) -> Result<FaultSpec, String> {
        let bad = |why: String| format!("--nemesis {item:?}: {why}");
        let place = match place {
            "" => Place::One,
            other => match other.strip_prefix('-') {
                Some(place) => place.parse().map_err(bad)?,
                None => return Err(bad(format!("unknown fault (did you mean {verb}-<place>?)"))),
            },
        };
        let example = if verb == "loss" {
            "loss:20%"
        } else {
            "rate:1mbit"
        };
        let Some(parameter) = parameter.filter(|p| !p.is_empty()) else {
            return Err(bad(format!("{verb} needs a parameter, e.g. {example}")));
        };
        if let Some((_, extra)) = parameter.split_once(':') {
            let why = if verb == "loss" {
                format!("loss takes one parameter, the probability (iptables' statistic match draws each packet alone); loss in bursts is delay:1ms/loss={parameter_head}/correlation={extra}, on a kernel with netem", parameter_head = parameter.split(':').next().unwrap_or_default())
            } else {
                format!("rate takes one parameter, the bandwidth (not {extra})")
            };
            return Err(bad(why));
        }
        Ok(if verb == "loss" {
            FaultSpec::Loss {
                place,
                loss: parameter.parse().map_err(bad)?,
            }
        } else {
            FaultSpec::Rate {
                place,
                rate: parameter.parse().map_err(bad)?,
            }
        })
    }

    /// `delay[-<place>]:<netem>`, `duplicate...`, `reorder...`,
    /// `slow-node`, `flaky-node`; None if `head` names none of them.
    fn parse_shaping(
        item: &str,
        head: &str,
        parameter: Option<&str>,
    ) -> Option<Result<FaultSpec, String>> {
        let bad = |why: String| format!("--nemesis {item:?}: {why}");
        let shaping = Shaping::ALL.into_iter().find(|s| {
            head == s.name() || (s.preset().is_none() && head.starts_with(&format!("{s}-")))
        })?;
        if let Some(netem) = shaping.preset() {
            return Some(match parameter {
                None => Ok(FaultSpec::Shape {
                    shaping,
                    place: Place::One,
                    netem,
                }),
                Some(_) => Err(bad(format!(
                    "{shaping} takes no parameter (it is {netem} on one node; for other values use delay:<netem>)"
                ))),
            });
        }
        let place = match &head[shaping.name().len()..] {
            "" => Place::One,
            dash_place => match dash_place[1..].parse() {
                Ok(place) => place,
                Err(why) => return Some(Err(bad(why))),
            },
        };
        let example = match shaping {
            Shaping::Delay => "delay:100ms~20ms",
            Shaping::Duplicate => "duplicate:5%",
            _ => "reorder:25%",
        };
        let Some(parameter) = parameter.filter(|p| !p.is_empty()) else {
            return Some(Err(bad(format!(
                "{shaping} needs a parameter, e.g. {example}"
            ))));
        };
        Some(
            shaping
                .parse_parameter(parameter)
                .map(|netem| FaultSpec::Shape {
                    shaping,
                    place,
                    netem,
                })
                .map_err(bad),
        )
    }

    /// `kill-lose-unsynced[-minority|-all]`, `flakey:<mode>`,
    /// `slow-disk:<delay>`, the file faults; None if `head` names none of
    /// them.
    fn parse_disk(
        item: &str,
        head: &str,
        parameter: Option<&str>,
    ) -> Option<Result<FaultSpec, String>> {
        let bad = |why: String| format!("--nemesis {item:?}: {why}");
        if let Some(crowd) = Crowd::ALL
            .into_iter()
            .find(|c| head == format!("kill-lose-unsynced{}", c.suffix()))
        {
            return Some(match parameter {
                None => Ok(FaultSpec::KillLoseUnsynced(crowd)),
                Some(_) => Err(bad("kill-lose-unsynced takes no parameter".into())),
            });
        }
        for damage in Damage::ALL {
            if let Some(crowd) = Crowd::ALL
                .into_iter()
                .find(|c| head == format!("{}{}", damage.name(), c.suffix()))
            {
                return Some(match parameter {
                    None => Ok(FaultSpec::DamageFiles { damage, crowd }),
                    Some(_) => Err(bad(format!("{} takes no parameter", damage.name()))),
                });
            }
        }
        if let Some(crowd) = Crowd::ALL
            .into_iter()
            .find(|c| head == format!("rollback{}", c.suffix()))
        {
            return Some(match parameter {
                None => Ok(FaultSpec::Rollback(crowd)),
                Some(_) => Err(bad("rollback takes no parameter".into())),
            });
        }
        if head.starts_with("kill-lose-unsynced") {
            return Some(Err(bad(
                "unknown fault: use kill-lose-unsynced, kill-lose-unsynced-minority or kill-lose-unsynced-all".into(),
            )));
        }
        let needs = |example: &str| bad(format!("{head} needs a parameter, e.g. {example}"));
        match head {
            "flakey" => Some(match parameter.filter(|p| !p.is_empty()) {
                None => Err(needs("flakey:error-writes")),
                Some(mode) => mode
                    .parse()
                    .map(|mode| FaultSpec::Flakey(Flakey::new(mode)))
                    .map_err(bad),
            }),
            "slow-disk" => Some(match parameter.filter(|p| !p.is_empty()) {
                None => Err(needs("slow-disk:100ms")),
                Some(delay) => parse_delay(delay)
                    .map(|delay_ms| FaultSpec::SlowDisk { delay_ms })
                    .map_err(bad),
            }),
            _ => None,
        }
    }

    /// `--nemesis`: faults separated by commas, `none` for none.
    pub fn parse_list(text: &str) -> Result<Vec<FaultSpec>, String> {
        let mut out = Vec::new();
        for (i, item) in text.split(',').map(str::trim).enumerate() {
            match item {
                // `a,,b` or a trailing comma is a typo, not "no fault here".
                "" => {
                    return Err(format!(
                        "--nemesis {text:?}: item {} is empty; list faults separated by single commas, e.g. partition-halves,kill",
                        i + 1
                    ))
                }
                "none" => {}
                item => out.push(FaultSpec::parse(item)?),
            }
        }
        Ok(out)
    }

    /// One instance over `nodes`. The RNG calls, in number and order, are
    /// part of what a seed means: a run replayed with its `--seed` draws
    /// the same faults only while they stay the same (the golden test in
    /// tests/same_seed_same_run.rs pins them).
    pub fn instantiate(&self, nodes: &[NodeName], rng: &mut Rng) -> Result<Fault, String> {
        match self {
            FaultSpec::Partition(shape) => shape
                .grudge(nodes, rng)
                .map(|grudge| Fault::Partition { grudge }),
            FaultSpec::Kill | FaultSpec::Pause | FaultSpec::Stop => {
                if nodes.is_empty() {
                    return Err(format!("{}: the cluster has no nodes", self.name()));
                }
                let node = nodes[rng.below(nodes.len())].clone();
                Ok(self.on(node).expect("a fault on one node"))
            }
            FaultSpec::Loss { place, loss } => place
                .links(nodes, rng)
                .map(|links| Fault::Loss { links, loss: *loss })
                .map_err(|why| format!("{}: {why}", self.name())),
            FaultSpec::Rate { place, rate } => place
                .links(nodes, rng)
                .map(|links| Fault::Rate { links, rate: *rate })
                .map_err(|why| format!("{}: {why}", self.name())),
            FaultSpec::Shape {
                shaping,
                place,
                netem,
            } => place
                .links(nodes, rng)
                .map(|links| Fault::Shape {
                    shaping: *shaping,
                    links,
                    netem: *netem,
                })
                .map_err(|why| format!("{}: {why}", self.name())),
            FaultSpec::KillLoseUnsynced(crowd) => crowd
                .pick(nodes, rng)
                .map(|nodes| Fault::KillLoseUnsynced { nodes })
                .map_err(|why| format!("{}: {why}", self.name())),
            FaultSpec::DamageFiles { damage, crowd } => crowd
                .pick(nodes, rng)
                .map(|nodes| Fault::DamageFiles {
                    nodes,
                    damage: *damage,
                    seed: rng.next_u64(),
                })
                .map_err(|why| format!("{}: {why}", self.name())),
            FaultSpec::Rollback(crowd) => crowd
                .pick(nodes, rng)
                .map(|nodes| Fault::Rollback {
                    nodes,
                    seed: rng.next_u64(),
                })
                .map_err(|why| format!("{}: {why}", self.name())),
            FaultSpec::Flakey(_) | FaultSpec::SlowDisk { .. } => {
                if nodes.is_empty() {
                    return Err(format!("{}: the cluster has no nodes", self.name()));
                }
                let node = nodes[rng.below(nodes.len())].clone();
                Ok(self.on(node).expect("a fault on one node"))
            }
        }
    }

    /// The instance on `node`, for a fault that acts on one node (a fault
    /// given by hand: `chaos nemesis kill n1`); None for a partition, and
    /// for a loss or rate on more than one node.
    pub fn on(&self, node: NodeName) -> Option<Fault> {
        match self {
            FaultSpec::Partition(_) => None,
            FaultSpec::Kill => Some(Fault::Kill { node }),
            FaultSpec::Pause => Some(Fault::Pause { node }),
            FaultSpec::Stop => Some(Fault::Stop { node }),
            FaultSpec::Loss {
                place: Place::One,
                loss,
            } => Some(Fault::Loss {
                links: Links::On(vec![node]),
                loss: *loss,
            }),
            FaultSpec::Rate {
                place: Place::One,
                rate,
            } => Some(Fault::Rate {
                links: Links::On(vec![node]),
                rate: *rate,
            }),
            FaultSpec::Shape {
                shaping,
                place: Place::One,
                netem,
            } => Some(Fault::Shape {
                shaping: *shaping,
                links: Links::On(vec![node]),
                netem: *netem,
            }),
            FaultSpec::Loss { .. } | FaultSpec::Rate { .. } | FaultSpec::Shape { .. } => None,
            FaultSpec::KillLoseUnsynced(Crowd::One) => {
                Some(Fault::KillLoseUnsynced { nodes: vec![node] })
            }
            FaultSpec::KillLoseUnsynced(_)
            | FaultSpec::DamageFiles { .. }
            | FaultSpec::Rollback(_) => None,
            FaultSpec::Flakey(flakey) => Some(Fault::Flakey {
                node,
                flakey: *flakey,
            }),
            FaultSpec::SlowDisk { delay_ms } => Some(Fault::SlowDisk {
                node,
                delay_ms: *delay_ms,
            }),
        }
    }

    /// [`FaultSpec::on`], and also the one-node file faults (`bitflip`,
    /// `truncate`, `rollback`), whose bytes are drawn from `rng`: the instance on
    /// `node` of a fault given by hand with a seed (`chaos nemesis apply
    /// bitflip --node n2 --seed 7`). None for a fault on several nodes.
    pub fn on_drawn(&self, node: NodeName, rng: &mut Rng) -> Option<Fault> {
        match self {
            FaultSpec::DamageFiles {
                damage,
                crowd: Crowd::One,
            } => Some(Fault::DamageFiles {
                nodes: vec![node],
                damage: *damage,
                seed: rng.next_u64(),
            }),
            FaultSpec::Rollback(Crowd::One) => Some(Fault::Rollback {
                nodes: vec![node],
                seed: rng.next_u64(),
            }),
            other => other.on(node),
        }
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// `drop-writes, error-writes, ...`.
fn flakey_modes() -> String {
    let names: Vec<&str> = crate::storage::FlakeyMode::ALL
        .iter()
        .map(|m| m.name())
        .collect();
    names.join(", ")
}

/// `kill, pause`.
fn node_names() -> String {
    let names: Vec<&str> = FaultSpec::ON_ONE_NODE.iter().map(|s| s.verb()).collect();
    names.join(", ")
}

/// One fault on one cluster: what the journal records (`{"kind":"kill",
/// "node":"n1"}`), what a backend applies and a heal undoes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Fault {
    Partition {
        grudge: Grudge,
    },
    Pause {
        node: NodeName,
    },
    Kill {
        node: NodeName,
    },
    Stop {
        node: NodeName,
    },
    /// `{"kind":"loss","links":{"on":["n3"]},"loss":"20%"}`
    Loss {
        links: Links,
        loss: Percent,
    },
    /// `{"kind":"rate","links":{"on":["n3"]},"rate":"1mbit"}`
    Rate {
        links: Links,
        rate: Rate,
    },
    /// `{"kind":"shape","shaping":"delay","links":{"on":["n3"]},"netem":"100ms~20ms"}`
    Shape {
        shaping: Shaping,
        links: Links,
        netem: Netem,
    },
    /// `{"kind":"kill-lose-unsynced","nodes":["n1","n2","n3"]}`
    KillLoseUnsynced {
        nodes: Vec<NodeName>,
    },
    /// `{"kind":"flakey","node":"n2","flakey":{"mode":"error-writes","up_ms":2000,"down_ms":2000}}`
    Flakey {
        node: NodeName,
        flakey: Flakey,
    },
    /// `{"kind":"slow-disk","node":"n2","delay_ms":100}`
    SlowDisk {
        node: NodeName,
        delay_ms: u32,
    },
    /// `{"kind":"damage-files","nodes":["n2"],"damage":"bitflip","seed":7}`:
    /// the seed draws which bytes, so a replay damages the same ones.
    DamageFiles {
        nodes: Vec<NodeName>,
        damage: Damage,
        seed: u64,
    },
    /// `{"kind":"rollback","nodes":["n2"],"seed":7}`: the seed draws which
    /// chunks are stashed. Each node's stash is found again from its node
    /// (the backend names it after the node), which is all a heal needs to
    /// remove it.
    Rollback {
        nodes: Vec<NodeName>,
        seed: u64,
    },
}

impl Fault {
    /// The nodes whose disk this fault acts on while they run (through the
    /// fault filesystem or dm-flakey under their data): a backend's
    /// [`Cluster::ready_for`] checks each is on one. Empty for every other
    /// fault, the file faults included (they edit files while a node is
    /// down).
    pub fn live_disks(&self) -> Vec<&str> {
        match self {
            Fault::KillLoseUnsynced { nodes } => nodes.iter().map(String::as_str).collect(),
            Fault::Flakey { node, .. } | Fault::SlowDisk { node, .. } => vec![node.as_str()],
            _ => Vec::new(),
        }
    }

    /// The fault's name in the history: `start-<verb>`, `<verb>-in-force`
    /// (see [`crate::event::Step`]).
    pub fn verb(&self) -> &'static str {
        match self {
            Fault::Partition { .. } => "partition",
            Fault::Pause { .. } => "pause",
            Fault::Kill { .. } => "kill",
            Fault::Stop { .. } => "stop",
            Fault::Loss { .. } => "loss",
            Fault::Rate { .. } => "rate",
            Fault::Shape { shaping, .. } => shaping.name(),
            Fault::KillLoseUnsynced { .. } => "kill-lose-unsynced",
            Fault::Flakey { .. } => "flakey",
            Fault::SlowDisk { .. } => "slow-disk",
            Fault::DamageFiles { damage, .. } => damage.name(),
            Fault::Rollback { .. } => "rollback",
        }
    }

    /// What it acts on, on one line: `n1,n2 | n3` for a partition (a grudge
    /// of several lines joined with `; `), the node for a process fault,
    /// how much and where for a network-quality fault (`20% on n3`,
    /// `1mbit between n1,n2 | n3,n4,n5`). The value of its ops in the
    /// history.
    pub fn target(&self) -> String {
        match self {
            Fault::Partition { grudge } => grudge.to_string().replace('\n', "; "),
            Fault::Pause { node } | Fault::Kill { node } | Fault::Stop { node } => node.clone(),
            Fault::Loss { links, loss } => format!("{loss} {links}"),
            Fault::Rate { links, rate } => format!("{rate} {links}"),
            Fault::Shape { links, netem, .. } => format!("{netem} {links}"),
            Fault::KillLoseUnsynced { nodes }
            | Fault::DamageFiles { nodes, .. }
            | Fault::Rollback { nodes, .. } => nodes.join(","),
            Fault::Flakey { node, flakey } => format!("{} on {node}", flakey.mode.name()),
            Fault::SlowDisk { node, delay_ms } => format!("{delay_ms}ms on {node}"),
        }
    }

    /// Two faults in the same slot cannot both be in force: a node is either
    /// paused or not, and the network holds one partition, one loss and one
    /// rate limit at a time (a new one replaces the old, as
    /// `Cluster::partition` does); each of the three is healed alone.
    pub(crate) fn same_slot(&self, other: &Fault) -> bool {
        match (self, other) {
            (Fault::Partition { .. }, Fault::Partition { .. })
            | (Fault::Loss { .. }, Fault::Loss { .. })
            | (Fault::Rate { .. }, Fault::Rate { .. })
            | (Fault::Shape { .. }, Fault::Shape { .. }) => true,
            // netem and the rate limit both want an interface's root qdisc.
            (Fault::Shape { .. }, Fault::Rate { .. })
            | (Fault::Rate { .. }, Fault::Shape { .. }) => true,
            (Fault::Pause { node: a }, Fault::Pause { node: b })
            | (Fault::Kill { node: a }, Fault::Kill { node: b })
            | (Fault::Stop { node: a }, Fault::Stop { node: b }) => a == b,
            // Nodes crashed by one cannot be crashed by another.
            (
                Fault::KillLoseUnsynced { nodes: a } | Fault::DamageFiles { nodes: a, .. },
                Fault::KillLoseUnsynced { nodes: b } | Fault::DamageFiles { nodes: b, .. },
            ) => a.iter().any(|n| b.contains(n)),
            // A node holds one stash: a second snapshot of the same nodes
            // replaces the first. A slot apart from the crash faults above:
            // a later kill of the node must not drop the rollback from the
            // journal's outstanding faults, or no heal would remove its
            // stash.
            (Fault::Rollback { nodes: a, .. }, Fault::Rollback { nodes: b, .. }) => a == b,
            // A node's fault filesystem holds one disk fault at a time.
            (
                Fault::Flakey { node: a, .. } | Fault::SlowDisk { node: a, .. },
                Fault::Flakey { node: b, .. } | Fault::SlowDisk { node: b, .. },
            ) => a == b,
            _ => false,
        }
    }

    /// Put the fault in force on `cluster`. Not journaled: see
    /// [`crate::nemesis::apply`].
    pub async fn apply_to<C: Cluster>(&self, cluster: &C) -> Result<(), ClusterError> {
        match self {
            Fault::Partition { grudge } => cluster.partition(grudge).await,
            Fault::Pause { node } => cluster.pause(node).await,
            Fault::Kill { node } => cluster.kill(node).await,
            Fault::Stop { node } => cluster.stop(node).await,
            Fault::Loss { links, loss } => cluster.lose(links, *loss).await,
            Fault::Rate { links, rate } => cluster.limit_rate(links, *rate).await,
            Fault::Shape { links, netem, .. } => cluster.shape(links, netem).await,
            Fault::KillLoseUnsynced { nodes } => cluster.kill_losing_unsynced(nodes).await,
            Fault::Flakey { node, flakey } => cluster.flakey(node, flakey).await,
            Fault::SlowDisk { node, delay_ms } => cluster.slow_disk(node, *delay_ms).await,
            Fault::DamageFiles {
                nodes,
                damage,
                seed,
            } => cluster.damage_files(nodes, *damage, *seed).await,
            Fault::Rollback { nodes, seed } => cluster.snapshot_files(nodes, *seed).await,
        }
    }

    /// Take the fault away: heal, resume, restart, start (what `chaos heal`
    /// does; a run's schedule ends a fault with [`Fault::end_on`]). Returns one line
    /// per thing removed that a heal's report shows (a partition's, a
    /// loss's or a rate limit's rules, node by node); none for the process
    /// faults. Not journaled: see
    /// [`crate::nemesis::undo`].
    pub async fn undo_on<C: Cluster>(&self, cluster: &C) -> Result<Vec<String>, ClusterError> {
        match self {
            Fault::Partition { .. } => cluster.heal().await,
            Fault::Pause { node } => cluster.resume(node).await.map(|()| Vec::new()),
            Fault::Kill { node } => cluster.restart(node).await.map(|()| Vec::new()),
            Fault::Stop { node } => cluster.start(node).await.map(|()| Vec::new()),
            Fault::Loss { .. } => cluster.heal_loss().await,
            Fault::Rate { .. } => cluster.heal_rate().await,
            Fault::Shape { .. } => cluster.heal_shaping().await,
            Fault::KillLoseUnsynced { nodes } | Fault::DamageFiles { nodes, .. } => {
                for node in nodes {
                    cluster.restart(node).await?;
                }
                Ok(Vec::new())
            }
            Fault::Flakey { node, .. } | Fault::SlowDisk { node, .. } => {
                cluster.heal_disk(node).await
            }
            // A heal returns to normal: the stash goes, nothing is written
            // back (writing stale bytes would inject the fault, not heal it).
            Fault::Rollback { nodes, .. } => cluster.drop_snapshots(nodes).await,
        }
    }

    /// End the fault when its time is up, as a run's schedule and a held
    /// `chaos nemesis apply` do. For every fault but `rollback` this is
    /// [`Fault::undo_on`], with what it reports (rules removed, what a disk
    /// fault changed). A rollback's end is where its damage is done: the stashed chunks
    /// written back over the files (the data goes stale); its lines say how
    /// much, and which files were shorter or gone by then. A `chaos heal`
    /// never does this: it undoes.
    pub async fn end_on<C: Cluster>(&self, cluster: &C) -> Result<Vec<String>, ClusterError> {
        match self {
            Fault::Rollback { nodes, .. } => cluster.roll_back_files(nodes).await,
            other => other.undo_on(cluster).await,
        }
    }

    /// Does the fault's end ([`Fault::end_on`]) do more than its undo? Then
    /// only a held fault reaches it; a heal stops short of it.
    pub fn ends_apart(&self) -> bool {
        matches!(self, Fault::Rollback { .. })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Partition { grudge } => write!(f, "partition {grudge}"),
            Fault::Pause { node } => write!(f, "pause {node}"),
            Fault::Kill { node } => write!(f, "kill {node}"),
            Fault::Stop { node } => write!(f, "stop {node}"),
            Fault::Loss { .. }
            | Fault::Rate { .. }
            | Fault::Shape { .. }
            | Fault::KillLoseUnsynced { .. }
            | Fault::Flakey { .. }
            | Fault::SlowDisk { .. }
            | Fault::DamageFiles { .. }
            | Fault::Rollback { .. } => {
                write!(f, "{} {}", self.verb(), self.target())
            }
        }
    }
}

#[cfg(test)]
#[path = "fault_tests.rs"]
mod tests;
