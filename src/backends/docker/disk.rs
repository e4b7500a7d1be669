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

use std::fmt;

use serde_json::{json, Value};

use chaos_nemeses::disk::{dm_node, faultfs, with_args};
use chaos_nemeses::storage::{damage_script, list_files_script, plan_damage, Damage};
use chaos_nemeses::ClusterError;

use super::cluster::DockerNode;
use super::{helper, sidecar, DockerCluster};

/// Where a node keeps its data (compose files of ours mount the volume
/// there), and where a file fault's helper sees it.
pub const DATA: &str = dm_node::DATA;

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
            let why = match node.dm_device() {
                Some(_) => "it keeps it on dm-flakey",
                None => "it was started without it",
            };
            return Err(not_on_fault_fs(&node.name, why));
        }
        let text = request.to_string();
        let cmd = [CHAOS_IN_NODE, "faultfs", "ctl", CONTROL, text.as_str()];
        let (code, output) = sidecar::exec(self.docker(), &node.id, &cmd)
            .await
            .map_err(|e| ClusterError::Backend(e.to_string()))?;
        match faultfs::reply(&output) {
            Some(reply) if code == 0 && reply["ok"] == json!(true) => Ok(reply),
            Some(reply) => Err(ClusterError::Backend(format!(
                "the fault filesystem of node {} refused {text}: {}",
                node.name,
                reply["error"].as_str().unwrap_or("no reason given")
            ))),
            None => Err(not_on_fault_fs(&node.name, &sidecar_line(&output))),
        }
    }

    /// Damages the data files of `node`, which is down: a helper container
    /// with the node's volumes ([`FileHelper`], which mounts a dm-flakey
    /// node's disk first) runs the edits drawn from `seed`, and goes. The
    /// edits, one line each.
    pub async fn damage_node_files(
        &self,
        node: &DockerNode,
        damage: Damage,
        seed: u64,
    ) -> Result<Vec<String>, ClusterError> {
        let helper = FileHelper::start(self, node, damage.name(), None).await?;
        let done = async {
            let listing = helper.run(&list_files_script(DATA)).await?;
            let edits = plan_damage(damage, &listing, seed).map_err(|e| helper.failed(e))?;
            let said = helper.run(&damage_script(&edits)).await?;
            Ok(said
                .lines()
                .map(|l| format!("{}: {l}", node.name))
                .collect())
        };
        let outcome = done.await;
        helper.remove().await;
        outcome
    }

    /// Every node's faultable disk answers: asked before a run with disk
    /// faults starts, so it never runs without what it claims to inject.
    /// The fault filesystem answers its status; a dm-flakey device must be
    /// up and under the node's data.
    pub async fn check_disks(&self) -> Result<(), ClusterError> {
        for node in self.refresh().await? {
            if node.dm_device().is_some() {
                self.dm_check(&node).await?;
            } else {
                self.disk_control(&node, &json!({"op": "status"})).await?;
            }
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

/// A container that sees a node's volumes (and, for a rollback, the node's
/// stash at [`STASH`]) and runs scripts on them while the node is down:
/// the file faults' hands. One per node at a time, named after it.
pub(super) struct FileHelper<'a> {
    node: &'a DockerNode,
    /// The fault it works for, in its error messages.
    what: &'a str,
    helper: helper::Helper<'a>,
}

/// Where a file fault's helper sees the node's stash.
pub const STASH: &str = "/stash";

impl<'a> FileHelper<'a> {
    /// Creates and starts the helper of `node`, with the volume `stash`
    /// mounted at [`STASH`] if one is given (it must exist: Docker would
    /// make a bare one of the name otherwise). A node on dm-flakey keeps
    /// its files in the filesystem on its device: the helper (privileged,
    /// for the device) first mounts it where the node does, with the
    /// node's own entrypoint and nothing to run after it; the mount goes
    /// with the helper.
    pub(super) async fn start(
        cluster: &'a DockerCluster,
        node: &'a DockerNode,
        what: &'a str,
        stash: Option<&str>,
    ) -> Result<FileHelper<'a>, ClusterError> {
        let mut spec = helper::Spec::new(
            helper_name(&node.container),
            cluster.run_id(),
            &node.container,
        )
        .volumes_from(&node.id);
        if let Some(volume) = stash {
            spec.host_config.binds = Some(vec![format!("{volume}:{STASH}")]);
        }
        if node.dm_device().is_some() {
            spec = spec.privileged();
        }
        let failed = |e: &dyn fmt::Display| {
            ClusterError::Backend(format!("{what} on node {}: {e}", node.name))
        };
        let helper = helper::start(cluster.docker(), spec)
            .await
            .map_err(|e| failed(&e))?;
        let file_helper = FileHelper { node, what, helper };
        if let Some(device) = node.dm_device() {
            let mut args = dm_node::start_args(
                device,
                dm_node::BACKING_FILE,
                dm_node::DISK_MIB,
                dm_node::DATA,
            );
            args.push("true".into());
            if let Err(e) = file_helper.run(&with_args(&dm_node::start(), &args)).await {
                file_helper.remove().await;
                return Err(e);
            }
        }
        Ok(file_helper)
    }

    /// Runs `script` (sh) in the helper: what it printed, or an error
    /// with its exit code and output.
    pub(super) async fn run(&self, script: &str) -> Result<String, ClusterError> {
        match self.helper.run(script).await {
            Ok((0, out)) => Ok(out),
            Ok((code, out)) => Err(self.failed(format!("exit {code}: {}", out.trim()))),
            Err(e) => Err(self.failed(e)),
        }
    }

    /// `what` went wrong, named with the fault and the node.
    pub(super) fn failed(&self, what: impl fmt::Display) -> ClusterError {
        ClusterError::Backend(format!("{} on node {}: {what}", self.what, self.node.name))
    }

    /// Gone, whatever happened (a failure to remove it leaves it to its
    /// time limit and to the heal's sweep, which knows it by its labels).
    pub(super) async fn remove(self) {
        self.helper.remove().await;
    }
}

/// The name of the file helper of the node whose container is `container`.
pub(super) fn helper_name(container: &str) -> String {
    format!("{container}-chaos-files")
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
