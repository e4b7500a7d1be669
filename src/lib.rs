//! The control node of the chaos harness, as a library: the `chaos` binary
//! (`main.rs`) is a thin shell over it, and the integration tests in `tests/`
//! drive the same code (the Docker backend, the journaled nemesis) directly.

pub mod backends;
pub mod cli;
pub mod commands;
pub mod error;
pub mod exit;
pub mod report;
pub mod results;
pub mod runid;
pub mod units;
