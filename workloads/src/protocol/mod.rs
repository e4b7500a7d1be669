//! The client protocol (`docs/protocol.md`): a system of the user's own,
//! spoken to by a program in any language that the harness starts once per
//! process and talks to in JSON lines, as Maelstrom does. The harness
//! brings the workloads, the checkers and the faults; the program only
//! turns an op into requests to one node, and the answer into `ok`, `fail`
//! or `info`.
//!
//! * [`message`]: the lines, and replies as completions.
//! * [`program`]: one running program.
//! * [`client`]: programs as the workers' clients.
//! * [`driver`]: set-up, final op and teardown through the admin program.

pub mod client;
pub mod driver;
pub mod message;
pub mod program;

use std::path::PathBuf;

use chaos_checkers::linear::ModelKind;

use crate::registry::UnknownName;
use crate::system::{BoxFuture, Checker, Image, Prepared, RunSetup, System, Workload};
use crate::{Mix, NodeTarget};

/// `--client`: the user's program, and where its stderr goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientProgram {
    /// Run under `sh -c`, once per process.
    pub command: String,
    /// The run's `clients/` folder.
    pub logs: PathBuf,
}

/// The workloads any system can serve through the protocol; the first is
/// the default.
pub static WORKLOADS: &[Workload] = &[
    Workload {
        name: "register",
        about: "read / write / compare-and-set on independent keys (linearizable)",
        mix: || Mix::cas_register(5),
        ops_per_key: Some(60),
        final_op: None,
        checker: Checker::Linearizable {
            model: ModelKind::CasRegister,
            split_keys: true,
        },
        prepare: |run, nodes| prepare("register", run, nodes),
    },
    Workload {
        name: "log",
        about: "append / poll, then a final read (nothing lost, reordered or invented)",
        mix: || Mix::log(1, 1),
        ops_per_key: None,
        final_op: Some("final-read"),
        checker: Checker::Log,
        prepare: |run, nodes| prepare("log", run, nodes),
    },
    Workload {
        name: "queue",
        about: "enqueue / dequeue, then a drain (nothing lost, duplicated or invented)",
        mix: || Mix::queue(1, 1),
        ops_per_key: None,
        final_op: Some("drain"),
        checker: Checker::Queue,
        prepare: |run, nodes| prepare("queue", run, nodes),
    },
    Workload {
        name: "set",
        about: "add / read on independent sets (linearizable: no add lost, no read stale)",
        mix: || Mix::set(3, 1),
        ops_per_key: Some(60),
        final_op: None,
        checker: Checker::Linearizable {
            model: ModelKind::Set,
            split_keys: true,
        },
        prepare: |run, nodes| prepare("set", run, nodes),
    },
];

fn prepare<'a>(
    name: &'static str,
    run: &'a RunSetup,
    nodes: &'a [NodeTarget],
) -> BoxFuture<'a, Prepared> {
    driver::prepare(name, run, nodes)
}

/// The protocol's workload `name`.
pub fn workload(name: &str) -> Result<&'static Workload, UnknownName> {
    WORKLOADS.iter().find(|w| w.name == name).ok_or_else(|| {
        let names: Vec<&str> = WORKLOADS.iter().map(|w| w.name).collect();
        UnknownName(format!(
            "--workload {name:?}: with --client, use {}",
            names.join(", ")
        ))
    })
}

/// A system of the user's own, on a cluster they bring: the harness knows
/// nothing of it but what the flags say (its name, its port).
pub static OWN: System = System {
    name: "own",
    about: "your own system, through your --client program",
    image: Image {
        env: "",
        default: "",
    },
    clusters: &[],
    client_port: 0,
    scheme: None,
    process: "",
    read_modes: &[],
    log_phrases: &[&crate::system::RAFT_PHRASES, &crate::system::CRASH_PHRASES],
    version: |_| Box::pin(async { Err("unknown".to_string()) }),
    workloads: WORKLOADS,
};
