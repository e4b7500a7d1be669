//! NATS 2.9 JetStream as a system under test: its description for the
//! registry and its two workloads, `log` (appends to and reads forward
//! through one replicated stream) and `queue` (enqueues and dequeues on a
//! work-queue stream, then a drain).

use std::sync::Arc;

use super::{server_version, NatsLog, NatsQueue};
use crate::system::{
    final_ops, BoxFuture, Checker, Driver, Image, Prepared, RunSetup, Say, SetupError, System,
    WorkerTask, Workers, Workload,
};
use crate::{Generator, Mix, NodeTarget, RecordHandle};

pub static SYSTEM: System = System {
    name: "nats",
    about: "NATS 2.9 JetStream (Debian's nats-server), replicated on every node",
    image: Image {
        env: "NATS_IMAGE",
        default: "chaos/nats:2.9",
    },
    clusters: &[(3, "10.213.13"), (5, "10.213.15")],
    client_port: 4222,
    scheme: None,
    process: "nats-server",
    read_modes: &[],
    log_phrases: &[
        &crate::system::RAFT_PHRASES,
        &JETSTREAM_PHRASES,
        &crate::system::CRASH_PHRASES,
    ],
    version: |node| Box::pin(server_version(node)),
    workloads: &[
        Workload {
            name: "log",
            about: "appends to and reads forward through one stream, then a final read",
            mix: || Mix::log(1, 1),
            ops_per_key: None,
            final_op: Some("final-read"),
            checker: Checker::Log,
            prepare: prepare_log,
        },
        Workload {
            name: "queue",
            about: "enqueue / dequeue on a work queue, then a final drain",
            mix: || Mix::queue(1, 1),
            ops_per_key: None,
            final_op: Some("drain"),
            checker: Checker::Queue,
            prepare: prepare_queue,
        },
    ],
};

/// JetStream's own: each stream and consumer has a raft group of its
/// own, and a queue's duplicates follow its consumer's leader.
const JETSTREAM_PHRASES: [&str; 4] = [
    "metadata leader",
    "stream leader",
    "consumer leader",
    "stepping down",
];

fn not_ready(e: String) -> SetupError {
    SetupError::NotReady(format!("cannot set up the stream: {e}"))
}

fn prepare_log<'a>(run: &'a RunSetup, targets: &'a [NodeTarget]) -> BoxFuture<'a, Prepared> {
    Box::pin(async move {
        let log = NatsLog::new(&run.prefix);
        log.prepare(targets).await.map_err(not_ready)?;
        Ok(Box::new(Log(Arc::new(log))) as Box<dyn Driver>)
    })
}

fn prepare_queue<'a>(run: &'a RunSetup, targets: &'a [NodeTarget]) -> BoxFuture<'a, Prepared> {
    Box::pin(async move {
        let queue = NatsQueue::new(&run.prefix);
        queue.prepare(targets).await.map_err(not_ready)?;
        Ok(Box::new(Queue(Arc::new(queue))) as Box<dyn Driver>)
    })
}

struct Log(Arc<NatsLog>);

impl Driver for Log {
    fn start(&self, generator: Generator, workers: Workers) -> Result<WorkerTask, SetupError> {
        Ok(workers.spawn(&self.0, generator))
    }

    /// The stream whole again, then one final read of all of it.
    fn finish<'a>(
        &'a self,
        f: &'a str,
        targets: &'a [NodeTarget],
        record: &'a RecordHandle,
        say: Say<'a>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Err(e) = self.0.prepare(targets).await {
                say(&format!("the stream is not whole again: {e}"));
            }
            final_ops(self.0.as_ref(), f, targets, record, say).await;
        })
    }

    fn remove_data<'a>(&'a self, targets: &'a [NodeTarget]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(self.0.remove(targets))
    }
}

struct Queue(Arc<NatsQueue>);

impl Driver for Queue {
    fn start(&self, generator: Generator, workers: Workers) -> Result<WorkerTask, SetupError> {
        // A dequeue's message must not be redelivered while the op that
        // took it may still be running, or the checker would see a
        // duplicate the harness made.
        if self.0.ack_wait <= workers.config.op_timeout {
            return Err(SetupError::BadInput(format!(
                "the queue's ack wait ({:?}) must be longer than the op timeout ({:?})",
                self.0.ack_wait, workers.config.op_timeout
            )));
        }
        Ok(workers.spawn(&self.0, generator))
    }

    /// The queue whole again, then a drain of what is left in it.
    fn finish<'a>(
        &'a self,
        f: &'a str,
        targets: &'a [NodeTarget],
        record: &'a RecordHandle,
        say: Say<'a>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Err(e) = self.0.prepare(targets).await {
                say(&format!("the queue is not whole again: {e}"));
            }
            final_ops(self.0.as_ref(), f, targets, record, say).await;
        })
    }

    fn remove_data<'a>(&'a self, targets: &'a [NodeTarget]) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(self.0.remove(targets))
    }
}
