//! Faults for the chaos harness, as data.
//!
//! * [`fault`]: the fault vocabulary: [`FaultSpec`], a fault as the command
//!   line names it, and [`Fault`], one instance of it on a cluster's nodes.
//! * [`grudge`]: who refuses to hear from whom, and the partition shapes
//!   (halves, one, majorities-ring, bridge, ...) as pure functions of the
//!   node list and a seed.
//! * [`cluster`]: the [`Cluster`] trait every backend (Docker, Kubernetes)
//!   implements to kill, pause, stop and partition nodes; a fault it lacks
//!   answers "unsupported".
//! * [`journal`]: the append-only, fsynced record of every fault, written
//!   before the fault is applied, so `chaos heal` can undo what a crashed run
//!   left behind; [`nemesis`]: applying and undoing under that rule.
//! * [`schedule`]: the seeded schedule that fires faults during a run, and
//!   the heal at its end; [`event`]: what it reports, and the names its ops
//!   carry in the history.
//! * [`lease`]: which live run owns which cluster, and where its journal
//!   is, so a heal never acts under a live run and always finds a dead
//!   one's journal.
//! * [`rng`]: the small seeded RNG that makes fault choices replayable.
//! * [`quality`]: how much and on which links the network-quality faults
//!   (`loss`, `rate`) act.
//! * [`iptables`]: the partition and loss rules and scripts every backend
//!   runs; [`tc`]: the rate limit's; [`netem`]: delay, jitter, duplicates,
//!   reordering and correlated loss with `tc netem`, where the kernel has it.
//! * [`storage`]: the disk faults' parameters (who loses unsynced writes,
//!   dm-flakey's modes, a slow disk's delay) and the fault filesystem's
//!   control requests; [`disk`]: [`disk::dm_flakey`], the device-mapper
//!   flakey tables and the scripts that put a node's disk behind one;
//!   [`rollback`]: which chunks of a node's data files a `rollback`
//!   stashes, and the scripts that stash them and write them back.

pub mod cluster;
pub mod disk;
pub mod event;
pub mod fault;
pub mod grudge;
pub mod iptables;
pub mod journal;
pub mod lease;
pub mod nemesis;
pub mod netem;
pub mod quality;
pub mod rng;
pub mod rollback;
pub mod schedule;
pub mod shaping;
pub mod storage;
pub mod tc;

pub use cluster::{check_supported, Cluster, ClusterError, Node};
pub use event::{Event, NemesisOp, Sink, Step};
pub use fault::{Fault, FaultSpec};
pub use grudge::{Grudge, NodeName, PartitionShape};
pub use journal::{Journal, JournalError};
pub use nemesis::NemesisError;
pub use quality::{Links, Percent, Place, Rate};
pub use rng::Rng;
pub use schedule::Schedule;
