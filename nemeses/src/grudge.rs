//! Grudges — who refuses to hear from whom — and the partition shapes built
//! from them.
//!
//! A [`Grudge`] maps a node to the set of nodes whose *incoming* packets it
//! drops. That is exactly what one `iptables -A INPUT -s <peer> -j DROP` rule
//! per pair on the dropping node expresses, so a backend can install a grudge
//! without interpretation. Direction matters and is easy to get wrong:
//!
//! * `grudge[b]` contains `a`  ⇒  a packet sent by `a` to `b` is lost
//!   ([`Grudge::can_reach`]`(a, b)` is false);
//! * `a` and `b` can hold a conversation (a request *and* its reply) only when
//!   neither drops the other ([`Grudge::can_talk`]).
//!
//! Every shape below is symmetric (a link is either up or cut both ways)
//! except [`one_way`], which cuts links in one direction only: the
//! asymmetric partition where a node still hears its peers but they no
//! longer hear it.
//!
//! The shape functions are pure functions of the node list (plus an [`Rng`] for
//! the random ones), so a run's partitions are replayable from its seed.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use crate::rng::Rng;

/// A node's name as the cluster knows it (`n1`, `etcd-0`, ...).
pub type NodeName = String;

/// Node → the nodes whose incoming packets it drops. See the module docs for
/// the direction.
///
/// Every node the shape was built over is a key, even one that drops
/// nothing: without that, a bridge's middle node would be invisible and
/// `n1,n2 | n4,n5` would look like a clean partition. No node ever drops
/// itself (loopback is never cut). [`Grudge::is_empty`] means "no packet is
/// dropped", whatever nodes are listed.
///
/// Serialised as a JSON object, e.g. `{"n1":["n2"],"n2":["n1"],"n3":[]}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Grudge {
    drops: BTreeMap<NodeName, BTreeSet<NodeName>>,
}

impl Grudge {
    /// A grudge that drops nothing.
    pub fn new() -> Grudge {
        Grudge::default()
    }

    /// Build from a raw map, dropping self-drops and listing every node
    /// mentioned as a key.
    pub fn from_map(map: BTreeMap<NodeName, BTreeSet<NodeName>>) -> Grudge {
        let mut grudge = Grudge::new();
        for (node, froms) in map {
            grudge.add_node(&node);
            for from in froms {
                grudge.add_drop(&node, &from);
            }
        }
        grudge
    }

    /// Every node drops every node with which it shares no component.
    ///
    /// Components may overlap: a node listed in several components hears from
    /// all of their members (that is how [`bridge`] keeps its middle node
    /// connected to both sides). Nodes listed in no component are unknown to
    /// the grudge and keep all their links.
    pub fn complete(components: &[Vec<NodeName>]) -> Grudge {
        let all: BTreeSet<&NodeName> = components.iter().flatten().collect();
        let mut grudge = Grudge::new();
        for &node in &all {
            grudge.add_node(node);
            let heard: BTreeSet<&NodeName> = components
                .iter()
                .filter(|c| c.contains(node))
                .flatten()
                .collect();
            for &other in all.difference(&heard) {
                grudge.add_drop(node, other);
            }
        }
        grudge
    }

    /// List `node` in the grudge (dropping nothing, unless told so later).
    pub fn add_node(&mut self, node: &str) {
        if !self.drops.contains_key(node) {
            self.drops.insert(node.to_string(), BTreeSet::new());
        }
    }

    /// Make `node` drop incoming packets from `from`; both become listed. A
    /// node never drops itself: asking for that only lists it.
    pub fn add_drop(&mut self, node: &str, from: &str) {
        self.add_node(node);
        self.add_node(from);
        if node != from {
            self.drops
                .get_mut(node)
                .expect("just added")
                .insert(from.to_string());
        }
    }

    /// Is a packet sent by `from` delivered to `to`? True unless `to` drops
    /// `from`. Says nothing about the reply: see [`Grudge::can_talk`].
    pub fn can_reach(&self, from: &str, to: &str) -> bool {
        self.drops.get(to).is_none_or(|set| !set.contains(from))
    }

    /// Can `a` and `b` exchange packets in both directions?
    pub fn can_talk(&self, a: &str, b: &str) -> bool {
        self.can_reach(a, b) && self.can_reach(b, a)
    }

    /// True when no packet is dropped at all.
    pub fn is_empty(&self) -> bool {
        self.drops.values().all(BTreeSet::is_empty)
    }

    /// The nodes whose packets `node` drops (empty if none).
    pub fn dropped_by(&self, node: &str) -> impl Iterator<Item = &str> {
        self.drops
            .get(node)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// Each listed node with the set it drops (possibly empty), in name order.
    /// This is what a backend turns into firewall rules on each node.
    pub fn iter(&self) -> impl Iterator<Item = (&NodeName, &BTreeSet<NodeName>)> {
        self.drops.iter()
    }

    /// Every node the grudge lists, whether it drops anything or not.
    pub fn nodes(&self) -> BTreeSet<&str> {
        self.drops.keys().map(String::as_str).collect()
    }

    /// If the grudge is a clean partition into disjoint groups, where members of
    /// a group talk freely and never across groups, those groups (each sorted,
    /// groups ordered by their first member). `None` for anything else: a
    /// bridge, a ring, a one-way cut. An empty grudge has no groups to show
    /// and also gives `None`.
    pub fn components(&self) -> Option<Vec<Vec<NodeName>>> {
        if self.is_empty() {
            return None;
        }
        let all = self.nodes();
        // What each node hears: everyone it does not drop, itself included.
        let heard = |node: &str| -> BTreeSet<&str> {
            all.iter()
                .copied()
                .filter(|&other| self.can_reach(other, node))
                .collect()
        };
        let mut groups: Vec<BTreeSet<&str>> = Vec::new();
        for &node in &all {
            let group = heard(node);
            // A clean partition: everyone I hear hears exactly the same set.
            if group.iter().any(|&member| heard(member) != group) {
                return None;
            }
            if !groups.contains(&group) {
                groups.push(group);
            }
        }
        let mut groups: Vec<Vec<NodeName>> = groups
            .into_iter()
            .map(|g| sorted_naturally(g.into_iter().map(str::to_string).collect()))
            .collect();
        groups.sort_by(|a, b| natural_cmp(&a[0], &b[0]));
        Some(groups)
    }
}

impl<'de> Deserialize<'de> for Grudge {
    /// Deserialising goes through [`Grudge::from_map`], so a hand-written
    /// journal line cannot smuggle in a self-drop or an unlisted node.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Grudge, D::Error> {
        BTreeMap::deserialize(deserializer).map(Grudge::from_map)
    }
}

impl fmt::Display for Grudge {
    /// `n1,n2 | n3,n4,n5` for a clean partition, `no partition` when nothing is
    /// dropped, otherwise one `n1 drops n4,n5` line per dropping node.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no partition");
        }
        if let Some(groups) = self.components() {
            let groups: Vec<String> = groups.iter().map(|g| g.join(",")).collect();
            return f.write_str(&groups.join(" | "));
        }
        let droppers = self.drops.iter().filter(|(_, froms)| !froms.is_empty());
        let droppers = sorted_naturally(droppers.map(|(node, _)| node.clone()).collect());
        for (i, node) in droppers.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            let froms = sorted_naturally(self.drops[node].iter().cloned().collect());
            write!(f, "{node} drops {}", froms.join(","))?;
        }
        Ok(())
    }
}

/// Order `n2` before `n10`: people read node lists, and `n1,n10,n2` misleads.
/// Compares the name without its trailing digits, then those digits as a number.
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn split(s: &str) -> (&str, Option<u128>) {
        let stem = s.trim_end_matches(|c: char| c.is_ascii_digit());
        (stem, s[stem.len()..].parse().ok())
    }
    split(a).cmp(&split(b)).then_with(|| a.cmp(b))
}

pub(crate) fn sorted_naturally(mut names: Vec<NodeName>) -> Vec<NodeName> {
    names.sort_by(|a, b| natural_cmp(a, b));
    names
}

/// Reject node lists no shape can work with, with a message naming the problem.
pub(crate) fn check_nodes(shape: &str, nodes: &[NodeName], min: usize) -> Result<(), String> {
    if nodes.is_empty() {
        return Err(format!(
            "{shape} needs at least {min} nodes, and no nodes were given"
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, node) in nodes.iter().enumerate() {
        if node.trim().is_empty() {
            return Err(format!(
                "node #{} has an empty name; every node needs a name",
                i + 1
            ));
        }
        if !seen.insert(node) {
            return Err(format!(
                "node {node} is listed twice; node names must be unique"
            ));
        }
    }
    if nodes.len() < min {
        return Err(format!(
            "{shape} needs at least {min} nodes, got {} ({})",
            nodes.len(),
            nodes.join(", ")
        ));
    }
    Ok(())
}

/// The first ⌊n/2⌋ nodes against the rest: `n1,n2 | n3,n4,n5`. The second
/// group is the majority when n is odd; for even n neither side has one.
pub fn halves(nodes: &[NodeName]) -> Result<Grudge, String> {
    check_nodes("halves", nodes, 2)?;
    let (minor, major) = nodes.split_at(nodes.len() / 2);
    Ok(Grudge::complete(&[minor.to_vec(), major.to_vec()]))
}

/// [`halves`] of a seeded shuffle of the nodes.
pub fn random_halves(nodes: &[NodeName], rng: &mut Rng) -> Result<Grudge, String> {
    check_nodes("random-halves", nodes, 2)?;
    let mut shuffled = nodes.to_vec();
    rng.shuffle(&mut shuffled);
    halves(&shuffled)
}

/// Cut one node chosen by `rng` off from all others.
pub fn one(nodes: &[NodeName], rng: &mut Rng) -> Result<Grudge, String> {
    check_nodes("one", nodes, 2)?;
    let loner = &nodes[rng.below(nodes.len())];
    isolate(nodes, loner)
}

/// Cut `node` off from all others; the others still talk among themselves.
pub fn isolate(nodes: &[NodeName], node: &str) -> Result<Grudge, String> {
    check_nodes("isolate", nodes, 2)?;
    if !nodes.iter().any(|n| n == node) {
        return Err(format!(
            "cannot isolate {node}: it is not one of the nodes ({})",
            nodes.join(", ")
        ));
    }
    let rest: Vec<NodeName> = nodes.iter().filter(|n| *n != node).cloned().collect();
    Ok(Grudge::complete(&[vec![node.to_string()], rest]))
}

/// Every node sees a majority, but no two nodes see the same one, so every
/// node can believe it is in the majority while no majority agrees.
///
/// Place the nodes on a ring in the order given. With majority m = ⌊n/2⌋+1 and
/// radius r = ⌊m/2⌋, each node talks (both ways) with exactly the nodes within
/// ring distance r of it and none further: 2r+1 ≥ m nodes including itself.
/// For 5 nodes, n1 sees n5,n1,n2 and has lost n3,n4. For n ≥ 4, 2r+1 < n,
/// so each node has lost someone and no two windows coincide.
///
/// Why symmetric windows rather than Jepsen's one-way windows of exactly m:
/// with every link either up or cut both ways, "sees" is unambiguous and the
/// firewall rules on both ends of a link agree.
///
/// Three nodes are the degenerate case: with r = 1 every node would see
/// everyone. Cutting two links would leave some node alone, so we cut the one
/// link between the first and the last node — the same grudge as
/// [`bridge`] on three nodes. Each node still sees a majority (n1 sees n1,n2;
/// n2 sees all; n3 sees n2,n3) and no two see the same set.
pub fn majorities_ring(nodes: &[NodeName]) -> Result<Grudge, String> {
    check_nodes("majorities-ring", nodes, 3)?;
    let n = nodes.len();
    if n == 3 {
        return bridge(nodes);
    }
    let majority = n / 2 + 1;
    let radius = majority / 2;
    let mut grudge = Grudge::new();
    for i in 0..n {
        grudge.add_node(&nodes[i]);
        for j in 0..n {
            let gap = i.abs_diff(j);
            if gap.min(n - gap) > radius {
                grudge.add_drop(&nodes[i], &nodes[j]);
            }
        }
    }
    Ok(grudge)
}

/// Two halves that cannot talk to each other, and one node in the middle that
/// talks to both: for 5 nodes, `n1,n2` and `n4,n5` are cut apart and `n3`
/// hears everyone. Each side plus the bridge is a majority when n is odd.
///
/// The bridge is node ⌊n/2⌋ (0-based): the first node of the second half of
/// [`halves`].
pub fn bridge(nodes: &[NodeName]) -> Result<Grudge, String> {
    check_nodes("bridge", nodes, 3)?;
    let mid = nodes.len() / 2;
    Ok(Grudge::complete(&[
        nodes[..=mid].to_vec(),
        nodes[mid..].to_vec(),
    ]))
}

/// The first ⌊n/2⌋ nodes are not heard by the rest, and still hear them:
/// for 5 nodes, `n3`, `n4` and `n5` drop what `n1` and `n2` send, while
/// `n1` and `n2` receive everything. The asymmetric partition that breaks
/// leader leases: a leader among the first nodes keeps hearing its
/// followers (and their elections) while its own heartbeats are lost; a
/// leader among the rest keeps sending to the first nodes but never hears
/// their answers. A TCP connection needs both directions, so across the cut
/// no connection opens either way; datagrams (UDP, ICMP requests) pass from
/// the rest to the first nodes only.
pub fn one_way(nodes: &[NodeName]) -> Result<Grudge, String> {
    check_nodes("one-way", nodes, 2)?;
    let (unheard, deaf) = nodes.split_at(nodes.len() / 2);
    let mut grudge = Grudge::new();
    for node in unheard {
        grudge.add_node(node);
    }
    for node in deaf {
        for from in unheard {
            grudge.add_drop(node, from);
        }
    }
    Ok(grudge)
}

/// The partition shapes a nemesis can be asked for by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionShape {
    Halves,
    RandomHalves,
    One,
    MajoritiesRing,
    Bridge,
    OneWay,
}

impl PartitionShape {
    /// Every shape, in the order help texts list them.
    pub const ALL: [PartitionShape; 6] = [
        PartitionShape::Halves,
        PartitionShape::RandomHalves,
        PartitionShape::One,
        PartitionShape::MajoritiesRing,
        PartitionShape::Bridge,
        PartitionShape::OneWay,
    ];

    /// The name used on the command line and in journals.
    pub fn name(self) -> &'static str {
        match self {
            PartitionShape::Halves => "halves",
            PartitionShape::RandomHalves => "random-halves",
            PartitionShape::One => "one",
            PartitionShape::MajoritiesRing => "majorities-ring",
            PartitionShape::Bridge => "bridge",
            PartitionShape::OneWay => "one-way",
        }
    }

    /// Build this shape's grudge over `nodes`.
    ///
    /// Only `halves` is fixed by node order. As in Jepsen, `majorities-ring`
    /// and `bridge` are built over a seeded shuffle of the nodes, so repeated
    /// faults in one run put different nodes next to each other and in the
    /// middle; `one-way` too, so that each time other nodes go unheard. Call
    /// [`majorities_ring`], [`bridge`] or [`one_way`] directly for a fixed
    /// order.
    pub fn grudge(self, nodes: &[NodeName], rng: &mut Rng) -> Result<Grudge, String> {
        let shuffled = |rng: &mut Rng| {
            let mut v = nodes.to_vec();
            rng.shuffle(&mut v);
            v
        };
        match self {
            PartitionShape::Halves => halves(nodes),
            PartitionShape::RandomHalves => random_halves(nodes, rng),
            PartitionShape::One => one(nodes, rng),
            PartitionShape::MajoritiesRing => {
                check_nodes(self.name(), nodes, 3)?;
                majorities_ring(&shuffled(rng))
            }
            PartitionShape::Bridge => {
                check_nodes(self.name(), nodes, 3)?;
                bridge(&shuffled(rng))
            }
            PartitionShape::OneWay => {
                check_nodes(self.name(), nodes, 2)?;
                one_way(&shuffled(rng))
            }
        }
    }
}

impl fmt::Display for PartitionShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PartitionShape {
    type Err = String;

    fn from_str(s: &str) -> Result<PartitionShape, String> {
        PartitionShape::ALL
            .into_iter()
            .find(|shape| shape.name() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = PartitionShape::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "unknown partition shape '{s}' (known: {})",
                    known.join(", ")
                )
            })
    }
}

#[cfg(test)]
#[path = "grudge_tests.rs"]
mod tests;
