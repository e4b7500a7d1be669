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

use chaos_nemeses::disk::{dm_node, with_args};
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

    /// Damages the data files of `node`, which is down: a helper container
    /// with the node's volumes runs the edits drawn from `seed`, and goes.
    /// A node on dm-flakey keeps its files in the filesystem on its
    /// device: the helper (privileged, for the device) first mounts it
    /// where the node does, with the node's own entrypoint and nothing to
    /// run after it; the mount goes with the helper. The edits, one line
    /// each.
    pub async fn damage_node_files(
        &self,
        node: &DockerNode,
        damage: Damage,
        seed: u64,
    ) -> Result<Vec<String>, ClusterError> {
        let failed = |what: String| {
            ClusterError::Backend(format!("{} on node {}: {what}", damage.name(), node.name))
        };
        let name = format!("{}-chaos-files", node.container);
        let mut spec =
            helper::Spec::new(name, self.run_id(), &node.container).volumes_from(&node.id);
        if node.dm_device().is_some() {
            spec = spec.privileged();
        }
        let helper = helper::start(self.docker(), spec)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let run = |script: String| {
            let helper = &helper;
            async move {
                match helper.run(&script).await {
                    Ok((0, out)) => Ok(out),
                    Ok((code, out)) => Err(failed(format!("exit {code}: {}", out.trim()))),
                    Err(e) => Err(failed(e.to_string())),
                }
            }
        };
        let done = async {
            if let Some(device) = node.dm_device() {
                let mut args = dm_node::start_args(
                    device,
                    dm_node::BACKING_FILE,
                    dm_node::DISK_MIB,
                    dm_node::DATA,
                );
                args.push("true".into());
                run(with_args(&dm_node::start(), &args)).await?;
            }
            let listing = run(list_files_script(DATA)).await?;
            let edits = plan_damage(damage, &listing, seed).map_err(failed)?;
            let said = run(damage_script(&edits)).await?;
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

/// The last line of what `docker exec` printed, for an error message.
fn sidecar_line(output: &str) -> String {
    output
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| "it printed nothing".into())
}
