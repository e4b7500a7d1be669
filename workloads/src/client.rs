//! The client protocol: how a worker talks to one node of the system under
//! test, in Jepsen's shape (open a client per process, invoke ops, close).
//!
//! # The rule every client follows
//!
//! A completion says what the client *knows* about the op's effect:
//!
//! - [`OpType::Ok`]: the op took effect (and `value` is what it observed).
//! - [`OpType::Fail`]: the op **certainly** had no effect: a compare that did
//!   not match, a request refused before it was sent, an error the system
//!   documents as "nothing was done".
//! - [`OpType::Info`]: anything else. A timeout, a broken connection, a
//!   leader that stepped down mid-request, an error the client does not
//!   recognise: the op may take effect at any moment after its invocation,
//!   or never.
//!
//! When in doubt, `info`. A wrong `fail` tells the checker an op never
//! happened when it did, and turns a correct system into an "invalid" one
//! (or hides a real anomaly); a wrong `info` only costs checker time.
//!
//! A client need not enforce its own deadline: the worker wraps every call in
//! [`with_timeout`], which turns an op that outlives the deadline into `info`
//! with error `timed-out`. After an `info` the worker closes the client and
//! opens a new one under a fresh process id, so a client may assume that its
//! connection is in a clean state whenever `invoke` is called.

use chaos_checkers::history::OpType;
use serde_json::Value;
use std::future::Future;
use std::time::Duration;

/// One member of the cluster, as a client factory needs to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeTarget {
    /// The node's name in the history (`node` field) and in reports.
    pub name: String,
    /// Where to connect, in whatever form the system's client wants
    /// (`host:port`, a URL).
    pub address: String,
}

/// What a worker asks a client to do: the `invoke` entry of the history.
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    /// The function: `read`, `write`, `cas`, ...
    pub f: String,
    /// The key the op is about, for workloads over independent keys.
    pub key: Option<Value>,
    /// The argument (null for a read).
    pub value: Value,
}

/// How an invocation ended: the completion entry of the history.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// `Ok`, `Fail` or `Info`; a client never returns `Invoke` (the worker
    /// records such a completion as `info`).
    pub kind: OpType,
    /// What the op observed (`ok`); for `fail` and `info` a null value is
    /// recorded as the invocation's argument, as Jepsen does.
    pub value: Value,
    /// Why the op failed or is indeterminate: `timed-out`, `not-leader`, ...
    pub error: Option<String>,
}

impl Completion {
    pub fn ok(value: Value) -> Self {
        Completion {
            kind: OpType::Ok,
            value,
            error: None,
        }
    }

    /// The op certainly had no effect. Read the module docs before using it.
    pub fn fail(error: impl Into<String>) -> Self {
        Completion {
            kind: OpType::Fail,
            value: Value::Null,
            error: Some(error.into()),
        }
    }

    /// The op may or may not have taken effect.
    pub fn info(error: impl Into<String>) -> Self {
        Completion {
            kind: OpType::Info,
            value: Value::Null,
            error: Some(error.into()),
        }
    }
}

/// A connection to one node, used by one process at a time.
///
/// `invoke` is only called again after the previous call's future completed
/// or was dropped (the worker drops it at a timeout or at shutdown: a client
/// must be cancel-safe in the sense that dropping the future leaves nothing
/// that corrupts the *next* client; this one is closed and never reused).
pub trait Client: Send + 'static {
    /// Performs one op and says what is known about its effect (see the
    /// module docs for when `fail` is allowed).
    fn invoke(&mut self, op: &Invocation) -> impl Future<Output = Completion> + Send;

    /// Releases the connection. Called after an `info` (the process is
    /// retired) and at the end of the run; bounded by the worker's grace
    /// period, so it may not run to its end.
    fn close(self) -> impl Future<Output = ()> + Send
    where
        Self: Sized,
    {
        async {}
    }
}

/// Why a client could not be opened. The contract: nothing was sent, so
/// the op it was opened for certainly had no effect (`fail`, error
/// `no-client: <reason>`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OpenError(pub String);

impl From<String> for OpenError {
    fn from(reason: String) -> Self {
        OpenError(reason)
    }
}

impl From<&str> for OpenError {
    fn from(reason: &str) -> Self {
        OpenError(reason.to_string())
    }
}

impl From<OpenError> for String {
    fn from(e: OpenError) -> Self {
        e.0
    }
}

/// Opens clients: one per process, bound to the worker's node.
pub trait ClientFactory: Send + Sync + 'static {
    type Client: Client;

    /// Connects to `node` for `process`. An error here means nothing was
    /// sent: the worker records the op it was about to invoke as `fail`
    /// with error `no-client: <message>`, waits, and tries again.
    fn open(
        &self,
        node: &NodeTarget,
        process: u64,
    ) -> impl Future<Output = Result<Self::Client, OpenError>> + Send;
}

/// The error of a completion that did not come within its deadline.
pub const TIMED_OUT: &str = "timed-out";

/// Runs `call`; if it has not completed after `limit`, drops it and returns
/// `info` with error `timed-out`: a request that may have reached the node
/// and been applied after we stopped listening is indeterminate, never `fail`.
pub async fn with_timeout<F>(limit: Duration, call: F) -> Completion
where
    F: Future<Output = Completion>,
{
    match tokio::time::timeout(limit, call).await {
        Ok(completion) => completion,
        Err(_) => Completion::info(TIMED_OUT),
    }
}

/// A node at a local port nothing listens on (very likely: bound, then
/// let go), reached as `scheme` + `127.0.0.1:port`: what a client test
/// uses to see how its client takes a refused connection.
#[cfg(test)]
pub(crate) fn refusing_node(scheme: &str) -> NodeTarget {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    NodeTarget {
        name: "n1".into(),
        address: format!("{scheme}127.0.0.1:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_that_finishes_in_time_keeps_its_completion() {
        let c = with_timeout(Duration::from_secs(5), async { Completion::ok(3.into()) }).await;
        assert_eq!(c, Completion::ok(3.into()));
    }

    #[tokio::test]
    async fn a_call_past_its_deadline_is_info_timed_out() {
        let c = with_timeout(Duration::from_millis(5), std::future::pending()).await;
        assert_eq!(c.kind, OpType::Info);
        assert_eq!(c.error.as_deref(), Some(TIMED_OUT));
    }
}
