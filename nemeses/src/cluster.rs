//! The `Cluster` trait: what a backend (Docker now, Kubernetes later) must do
//! for the nemeses.
//!
//! The trait is async because backends talk to the Docker or Kubernetes APIs.
//! Its methods return `impl Future + Send` (return-position `impl Trait` in
//! traits) rather than using `async-trait`: no boxing, no extra dependency, and
//! a backend may still write its methods as plain `async fn`. The `Send` bound
//! lets the control node drive them from a multi-threaded runtime.
//!
//! Every fault is idempotent from the caller's point of view (pausing a paused
//! node, healing a healed network are successes): `chaos heal` replays
//! whatever the journal says is outstanding without knowing how far a crashed
//! run got.

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::fault::{Fault, FaultSpec};
use crate::grudge::{Grudge, NodeName};
use crate::netem::Netem;
use crate::quality::{Links, Percent, Rate};
use crate::storage::{Damage, Flakey};

/// One member of the cluster under test.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// The name used everywhere in the harness: histories, grudges, journals.
    pub name: NodeName,
    /// Where the node is reached on the cluster's network (an IP address or a
    /// DNS name); what firewall rules and clients use.
    pub address: String,
}

/// Why a cluster operation failed. Every message says what to do next.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// A node name that is not in this cluster.
    #[error("{}", unknown_node(node, known))]
    UnknownNode {
        node: NodeName,
        known: Vec<NodeName>,
    },
    /// The backend cannot inject this fault at all (e.g. no permission to
    /// change firewall rules). `fault` is the verb: "pause", "partition", ...
    #[error("this cluster cannot {fault}: {reason}; choose a nemesis without {fault}")]
    Unsupported { fault: String, reason: String },
    /// The backend tried and failed; the message comes from the backend and
    /// should name the object and the command that failed.
    #[error("cluster backend failed: {0}")]
    Backend(String),
}

fn unknown_node(node: &str, known: &[NodeName]) -> String {
    if known.is_empty() {
        format!(
            "no node named {node}: this cluster has no nodes; check that the cluster is running"
        )
    } else {
        format!(
            "no node named {node} in this cluster (nodes: {})",
            known.join(", ")
        )
    }
}

impl ClusterError {
    /// Look `node` up in `nodes`, or say which names would have worked.
    /// Backends call this first in every per-node method.
    pub fn find<'a>(nodes: &'a [Node], node: &str) -> Result<&'a Node, ClusterError> {
        nodes
            .iter()
            .find(|n| n.name == node)
            .ok_or_else(|| ClusterError::UnknownNode {
                node: node.to_string(),
                known: nodes.iter().map(|n| n.name.clone()).collect(),
            })
    }
}

/// What the nemeses need from a cluster backend.
///
/// Process faults come in pairs: `kill`/`restart`, `stop`/`start`,
/// `pause`/`resume`; network faults too: `partition`/`heal`,
/// `lose`/`heal_loss`, `limit_rate`/`heal_rate`, `shape`/`heal_shaping`. A method naming a
/// node not in [`Cluster::nodes`] returns [`ClusterError::UnknownNode`].
///
/// Only [`Cluster::nodes`], [`Cluster::is_up`] and [`Cluster::supports`] are
/// required: every fault method a backend lacks answers
/// [`ClusterError::Unsupported`], so a new backend writes the faults it can
/// carry out and a new fault's methods need writing only in the backends
/// that can. [`Cluster::supports`] says which, before any cluster is up.
pub trait Cluster: Send + Sync {
    /// Can this kind of backend carry out `fault`? Asked before anything
    /// starts (no cluster exists yet), so that `chaos run` refuses a
    /// `--nemesis` naming a fault the backend lacks instead of finding out
    /// mid-run; `Err` says why not. Match [`FaultSpec`] with a catch-all
    /// arm refusing the rest: a fault added later is then refused until the
    /// backend implements it.
    fn supports(fault: &FaultSpec) -> Result<(), String>
    where
        Self: Sized;

    /// The nodes of the cluster, with their current addresses. Async because a
    /// backend may have to ask (a restarted pod can come back with a new IP).
    fn nodes(&self) -> impl Future<Output = Result<Vec<Node>, ClusterError>> + Send;

    /// Crash the node: SIGKILL, no chance to flush or say goodbye.
    fn kill(&self, node: &str) -> impl Future<Output = Result<(), ClusterError>> + Send {
        let _ = node;
        lacks("kill")
    }

    /// Start a killed node again, with the data it had on disk.
    fn restart(&self, node: &str) -> impl Future<Output = Result<(), ClusterError>> + Send {
        let _ = node;
        lacks("restart")
    }

    /// Shut the node down cleanly (SIGTERM, wait for it to exit).
    fn stop(&self, node: &str) -> impl Future<Output = Result<(), ClusterError>> + Send {
        let _ = node;
        lacks("stop")
    }

    /// Start a stopped node again.
    fn start(&self, node: &str) -> impl Future<Output = Result<(), ClusterError>> + Send {
        let _ = node;
        lacks("start")
    }

    /// Freeze every process of the node (SIGSTOP / cgroup freezer): it keeps
    /// its sockets open but answers nothing — a long GC pause, a stuck VM.
    fn pause(&self, node: &str) -> impl Future<Output = Result<(), ClusterError>> + Send {
        let _ = node;
        lacks("pause")
    }

    /// Thaw a paused node.
    fn resume(&self, node: &str) -> impl Future<Output = Result<(), ClusterError>> + Send {
        let _ = node;
        lacks("resume")
    }

    /// Make the network match `grudge`: every node drops incoming packets from
    /// the nodes in its grudge set. Replaces any partition installed before
    /// (the grudge is the whole truth afterwards); an empty grudge heals.
    /// Rules go into chains of our own, labelled with the run id, and never
    /// cut the harness's own path to the nodes.
    fn partition(&self, grudge: &Grudge) -> impl Future<Output = Result<(), ClusterError>> + Send {
        let _ = grudge;
        lacks("partition")
    }

    /// Remove exactly the partition rules this harness added, nothing else.
    /// Succeeds when there is nothing to remove. Process faults are not
    /// touched: undo those with `restart`, `start` and `resume`. Returns one
    /// line per node whose rules were removed, for a heal's report.
    fn heal(&self) -> impl Future<Output = Result<Vec<String>, ClusterError>> + Send {
        async { Err(unsupported("heal")) }
    }

    /// Drop `loss` of the packets on `links`, each packet drawn alone, where
    /// they arrive. Replaces any loss installed before; the harness's own
    /// path to the nodes is never touched, and the rules go into a chain of
    /// our own, apart from a partition's (both can be in force).
    fn lose(
        &self,
        links: &Links,
        loss: Percent,
    ) -> impl Future<Output = Result<(), ClusterError>> + Send {
        let _ = (links, loss);
        lacks("loss")
    }

    /// Remove exactly the loss rules this harness added. Succeeds when
    /// there is nothing to remove; one line per node whose rules went.
    fn heal_loss(&self) -> impl Future<Output = Result<Vec<String>, ClusterError>> + Send {
        async { Err(unsupported("heal a loss")) }
    }

    /// Slow the packets on `links` to `rate`, where they leave (each
    /// sender's packets on the links share one bucket). Replaces any rate
    /// limit installed before; never the harness's own path to the nodes.
    fn limit_rate(
        &self,
        links: &Links,
        rate: Rate,
    ) -> impl Future<Output = Result<(), ClusterError>> + Send {
        let _ = (links, rate);
        lacks("rate")
    }

    /// Remove exactly the rate limits this harness added. Succeeds when
    /// there is nothing to remove; one line per node whose limit went.
    fn heal_rate(&self) -> impl Future<Output = Result<Vec<String>, ClusterError>> + Send {
        async { Err(unsupported("heal a rate limit")) }
    }

    /// Pass the packets on `links` through `netem` where they leave (each
    /// sender's packets to its peers on the links): delayed, jittered,
    /// lost, duplicated, reordered as it says. Replaces any shaping
    /// installed before; never the harness's own path to the nodes.
    fn shape(
        &self,
        links: &Links,
        netem: &Netem,
    ) -> impl Future<Output = Result<(), ClusterError>> + Send {
        let _ = (links, netem);
        lacks("delay")
    }

    /// Remove exactly the shaping this harness added (qdiscs, rules, the
    /// delayer). Succeeds when there is none; one line per node it left.
    fn heal_shaping(&self) -> impl Future<Output = Result<Vec<String>, ClusterError>> + Send {
        async { Err(unsupported("heal a delay")) }
    }

    /// Crash `nodes` together (SIGKILL), and lose what they wrote and did
    /// not fsync, as a power failure does. `restart` brings each back.
    fn kill_losing_unsynced(
        &self,
        nodes: &[NodeName],
    ) -> impl Future<Output = Result<(), ClusterError>> + Send {
        let _ = nodes;
        lacks("kill-lose-unsynced")
    }

    /// Make `node`'s disk flakey: up and down by turns, in the mode while
    /// down. Replaces any disk fault on it.
    fn flakey(
        &self,
        node: &str,
        flakey: &Flakey,
    ) -> impl Future<Output = Result<(), ClusterError>> + Send {
        let _ = (node, flakey);
        lacks("flakey")
    }

    /// Crash `nodes` (as `kill` does) and damage their data files while
    /// they are down, the damage drawn from `seed`; `restart` brings each
    /// back to what is left.
    fn damage_files(
        &self,
        nodes: &[NodeName],
        damage: Damage,
        seed: u64,
    ) -> impl Future<Output = Result<(), ClusterError>> + Send {
        let _ = (nodes, damage, seed);
        lacks("damage files")
    }

    /// `rollback`'s start: crash each of `nodes` (as `kill` does: what it
    /// wrote is kept), copy chunks of its data files, drawn from `seed`
    /// (see [`crate::rollback`]), to a stash of its own that outlives the
    /// node's restart, and start it again.
    fn snapshot_files(
        &self,
        nodes: &[NodeName],
        seed: u64,
    ) -> impl Future<Output = Result<(), ClusterError>> + Send {
        let _ = (nodes, seed);
        lacks("rollback")
    }

    /// `rollback`'s end: crash each of `nodes` again, write its stashed
    /// chunks back over its files (never growing a file nor making one
    /// again), remove the stash and start it: its data is stale from now
    /// on. A node without a finished stash gets nothing written back. One
    /// line per node, and one per file that was shorter or gone.
    fn roll_back_files(
        &self,
        nodes: &[NodeName],
    ) -> impl Future<Output = Result<Vec<String>, ClusterError>> + Send {
        let _ = nodes;
        async { Err(unsupported("rollback")) }
    }

    /// A heal of `rollback`: remove each node's stash, writing nothing
    /// back, and start any of `nodes` that is down. Succeeds when there is
    /// no stash; one line per stash removed or node started.
    fn drop_snapshots(
        &self,
        nodes: &[NodeName],
    ) -> impl Future<Output = Result<Vec<String>, ClusterError>> + Send {
        let _ = nodes;
        async { Err(unsupported("heal a rollback")) }
    }

    /// Delay every read, write and fsync of `node`'s disk.
    fn slow_disk(
        &self,
        node: &str,
        delay_ms: u32,
    ) -> impl Future<Output = Result<(), ClusterError>> + Send {
        let _ = (node, delay_ms);
        lacks("slow-disk")
    }

    /// End the disk faults on `node` (what it did not fsync stays
    /// unsynced). Succeeds when there is none; one line if one went.
    fn heal_disk(
        &self,
        node: &str,
    ) -> impl Future<Output = Result<Vec<String>, ClusterError>> + Send {
        let _ = node;
        async { Err(unsupported("heal a disk fault")) }
    }

    /// Can `fault` be carried out on this cluster as it stands? Asked
    /// before the fault is journaled, so a fault the cluster was not set up
    /// for (a disk fault on nodes started without the fault filesystem) is
    /// refused without leaving an entry `chaos heal` would trip over. The
    /// default: nothing to look at.
    fn ready_for(&self, fault: &Fault) -> impl Future<Output = Result<(), ClusterError>> + Send {
        let _ = fault;
        async { Ok(()) }
    }

    /// Is the node running and not paused? Says nothing about whether the
    /// service inside is ready, nor whether the network lets anyone reach it.
    fn is_up(&self, node: &str) -> impl Future<Output = Result<bool, ClusterError>> + Send;

    /// Is `fault`, applied by this process, still in force? A run asks this
    /// while it holds a fault, so one undone behind its back (a hand-run
    /// `iptables -F`, a heal from another terminal, a node restarted by
    /// someone else) is recorded instead of reported as tested. A backend
    /// that cannot tell answers `Unsupported` (the default), never `true`.
    fn in_force(&self, fault: &Fault) -> impl Future<Output = Result<bool, ClusterError>> + Send {
        let verb = fault.verb();
        async move {
            Err(ClusterError::Unsupported {
                fault: format!("watch a {verb}"),
                reason: "this backend cannot look at a fault in force".into(),
            })
        }
    }
}

/// What a fault method a backend does not implement answers.
fn unsupported(fault: &str) -> ClusterError {
    ClusterError::Unsupported {
        fault: fault.into(),
        reason: "this backend does not implement it".into(),
    }
}

async fn lacks(fault: &'static str) -> Result<(), ClusterError> {
    Err(unsupported(fault))
}

/// The first of `faults` that backend `C` cannot carry out, as the one line
/// `chaos run` refuses it with (`backend` is its `--backend` name).
pub fn check_supported<C: Cluster>(backend: &str, faults: &[FaultSpec]) -> Result<(), String> {
    for fault in faults {
        if let Err(why) = C::supports(fault) {
            return Err(format!(
                "--backend {backend} cannot {verb} ({why}): leave {fault} out of --nemesis",
                verb = fault.verb()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
