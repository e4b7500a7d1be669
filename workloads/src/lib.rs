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
pub mod etcd;
pub mod fake;
pub mod final_op;
pub mod generator;
pub mod mix;
pub mod nats;
pub mod recorder;
pub mod rng;
pub mod shutdown;
pub mod stats;
pub mod worker;

pub use client::{with_timeout, Client, ClientFactory, Completion, Invocation, NodeTarget};
pub use final_op::{final_invocation, final_op};
pub use generator::{Generator, GeneratorConfig, KeySpec, Next, Planned};
pub use mix::Mix;
pub use recorder::{read_history, RecordHandle, Recorder, RecorderClosed, Stamp};
pub use rng::Rng;
pub use shutdown::{shutdown, ShutdownSignal, ShutdownTrigger};
pub use stats::{Snapshot, Stats};
pub use worker::{run, RunError, WorkerConfig};
