//! A protocol workload on a cluster: the admin program's `setup` before
//! the workers, the workers' programs, the final op through a fresh
//! program, and `teardown` on a cluster that outlives the run.

use std::sync::Arc;

use crate::client::NodeTarget;
use crate::recorder::RecordHandle;
use crate::system::{
    final_ops, BoxFuture, Driver, Prepared, RunSetup, Say, SetupError, WorkerTask, Workers,
};
use crate::Generator;

use chaos_checkers::history::OpType;

use super::client::{AdminError, Programs};
use super::message::NOT_SUPPORTED;

/// The set-up of workload `name`: the admin program started on the first
/// node and asked to `setup`. It is also the check that `--client` works
/// at all, before any worker starts.
pub fn prepare<'a>(
    name: &'static str,
    run: &'a RunSetup,
    targets: &'a [NodeTarget],
) -> BoxFuture<'a, Prepared> {
    Box::pin(async move {
        let Some(client) = &run.client else {
            return Err(SetupError::BadInput(format!(
                "the protocol's {name} workload needs --client COMMAND (docs/protocol.md)"
            )));
        };
        let Some(first) = targets.first() else {
            return Err(SetupError::NotReady("the cluster has no nodes".into()));
        };
        std::fs::create_dir_all(&client.logs).map_err(|e| {
            SetupError::NotReady(format!("cannot create {}: {e}", client.logs.display()))
        })?;
        let programs = Programs {
            command: client.command.clone(),
            logs: client.logs.clone(),
            workload: name.to_string(),
            prefix: run.prefix.clone(),
            seed: run.seed,
            read: run.read_mode.clone(),
            nodes: targets.to_vec(),
        };
        let done = programs.admin(first, "setup").await.map_err(|e| match e {
            // A program that cannot start or answer init is the flag's
            // fault: one line, before anything ran.
            AdminError::Start(e) => SetupError::BadInput(format!(
                "--client {:?}: {e} (its stderr: {}/admin.log)",
                client.command,
                client.logs.display()
            )),
            AdminError::Exchange(e) => SetupError::NotReady(format!("setup: {e}")),
            AdminError::Reply(e) => SetupError::BadInput(e.0),
        })?;
        if done.kind != OpType::Ok {
            return Err(SetupError::NotReady(format!(
                "the client program's setup answered {} ({})",
                done.kind.as_str(),
                done.error.unwrap_or_default()
            )));
        }
        Ok(Box::new(ProtocolDriver(Arc::new(programs))) as Box<dyn Driver>)
    })
}

struct ProtocolDriver(Arc<Programs>);

impl Driver for ProtocolDriver {
    fn start(&self, generator: Generator, workers: Workers) -> Result<WorkerTask, SetupError> {
        Ok(workers.spawn(&self.0, generator))
    }

    fn finish<'a>(
        &'a self,
        f: &'a str,
        targets: &'a [NodeTarget],
        record: &'a RecordHandle,
        say: Say<'a>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(final_ops(&*self.0, f, targets, record, say))
    }

    fn remove_data<'a>(&'a self, targets: &'a [NodeTarget]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let first = targets.first().ok_or("no nodes")?;
            let done = self.0.admin(first, "teardown").await.map_err(|e| match e {
                AdminError::Start(e) => format!("client program: {e}"),
                AdminError::Exchange(e) => format!("teardown: {e}"),
                AdminError::Reply(e) => e.0,
            })?;
            let error = done.error.unwrap_or_default();
            match done.kind {
                OpType::Ok => Ok(()),
                _ if error.starts_with(NOT_SUPPORTED) => Err("the client program does not tear down (not-supported): the run's data stays under its prefix".into()),
                kind => Err(format!("teardown answered {} ({error})", kind.as_str())),
            }
        })
    }
}
