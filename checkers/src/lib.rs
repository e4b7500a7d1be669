//! Pure history analysis for the chaos harness.
//!
//! This crate depends on no other crate of ours and does no network I/O: it can
//! check a history from anywhere, Jepsen's own `history.edn` included.

pub mod available_memory;
pub mod history;
pub mod linear;
pub mod log;
pub mod perf;
pub mod queue;
mod report;
pub mod synth;
pub mod synth_streams;
pub mod verdict;

pub use verdict::Validity;
