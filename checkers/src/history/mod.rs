//! Histories: the op type and the formats we read and write.

pub mod edn;
pub mod format;
pub mod jepsen_log;
pub mod jsonl;
mod jsonl_stream;
mod op;

pub use op::{History, Op, OpType, Pair, PairError, Process};
