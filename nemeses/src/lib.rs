//! Faults for the chaos harness.
//!
//! * [`grudge`]: who refuses to hear from whom, and the partition shapes
//!   (halves, one, majorities-ring, bridge, ...) as pure functions of the
//!   node list and a seed.
//! * [`cluster`]: the [`Cluster`] trait every backend (Docker, Kubernetes)
//!   implements to kill, pause, stop and partition nodes.
//! * [`journal`]: the append-only, fsynced record of every fault, written
//!   before the fault is applied, so `chaos heal` can undo what a crashed run
//!   left behind.
//! * [`lease`]: which live run owns which cluster, and where its journal
//!   is, so a heal never acts under a live run and always finds a dead
//!   one's journal.
//! * [`rng`]: the small seeded RNG that makes fault choices replayable.
//! * [`iptables`]: the partition rules and scripts every backend runs.

pub mod cluster;
pub mod grudge;
pub mod iptables;
pub mod journal;
pub mod lease;
pub mod rng;

pub use cluster::{Cluster, ClusterError, Node};
pub use grudge::{Grudge, NodeName, PartitionShape};
pub use journal::{Fault, Journal, JournalError};
pub use rng::Rng;
