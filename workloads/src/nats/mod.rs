//! NATS JetStream clients (nats-server 2.9, clustered): the `log` workload
//! on a replicated stream ([`log::NatsLog`]) and the `queue` workload on a
//! work-queue stream with a durable pull consumer ([`queue::NatsQueue`]).
//!
//! # Use
//!
//! ```text
//! let log = NatsLog::new(run_id);            // names its stream from the run id
//! log.prepare(&targets).await?;              // before the workers: stream R = nodes, with a leader
//! worker::run(Arc::new(log), Generator::new(Mix::log(1, 1), ..), ..)
//! heal; log.prepare(&targets).await?;        // waits until the stream is whole again
//! final_op(&log, &targets[0], &final_invocation("final-read"), &handle,
//!          handle.next_free_process(), limit)
//! checkers: log::check_log (queue: check_queue, see queue.rs for the options)
//! ```
//!
//! `NodeTarget::address` is `host:port` (or `nats://host:port`) of the
//! node's client port. Each process has its own connection to its node
//! only (see [`connect`]); every request carries no deadline of its own, the
//! worker's op timeout bounds it.
//!
//! # `fail` and `info`, for both clients
//!
//! | what happened | completion | error |
//! |---|---|---|
//! | connecting failed (refused, unreachable, no INFO from the server in time): the worker never invokes | `fail` | `no-client: ...` |
//! | the connection was down when the op began and did not come back within 250 ms: nothing was sent | `fail` | `not-connected: ...` |
//! | the client library refused the request before sending (bad subject, too large) | `fail` | `refused: ...` |
//! | an op the client does not know, a value it cannot send, an op with a key | `fail` | `bad-op: ...` |
//! | a publish rejected by a check made before storing (err_code 10054, 10060, 10070, 10071: [`api::NOTHING_STORED`]) | `fail` | `jetstream-<err_code>: ...` |
//! | any other JetStream error (no quorum, store failed, cluster unavailable, ...) | `info` | `jetstream-<err_code>: ...` |
//! | no responders (no stream or consumer leader at that moment) | `info` | `no-responders` |
//! | the connection broke with the request sent or buffered | `info` | `connection-lost: ...` |
//! | the worker's deadline passed | `info` | `timed-out` |
//! | a reply we do not understand | `info` | `bad-response: ...` |
//!
//! Client-specific cases are in [`log`] and [`queue`].

pub mod api;
pub mod connect;
pub mod log;
pub mod queue;
mod reading;
pub mod setup;
mod system;

pub use log::{NatsLog, NatsLogClient};
pub use queue::{NatsQueue, NatsQueueClient};
pub use system::SYSTEM;

use std::time::Duration;

/// How long `prepare` waits for a stream to be created and ready.
pub const PREPARE_BUDGET: Duration = Duration::from_secs(60);

/// A run's prefix as one token that stream, consumer and subject names
/// accept: letters, digits, `-` and `_` kept, anything else (`.`, `*`,
/// `>`, `/`, spaces) becomes `_`.
pub fn name_token(prefix: &str) -> String {
    let token: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if token.is_empty() {
        "chaos".into()
    } else {
        token
    }
}

/// The node's nats-server version (from its INFO), for the record.
pub async fn server_version(node: &crate::client::NodeTarget) -> Result<String, String> {
    let client = connect::connect(node, "version", Duration::from_secs(5)).await?;
    Ok(client.server_info().version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_become_one_safe_token() {
        assert_eq!(name_token("t-nats-1a2b"), "t-nats-1a2b");
        assert_eq!(name_token("chaos/run.1 >x*"), "chaos_run_1__x_");
        assert_eq!(name_token(""), "chaos");
    }
}
