//! Before the workers start: the stream (and the queue's consumer) exist,
//! replicated on every node, with a leader and every replica current.
//! Idempotent: run it again and it only waits for the same readiness (the
//! harness also uses it after healing, before the final read).

use super::api::{self, ApiOrText, Group, Retention};
use super::connect::connect;
use crate::client::NodeTarget;
use async_nats::Client;
use bytes::Bytes;
use std::time::{Duration, Instant};

/// What to create.
#[derive(Clone, Debug)]
pub struct Spec {
    pub stream: String,
    pub subject: String,
    pub retention: Retention,
    /// A durable pull consumer: its name and ack wait.
    pub consumer: Option<(String, Duration)>,
}

/// Each setup request gets this long.
const REQUEST_LIMIT: Duration = Duration::from_secs(5);
/// Between two looks at a stream that is not ready yet.
const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// Creates what `spec` names with one replica per target (JetStream allows
/// at most 5), and returns once it has a leader and every replica is
/// current, or an error after `budget`. A stream or consumer of that name
/// with another configuration is an error at once.
pub async fn prepare(targets: &[NodeTarget], spec: &Spec, budget: Duration) -> Result<(), String> {
    if targets.is_empty() {
        return Err("no nodes to create the stream on".into());
    }
    let replicas = targets.len().min(5);
    let deadline = Instant::now() + budget;
    let mut attempt = 0;
    loop {
        // Each attempt through another node: one may be down.
        let node = &targets[attempt % targets.len()];
        attempt += 1;
        let why = match attempt_once(node, spec, replicas).await {
            Ok(Ready::Yes) => return Ok(()),
            Ok(Ready::No(why)) => why,
            Err(Fatal(why)) => return Err(format!("{}: {why}", spec.stream)),
        };
        if Instant::now() >= deadline {
            return Err(format!(
                "stream {} not ready after {budget:?}: last seen through {}: {why}",
                spec.stream, node.name
            ));
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

enum Ready {
    Yes,
    No(String),
}

/// An error that waiting will not cure.
struct Fatal(String);

async fn attempt_once(node: &NodeTarget, spec: &Spec, replicas: usize) -> Result<Ready, Fatal> {
    let client = match connect(node, "setup", REQUEST_LIMIT).await {
        Ok(c) => c,
        Err(e) => return Ok(Ready::No(format!("connect: {e}"))),
    };
    let config = api::stream_config(&spec.stream, &spec.subject, spec.retention, replicas);
    let stream_create = api::stream_create_subject(&spec.stream);
    if let Some(not_yet) = create(&client, stream_create, config).await? {
        return Ok(Ready::No(not_yet));
    }
    let stream_info = api::stream_info_subject(&spec.stream);
    match group(&client, stream_info).await {
        Ok(g) if ready(&g, replicas) => {}
        Ok(g) => return Ok(Ready::No(format!("stream group {g:?}"))),
        Err(e) => return Ok(Ready::No(e)),
    }
    let Some((durable, ack_wait)) = &spec.consumer else {
        return Ok(Ready::Yes);
    };
    let config = api::durable_config(&spec.stream, durable, *ack_wait);
    let consumer_create = api::durable_create_subject(&spec.stream, durable);
    if let Some(not_yet) = create(&client, consumer_create, config).await? {
        return Ok(Ready::No(not_yet));
    }
    let consumer_info = api::consumer_info_subject(&spec.stream, durable);
    Ok(match group(&client, consumer_info).await {
        Ok(g) if ready(&g, replicas) => Ready::Yes,
        Ok(g) => Ready::No(format!("consumer group {g:?}")),
        Err(e) => Ready::No(e),
    })
}

fn ready(group: &Group, replicas: usize) -> bool {
    // A lone server without clustering names no leader: its answer is enough.
    replicas == 1 || (group.leader.is_some() && group.replicas + 1 == replicas && group.all_current)
}

/// `err_code` of "no suitable peers for placement": a 400, yet it only
/// says that not enough servers are up yet (start-up, a node restarting).
const NO_SUITABLE_PEERS: u64 = 10005;

/// Sends a create request; None when it was accepted (created, or already
/// there alike). A 400 (bad or conflicting configuration) is fatal, except
/// [`NO_SUITABLE_PEERS`]; other errors (no meta leader yet) are worth a retry.
async fn create(client: &Client, subject: String, body: Vec<u8>) -> Result<Option<String>, Fatal> {
    let reply = match ask(client, subject, body).await {
        Ok(r) => r,
        Err(e) => return Ok(Some(e)),
    };
    match api::parse_group(&reply) {
        Ok(_) => Ok(None),
        Err(ApiOrText::Api(e)) if e.code == 400 && e.err_code != NO_SUITABLE_PEERS => {
            Err(Fatal(e.label()))
        }
        Err(e) => Ok(Some(e.to_string())),
    }
}

async fn group(client: &Client, subject: String) -> Result<Group, String> {
    let reply = ask(client, subject, b"{}".to_vec()).await?;
    api::parse_group(&reply).map_err(|e| e.to_string())
}

async fn ask(client: &Client, subject: String, body: Vec<u8>) -> Result<Bytes, String> {
    match tokio::time::timeout(REQUEST_LIMIT, client.request(subject.clone(), body.into())).await {
        Ok(Ok(reply)) => Ok(reply.payload),
        Ok(Err(e)) => Err(format!("{subject}: {e}")),
        Err(_) => Err(format!("{subject}: no answer within {REQUEST_LIMIT:?}")),
    }
}

/// The server leading `stream`'s raft group (or `consumer`'s, when given)
/// as `node` sees it now: None while the group has no leader. For tests
/// and reports that want the node whose loss hurts most.
pub async fn leader(
    node: &NodeTarget,
    stream: &str,
    consumer: Option<&str>,
) -> Result<Option<String>, String> {
    let client = connect(node, "setup", REQUEST_LIMIT).await?;
    let subject = match consumer {
        Some(consumer) => api::consumer_info_subject(stream, consumer),
        None => api::stream_info_subject(stream),
    };
    Ok(group(&client, subject).await?.leader)
}

/// Deletes the stream (and with it its consumers and data): the run's
/// clean-up on a cluster that outlives it. Tries each node in turn; a
/// stream already gone counts as removed.
pub async fn remove(targets: &[NodeTarget], stream: &str) -> Result<(), String> {
    let mut last = String::from("no nodes");
    for node in targets {
        let client = match connect(node, "cleanup", REQUEST_LIMIT).await {
            Ok(c) => c,
            Err(e) => {
                last = format!("connect: {e}");
                continue;
            }
        };
        let reply = match ask(&client, api::stream_delete_subject(stream), Vec::new()).await {
            Ok(r) => r,
            Err(e) => {
                last = e;
                continue;
            }
        };
        match api::parse_group(&reply) {
            Ok(_) => return Ok(()),
            Err(ApiOrText::Api(e)) if e.code == 404 => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(format!("cannot delete stream {stream}: {last}"))
}
