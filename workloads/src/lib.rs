//! Generators and clients, one client module per system under test; and the
//! machinery that drives them: workers, the history recorder, live counters.
//!
//! A run, in outline (see `tests/workers.rs` for a complete one):
//!
//! ```text
//! Recorder::start(path) ─► RecordHandle ─┬─► worker::run(factory, Generator, handle, ...)
//!                                        └─► the nemesis (Process::Nemesis)
//!                                        └─► final_op(...) under handle.next_free_process()
//! Recorder::finish() ─► History ─► checkers
//! ```

pub mod client;
pub mod fake;
pub mod final_op;
pub mod generator;
pub mod mix;
pub mod protocol;
pub mod recorder;
pub mod registry;
pub mod rng;
pub mod shutdown;
pub mod stats;
pub mod system;
pub mod worker;

// The systems under test: each a module with its `SYSTEM` description. A
// new system is its module and its name here (`docs/extending.md`).
registry::systems!(etcd, nats);

pub use client::{
    with_timeout, Client, ClientFactory, Completion, Invocation, NodeTarget, OpenError,
};
pub use final_op::{final_invocation, final_op};
pub use generator::{Generator, GeneratorConfig, GeneratorError, KeySpec, Next, Planned};
pub use mix::Mix;
pub use recorder::{read_history, RecordHandle, Recorder, RecorderClosed, Stamp};
pub use rng::Rng;
pub use shutdown::{shutdown, ShutdownSignal, ShutdownTrigger};
pub use stats::{Snapshot, Stats};
pub use system::{Checker, Driver, RunSetup, SetupError, System, Workload};
pub use worker::{run, RunError, WorkerConfig};
