//! The fault vocabulary: every fault the harness can inject, in its two
//! forms, and nowhere else.
//!
//! * [`FaultSpec`]: a kind of fault as the command line names it
//!   (`partition-halves`, `kill`, `pause`): no nodes yet. `chaos run
//!   --nemesis` is a list of them.
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
use crate::rng::Rng;

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
}

impl FaultSpec {
    /// The faults that act on one node, in the order help texts list them.
    pub const ON_ONE_NODE: [FaultSpec; 3] = [FaultSpec::Kill, FaultSpec::Pause, FaultSpec::Stop];

    /// The name on the command line: `partition-halves`, `kill`.
    pub fn name(&self) -> String {
        match self {
            FaultSpec::Partition(shape) => format!("partition-{}", shape.name()),
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
        }
    }

    /// Every name the command line takes, for help texts:
    /// `partition-<shape> (halves, ...), kill, pause`.
    pub fn listing() -> String {
        let shapes: Vec<&str> = PartitionShape::ALL.iter().map(|s| s.name()).collect();
        format!(
            "partition-<shape> ({}), {}",
            shapes.join(", "),
            node_names()
        )
    }

    /// One item of `--nemesis`.
    pub fn parse(item: &str) -> Result<FaultSpec, String> {
        if let Some(spec) = FaultSpec::ON_ONE_NODE
            .into_iter()
            .find(|s| s.verb() == item)
        {
            return Ok(spec);
        }
        match item.strip_prefix("partition-") {
            Some(shape) => Ok(FaultSpec::Partition(shape.parse()?)),
            None => Err(format!(
                "--nemesis: unknown fault {item:?} (use partition-<shape>, {} or none)",
                node_names()
            )),
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
        }
    }

    /// The instance on `node`, for a fault that acts on one node (a fault
    /// given by hand: `chaos nemesis kill n1`); None for a partition.
    pub fn on(&self, node: NodeName) -> Option<Fault> {
        match self {
            FaultSpec::Partition(_) => None,
            FaultSpec::Kill => Some(Fault::Kill { node }),
            FaultSpec::Pause => Some(Fault::Pause { node }),
            FaultSpec::Stop => Some(Fault::Stop { node }),
        }
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
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
    Partition { grudge: Grudge },
    Pause { node: NodeName },
    Kill { node: NodeName },
    Stop { node: NodeName },
}

impl Fault {
    /// The fault's name in the history: `start-<verb>`, `<verb>-in-force`
    /// (see [`crate::event::Step`]).
    pub fn verb(&self) -> &'static str {
        match self {
            Fault::Partition { .. } => "partition",
            Fault::Pause { .. } => "pause",
            Fault::Kill { .. } => "kill",
            Fault::Stop { .. } => "stop",
        }
    }

    /// What it acts on, on one line: `n1,n2 | n3` for a partition (a grudge
    /// of several lines joined with `; `), the node otherwise. The value of
    /// its ops in the history.
    pub fn target(&self) -> String {
        match self {
            Fault::Partition { grudge } => grudge.to_string().replace('\n', "; "),
            Fault::Pause { node } | Fault::Kill { node } | Fault::Stop { node } => node.clone(),
        }
    }

    /// Two faults in the same slot cannot both be in force: a node is either
    /// paused or not, and the network holds one partition at a time (a new
    /// one replaces the old, as `Cluster::partition` does).
    pub(crate) fn same_slot(&self, other: &Fault) -> bool {
        match (self, other) {
            (Fault::Partition { .. }, Fault::Partition { .. }) => true,
            (Fault::Pause { node: a }, Fault::Pause { node: b })
            | (Fault::Kill { node: a }, Fault::Kill { node: b })
            | (Fault::Stop { node: a }, Fault::Stop { node: b }) => a == b,
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
        }
    }

    /// Take the fault away: heal, resume, restart, start. Returns one line
    /// per thing removed that a heal's report shows (a partition's rules,
    /// node by node); none for the process faults. Not journaled: see
    /// [`crate::nemesis::undo`].
    pub async fn undo_on<C: Cluster>(&self, cluster: &C) -> Result<Vec<String>, ClusterError> {
        match self {
            Fault::Partition { .. } => cluster.heal().await,
            Fault::Pause { node } => cluster.resume(node).await.map(|()| Vec::new()),
            Fault::Kill { node } => cluster.restart(node).await.map(|()| Vec::new()),
            Fault::Stop { node } => cluster.start(node).await.map(|()| Vec::new()),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Partition { grudge } => write!(f, "partition {grudge}"),
            Fault::Pause { node } => write!(f, "pause {node}"),
            Fault::Kill { node } => write!(f, "kill {node}"),
            Fault::Stop { node } => write!(f, "stop {node}"),
        }
    }
}

#[cfg(test)]
#[path = "fault_tests.rs"]
mod tests;
