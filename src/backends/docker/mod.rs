//! The Docker backend: clusters from the compose files in `compose/` (or a
//! compose project / labelled containers the user started), and node faults
//! through the Docker API (bollard).
//!
//! * [`engine`]: connecting, with one clear line when there is no engine.
//! * [`images`]: are the images there; `chaos images build`.
//! * [`compose`]: the systems we know, their compose files, the compose CLI.
//! * [`cluster`]: [`DockerCluster`]: finding the nodes of a cluster.
//! * [`lifecycle`]: `chaos cluster up` and `down`.
//! * [`own`]: a cluster from the user's compose file (`chaos run --compose`).
//! * [`inventory`]: which cluster a command means; `status` and `logs`.
//! * [`sidecar`]: the NET_ADMIN helper containers and the iptables scripts.
//! * [`session`]: talking to a sidecar over `docker attach`, not `docker exec`.
//! * [`faults`]: `impl Cluster for DockerCluster`.
//! * [`disk`]: disk faults, through the fault filesystem under each node's data.
//! * [`rollback`]: `rollback`'s stash of each node's chunks, a volume of its own.
//! * [`dm`]: disk faults, through a dm-flakey device under each node's data.
//! * [`helper`]: throwaway helper containers (a node's files, the host's devices).
//! * [`quality`]: losses and rate limits, through the sidecars.
//! * [`heal`]: `chaos heal`: the journal's outstanding faults, then a scan.

pub mod cluster;
pub mod compose;
pub mod disk;
pub mod dm;
pub mod engine;
pub mod faults;
pub mod heal;
pub mod helper;
pub mod images;
pub mod inventory;
pub mod lifecycle;
pub mod own;
pub mod quality;
pub mod rollback;
pub mod session;
pub mod shaping;
pub mod sidecar;

use std::cmp::Ordering;
use std::fmt;

pub use cluster::{DockerCluster, DockerNode, Selector};

/// Labels we put on (and look for on) everything we create. The compose files
/// set the first four; sidecars get `managed`, `run` and the `sidecar-*` ones.
pub mod labels {
    pub const MANAGED: &str = "io.chaos.managed";
    pub const RUN: &str = "io.chaos.run";
    pub const CLUSTER: &str = "io.chaos.cluster";
    pub const SYSTEM: &str = "io.chaos.system";
    pub const NODE: &str = "io.chaos.node";
    /// On a node: `faultfs` when its data is on the fault filesystem
    /// (compose/disk-N.yml), `dm-flakey` when on a flakey device
    /// (compose/dm-N.yml).
    pub const DISK: &str = "io.chaos.disk";
    /// On a node on dm-flakey: its device's name.
    pub const DM_DEVICE: &str = "io.chaos.dm-device";
    /// On a sidecar: the name of the node container whose netns it shares.
    pub const SIDECAR_OF: &str = "io.chaos.sidecar-of";
    /// On a sidecar: the harness's name of that node (`n1`).
    pub const SIDECAR_NODE: &str = "io.chaos.sidecar-node";
    /// On a rollback's stash volume: the node container whose chunks it holds.
    pub const STASH_OF: &str = "io.chaos.stash-of";
    /// On a sidecar: the node's `StartedAt` when the sidecar joined its netns.
    /// A restarted node has a new netns; a sidecar whose label no longer
    /// matches sits in the dead one and must be replaced.
    pub const NODE_STARTED: &str = "io.chaos.node-started";
    /// On a sidecar: how to talk to it (see `session`). A sidecar without
    /// the version we speak is replaced rather than talked to.
    pub const PROTOCOL: &str = "io.chaos.sidecar-protocol";
    pub const COMPOSE_PROJECT: &str = "com.docker.compose.project";
    pub const COMPOSE_SERVICE: &str = "com.docker.compose.service";
}

/// Docker calls fail like every command: see [`crate::error::Failure`].
pub use crate::error::Failure as DockerError;

impl DockerError {
    /// A failed Docker API call, naming what we were doing.
    pub fn api(doing: impl fmt::Display, e: bollard::errors::Error) -> DockerError {
        DockerError::Harness(format!("{doing}: {}", api_message(&e)))
    }
}

/// The engine's own message for a failed call, on one line.
pub(crate) fn api_message(e: &bollard::errors::Error) -> String {
    let text = match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    };
    one_line(&text)
}

/// The HTTP status of a failed call, if the engine answered at all.
pub(crate) fn api_status(e: &bollard::errors::Error) -> Option<u16> {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

pub(crate) use super::one_line;

/// Order `n2` before `n10` (the same rule the grudge display uses).
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn split(s: &str) -> (&str, Option<u128>) {
        let stem = s.trim_end_matches(|c: char| c.is_ascii_digit());
        (stem, s[stem.len()..].parse().ok())
    }
    split(a).cmp(&split(b)).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_sort_naturally() {
        let mut names = vec!["n10", "n2", "n1", "etcd-0", "n3"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(names, ["etcd-0", "n1", "n2", "n3", "n10"]);
    }

    #[test]
    fn messages_stay_on_one_line() {
        assert_eq!(one_line("a\n  b\tc "), "a b c");
    }
}
