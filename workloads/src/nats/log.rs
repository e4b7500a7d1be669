//! The `log` workload on one JetStream stream (file storage, one replica per
//! node, no limits): `<prefix>-log` on subject `chaos.<prefix>.log`.
//!
//! # Ops (the log checker's shapes)
//!
//! - `append v`: a publish of v's JSON text, waiting for the stream's ack;
//!   `ok [seq v]`: the stream sequence is the offset.
//! - `poll`: reads forward from where this process is, at most
//!   [`NatsLog::poll_batch`] entries; `ok [[seq v] ...]` (`[]` at the end of
//!   the stream).
//! - `final-read`: the whole stream from offset 1 to its end; `ok [[seq v] ...]`.
//!
//! Ops carry no key: one stream per run, which the checker sees as its one
//! unnamed log. An op with a key is `fail bad-op`.
//!
//! # How reads work, and why
//!
//! Each entry is one `$JS.API.STREAM.MSG.GET` request for "the first
//! message at sequence n or after" (`next_by_subj`), the process keeping n
//! itself. Only the stream's leader answers those, so a read sees what the
//! replicated log holds, not a lagging follower's copy (a direct get would
//! be served by any replica); a sequence missing below the end is stepped
//! over and shows as a jump the checker judges (`poll-skip`), where an
//! ordered consumer would quietly reset itself over a gap; and there is no
//! server-side consumer to create (which needs the meta leader), replicate
//! or clean up per process. The price is one round trip per entry; the
//! final read, on a quiet stream, keeps [`FINAL_READ_WINDOW`] of them in
//! flight and keeps exactly the answers one-at-a-time asking would have
//! used (see [`super::reading`]).
//!
//! A consumer's position lives in its client, so in one process. A fresh
//! process (after an `info`) resumes at the highest position any poll of
//! this factory reached, as a consumer group resumes from its committed
//! offset; the checker treats every process as a reader of its own.
//!
//! # `fail` and `info` (besides the table in [`super`])
//!
//! - `append`: the ack names another stream: `info bad-response`.
//! - `poll`: an error after some entries were read ends the poll `ok` with
//!   those entries (they were read; the rest waits for the next poll); an
//!   error before any is `info`.
//! - `final-read`: any error is `info`: a final read must be whole, since
//!   the checker takes what it lacks for lost.

use super::api::{self, PubAck, Retention};
use super::connect::{connect, request};
use super::reading::{Reading, Walked};
use super::setup::{self, Spec};
use super::{name_token, PREPARE_BUDGET};
use crate::client::{Client, ClientFactory, Completion, Invocation, NodeTarget, OpenError};
use futures_util::future::join_all;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Requests a final read keeps in flight.
pub const FINAL_READ_WINDOW: u64 = 32;

/// Opens [`NatsLogClient`]s on one stream named from a run's prefix.
#[derive(Clone, Debug)]
pub struct NatsLog {
    stream: String,
    subject: String,
    /// Most entries one `poll` returns.
    pub poll_batch: usize,
    /// A connection not established within this long fails to open.
    pub connect_timeout: Duration,
    /// The highest offset + 1 any poll reached: where fresh processes start.
    committed: Arc<AtomicU64>,
}

impl NatsLog {
    /// The stream `<prefix>-log` on subject `chaos.<prefix>.log` (the prefix
    /// made safe by [`name_token`]); polls of up to 64 entries.
    pub fn new(prefix: &str) -> Self {
        let token = name_token(prefix);
        NatsLog {
            stream: format!("{token}-log"),
            subject: format!("chaos.{token}.log"),
            poll_batch: 64,
            connect_timeout: Duration::from_secs(5),
            committed: Arc::new(AtomicU64::new(1)),
        }
    }

    pub fn stream(&self) -> &str {
        &self.stream
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Creates the stream with one replica per target if it is not there,
    /// and waits until it has a leader and every replica is current (at
    /// most [`PREPARE_BUDGET`]). Idempotent: also the "is it whole again?"
    /// check before the final read.
    pub async fn prepare(&self, targets: &[NodeTarget]) -> Result<(), String> {
        let spec = Spec {
            stream: self.stream.clone(),
            subject: self.subject.clone(),
            retention: Retention::Limits,
            consumer: None,
        };
        setup::prepare(targets, &spec, PREPARE_BUDGET).await
    }

    /// The server leading the stream as `node` sees it (None: no leader).
    pub async fn leader(&self, node: &NodeTarget) -> Result<Option<String>, String> {
        setup::leader(node, &self.stream, None).await
    }

    /// Deletes the stream with its data (and consumers): the run's clean-up
    /// on a cluster that outlives it.
    pub async fn remove(&self, targets: &[NodeTarget]) -> Result<(), String> {
        setup::remove(targets, &self.stream).await
    }
}

impl ClientFactory for NatsLog {
    type Client = NatsLogClient;

    async fn open(&self, node: &NodeTarget, process: u64) -> Result<NatsLogClient, OpenError> {
        let nats = connect(node, &format!("p{process}"), self.connect_timeout).await?;
        Ok(NatsLogClient {
            nats,
            stream: self.stream.clone(),
            subject: self.subject.clone(),
            poll_batch: self.poll_batch.max(1),
            next: self.committed.load(Ordering::Relaxed).max(1),
            committed: self.committed.clone(),
        })
    }
}

/// One process's connection and read position.
pub struct NatsLogClient {
    nats: async_nats::Client,
    stream: String,
    subject: String,
    poll_batch: usize,
    /// The offset this process's next poll starts at.
    next: u64,
    committed: Arc<AtomicU64>,
}

impl Client for NatsLogClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        if op.key.is_some() {
            return Completion::fail("bad-op: the NATS log is one stream: ops carry no key");
        }
        match op.f.as_str() {
            "append" => self.append(&op.value).await,
            "poll" => self.poll().await,
            "final-read" => self.final_read().await,
            f => Completion::fail(format!("bad-op: the NATS log cannot do {f}")),
        }
    }
}

impl NatsLogClient {
    async fn append(&mut self, value: &Value) -> Completion {
        let Some(body) = api::encode_value(value) else {
            return Completion::fail(format!("bad-op: cannot append {value}"));
        };
        let reply = match request(&self.nats, self.subject.clone(), body).await {
            Ok(reply) => reply,
            Err(completion) => return completion,
        };
        match api::parse_pub_ack(&reply.payload) {
            Ok(PubAck::Stored { stream, seq, .. }) if stream == self.stream => {
                Completion::ok(json!([seq, value]))
            }
            Ok(PubAck::Stored { stream, .. }) => {
                Completion::info(format!("bad-response: stored in stream {stream}"))
            }
            Ok(PubAck::Rejected(e)) if e.nothing_stored() => Completion::fail(e.label()),
            Ok(PubAck::Rejected(e)) => Completion::info(e.label()),
            Err(e) => Completion::info(e),
        }
    }

    async fn poll(&mut self) -> Completion {
        // One request at a time: polls run while appends land, and each
        // entry is asked for once it is known where the last one ended.
        let (entries, next, error) = self.read_from(self.next, Some(self.poll_batch), 1).await;
        match error {
            Some(e) if entries.is_empty() => e,
            _ => {
                self.next = next;
                self.committed.fetch_max(next, Ordering::Relaxed);
                Completion::ok(Value::Array(entries))
            }
        }
    }

    async fn final_read(&mut self) -> Completion {
        match self.read_from(1, None, FINAL_READ_WINDOW).await {
            (entries, _, None) => Completion::ok(Value::Array(entries)),
            (_, _, Some(e)) => e,
        }
    }

    /// Entries from offset `from` on, up to `limit` of them or the end of
    /// the stream: the `[seq value]` pairs in the order received, the
    /// offset to continue at, and the completion of the request that broke
    /// off the read, if one did. `window` requests at a time, for offsets
    /// `next`, `next + 1`, ...; [`Reading::take`] keeps what one-at-a-time
    /// asking would have kept.
    async fn read_from(
        &self,
        from: u64,
        limit: Option<usize>,
        window: u64,
    ) -> (Vec<Value>, u64, Option<Completion>) {
        let subject = api::msg_get_subject(&self.stream);
        let mut reading = Reading::from(from);
        loop {
            let wanted = limit.map_or(u64::MAX, |l| l.saturating_sub(reading.entries.len()) as u64);
            if wanted == 0 {
                return (reading.entries, reading.next, None);
            }
            let asked: Vec<u64> = (reading.next..)
                .take(window.clamp(1, wanted) as usize)
                .collect();
            let answers = join_all(asked.iter().map(|&at| {
                let (subject, body) = (subject.clone(), api::msg_get_next(at, &self.subject));
                async move {
                    let reply = request(&self.nats, subject, body).await?;
                    api::parse_msg_get(&reply.payload).map_err(Completion::info)
                }
            }))
            .await;
            if let Walked::Done(error) = reading.take(asked.into_iter().zip(answers)) {
                return (reading.entries, reading.next, error);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chaos_checkers::history::OpType;

    #[test]
    fn names_come_from_the_prefix() {
        let log = NatsLog::new("run/42");
        assert_eq!(log.stream(), "run_42-log");
        assert_eq!(log.subject(), "chaos.run_42.log");
    }

    #[tokio::test]
    async fn a_refused_connection_fails_to_open() {
        let node = crate::client::refusing_node("");
        assert!(NatsLog::new("x").open(&node, 0).await.is_err());
    }

    /// A server that says INFO and nothing else: the client connects, and
    /// every request goes unanswered.
    async fn silent_server() -> NodeTarget {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let info = "INFO {\"server_id\":\"x\",\"version\":\"2.9.0\",\"proto\":1,\"max_payload\":1048576,\"headers\":true}\r\n";
            s.write_all(info.as_bytes()).await.unwrap();
            let mut buf = vec![0u8; 4096];
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        // Answer pings so the client believes it is connected.
                        if buf[..n].windows(4).any(|w| w == b"PING") {
                            let _ = s.write_all(b"PONG\r\n").await;
                        }
                    }
                }
            }
        });
        NodeTarget {
            name: "n1".into(),
            address,
        }
    }

    #[tokio::test]
    async fn an_unanswered_append_is_info_and_ops_with_keys_fail() {
        let node = silent_server().await;
        let mut client = NatsLog::new("x").open(&node, 0).await.unwrap();
        let keyed = client
            .invoke(&Invocation {
                f: "append".into(),
                key: Some(json!(1)),
                value: json!(1),
            })
            .await;
        assert_eq!(keyed.kind, OpType::Fail);
        let done = crate::with_timeout(
            Duration::from_millis(300),
            client.invoke(&Invocation {
                f: "append".into(),
                key: None,
                value: json!(1),
            }),
        )
        .await;
        assert_eq!(done.kind, OpType::Info, "{done:?}");
    }
}
