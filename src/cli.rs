//! The command line.

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "chaos",
    version,
    about = "A Jepsen-style chaos harness for replicated logs and databases"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check a recorded history: exit 0 valid, 1 invalid, 2 unknown, 254 bad input.
    Check(CheckArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CheckerKind {
    Linearizable,
    Queue,
    Log,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The history: our JSONL, Jepsen's history.edn, or Jepsen's log lines.
    pub file: std::path::PathBuf,
    #[arg(long, value_enum, default_value = "linearizable")]
    pub checker: CheckerKind,
    /// Model for the linearizable checker: register, cas-register, kv,
    /// multi-register, set, fifo-queue.
    #[arg(long, default_value = "cas-register")]
    pub model: String,
    /// Format of FILE (jsonl, edn, jepsen-log); detected from content if absent.
    #[arg(long)]
    pub format: Option<String>,
    /// Initial value of every register or key, as JSON (default null).
    #[arg(long, default_value = "null")]
    pub initial: String,
    /// Check the whole history as one search instead of key by key.
    #[arg(long)]
    pub no_split: bool,
    /// Time the search may spend on one key before saying unknown.
    #[arg(long, default_value = "60s")]
    pub time_budget: String,
    /// Memory the search may use for one key before saying unknown.
    #[arg(long, default_value = "1GiB")]
    pub memory_budget: String,
    /// Threads checking keys in parallel (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Queue checker: duplicates are allowed (at-least-once delivery).
    #[arg(long)]
    pub allow_duplicates: bool,
    /// Print the full report as JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
}
