//! A FUSE passthrough filesystem that injects disk faults, for the chaos
//! harness: it keeps unsynced writes in memory so a "power cut" can lose
//! them (LazyFS's idea), fails, drops or corrupts I/O on dm-flakey's
//! up/down cycle, corrupts bytes at random, and adds latency; all switched
//! at run time through a unix socket. docs/disk-faults.md describes it.
//!
//! The core (the cache, the fault decisions, the control protocol) is
//! plain Rust tested without FUSE; `fs` and `mount` are the FUSE glue.

pub mod cache;
pub mod cli;
pub mod control;
pub mod extents;
pub mod faults;
pub mod flakey;
pub mod fs;
pub mod inodes;
pub mod mount;
pub mod shared;
pub mod sys;
pub mod wrap;
