//! Disk faults on Docker, through the fault filesystem each node keeps its
//! data on when the run asks for a disk fault (compose/disk-N.yml: the node
//! runs `chaos faultfs wrap /data -- <system>`). A fault is one control
//! request, sent by running `chaos faultfs ctl` inside the node.
//!
//! Killing a node kills its fault filesystem with it, and the filesystem
//! holds what the system wrote and did not fsync: so `kill-lose-unsynced`
//! is a SIGKILL of the container, and a plain `kill` first asks the
//! filesystem to write everything back and pass later writes straight
//! through (`write-through`), so that a process crash keeps what the
//! kernel's page cache would have kept.

use serde_json::{json, Value};

use chaos_nemeses::ClusterError;

use super::cluster::DockerNode;
use super::sidecar;
use super::DockerCluster;

/// Where the fault filesystem listens, inside a node.
pub const CONTROL: &str = "/run/chaos-disk/control.sock";

/// The chaos executable inside a node (mounted by compose/disk-N.yml).
pub const CHAOS_IN_NODE: &str = "/usr/local/bin/chaos";

impl DockerCluster {
    /// Sends `request` to `node`'s fault filesystem; its reply.
    pub async fn disk_control(
        &self,
        node: &DockerNode,
        request: &Value,
    ) -> Result<Value, ClusterError> {
        if !node.on_fault_fs() {
            return Err(not_on_fault_fs(&node.name, "it was started without it"));
        }
        let text = request.to_string();
        let cmd = [CHAOS_IN_NODE, "faultfs", "ctl", CONTROL, text.as_str()];
        let (code, output) = sidecar::exec(self.docker(), &node.id, &cmd)
            .await
            .map_err(|e| ClusterError::Backend(e.to_string()))?;
        let reply: Option<Value> = output
            .lines()
            .rev()
            .find_map(|line| serde_json::from_str(line.trim()).ok());
        match reply {
            Some(reply) if code == 0 && reply["ok"] == json!(true) => Ok(reply),
            Some(reply) => Err(ClusterError::Backend(format!(
                "the fault filesystem of node {} refused {text}: {}",
                node.name,
                reply["error"].as_str().unwrap_or("no reason given")
            ))),
            None => Err(not_on_fault_fs(&node.name, &sidecar_line(&output))),
        }
    }

    /// Sends `request` to the fault filesystem of node `name`.
    pub async fn disk_request(&self, name: &str, request: &Value) -> Result<Value, ClusterError> {
        let node = self.node(name).await?;
        self.disk_control(&node, request).await
    }

    /// Every node's fault filesystem answers: asked before a run with disk
    /// faults starts, so it never runs without what it claims to inject.
    pub async fn check_disks(&self) -> Result<(), ClusterError> {
        for node in self.refresh().await? {
            self.disk_control(&node, &json!({"op": "status"})).await?;
        }
        Ok(())
    }
}

/// A disk fault asked of a node whose data is not on the fault filesystem.
pub fn not_on_fault_fs(node: &str, why: &str) -> ClusterError {
    ClusterError::Unsupported {
        fault: "act on the disk".into(),
        reason: format!(
            "node {node} does not keep its data on the fault filesystem ({why}): a run starts its cluster that way when --nemesis names a disk fault, `chaos cluster up --disk-faults` by hand"
        ),
    }
}

/// The last line of what `docker exec` printed, for an error message.
fn sidecar_line(output: &str) -> String {
    output
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| "it printed nothing".into())
}
