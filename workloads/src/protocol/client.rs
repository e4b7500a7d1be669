//! The protocol as a [`ClientFactory`]: every process of the run is a
//! fresh program, so a program that hangs, crashes or says something that
//! is not a reply ends its process (`info`), and the worker goes on as a
//! new process with a new program (the rule of `docs/clients.md`).

use std::path::PathBuf;
use std::time::Duration;

use crate::client::{Client, ClientFactory, Completion, Invocation, NodeTarget, OpenError};

use super::message::{self, BadReply, Init, Role};
use super::program::{Program, ProgramError};

/// Why an admin request (`setup`, `teardown`) got no answer.
#[derive(Debug)]
pub enum AdminError {
    /// The program did not start or answer `init`.
    Start(ProgramError),
    /// It stopped talking before it answered.
    Exchange(ProgramError),
    /// It answered something that is not a reply.
    Reply(BadReply),
}

/// How long a program may take to start and answer `init`.
pub const INIT_LIMIT: Duration = Duration::from_secs(10);

/// What every program of a run is started with.
#[derive(Clone, Debug)]
pub struct Programs {
    /// `--client`: run under `sh -c`.
    pub command: String,
    /// `clients/` in the results folder: `p<process>.log`, `admin.log`.
    pub logs: PathBuf,
    pub workload: String,
    pub prefix: String,
    pub seed: u64,
    pub read: String,
    /// Every node, as `init` lists them.
    pub nodes: Vec<NodeTarget>,
}

impl Programs {
    /// Starts one program in `role` on `node`.
    pub async fn start(&self, role: Role, node: &NodeTarget) -> Result<Program, ProgramError> {
        let log = self.logs.join(match role {
            Role::Worker(p) => format!("p{p}.log"),
            Role::Admin => "admin.log".to_string(),
        });
        let init = Init {
            role,
            node,
            nodes: &self.nodes,
            workload: &self.workload,
            prefix: &self.prefix,
            seed: self.seed,
            read: &self.read,
        };
        Program::start(&self.command, &log, &init, INIT_LIMIT).await
    }

    /// Starts the admin program on `node`, asks it `kind` (`setup`,
    /// `teardown`), stops it: its answer.
    pub async fn admin(&self, node: &NodeTarget, kind: &str) -> Result<Completion, AdminError> {
        let mut admin = self
            .start(Role::Admin, node)
            .await
            .map_err(AdminError::Start)?;
        let answer = admin.exchange(&message::admin_line(kind, 0)).await;
        admin.stop().await;
        let line = answer.map_err(AdminError::Exchange)?;
        message::completion(&line, 0).map_err(AdminError::Reply)
    }
}

impl ClientFactory for Programs {
    type Client = ProgramClient;

    async fn open(&self, node: &NodeTarget, process: u64) -> Result<ProgramClient, OpenError> {
        // Nothing with an effect happens before `init_ok`: a program that
        // fails here is `fail no-client`, as a refused connection is.
        let program = self
            .start(Role::Worker(process), node)
            .await
            .map_err(|e| OpenError(format!("client program: {e}")))?;
        Ok(ProgramClient {
            program: Some(program),
            next_id: 1,
        })
    }
}

/// One process's program.
pub struct ProgramClient {
    /// None once it broke the protocol or stopped answering.
    program: Option<Program>,
    next_id: u64,
}

impl Client for ProgramClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        let Some(program) = self.program.as_mut() else {
            return Completion::fail("client-gone: the program already failed");
        };
        let id = self.next_id;
        self.next_id += 1;
        let reply = program.exchange(&message::invoke_line(id, op)).await;
        let completion = match reply {
            Ok(line) => message::completion(&line, id).map_err(|e| e.0),
            Err(e) => Err(e.0),
        };
        // Whatever went wrong, the request may have been acted on.
        completion.unwrap_or_else(|why| {
            self.program = None;
            Completion::info(format!("client-broken: {why}"))
        })
    }

    async fn close(self) {
        if let Some(program) = self.program {
            program.stop().await;
        }
    }
}
