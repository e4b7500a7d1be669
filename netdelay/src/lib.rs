//! A userspace packet delayer for the chaos harness, for kernels without
//! `sch_netem`: iptables sends the packets a node sends to its peers to an
//! NFQUEUE ([`iptables`]), and the delayer ([`delayer`]) holds each one
//! for a drawn delay before accepting it, sends some at once (reorder),
//! sends some twice (duplicate), and drops some (loss), as netem's
//! `delay`, `reorder`, `duplicate` and `loss random` do ([`plan`]).
//! docs/faults.md says where it fits.

pub mod cli;
pub mod delayer;
pub mod duplicate;
pub mod held;
pub mod iptables;
pub mod params;
pub mod plan;
pub mod process;
pub mod sys;
