//! The `queue` workload on a JetStream work-queue stream (file storage, one
//! replica per node): `<prefix>-queue` on subject `chaos.<prefix>.queue`,
//! read through one durable pull consumer `<prefix>-workers` with explicit
//! acks, shared by every process.
//!
//! # Ops (the queue checker's shapes)
//!
//! - `enqueue v`: a publish of v's JSON text, waiting for the stream's ack;
//!   `ok v`.
//! - `dequeue`: a pull of one message without waiting (`no_wait`), then a
//!   synchronous ack (`+ACK` sent as a request: the consumer leader answers
//!   once it processed the ack). `ok v` only after that answer; `ok nil`
//!   when the pull said the queue is empty (404 / 408 status).
//! - `drain`: pulls and acks one message at a time until a pull comes back
//!   empty *and* the consumer reports nothing pending and nothing awaiting
//!   an ack: messages a lost dequeue left unacknowledged come back after
//!   the ack wait, and the drain waits for them (pulls then wait up to
//!   [`NatsQueue::drain_wait`] each); `ok [v ...]`.
//!
//! Pulls get an inbox of their own: JetStream delivers a pulled message
//! under the subject it was published on, which the client library's
//! shared request inbox cannot route (the request would time out).
//!
//! # Checker options
//!
//! Run the queue checker without `allow-duplicates`: an `ok` dequeue
//! returned only after the server confirmed the ack, and the ack wait
//! ([`NatsQueue::ack_wait`], which must exceed the worker's op timeout) is
//! longer than any `ok` dequeue can take, so an element that two `ok`
//! dequeues returned was redelivered after a confirmed ack: a finding,
//! not noise.
//!
//! # `fail` and `info` (besides the table in [`super`])
//!
//! - `dequeue`: a message pulled but its ack unanswered or refused:
//!   `info` (the ack may have been processed; if not, the message comes
//!   back after the ack wait). A pull answered with another status (409:
//!   leadership change, consumer deleted, too many waiting pulls): `info`.
//! - `drain`: any error is `info` (elements it took are then unknown to the
//!   checker; a partial list as `ok` would claim the queue was empty).

use super::api::{self, PubAck, Retention};
use super::connect::{connect, request, request_own_inbox};
use super::setup::{self, Spec};
use super::{name_token, PREPARE_BUDGET};
use crate::client::{Client, ClientFactory, Completion, Invocation, NodeTarget, OpenError};
use async_nats::{Message, StatusCode};
use serde_json::Value;
use std::time::Duration;

/// Opens [`NatsQueueClient`]s on one work queue named from a run's prefix.
#[derive(Clone, Debug)]
pub struct NatsQueue {
    stream: String,
    subject: String,
    consumer: String,
    /// The consumer redelivers a message not acknowledged within this long.
    /// Must exceed the worker's op timeout (see the module docs); a drain
    /// may wait this long for messages a lost dequeue left behind.
    pub ack_wait: Duration,
    /// How long each of a drain's pulls waits for a message.
    pub drain_wait: Duration,
    /// A connection not established within this long fails to open.
    pub connect_timeout: Duration,
}

impl NatsQueue {
    /// The stream `<prefix>-queue` on `chaos.<prefix>.queue` with consumer
    /// `<prefix>-workers` (prefix made safe by [`name_token`]); ack wait
    /// 10 s (twice the workers' default op timeout).
    pub fn new(prefix: &str) -> Self {
        let token = name_token(prefix);
        NatsQueue {
            stream: format!("{token}-queue"),
            subject: format!("chaos.{token}.queue"),
            consumer: format!("{token}-workers"),
            ack_wait: Duration::from_secs(10),
            drain_wait: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(5),
        }
    }

    pub fn stream(&self) -> &str {
        &self.stream
    }

    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// Creates the stream (one replica per target) and the consumer if they
    /// are not there, and waits until both have a leader and every replica
    /// is current (at most [`PREPARE_BUDGET`]). Idempotent; a consumer of
    /// that name with another ack wait is an error.
    pub async fn prepare(&self, targets: &[NodeTarget]) -> Result<(), String> {
        let spec = Spec {
            stream: self.stream.clone(),
            subject: self.subject.clone(),
            retention: Retention::WorkQueue,
            consumer: Some((self.consumer.clone(), self.ack_wait)),
        };
        setup::prepare(targets, &spec, PREPARE_BUDGET).await
    }

    /// The server leading the consumer (where dequeues and acks are
    /// decided) as `node` sees it (None: no leader).
    pub async fn leader(&self, node: &NodeTarget) -> Result<Option<String>, String> {
        setup::leader(node, &self.stream, Some(&self.consumer)).await
    }

    /// Deletes the stream with its data (and consumers): the run's clean-up
    /// on a cluster that outlives it.
    pub async fn remove(&self, targets: &[NodeTarget]) -> Result<(), String> {
        setup::remove(targets, &self.stream).await
    }
}

impl ClientFactory for NatsQueue {
    type Client = NatsQueueClient;

    async fn open(&self, node: &NodeTarget, process: u64) -> Result<NatsQueueClient, OpenError> {
        let nats = connect(node, &format!("p{process}"), self.connect_timeout).await?;
        Ok(NatsQueueClient {
            nats,
            stream: self.stream.clone(),
            subject: self.subject.clone(),
            pull: api::pull_subject(&self.stream, &self.consumer),
            info: api::consumer_info_subject(&self.stream, &self.consumer),
            drain_wait: self.drain_wait,
        })
    }
}

pub struct NatsQueueClient {
    nats: async_nats::Client,
    stream: String,
    subject: String,
    /// The consumer's pull and info subjects.
    pull: String,
    info: String,
    drain_wait: Duration,
}

/// What one pull brought.
enum Pulled {
    /// An element, already acknowledged (the server confirmed).
    Element(Value),
    Empty,
}

impl Client for NatsQueueClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        if op.key.is_some() {
            return Completion::fail("bad-op: the NATS queue is one stream: ops carry no key");
        }
        match op.f.as_str() {
            "enqueue" => self.enqueue(&op.value).await,
            "dequeue" => match self.take(api::pull_one_now()).await {
                Ok(Pulled::Element(v)) => Completion::ok(v),
                Ok(Pulled::Empty) => Completion::ok(Value::Null),
                Err(c) => c,
            },
            "drain" => self.drain().await,
            f => Completion::fail(format!("bad-op: the NATS queue cannot do {f}")),
        }
    }
}

impl NatsQueueClient {
    async fn enqueue(&mut self, value: &Value) -> Completion {
        let Some(body) = api::encode_value(value) else {
            return Completion::fail(format!("bad-op: cannot enqueue {value}"));
        };
        let reply = match request(&self.nats, self.subject.clone(), body).await {
            Ok(reply) => reply,
            Err(completion) => return completion,
        };
        match api::parse_pub_ack(&reply.payload) {
            Ok(PubAck::Stored { stream, .. }) if stream == self.stream => {
                Completion::ok(value.clone())
            }
            Ok(PubAck::Stored { stream, .. }) => {
                Completion::info(format!("bad-response: stored in stream {stream}"))
            }
            Ok(PubAck::Rejected(e)) if e.nothing_stored() => Completion::fail(e.label()),
            Ok(PubAck::Rejected(e)) => Completion::info(e.label()),
            Err(e) => Completion::info(e),
        }
    }

    /// One pull (`pull_body`), and the ack of what it brought.
    async fn take(&self, pull_body: Vec<u8>) -> Result<Pulled, Completion> {
        let reply = request_own_inbox(&self.nats, self.pull.clone(), pull_body).await?;
        match pull_outcome(&reply) {
            PullOutcome::Message => {}
            PullOutcome::Empty => return Ok(Pulled::Empty),
            PullOutcome::Refused(why) => return Err(Completion::info(why)),
        }
        let Some(ack_subject) = reply.reply.as_ref() else {
            return Err(Completion::info(
                "bad-response: a pulled message without ack subject",
            ));
        };
        let value = api::decode_value(&reply.payload);
        // Sent as a request: the answer says the ack was processed. A pulled
        // message whose ack failed is info from here on, whatever the error.
        match request(&self.nats, ack_subject.to_string(), b"+ACK".to_vec()).await {
            Ok(_) => Ok(Pulled::Element(value)),
            Err(c) => Err(Completion::info(format!(
                "ack-unconfirmed: {}",
                c.error.unwrap_or_default()
            ))),
        }
    }

    async fn drain(&mut self) -> Completion {
        let mut elements = Vec::new();
        // Pull without waiting while messages are there; wait for them only
        // once the consumer says some are still out.
        let mut wait = false;
        loop {
            let pull = if wait {
                api::pull_one_within(self.drain_wait)
            } else {
                api::pull_one_now()
            };
            match self.take(pull).await {
                Ok(Pulled::Element(v)) => elements.push(v),
                Ok(Pulled::Empty) => match self.backlog().await {
                    Ok(b) if b.num_pending == 0 && b.num_ack_pending == 0 => {
                        return Completion::ok(Value::Array(elements))
                    }
                    // Unacknowledged messages come back after the ack wait.
                    Ok(_) => wait = true,
                    Err(e) => return Completion::info(format!("drain: {e}")),
                },
                Err(c) => {
                    return Completion::info(format!("drain: {}", c.error.unwrap_or_default()))
                }
            }
        }
    }

    async fn backlog(&self) -> Result<api::Backlog, String> {
        let reply = request(&self.nats, self.info.clone(), b"{}".to_vec())
            .await
            .map_err(|c| c.error.unwrap_or_default())?;
        api::parse_backlog(&reply.payload)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum PullOutcome {
    Message,
    /// 404 (no_wait, nothing there) or 408 (waited, nothing came).
    Empty,
    /// Any other status: the pull was cut short.
    Refused(String),
}

/// Reads the reply to a pull of one message: a message or a status.
fn pull_outcome(reply: &Message) -> PullOutcome {
    match reply.status {
        None | Some(StatusCode::OK) => PullOutcome::Message,
        Some(StatusCode::NOT_FOUND) | Some(StatusCode::TIMEOUT) => PullOutcome::Empty,
        Some(status) => PullOutcome::Refused(format!(
            "pull-{}: {}",
            status.as_u16(),
            reply.description.as_deref().unwrap_or("")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, description: &str) -> Message {
        Message {
            subject: "_INBOX.x".into(),
            reply: None,
            payload: Default::default(),
            headers: None,
            status: Some(StatusCode::from_u16(code).unwrap()),
            description: Some(description.into()),
            length: 0,
        }
    }

    #[test]
    fn pull_statuses_mean_empty_or_cut_short() {
        assert_eq!(
            pull_outcome(&status(404, "No Messages")),
            PullOutcome::Empty
        );
        assert_eq!(
            pull_outcome(&status(408, "Request Timeout")),
            PullOutcome::Empty
        );
        assert_eq!(
            pull_outcome(&status(409, "Leadership Change")),
            PullOutcome::Refused("pull-409: Leadership Change".into())
        );
        let mut message = status(404, "");
        message.status = None;
        assert_eq!(pull_outcome(&message), PullOutcome::Message);
    }

    #[test]
    fn names_come_from_the_prefix() {
        let q = NatsQueue::new("t-1");
        assert_eq!(q.stream(), "t-1-queue");
        assert_eq!(q.consumer(), "t-1-workers");
    }
}
