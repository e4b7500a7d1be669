//! etcd 3.4 as a system under test: its description for the registry and
//! its one workload, `register` (read, write and compare-and-set on
//! independent keys, judged linearizable key by key). The client is in
//! [`client`].

pub mod client;

pub use client::{server_version, EtcdClient, EtcdRegister, ReadMode};

use std::sync::Arc;

use chaos_checkers::linear::ModelKind;

use crate::system::{
    BoxFuture, Checker, Driver, Image, Prepared, RunSetup, SetupError, System, WorkerTask,
    Workers, Workload,
};
use crate::{Generator, Mix, NodeTarget};

pub static SYSTEM: System = System {
    name: "etcd",
    about: "etcd 3.4 (Debian's etcd-server), through its v3 JSON gateway",
    image: Image {
        env: "ETCD_IMAGE",
        default: "chaos/etcd:3.4",
    },
    clusters: &[(3, "10.213.3"), (5, "10.213.5")],
    client_port: 2379,
    scheme: Some("http"),
    process: "etcd",
    read_modes: &["linearizable", "serializable"],
    log_phrases: &[&crate::system::RAFT_PHRASES, &crate::system::CRASH_PHRASES],
    version: |node| Box::pin(server_version(node)),
    workloads: &[Workload {
        name: "register",
        about: "read / write / compare-and-set on independent keys",
        mix: || Mix::cas_register(5),
        ops_per_key: Some(60),
        final_op: None,
        checker: Checker::Linearizable {
            model: ModelKind::CasRegister,
            split_keys: true,
        },
        prepare: prepare_register,
    }],
};

fn prepare_register<'a>(run: &'a RunSetup, _: &'a [NodeTarget]) -> BoxFuture<'a, Prepared> {
    let read_mode = match run.read_mode.as_str() {
        "serializable" => ReadMode::Serializable,
        _ => ReadMode::Linearizable,
    };
    let factory = EtcdRegister {
        read_mode,
        prefix: run.prefix.clone(),
    };
    Box::pin(async move { Ok(Box::new(Register(Arc::new(factory))) as Box<dyn Driver>) })
}

struct Register(Arc<EtcdRegister>);

impl Driver for Register {
    fn start(&self, generator: Generator, workers: Workers) -> Result<WorkerTask, SetupError> {
        Ok(workers.spawn(&self.0, generator))
    }

    fn remove_data<'a>(&'a self, targets: &'a [NodeTarget]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(self.0.remove(targets))
    }
}
