//! One NATS connection per process, pinned to its node, and what a failed
//! request means for the op that sent it.

use crate::client::{Completion, NodeTarget};
use async_nats::client::RequestErrorKind;
use async_nats::connection::State;
use async_nats::{Client, ConnectOptions, Message, Request, RequestError};
use bytes::Bytes;
use std::time::Duration;

/// How long an op waits for a connection that is down to come back before
/// it gives up with `fail` (nothing was sent). Also paces a worker whose
/// node is down: a few fails per second, not a flood.
const RECONNECT_WAIT: Duration = Duration::from_millis(250);

/// Connects to `node` only (`host:port` or `nats://host:port`).
///
/// The client never learns about other servers (the clusters run with
/// `--no_advertise`, and we ignore what a server might say anyway), so a
/// process stays on its node. It reconnects to that node on its own after a
/// broken connection; requests get no deadline of their own: the worker's
/// op timeout bounds every op.
/// `who` names the connection on the server (`chaos-n1-p7`): handy in its
/// connection list.
pub async fn connect(node: &NodeTarget, who: &str, timeout: Duration) -> Result<Client, String> {
    let address = node.address.trim().trim_end_matches('/');
    if address.is_empty() {
        return Err(format!("node {} has no address", node.name));
    }
    ConnectOptions::new()
        .name(format!("chaos-{}-{who}", node.name))
        .connection_timeout(timeout)
        .request_timeout(None)
        .ignore_discovered_servers()
        .retain_servers_order()
        .connect(address)
        .await
        .map_err(|e| format!("{address}: {e}"))
}

/// A request that reached the node, or a completion for the op if it did
/// not get that far or got no answer.
pub async fn request(
    client: &Client,
    subject: String,
    body: Vec<u8>,
) -> Result<Message, Completion> {
    ensure_connected(client).await?;
    client
        .request(subject, Bytes::from(body))
        .await
        .map_err(request_failed)
}

/// Like [`request`], with the answer coming on an inbox of its own. For
/// pulls: JetStream delivers a pulled message under the subject it was
/// published on, not the reply subject, so the client's shared reply inbox
/// (which routes answers by their subject) never sees it.
pub async fn request_own_inbox(
    client: &Client,
    subject: String,
    body: Vec<u8>,
) -> Result<Message, Completion> {
    ensure_connected(client).await?;
    let request = Request::new()
        .payload(Bytes::from(body))
        .inbox(client.new_inbox());
    client
        .send_request(subject, request)
        .await
        .map_err(request_failed)
}

/// Nothing is sent on a connection that is down (the client would buffer
/// the request and send it after reconnecting, long after the op ended):
/// wait a little for it to come back, then `fail`, which is certain since
/// nothing went out.
async fn ensure_connected(client: &Client) -> Result<(), Completion> {
    if client.connection_state() == State::Connected {
        return Ok(());
    }
    tokio::time::sleep(RECONNECT_WAIT).await;
    match client.connection_state() {
        State::Connected => Ok(()),
        state => Err(Completion::fail(format!("not-connected: {state:?}"))),
    }
}

/// What a failed request means: `fail` only when the client refused it
/// before sending; anything else may have reached the server.
pub fn request_failed(e: RequestError) -> Completion {
    match e.kind() {
        RequestErrorKind::InvalidSubject | RequestErrorKind::MaxPayloadExceeded => {
            Completion::fail(format!("refused: {e}"))
        }
        // No subscriber for the subject when the server routed it (for a
        // stream: no leader at that moment). Probably delivered to nobody,
        // but interest travels between servers asynchronously during a
        // leader change: not certain enough for `fail`.
        RequestErrorKind::NoResponders => Completion::info("no-responders"),
        RequestErrorKind::TimedOut => Completion::info(crate::client::TIMED_OUT),
        RequestErrorKind::Other => Completion::info(format!("connection-lost: {e}")),
    }
}
